"""stencilc-generated cpu kernel for `blur` (<kernel file>:7).

boundary='nearest'; argument dtypes x: float32.
"""
import math as _sc_math
import numpy as _sc_np
import numba as _sc_numba
from stencilc.runtime.cpu import checked_offset as _sc_checked, nearest_index as _sc_nearest, reflect_index as _sc_reflect, mirror_index as _sc_mirror, wrap_index as _sc_wrap
# names read from the kernel's globals (set by stencilc): W=array float32[3] 70b44ba60b4b
# numba caches compiled code only for modules imported from a file
_sc_CACHE = __file__.endswith('.py')


@_sc_numba.njit(cache=_sc_CACHE, fastmath=False, error_model='numpy')
def _sc_point(_sc_i0, _sc_i1, x):
    _sc_u0 = _sc_np.uint64(_sc_i0)
    _sc_u1m1 = _sc_np.uint64(_sc_i1 - 1)
    _sc_u1 = _sc_np.uint64(_sc_i1)
    _sc_u1p1 = _sc_np.uint64(_sc_i1 + 1)
    acc = 0.0
    acc += _sc_np.float32(0.25) * x[_sc_u0, _sc_u1m1]
    acc += _sc_np.float32(0.5) * x[_sc_u0, _sc_u1]
    acc += _sc_np.float32(0.25) * x[_sc_u0, _sc_u1p1]
    return acc


@_sc_numba.njit(cache=_sc_CACHE, fastmath=False, error_model='numpy')
def _sc_point_last(_sc_i0, _sc_i1, _sc_n0, _sc_n1, x):
    _sc_h0 = _sc_np.uint64(_sc_i0)
    _sc_h1 = _sc_nearest(_sc_i1 - 1, _sc_n1)
    _sc_h2 = _sc_nearest(_sc_i1, _sc_n1)
    _sc_h3 = _sc_nearest(_sc_i1 + 1, _sc_n1)
    acc = 0.0
    acc += _sc_np.float32(0.25) * x[_sc_h0, _sc_h1]
    acc += _sc_np.float32(0.5) * x[_sc_h0, _sc_h2]
    acc += _sc_np.float32(0.25) * x[_sc_h0, _sc_h3]
    return acc
_sc_point_inline = _sc_numba.njit(inline='always', fastmath=False, error_model='numpy')(_sc_point.py_func)


@_sc_numba.njit(inline='always', fastmath=False, error_model='numpy')
def _sc_side(_sc_b0, _sc_e0, _sc_b1, _sc_e1, _sc_n0, _sc_n1, x, _sc_out0):
    for _sc_i0 in range(_sc_b0, _sc_e0):
        for _sc_i1 in range(_sc_b1, _sc_e1):
            _sc_out0[_sc_i0, _sc_i1] = _sc_point_last(_sc_i0, _sc_i1, _sc_n0, _sc_n1, x)


@_sc_numba.njit(cache=_sc_CACHE, fastmath=False, error_model='numpy')
def _sc_interior(_sc_b0, _sc_e0, _sc_n0, _sc_n1, x, _sc_out0):
    _sc_hi1 = max(1, _sc_n1 - 1)
    for _sc_i0 in range(_sc_b0, _sc_e0):
        _sc_side(_sc_i0, _sc_i0 + 1, _sc_np.intp(0), min(1, _sc_n1), _sc_n0, _sc_n1, x, _sc_out0)
        for _sc_i1 in range(1, _sc_hi1):
            _sc_out0[_sc_i0, _sc_i1] = _sc_point_inline(_sc_i0, _sc_i1, x)
        _sc_side(_sc_i0, _sc_i0 + 1, _sc_hi1, _sc_n1, _sc_n0, _sc_n1, x, _sc_out0)


def blur(x, _sc_rb, _sc_re, _sc_out0):
    _sc_n0, _sc_n1 = _sc_out0.shape
    _sc_hi0 = _sc_n0
    _sc_r0 = max(_sc_rb, 0)
    _sc_r1 = min(_sc_re, _sc_n0)
    _sc_interior(max(0, _sc_r0), min(_sc_hi0, _sc_r1), _sc_n0, _sc_n1, x, _sc_out0)


# schedule of blur for x: float32
#   the loop nest as written (no window reductions, no integer expression to narrow)

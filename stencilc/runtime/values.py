"""The values of one footprint as an array, for ``stencilc.ndimage.generic_filter``'s
function: a float64 array in the kernel's stack frame, and NumPy's reductions over it
compiled for its known length.

The array has its own numba type, :class:`WindowValues` (a 1-D C-contiguous float64 array
with the length in the type), so that the reductions users write most in a generic_filter
function (``values.max() - values.min()``, ``np.ptp(values)``) resolve to the overloads below
before numba's own: those return at the first NaN, a branch per value that mispredicts on
real data; these are selects over a length LLVM knows, with numba's values (the first NaN in
C order wins, ties keep the first value, ``np.ptp`` of values with a NaN is ``np.nan``).
Anything else done with the array (slices, arithmetic, other functions) sees a plain numba
array.

Uncached by numba for the reason :mod:`stencilc.runtime.cpu` gives."""
from __future__ import annotations

import numba
import numpy as np
from numba.core import cgutils, types
from numba.core.datamodel.models import ArrayModel
from numba.extending import intrinsic, overload, overload_method, register_model


class WindowValues(types.Array):
    """numba's type of a footprint's values: ``float64[::1]`` of ``count`` elements."""

    def __init__(self, count: int):
        self.count = count
        super().__init__(types.float64, 1, "C", name=f"window_values({count})")

    @property
    def key(self):
        return super().key, self.count

    def copy(self, dtype=None, ndim=None, layout=None, readonly=None, aligned=None):
        # what numba derives from the values (a slice's type, a result's) is a plain array
        return types.Array(self.dtype if dtype is None else dtype,
                           self.ndim if ndim is None else ndim,
                           self.layout if layout is None else layout,
                           readonly=self.mutable is False if readonly is None else readonly,
                           aligned=self.aligned if aligned is None else aligned)


register_model(WindowValues)(ArrayModel)


@intrinsic
def float64_values(typingctx, values):
    """The numbers of the tuple ``values`` as a :class:`WindowValues` array in the calling
    function's stack frame (one slot per call site, reused by every call): no heap allocation
    per output point. Valid while the kernel runs, which is as long as a point's value is
    computed."""
    if not isinstance(values, types.BaseTuple) or not all(
            isinstance(t, (types.Number, types.Boolean)) and not isinstance(t, types.Complex)
            for t in values):
        return None
    from numba.np.arrayobj import make_array, populate_array
    count = len(values)
    array_type = WindowValues(count)

    def codegen(context, builder, signature, args):
        data = cgutils.alloca_once(builder, context.get_value_type(types.float64), size=count)
        for k, item_type in enumerate(signature.args[0]):
            item = context.cast(builder, builder.extract_value(args[0], k), item_type,
                                types.float64)
            builder.store(item, cgutils.gep_inbounds(builder, data, k))
        array = make_array(array_type)(context, builder)
        intp = lambda n: context.get_constant(types.intp, n)   # noqa: E731
        populate_array(array, data=data, shape=[intp(count)], strides=[intp(8)],
                       itemsize=intp(8), meminfo=None)
        return array._getvalue()
    return array_type(values), codegen


@numba.njit(inline="always")
def stack_values(values):
    """:func:`float64_values` as a function kernels may call. Inlined into the caller by
    numba (``inline="always"``), so the stack buffer is the caller's, not a returned frame's."""
    return float64_values(values)


# --- reductions: numba's values, without its per-value branch ---------------------------------
#
# numba's np.max/np.min test every value for NaN and return at the first one: a branch per
# value that mispredicts on real data and keeps LLVM from keeping the values in registers.
# Here everything is a select (measured on a 3x3 window's max - min: 22 ns a point with a
# branch on "any NaN?" in front of select chains, 1.7 ns with none): the first NaN in C order
# and whether there is one, and the best of the values with NaNs read as 0 (an ordered compare
# of a NaN may raise the invalid flag, which NumPy reports as a RuntimeWarning after the call);
# strict compares keep the first of equal values, as numba's do.

@intrinsic
def _pick(typingctx, condition, if_true, if_false):
    """``if_true if condition else if_false`` as one select instruction (no branch)."""
    if not isinstance(condition, types.Boolean) or if_true != if_false:
        return None

    def codegen(context, builder, signature, args):
        return builder.select(*args)
    return if_true(condition, if_true, if_false), codegen


@numba.njit(inline="always")
def _first_nan(values):
    """Whether any value is NaN, and the first NaN in C order (the last value if none)."""
    count = values.size
    first = values[count - 1]
    found = False
    for k in range(count):
        value = values[count - 1 - k]
        nan = value != value
        first = _pick(nan, value, first)
        found |= nan
    return found, first


@numba.njit(inline="always")
def _quiet(value):
    return _pick(value != value, 0.0, value)


def _largest(values):
    found, first = _first_nan(values)
    best = _quiet(values[0])
    for k in range(1, values.size):
        value = _quiet(values[k])
        best = _pick(value > best, value, best)
    return _pick(found, first, best)


def _smallest(values):
    found, first = _first_nan(values)
    best = _quiet(values[0])
    for k in range(1, values.size):
        value = _quiet(values[k])
        best = _pick(value < best, value, best)
    return _pick(found, first, best)


def _peak_to_peak(values):
    # numba's np.ptp of values with a NaN is np.nan itself, not the value's NaN
    return _pick(_first_nan(values)[0], np.nan,
                 _largest_compiled(values) - _smallest_compiled(values))


_largest_compiled = numba.njit(inline="always")(_largest)
_smallest_compiled = numba.njit(inline="always")(_smallest)


def _for_window_values(implementation):
    def typer(values):     # named as the implementations' argument: numba requires it
        if isinstance(values, WindowValues):
            return implementation
    return typer


# target="cpu": numba tries overloads for the CPU before its generic ones (its own)
for _function, _implementation in ((np.max, _largest), (np.amax, _largest),
                                   (np.min, _smallest), (np.amin, _smallest),
                                   (np.ptp, _peak_to_peak)):
    overload(_function, target="cpu", inline="always")(_for_window_values(_implementation))
for _method, _implementation in (("max", _largest), ("min", _smallest)):
    overload_method(WindowValues, _method, target="cpu", inline="always")(
        _for_window_values(_implementation))

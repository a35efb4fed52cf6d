"""NumPy arrays, and anything ``np.asarray`` takes: the compiled gufunc runs them directly."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..dtypes import native_dtype
from ..stepping import advance
from . import PositionalAdapter
from .checks import (check_core_ndims, check_out_casting, check_out_shapes, refuse_masked,
                     to_native)

if TYPE_CHECKING:  # pragma: no cover
    from ..ufunc import StencilUFunc


class NumpyAdapter(PositionalAdapter):
    name = "numpy"

    def owns(self, args: Sequence[Any]) -> bool:
        return True   # the fallback: lists, scalars and array-likes go through np.asarray

    def call(self, f: "StencilUFunc", args: Sequence[Any], out: Any) -> Any:
        arrays = _prepared(f, args)
        outs = _as_outputs(f, out)
        arg_dtypes = tuple(a.dtype for a in arrays)
        if outs is None:
            return f.compile(*arg_dtypes)(*arrays)
        # The specialization that stores into out's dtypes also knows the natural ones, so a
        # call with out= compiles one specialization, not two.
        check_out_shapes(f, arrays, outs)
        spec = f.compile(*arg_dtypes, out_dtypes=tuple(o.dtype for o in outs))
        check_out_casting(f, spec.natural_out_dtypes, outs)
        # An output that overlaps an input is safe: NumPy's ufunc machinery copies the input
        # first (tests/test_hostile.py checks it).
        if all(core_contiguous(o, f.ir.ndim) for o in outs):
            return spec(*arrays, out=outs)
        # An output the kernels cannot write directly (strided core blocks): compute into
        # fresh arrays, then copy.
        staged = tuple(np.empty(o.shape, o.dtype) for o in outs)
        spec(*arrays, out=staged)
        for o, result in zip(outs, staged):
            np.copyto(o, result)
        return outs if f.nout > 1 else outs[0]

    def iterate(self, f: "StencilUFunc", args: Sequence[Any], steps: int,
                block_steps: int | None) -> Any:
        arrays = _prepared(f, args)
        return advance(f, f.compile(*(a.dtype for a in arrays)), arrays, steps, block_steps)


def _prepared(f: "StencilUFunc", args: Sequence[Any]) -> list[np.ndarray]:
    """The arguments as native-order arrays with C-contiguous core blocks, checked."""
    refuse_masked(f, args)
    arrays = [to_native(f, np.asarray(a), k) for k, a in enumerate(args)]
    check_core_ndims(f, arrays)
    return [a if core_contiguous(a, arg.ndim) else np.ascontiguousarray(a)
            for a, arg in zip(arrays, f.ir.arguments)]


def core_contiguous(array: np.ndarray, core_ndim: int) -> bool:
    """Whether each core block of ``array`` (its last ``core_ndim`` axes) is C-contiguous, as
    the compiled kernels require; loop axes may have any strides."""
    expected = array.itemsize
    for axis in range(array.ndim - 1, array.ndim - 1 - core_ndim, -1):
        if array.shape[axis] != 1 and array.strides[axis] != expected:
            return False
        expected *= array.shape[axis]
    return True


def _as_outputs(f: "StencilUFunc", out: tuple | None) -> tuple[np.ndarray, ...] | None:
    if out is None:
        return None
    for k, o in enumerate(out):
        if not isinstance(o, np.ndarray):
            raise TypeError(f"{f.__name__}: out[{k}] must be a numpy array, "
                            f"not {type(o).__name__}")
        if not o.flags.writeable:
            raise ValueError(f"{f.__name__}: output array {k} is read-only")
        native_dtype(o.dtype, f.__name__, f"out[{k}]")
        if not o.dtype.isnative:
            raise TypeError(f"{f.__name__}: out[{k}] has non-native byte order {o.dtype}")
    return out

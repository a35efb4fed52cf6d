"""Argument checks every array adapter applies, worded as NumPy words them."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from ..dtypes import native_dtype

if TYPE_CHECKING:  # pragma: no cover
    from ..ufunc import StencilUFunc


def what(f: "StencilUFunc", position: int) -> str:
    """How messages name argument ``position`` (outputs follow the inputs)."""
    if position < f.nin:
        return f"argument {f.ir.arguments[position].name!r}"
    return f"out[{position - f.nin}]"


def to_native(f: "StencilUFunc", array: Any, position: int) -> Any:
    """``array`` (NumPy or Dask) in a supported, native-order dtype: byte-swapped inputs are
    converted, since compiled kernels read native order."""
    dtype = native_dtype(array.dtype, f.__name__, what(f, position))
    return array.astype(dtype) if dtype != array.dtype else array


def check_core_ndims(f: "StencilUFunc", arrays: Sequence[Any]) -> None:
    """Every argument has at least its core dimensions."""
    for position, (argument, array) in enumerate(zip(f.ir.arguments, arrays)):
        if array.ndim < argument.ndim:
            raise ValueError(
                f"{f.__name__}: Input operand {position} does not have enough dimensions "
                f"(has {array.ndim}, gufunc core with signature {f.signature} requires "
                f"{argument.ndim})")

"""The array kinds the filters take, seen the same way: the data (NumPy, Dask, CuPy or a
numba device array), its dimension names where it came from xarray, the target that runs it,
and how to hand the result back as the kind that came in."""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..arrays.dask import is_dask_array
from ..targets.cuda import is_device_array
from . import _params


@dataclass
class Prepared:
    data: Any
    dims: tuple[str, ...] | None
    target: str
    _wrap: Callable[[Any], Any]

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.data.dtype)

    def axes(self, axes: Any) -> tuple[int, ...]:
        return _params.check_axes(axes, self.ndim, self.dims)

    def as_float64(self) -> "Prepared":
        """The same values as float64 (where scipy reads a ``cval`` the input's dtype cannot
        hold, every value is a float64 to it)."""
        return self.with_data(elementwise("cast", (self.data,), np.float64, self.target))

    def with_data(self, data: Any) -> "Prepared":
        return Prepared(data, self.dims, self.target, self._wrap)

    def finish(self, result: Any, output: Any) -> Any:
        """``result`` written into ``output`` where it is an array (returned, as scipy
        does), else as the kind of array that came in."""
        if isinstance(output, np.ndarray):
            if output.shape != tuple(self.data.shape):
                raise ValueError(f"output has shape {output.shape}, but the input has shape "
                                 f"{tuple(self.data.shape)}")
            np.copyto(output, np.asarray(result), casting="unsafe")
            return output
        return self._wrap(result)


def prepare(input: Any, target: str | None) -> Prepared:
    """``input`` as a :class:`Prepared`; ``target`` None picks ``cuda`` for GPU arrays and
    ``cpu`` for the others."""
    dims = None
    wrap: Callable[[Any], Any] = lambda result: result
    if _is_xarray(input):
        dims = tuple(str(d) for d in input.dims)
        original = input
        wrap = lambda result: original.copy(data=result)
        input = input.data
    on_gpu = is_device_array(input)
    if not on_gpu and not is_dask_array(input):
        input = np.asarray(input)
    if input.ndim == 0:
        raise ValueError("the input is a 0-d array; filters need at least one axis")
    if np.dtype(input.dtype).kind not in "biufc":
        raise TypeError(f"input has dtype {input.dtype}, which the filters do not take")
    return Prepared(input, dims, target or ("cuda" if on_gpu else "cpu"), wrap)


def _is_xarray(value: Any) -> bool:
    xr = sys.modules.get("xarray")     # no DataArray exists before xarray is imported
    return xr is not None and isinstance(value, xr.DataArray)



#: NumPy's operation for each name :func:`elementwise` takes, and the kernel text that does
#: the same on arrays without NumPy's protocols (numba's device arrays)
_OPERATIONS = {"cast": (lambda a: a, "a{i}"), "add": (np.add, "a{i} + b{i}"),
               "square": (lambda a: np.multiply(a, a), "a{i} * a{i}"),
               "sqrt": (np.sqrt, "SQRT(a{i})")}   # math.sqrt: the cuda target has no np.sqrt


def elementwise(operation: str, arrays: tuple, out_dtype: np.dtype, target: str) -> Any:
    """One of the few whole-array steps scipy's composite filters take between passes (a
    cast, a sum, a square, a square root), with NumPy's dtype rules, as an array of
    ``out_dtype`` of the kind that came in. NumPy, Dask and CuPy arrays run NumPy's
    function; numba device arrays run a pointwise kernel on the GPU."""
    numpy_op, text = _OPERATIONS[operation]
    if operation == "sqrt" and arrays[0].dtype.itemsize == 1 and not is_device_array(arrays[0]):
        return _by_table(numpy_op, arrays[0], out_dtype)
    if not any(is_device_array(a) and not type(a).__module__.startswith("cupy") for a in arrays):
        return numpy_op(*arrays).astype(out_dtype)
    from ._kernels import kernel, variant
    index = "[" + ", ".join("0" for _ in range(arrays[0].ndim)) + "]"
    names = "ab"[:len(arrays)]
    source = f"def {operation}({', '.join(names)}):\n    return {text.format(i=index)}\n"
    base = kernel(source, target, names={"SQRT": math.sqrt} if operation == "sqrt" else None)
    return variant(base, (None,) * arrays[0].ndim, 0, out_dtype)(*arrays)


def _by_table(numpy_op, data: Any, out_dtype: np.dtype) -> Any:
    """``numpy_op(data).astype(out_dtype)`` for 1-byte data (NumPy or Dask) by a table of its
    256 results, each computed by that same call: the same values, a lookup a point (NumPy's
    square root of 8-bit integers runs in float16, in software: the gradient magnitude of a
    uint8 stack took 1.35x as long with it)."""
    codes = np.arange(256, dtype=np.uint8)
    with np.errstate(all="ignore"):
        table = np.asarray(numpy_op(codes.view(data.dtype))).astype(out_dtype)
    if isinstance(data, np.ndarray):
        return table[data.view(np.uint8)]
    return data.map_blocks(lambda block: table[block.view(np.uint8)], dtype=out_dtype)

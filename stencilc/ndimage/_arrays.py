"""The array kinds the filters take, seen the same way: the data (NumPy, Dask, CuPy or a
numba device array), its dimension names where it came from xarray, the target that runs it,
and how to hand the result back as the kind that came in."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

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
        return Prepared(self.data.astype(np.float64), self.dims, self.target, self._wrap)

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
    on_gpu = hasattr(input, "__cuda_array_interface__")
    if not on_gpu and not _is_dask(input):
        input = np.asarray(input)
    if input.ndim == 0:
        raise ValueError("the input is a 0-d array; filters need at least one axis")
    if np.dtype(input.dtype).kind not in "biufc":
        raise TypeError(f"input has dtype {input.dtype}, which the filters do not take")
    return Prepared(input, dims, target or ("cuda" if on_gpu else "cpu"), wrap)


def _is_xarray(value: Any) -> bool:
    return type(value).__name__ == "DataArray" and hasattr(value, "dims")


def _is_dask(value: Any) -> bool:
    return type(value).__module__.startswith("dask") and hasattr(value, "chunks")

"""scipy.ndimage's parameters (``mode``, ``size``/``footprint``, ``origin``, ``axes``,
``output``) checked and normalized once, with NumPy-style errors."""
from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from ..boundary import cast_cval

#: scipy.ndimage's mode names, and stencilc's name for the same rule
MODES = {"reflect": "reflect", "constant": "constant", "nearest": "nearest",
         "mirror": "mirror", "wrap": "wrap", "grid-wrap": "wrap", "grid-mirror": "reflect",
         "grid-constant": "constant"}


def mode(name: Any, where: str = "mode") -> str:
    """One of scipy's mode names as stencilc's boundary mode."""
    if not isinstance(name, str) or name not in MODES:
        raise ValueError(f"{where}={name!r} is not a mode; choose one of "
                         f"{', '.join(repr(m) for m in MODES)}")
    return MODES[name]


def sequence(value: Any, n: int, what: str) -> list:
    """``value`` repeated ``n`` times, or ``value`` itself if it is a sequence of length
    ``n`` (scipy's rule: strings are single values)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        return [value] * n
    items = list(value)
    if len(items) != n:
        raise ValueError(f"{what} has {len(items)} entries, but {n} axes are filtered; give "
                         "one value, or one per filtered axis")
    return items


def modes(value: Any, n: int) -> list[str]:
    return [mode(m, f"mode[{k}]" if not isinstance(value, str) else "mode")
            for k, m in enumerate(sequence(value, n, "mode"))]


def integer(value: Any, what: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, not {type(value).__name__}") from None


def check_axes(axes: Any, ndim: int, dims: Sequence[str] | None = None) -> tuple[int, ...]:
    """``axes`` (None: every axis; an int; a sequence; xarray dimension names where ``dims``
    is given) as distinct non-negative axis numbers, in the order given."""
    if axes is None:
        return tuple(range(ndim))
    items = [axes] if isinstance(axes, (int, np.integer, str)) else list(axes)
    numbers = []
    for item in items:
        if isinstance(item, str):
            if dims is None or item not in dims:
                known = f"; the array's dimensions are {tuple(dims)}" if dims else \
                    " (names need an xarray input)"
                raise ValueError(f"axes names {item!r}, which is not a dimension{known}")
            numbers.append(list(dims).index(item))
            continue
        axis = integer(item, "axes")
        if not -ndim <= axis < ndim:
            raise ValueError(f"axis {axis} is out of bounds for an array of dimension {ndim}")
        numbers.append(axis % ndim)
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"axes={axes!r} names an axis twice")
    return tuple(numbers)


def origins(value: Any, sizes: Sequence[int]) -> list[int]:
    """One origin per filtered axis, each inside scipy's range for its filter size."""
    found = [integer(o, "origin") for o in sequence(value, len(sizes), "origin")]
    for o, size in zip(found, sizes):
        if not -(size // 2) <= o <= (size - 1) // 2:
            raise ValueError(f"origin={o} is invalid for a filter of size {size}; it must "
                             f"satisfy -(size // 2) <= origin <= (size - 1) // 2")
    return found


def sizes(value: Any, n: int) -> list[int]:
    found = [integer(s, "size") for s in sequence(value, n, "size")]
    for s in found:
        if s < 1:
            raise ValueError(f"size={s}: filter sizes must be at least 1")
    return found


def output_dtype(output: Any, dtype: np.dtype) -> np.dtype:
    """The result's dtype: the input's (None), the one given, or the output array's."""
    if output is None:
        return np.dtype(dtype)
    if hasattr(output, "dtype") and hasattr(output, "shape") and not isinstance(output, type):
        return np.dtype(output.dtype)
    try:
        return np.dtype(output)
    except TypeError:
        raise TypeError(f"output must be None, a dtype or an array, not "
                        f"{type(output).__name__}") from None


def cval_fits(cval: Any, dtype: np.dtype) -> bool:
    """Whether ``cval`` is the same number once stored in ``dtype`` (stencilc's boundary reads
    it in the input's dtype; scipy's linear filters read it as a float64)."""
    try:
        stored = cast_cval(cval, dtype)
    except ValueError:
        return False
    return complex(stored) == complex(cval)

"""The plain loop of single calls: how an array kind without a blocked path iterates."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from .checks import dtype_mismatch, shape_mismatch

if TYPE_CHECKING:  # pragma: no cover
    from ..ufunc import StencilUFunc


def iterate_by_calls(call: Callable[[Sequence[Any]], Any], f: "StencilUFunc",
                     args: Sequence[Any], steps: int) -> Any:
    """``steps`` steps as ``call(args)`` after ``call(args)``, outputs fed back; the first
    step's outputs are checked against the state where both have a dtype and a shape. Zero
    steps return the state arguments themselves: a kind without a blocked path may not know
    how to copy."""
    state = list(args)
    for step in range(steps):
        result = call(state)
        outputs = result if f.nout > 1 else (result,)
        if step == 0:
            _check_like(f, outputs, state)
        state[:f.nout] = outputs
    final = tuple(state[:f.nout])
    return final if f.nout > 1 else final[0]


def _check_like(f: "StencilUFunc", outputs, state) -> None:
    for k, (o, a) in enumerate(zip(outputs, state)):
        if hasattr(o, "dtype") and hasattr(a, "dtype") and np.dtype(o.dtype) != np.dtype(a.dtype):
            raise dtype_mismatch(f, k, np.dtype(o.dtype), np.dtype(a.dtype))
        if hasattr(o, "shape") and hasattr(a, "shape") and tuple(o.shape) != tuple(a.shape):
            raise shape_mismatch(f, k, tuple(o.shape), tuple(a.shape))

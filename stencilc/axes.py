"""``axes=`` and ``axis=``: which axes of each operand are the core dimensions, with NumPy's
generalized-ufunc meaning (``np.matmul(a, b, axes=[(-2, -1), (-2, -1), (-2, -1)])``).

The kernels always compute on core dimensions that come last. A call with ``axes=`` moves
each operand's core axes to the end (views: ``np.moveaxis``, which NumPy, Dask and CuPy arrays
all implement), runs the call, and moves each output's core axes back to where ``axes`` puts
them. Errors are NumPy's, word for word where NumPy has one.
"""
from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .ufunc import StencilUFunc

#: per operand (inputs, then outputs): its core axes as non-negative positions, in core order
CoreAxes = list[tuple[int, ...]]


def resolve(f: "StencilUFunc", args: Sequence[Any], out: Sequence[Any] | None,
            axes: Any = None, axis: Any = None) -> CoreAxes | None:
    """The core axes of every operand for ``axes``/``axis`` as given to ``f``; ``None`` when
    neither is given or they name the default (the last axes), so the call needs no moving."""
    if axes is None and axis is None:
        return None
    if axes is not None and axis is not None:
        raise TypeError("cannot specify both 'axis' and 'axes'")
    core_ndims = [a.ndim for a in f.ir.arguments] + [f.ir.ndim] * f.nout
    ndims = [np.ndim(a) for a in args]
    loop_ndim = max(n - c for n, c in zip(ndims, core_ndims))
    ndims += [np.ndim(o) for o in out] if out is not None else \
        [max(loop_ndim, 0) + f.ir.ndim] * f.nout
    if axis is not None:
        axes = _axes_from_axis(f, axis, core_ndims)
    if not isinstance(axes, list):
        raise TypeError("axes should be a list.")
    if len(axes) != len(core_ndims):
        raise ValueError(f"axes should be a list with an entry for all {len(core_ndims)} "
                         "inputs and outputs; entries for outputs can only be omitted if none "
                         "of them has core axes.")
    resolved = [_one_operand(f, k, item, c, n)
                for k, (item, c, n) in enumerate(zip(axes, core_ndims, ndims))]
    default = [tuple(range(n - c, n)) for c, n in zip(core_ndims, ndims)]
    return None if resolved == default else resolved


def _axes_from_axis(f: "StencilUFunc", axis: Any, core_ndims: list[int]) -> list:
    if f.ir.ndim != 1 or any(c not in (0, 1) for c in core_ndims):
        raise TypeError(f"{f.__name__}: axis can only be used with a single shared core "
                        f"dimension, not with the {f.ir.ndim} distinct ones implied by "
                        f"signature {f.signature}.")
    return [(axis,) if c else () for c in core_ndims]


def _one_operand(f: "StencilUFunc", k: int, item: Any, core_ndim: int, ndim: int) -> tuple:
    if not isinstance(item, tuple):
        if core_ndim != 1:
            raise np.exceptions.AxisError(
                f"{f.__name__}: operand {k} has {core_ndim} core dimensions, but the axes "
                "item is a single integer.")
        item = (item,)
    if len(item) != core_ndim:
        raise np.exceptions.AxisError(
            f"{f.__name__}: operand {k} has {core_ndim} core dimensions, but {len(item)} "
            "dimensions are specified by axes tuple.")
    positions = []
    for value in item:
        position = operator.index(value)
        if not -ndim <= position < ndim:
            raise np.exceptions.AxisError(position, ndim)
        position %= ndim
        if position in positions:
            raise ValueError(f"axes item {k} has value {position} repeated")
        positions.append(position)
    return tuple(positions)


def call_on_axes(run: Callable[[Sequence[Any], tuple | None], Any], f: "StencilUFunc",
                 args: Sequence[Any], outs: tuple | None, core: CoreAxes) -> Any:
    """``run(args, outs)`` with each operand's core axes ``core`` moved last, and the
    results' core axes moved back (``outs``: the ``out=`` arrays as a tuple, or None)."""
    nin = f.nin
    moved = [_to_end(a, core[k], f, k) if np.ndim(a) else a for k, a in enumerate(args)]
    moved_out = None if outs is None else tuple(
        _to_end(o, core[nin + k], f, nin + k) for k, o in enumerate(outs))
    results = run(moved, moved_out)
    if outs is not None:
        return outs if f.nout > 1 else outs[0]
    results = results if f.nout > 1 else (results,)
    back = tuple(_from_end(r, core[nin + k], f) for k, r in enumerate(results))
    return back if f.nout > 1 else back[0]


def _to_end(a: Any, axes: tuple[int, ...], f: "StencilUFunc", position: int) -> Any:
    if not hasattr(a, "ndim"):   # nested lists and other array-likes
        a = np.asarray(a)
    n = np.ndim(a)
    return _moveaxis(a, axes, tuple(range(n - len(axes), n)), f, position)


def _from_end(a: Any, axes: tuple[int, ...], f: "StencilUFunc") -> Any:
    n = np.ndim(a)
    return _moveaxis(a, tuple(range(n - len(axes), n)), axes, f, None)


def _moveaxis(a, source, destination, f, position):
    # Only array kinds that implement NumPy's functions themselves: np.moveaxis would copy
    # anything else (a numba device array) to the host, or fail.
    if isinstance(a, np.ndarray) or hasattr(type(a), "__array_function__"):
        return np.moveaxis(a, source, destination)
    name = "an output" if position is None else f"operand {position}"
    raise TypeError(
        f"{f.__name__}: axes= needs arrays that can move their axes (NumPy, Dask, CuPy); "
        f"{name} is a {type(a).__name__}. Move the axes yourself, or pass a CuPy array "
        "(cupy.asarray(a) shares the device memory)")

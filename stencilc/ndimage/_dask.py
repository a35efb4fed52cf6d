"""Dask inputs of the filters scipy builds from several passes (uniform, Gaussian, Sobel,
Prewitt, Laplace, their Gaussian forms, box minimum/maximum) in one overlap.

Pass by pass, each pass would be its own ``map_overlap``. Instead the filter runs once on a
tiny NumPy probe of the input's dtype and records each pass's neighbourhood and boundary
modes; the input is then extended once at the array's edges with those modes (the index
rules the kernels use), overlapped once by the passes' summed reach, filtered block by block
by the NumPy filter itself, and trimmed. Every kept point lies that far inside its block, so
it is computed from the same values as on the whole array: with one pass per axis, a pass at
a point outside the array along another axis reads a copy of the row the rule names there,
which is the value scipy's next pass reads through the rule. Mode ``constant`` breaks that
(scipy's later passes read ``cval``, not a pass's result), so it keeps one overlap per pass.
"""
from __future__ import annotations

import contextvars
import functools
import inspect
from typing import Any, Callable

import numpy as np

_PASSES: contextvars.ContextVar[list | None] = contextvars.ContextVar("stencilc_ndimage_passes",
                                                                      default=None)


def record(neighborhood: tuple, modes: tuple) -> None:
    """Called for each pass a filter runs (while a probe records them)."""
    passes = _PASSES.get()
    if passes is not None:
        passes.append((neighborhood, modes))


def one_overlap(function: Callable) -> Callable:
    """``function`` (a public filter) with Dask inputs computed in one overlap."""
    signature = inspect.signature(function)

    @functools.wraps(function)
    def filtered(input: Any, *args: Any, **kwargs: Any) -> Any:
        from ..arrays.dask import is_dask_array
        from ._arrays import _is_xarray
        data = input.data if _is_xarray(input) else input
        if not is_dask_array(data) or data.ndim == 0:
            return function(input, *args, **kwargs)
        bound = signature.bind(input, *args, **kwargs)
        if _is_xarray(input):
            _axes_by_number(bound, tuple(str(d) for d in input.dims))
        plan = _plan(function, bound, data)
        if plan is None:                   # one pass, or mode constant: pass by pass
            return function(input, *args, **kwargs)
        result = _overlapped(function, bound, data, *plan)
        return input.copy(data=result) if _is_xarray(input) else result
    return filtered


def _axes_by_number(bound: inspect.BoundArguments, dims: tuple[str, ...]) -> None:
    """``axis``/``axes`` given by dimension name as axis numbers (the blocks are arrays)."""
    from ._params import check_axes
    for name in ("axis", "axes"):
        value = bound.arguments.get(name)
        if value is not None:
            numbers = check_axes(value, len(dims), dims)
            bound.arguments[name] = numbers[0] if name == "axis" else numbers


def _call(function, bound, data):
    arguments = dict(bound.arguments)
    arguments[next(iter(arguments))] = data
    return function(**arguments)


def _plan(function, bound, data) -> tuple | None:
    """The reach and mode of each axis, and the output dtype, from a probe run; None where
    one overlap would not give scipy's values (or gains nothing)."""
    if "output" in bound.arguments and isinstance(bound.arguments["output"], np.ndarray):
        return None
    passes: list = []
    token = _PASSES.set(passes)
    try:
        probe = _call(function, bound, np.zeros((3,) * data.ndim, data.dtype))
    finally:
        _PASSES.reset(token)
    if len(passes) < 2:
        return None
    depth = [0] * data.ndim
    modes: list[str | None] = [None] * data.ndim
    for neighborhood, pass_modes in passes:
        for axis, ((lo, hi), mode) in enumerate(zip(neighborhood, pass_modes)):
            reach = max(-lo, hi)
            if not reach:
                continue
            if mode == "constant" or modes[axis] not in (None, mode):
                return None
            modes[axis] = mode
            depth[axis] += reach
    return depth, modes, np.dtype(probe.dtype)


def _overlapped(function, bound, data, depth, modes, out_dtype):
    from dask.array.overlap import ensure_minimum_chunksize, overlap, trim_internal

    from ..arrays.dask import _pad

    # an axis in one chunk is whole in its block: the filter applies the rule there itself;
    # so is an axis shorter than the reach
    whole = {axis: -1 for axis, d in enumerate(depth) if d >= data.shape[axis]}
    depth = [d if len(c) > 1 and axis not in whole else 0
             for axis, (d, c) in enumerate(zip(depth, data.chunks))]
    data = data.rechunk({**whole, **{axis: ensure_minimum_chunksize(d, data.chunks[axis])
                                     for axis, d in enumerate(depth) if d}})
    padded = _pad(data, depth, [m or "nearest" for m in modes], 0)
    axes = {axis: d for axis, d in enumerate(depth) if d}
    if not axes:
        return _call(function, bound, data)
    blocks = overlap(padded, depth=axes, boundary={axis: "none" for axis in axes})
    filtered = blocks.map_blocks(lambda block: _call(function, bound, block), dtype=out_dtype,
                                 meta=np.empty((0,) * data.ndim, out_dtype))
    trimmed = trim_internal(filtered, axes, boundary={axis: "none" for axis in axes})
    return trimmed[tuple(slice(d, trimmed.shape[axis] - d) for axis, d in enumerate(depth))]

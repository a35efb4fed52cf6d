"""Order-statistic filters (minimum, maximum, median, percentile, rank) and
``generic_filter``: scipy.ndimage's values, the footprint fixed at compile time.

A box footprint's minimum and maximum run as one 1-D pass per axis (scipy's separable
filters); a rank over at most :data:`NETWORK_MAX` cells is a selection network written out
(no branch, vectorized across points, every target); a larger rank partitions the window per
point (CPU targets), except the median of an odd box of 8- or 16-bit integers, which runs as
a running histogram a row at a time.
"""
from __future__ import annotations

import hashlib
import weakref
from typing import Any, Callable

import numpy as np

from ..schedules.networks import selection_network
from ..schedules.windows import HISTOGRAM_DTYPES
from . import _params
from ._dask import one_overlap
from ._arrays import Prepared, prepare
from ._kernels import all_modes, kernel, offsets, read, spread, variant
from ._linear import _float_input, _pass1d, _separable

#: the most cells a rank filter computes with a selection network (a 5x5 box)
NETWORK_MAX = 25
#: the most cells a minimum/maximum or generic_filter reads one by one; past it (a disk of
#: radius 7 took 21 s to compile as a chain, radius 12 did not compile) they read the
#: footprint's window as an array (numba's np.min/np.max: a NaN wins there)
CHAIN_MAX = 64


def footprint_of(size: Any, footprint: Any, n: int) -> np.ndarray:
    """The boolean footprint over the ``n`` filtered axes, from ``size`` or ``footprint``."""
    if footprint is None:
        if size is None:
            raise ValueError("no footprint or filter size given; pass size= or footprint=")
        return np.ones(_params.sizes(size, n), dtype=bool)
    found = np.asarray(footprint, dtype=bool)
    if found.ndim != n:
        raise ValueError(f"footprint has {found.ndim} dimension(s), but {n} axes are "
                         "filtered; give one dimension per filtered axis")
    if found.size == 0 or not found.any():
        raise ValueError("the footprint selects no element")
    return found


def _cells(footprint: np.ndarray, origins: list[int], axes: tuple[int, ...],
           ndim: int) -> list[tuple[int, ...]]:
    """The offsets the footprint's true cells read, in C order (scipy's), over every axis of
    the input."""
    per_axis = [list(offsets(size, o)) for size, o in zip(footprint.shape, origins)]
    return [spread(tuple(per_axis[d][k] for d, k in enumerate(index)), axes, ndim)
            for index in zip(*np.nonzero(footprint))]


def _name(kind: str, footprint: np.ndarray, ndim: int) -> str:
    digest = hashlib.sha256(np.packbits(footprint).tobytes() + str(footprint.shape).encode())
    return f"{kind}_{'x'.join(map(str, footprint.shape))}of{ndim}_{digest.hexdigest()[:8]}"


def _extreme_text(name: str, cells: list[tuple[int, ...]], op: str) -> str:
    """scipy's running minimum (``op`` ``<``) or maximum (``>``): the first cell, then each
    next cell where it compares strictly better, so ties and NaNs resolve as there."""
    lines = [f"def {name}(x):", f"    v = {read('x', cells[0])}"]
    for cell in cells[1:]:
        lines += [f"    t = {read('x', cell)}", f"    v = t if t {op} v else v"]
    return "\n".join(lines + ["    return v"]) + "\n"


def _network_text(name: str, cells: list[tuple[int, ...]], rank: int) -> str:
    lines = [f"def {name}(x):"]
    lines += [f"    v{k} = {read('x', cell)}" for k, cell in enumerate(cells)]
    for i, j in selection_network(len(cells), (rank,)):
        lines += [f"    t = min(v{i}, v{j})", f"    v{j} = max(v{i}, v{j})", f"    v{i} = t"]
    return "\n".join(lines + [f"    return v{rank}"]) + "\n"


def _box(footprint: np.ndarray, origins: list[int], axes: tuple[int, ...], ndim: int) -> str:
    """The kernel text of the footprint's bounding box, a window slice ``x[a:b, ...]``."""
    ranges = [range(0, 1)] * ndim
    for axis, size, o in zip(axes, footprint.shape, origins):
        ranges[axis] = offsets(size, o)
    return f"x[{', '.join(f'{r.start}:{r.stop}' for r in ranges)}]"


def _window(footprint: np.ndarray, origins: list[int], axes: tuple[int, ...],
            ndim: int) -> tuple[str, dict]:
    """The kernel text of the footprint's values as a 1-D array (C order), and the globals
    it reads."""
    box = _box(footprint, origins, axes, ndim)
    if footprint.all():
        return f"{box}.ravel()", {}
    return f"{box}.ravel()[CELLS]", {"CELLS": np.flatnonzero(footprint)}


def _partition_text(name: str, window: str, rank: int) -> str:
    return f"def {name}(x):\n    return np.partition({window}, {rank})[{rank}]\n"


def _extreme_source(footprint: np.ndarray, origins: list[int], axes: tuple[int, ...],
                    ndim: int, op: str) -> tuple[str, dict]:
    """The kernel text (and the globals it reads) of a footprint's minimum (``op`` ``<``) or
    maximum: scipy's compare chain up to :data:`CHAIN_MAX` cells, numba's reduction of the
    window array past it."""
    name = _name("minimum" if op == "<" else "maximum", footprint, ndim)
    if footprint.sum() <= CHAIN_MAX:
        return _extreme_text(name, _cells(footprint, origins, axes, ndim), op), {}
    window, names = _window(footprint, origins, axes, ndim)
    reduce = "np.min" if op == "<" else "np.max"
    return f"def {name}(x):\n    return {reduce}({window})\n", names


def _extreme(p: Prepared, footprint: np.ndarray, origins: list[int], axes: tuple[int, ...],
             modes: list[str], cval: Any, output: Any, op: str) -> Any:
    if footprint.all():
        passes = [(axis, size, origin, mode) for axis, size, origin, mode
                  in zip(axes, footprint.shape, origins, modes) if size > 1]

        def run(q: Prepared, entry: tuple, out_dtype: np.dtype) -> Any:
            axis, size, origin, mode = entry     # a scipy 1-D pass reads cval as float64
            box = np.ones(size, bool)        # a box's window: no globals to read
            return _pass1d(q, lambda _: _extreme_source(box, [origin], (axis,), q.ndim, op)[0],
                           (), axis, mode, cval, out_dtype)
        return _separable(p, passes, output, run)
    text, names = _extreme_source(footprint, origins, axes, p.ndim, op)
    base = kernel(text, p.target, names=names)
    return p.finish(_run(p, base, axes, modes, cval, _params.output_dtype(output, p.dtype)),
                    output)


def _run(p: Prepared, base, axes, modes, cval, out_dtype: np.dtype) -> Any:
    """``base`` run over ``p`` with these modes and ``cval``: an array of ``out_dtype``."""
    return variant(base, all_modes(modes, axes, p.ndim), cval, out_dtype)(p.data)


def _filter(input, size, footprint, output, mode, cval, origin, axes, target):
    p = prepare(input, target)
    axes = p.axes(axes)
    fp = footprint_of(size, footprint, len(axes))
    return p, axes, fp, _params.origins(origin, fp.shape), _params.modes(mode, len(axes))


def minimum_filter1d(input: Any, size: int, axis: int = -1, output: Any = None,
                     mode: str = "reflect", cval: float = 0.0, origin: int = 0, *,
                     target: str | None = None) -> Any:
    """Moving minimum along ``axis``: ``scipy.ndimage.minimum_filter1d``'s values."""
    return minimum_filter(input, _params.sizes(size, 1), None, output, mode, cval, origin,
                          axes=axis, target=target)


def maximum_filter1d(input: Any, size: int, axis: int = -1, output: Any = None,
                     mode: str = "reflect", cval: float = 0.0, origin: int = 0, *,
                     target: str | None = None) -> Any:
    """Moving maximum along ``axis``: ``scipy.ndimage.maximum_filter1d``'s values."""
    return maximum_filter(input, _params.sizes(size, 1), None, output, mode, cval, origin,
                          axes=axis, target=target)


@one_overlap
def minimum_filter(input: Any, size: Any = None, footprint: Any = None, output: Any = None,
                   mode: Any = "reflect", cval: float = 0.0, origin: Any = 0, *,
                   axes: Any = None, target: str | None = None) -> Any:
    """Minimum over a box (``size``) or ``footprint``: ``scipy.ndimage.minimum_filter``'s
    values."""
    return _min_or_max(input, size, footprint, output, mode, cval, origin, axes, target, "<")


@one_overlap
def maximum_filter(input: Any, size: Any = None, footprint: Any = None, output: Any = None,
                   mode: Any = "reflect", cval: float = 0.0, origin: Any = 0, *,
                   axes: Any = None, target: str | None = None) -> Any:
    """Maximum over a box (``size``) or ``footprint``: ``scipy.ndimage.maximum_filter``'s
    values."""
    return _min_or_max(input, size, footprint, output, mode, cval, origin, axes, target, ">")


def _min_or_max(input, size, footprint, output, mode, cval, origin, axes, target, op: str):
    p, axes, fp, origins, modes = _filter(input, size, footprint, output, mode, cval, origin,
                                          axes, target)
    return _extreme(p, fp, origins, axes, modes, cval, output, op)


def _rank_filter(input, rank_of: Callable[[int], int], size, footprint, output, mode, cval,
                 origin, axes, target) -> Any:
    p, axes, fp, origins, modes = _filter(input, size, footprint, output, mode, cval, origin,
                                          axes, target)
    count = int(fp.sum())
    rank = rank_of(count)
    if rank == 0:
        return _extreme(p, fp, origins, axes, modes, cval, output, "<")
    if rank == count - 1:
        return _extreme(p, fp, origins, axes, modes, cval, output, ">")
    out_dtype = _params.output_dtype(output, p.dtype)
    p = _float_input(p, modes, cval)           # scipy ranks float64 copies, cval included
    name = _name(f"rank{rank}", fp, p.ndim)
    if count <= NETWORK_MAX:
        base = kernel(_network_text(name, _cells(fp, origins, axes, p.ndim), rank), p.target)
    elif p.dtype.name in HISTOGRAM_DTYPES and fp.all() and count % 2 and rank == count // 2:
        # the middle of an odd box of small integers is np.median's value: the schedule
        # computes it from a running histogram a row at a time (stencilc.schedules.windows)
        box = _box(fp, origins, axes, p.ndim)
        base = kernel(f"def {name}(x):\n    return np.median({box})\n", p.target)
    else:
        window, names = _window(fp, origins, axes, p.ndim)
        base = kernel(_partition_text(name, window, rank), p.target, names=names)
    return p.finish(_run(p, base, axes, modes, cval, out_dtype), output)


def rank_filter(input: Any, rank: int, size: Any = None, footprint: Any = None,
                output: Any = None, mode: Any = "reflect", cval: float = 0.0, origin: Any = 0,
                *, axes: Any = None, target: str | None = None) -> Any:
    """The ``rank``-th smallest value of each footprint (negative: from the largest):
    ``scipy.ndimage.rank_filter``'s values."""
    rank = _params.integer(rank, "rank")

    def rank_of(count: int) -> int:
        found = rank + count if rank < 0 else rank
        if not 0 <= found < count:
            raise ValueError(f"rank={rank} is outside a footprint of {count} elements")
        return found
    return _rank_filter(input, rank_of, size, footprint, output, mode, cval, origin, axes,
                        target)


def median_filter(input: Any, size: Any = None, footprint: Any = None, output: Any = None,
                  mode: Any = "reflect", cval: float = 0.0, origin: Any = 0, *,
                  axes: Any = None, target: str | None = None) -> Any:
    """The median of each footprint (the upper one of an even count, as scipy picks):
    ``scipy.ndimage.median_filter``'s values."""
    return _rank_filter(input, lambda count: count // 2, size, footprint, output, mode, cval,
                        origin, axes, target)


def percentile_filter(input: Any, percentile: float, size: Any = None, footprint: Any = None,
                      output: Any = None, mode: Any = "reflect", cval: float = 0.0,
                      origin: Any = 0, *, axes: Any = None, target: str | None = None) -> Any:
    """The ``percentile``-th percentile of each footprint, by scipy's rank rule
    (``int(count * percentile / 100)``): ``scipy.ndimage.percentile_filter``'s values."""
    percent = float(percentile)
    if percent < 0.0:
        percent += 100.0
    if not 0.0 <= percent <= 100.0:
        raise ValueError(f"percentile={percentile} is outside [-100, 100]")

    def rank_of(count: int) -> int:
        rank = int(float(count) * percent / 100.0)
        return rank - 1 if rank == count else rank
    return _rank_filter(input, rank_of, size, footprint, output, mode, cval, origin, axes,
                        target)


_COMPILED: "weakref.WeakKeyDictionary[Callable, Any]" = weakref.WeakKeyDictionary()


def _callee(function: Callable) -> tuple[str, dict]:
    """How the kernel's text calls ``function``, and the globals that needs: a NumPy function
    (``np.std``, ``np.median``: what scipy users pass most) by its name in ``np``, numba
    compiles those itself; anything else as a numba dispatcher, one per function object (so
    calls with the same function reuse its kernel)."""
    import numba
    name = getattr(function, "__name__", "")
    if name and getattr(np, name, None) is function:
        return f"np.{name}", {}
    if isinstance(function, numba.core.dispatcher.Dispatcher):
        return "FUNCTION", {"FUNCTION": function}
    try:
        found = _COMPILED.get(function)
    except TypeError:                     # not weak-referenceable: compiled each call
        found = None
    if found is None:
        try:
            # inlined into the kernel, so LLVM sees the footprint's size (3x3 max - min over
            # 510x510 points, one run: 0.48 ms through a call, 0.42 ms inlined; the reductions
            # of stencilc.runtime.values are inlined either way)
            found = numba.njit(function, inline="always")
        except TypeError as exc:
            raise TypeError(f"function must be a Python function numba can compile or a NumPy "
                            f"function, not {type(function).__name__} ({exc})") from None
        try:
            _COMPILED[function] = found
        except TypeError:
            pass
    return "FUNCTION", {"FUNCTION": found}


def generic_filter(input: Any, function: Callable, size: Any = None, footprint: Any = None,
                   output: Any = None, mode: Any = "reflect", cval: float = 0.0,
                   origin: Any = 0, extra_arguments: tuple = (),
                   extra_keywords: dict | None = None, *, axes: Any = None,
                   target: str | None = None) -> Any:
    """``function(values, *extra_arguments, **extra_keywords)`` of each footprint's values
    (a float64 array in C order, as scipy passes them), compiled by numba with the kernel:
    ``scipy.ndimage.generic_filter``'s values, with no Python call per point. ``function`` is a
    Python function numba can compile, a ``numba.njit`` one, or a NumPy function numba
    supports (``np.std``, ``np.median``, ``np.ptp``, ...)."""
    if not callable(function) or type(function).__name__ == "LowLevelCallable":
        raise TypeError("function must be a Python function of the values (numba compiles "
                        f"it), not {type(function).__name__}")
    p, axes, fp, origins, modes = _filter(input, size, footprint, output, mode, cval, origin,
                                          axes, target)
    out_dtype = _params.output_dtype(output, p.dtype)
    p = _float_input(p, modes, cval)
    callee, called = _callee(function)
    if p.target == "cuda" or fp.sum() > CHAIN_MAX:
        # a window array per point: the cuda target refuses it; on the CPU it compiles where
        # a tuple of that many reads would not (it allocates per point)
        window, names = _window(fp, origins, axes, p.ndim)
        values = f"{window}.astype(np.float64)"
    else:                       # the values in one stack buffer: no allocation per point
        from ..runtime.values import stack_values
        names = {"VALUES": stack_values}
        reads = [read("x", cell) for cell in _cells(fp, origins, axes, p.ndim)]
        values = f"VALUES(({', '.join(reads)},))"
    names.update(called)
    arguments = [values]
    for k, value in enumerate(tuple(extra_arguments)):
        names[f"ARG{k}"] = value
        arguments.append(f"ARG{k}")
    for k, (key, value) in enumerate(sorted((extra_keywords or {}).items())):
        names[f"KEYWORD{k}"] = value
        arguments.append(f"{key}=KEYWORD{k}")
    text = f"def {_name('generic_filter', fp, p.ndim)}(x):\n" \
           f"    return {callee}({', '.join(arguments)})\n"
    return p.finish(_run(p, kernel(text, p.target, names=names), axes, modes, cval, out_dtype),
                    output)

"""The ``parallel`` target's row bands: one gufunc call on a large image, split into bands
of rows that run on several threads at once.

The CPU gufunc computes the rows ``[start, stop)`` of axis 0 of every core block it is given,
and NumPy releases the GIL while it runs, so plain Python threads run bands in parallel.
Outputs are allocated (and checked by NumPy) first by a call that computes no rows; every band
then writes its own rows of them. Inputs that share memory with an output are copied first,
since a band may overwrite what another band still reads.
"""
from __future__ import annotations

import itertools
import os
import threading
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from ..stepping.tiles import SMALL_STATE

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import ThreadPoolExecutor

#: the band that holds every row
ALL_ROWS = np.iinfo(np.intp).max
#: below this many elements in the largest input, threads cost more than they save (waking
#: a pool thread takes 0.05-0.1 ms); the same bound as iterate's (one definition)
SMALL_CALL = SMALL_STATE
#: bands per thread, so that a thread that starts late takes fewer
BANDS_PER_THREAD = 4

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def run_in_rows(gufunc: Callable, arrays: Sequence[Any], out: tuple | None,
                threads: int) -> Any:
    """``gufunc(arrays, out)``, its rows computed by up to ``threads`` threads."""
    inputs = list(arrays)
    if threads <= 1 or max((a.size for a in inputs if isinstance(a, np.ndarray)),
                           default=0) < SMALL_CALL:
        return gufunc(inputs, out)
    results = gufunc(inputs, out, band=(0, 0))   # allocates and checks; computes nothing
    outs = results if isinstance(results, tuple) else (results,)
    for k, a in enumerate(inputs):
        if isinstance(a, np.ndarray) and any(np.may_share_memory(a, o) for o in outs):
            inputs[k] = a.copy()
    rows = outs[0].shape[outs[0].ndim - gufunc.ir.ndim]
    bands = _cuts(rows, min(BANDS_PER_THREAD * threads, rows))
    run_tasks([_band(gufunc, inputs, outs, b) for b in bands], threads)
    return results


def _cuts(length: int, parts: int) -> list[tuple[int, int]]:
    """``[0, length)`` in ``parts`` contiguous ranges of nearly equal size."""
    edges = [length * k // parts for k in range(parts + 1)] if parts else [0]
    return [(a, b) for a, b in zip(edges, edges[1:]) if b > a]


def _band(gufunc: Callable, inputs: list, outs: tuple, rows: tuple[int, int]) -> Callable[[], Any]:
    return lambda: gufunc(inputs, outs, band=rows)


def run_tasks(tasks: list[Callable[[], Any]], threads: int) -> None:
    """Every task, taken in order by ``threads`` workers, the calling thread one of them (a
    pool thread can take a tenth of a millisecond to wake; meanwhile the others take its
    share). After an error (or Ctrl-C in the calling thread) no task is started; the first
    error is raised once every worker has stopped."""
    taken = itertools.count()   # next() on it is atomic under the GIL
    failed = threading.Event()

    def work() -> None:
        try:
            for k in iter(lambda: next(taken), None):
                if k >= len(tasks) or failed.is_set():
                    return
                tasks[k]()
        except BaseException:
            failed.set()
            raise

    helpers = [_executor().submit(work) for _ in range(min(threads, len(tasks)) - 1)]
    error: BaseException | None = None
    try:
        work()
    except BaseException as exc:   # noqa: BLE001 - re-raised below, after the helpers
        error = exc
    for helper in helpers:
        found = helper.exception()
        error = error or found
    if error is not None:
        raise error


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                from concurrent.futures import ThreadPoolExecutor   # only when splitting

                import numba
                workers = max(numba.config.NUMBA_NUM_THREADS, os.cpu_count() or 1)
                _pool = ThreadPoolExecutor(workers, thread_name_prefix="stencilc")
    return _pool

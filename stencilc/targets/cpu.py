"""The CPU targets: ``cpu`` (one thread per call) and ``parallel`` (every core in one call).

Both compile the same generated module (:mod:`stencilc.codegen.cpu`) with
``numba.guvectorize`` into one NumPy gufunc, which does the broadcasting over loop
dimensions, output allocation and core-dimension checks. The gufunc takes, after the kernel's
inputs, the band of rows of axis 0 to compute: ``cpu`` asks for all of them. ``parallel`` has
two ways to use every core, each compiled on its first use from the same compiled functions
(the kernel's body is typed once, whichever runs):

* ``blocks``: numba's parallel gufunc, whole core blocks spread over its threads (a stack);
* ``rows``: the serial gufunc, bands of each block's rows run on several Python threads
  (:mod:`.bands`; NumPy releases the GIL inside the gufunc): one large image.
"""
from __future__ import annotations

import contextlib
import functools
import math
import threading
import time
import types
import warnings
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import numba
import numpy as np
from numba.core import errors as numba_errors
from numba.np.numpy_support import as_dtype

from ..cache import compile_lock, seal_entry, validate_entry
from ..codegen.common import GeneratedModule
from ..codegen.cpu import CpuOptions, generate_cpu
from ..dtypes import DTypes, names
from ..ir import StencilIR
from ..progress import compile_notice
from ..schedules.narrowing import CPU_TYPES as CPU_NARROW_TYPES
from ..stepping import tiles
from .bands import ALL_ROWS, run_in_rows, run_tasks


def numba_type(dtype: np.dtype, ndim: int):
    """Arrays are typed C-contiguous: LLVM vectorizes loops over known-stride rows only, and
    the NumPy adapter hands every gufunc C-contiguous core blocks (copying any that are not)."""
    scalar = numba.from_dtype(dtype)
    return numba.types.Array(scalar, ndim, "C") if ndim else scalar


class CpuTarget:
    name = "cpu"
    #: integer expressions computed narrow where exact (the runtime module has the helpers)
    narrowing = CPU_NARROW_TYPES
    aliases: tuple[str, ...] = ()
    description = "one thread per call (Dask or the caller supplies parallelism)"
    requires = "numba"

    def installed(self) -> bool:
        return True

    def available(self) -> bool:
        return True

    def generate(self, ir: StencilIR, options, arg_dtypes: DTypes, env_note: str) -> GeneratedModule:
        cpu = CpuOptions(boundary=options.boundary, cval=options.cval, fastmath=options.fastmath)
        return generate_cpu(ir, cpu, tuple(arg_dtypes), env_note=env_note)

    def value_dtypes(self, module: types.ModuleType, generated: GeneratedModule, ir: StencilIR,
                     arg_dtypes: DTypes) -> DTypes:
        point = getattr(module, generated.point)
        arg_types = [numba_type(dt, a.ndim) for a, dt in zip(ir.arguments, arg_dtypes)]
        point.compile(tuple([numba.types.intp] * ir.ndim + arg_types))
        returned = point.nopython_signatures[-1].return_type
        items = list(returned) if isinstance(returned, numba.types.BaseTuple) else [returned]
        dtypes = []
        for item in items:
            try:
                dtypes.append(np.dtype(as_dtype(item)))
            except (numba_errors.NumbaError, TypeError):   # what as_dtype raises for non-numbers
                raise TypeError(f"{ir.name}: the kernel returns {item} for argument dtypes "
                                f"{names(arg_dtypes)}; a stencil must return numbers") from None
        return tuple(dtypes)

    def compile(self, module: types.ModuleType, generated: GeneratedModule, ir: StencilIR,
                options, arg_dtypes: DTypes, out_dtypes: DTypes, cache: bool) -> "Gufunc":
        return _guvectorize(module, generated, ir, arg_dtypes, out_dtypes, cache)

    def run(self, kernel: "Gufunc", arrays: Sequence[np.ndarray], out: tuple | None) -> Any:
        return kernel(arrays, out)

    def advance(self, kernel: "Gufunc", arrays, stepping) -> tuple:
        return tiles.advance(kernel, arrays, stepping)

    def inspect(self, kernel: "Gufunc", stage: str) -> str:
        library = next(iter(kernel.builder._cres.values())).library
        return library.get_llvm_str() if stage == "llvm" else library.get_asm_str()


class ParallelTarget(CpuTarget):
    name = "parallel"
    description = "every core inside one call, also for a single image"

    def compile(self, module, generated, ir, options, arg_dtypes, out_dtypes, cache):
        build = functools.partial(_locked_guvectorize, module, generated, ir, arg_dtypes,
                                  out_dtypes, cache=cache)
        return _ParallelKernel(ir, {"blocks": functools.partial(build, target="parallel"),
                                    "rows": functools.partial(build, target="cpu")})

    def run(self, kernel: "_ParallelKernel", arrays, out):
        threads = numba.get_num_threads()
        path, work = kernel.dispatch(arrays, threads)
        choice = kernel.choices[(path, work.bit_length())]
        return choice.run(lambda threaded: self._run(kernel, arrays, out, path, threaded,
                                                     threads), work)

    @staticmethod
    def _run(kernel: "_ParallelKernel", arrays, out, path: str, threaded: bool, threads: int):
        if not threaded:      # the cpu target's call: one thread
            return kernel.get("rows")(arrays, out)
        if path == "blocks":
            with _workqueue_guard():
                return kernel.get("blocks")(arrays, out)
        return run_in_rows(kernel.get("rows"), arrays, out, threads)

    def advance(self, kernel: "_ParallelKernel", arrays, stepping) -> tuple:
        threads = numba.get_num_threads()
        rows = kernel.get("rows")
        # A plain step is a call: threaded or not as the clock says (a busy core made
        # threaded steps of a 1024² state 0.72x the loop of calls, which ran on one thread),
        # and where calls of this size have settled on one thread, so do the tiled rounds.
        path, work = kernel.dispatch(arrays, threads)
        if kernel.choices[(path, work.bit_length())].settled_on_one_thread:
            run_all, threads = tiles.in_turn, 1
        else:
            run_all = functools.partial(run_tasks, threads=threads)
        return tiles.advance(rows, arrays, stepping, run_all, threads,
                             step=lambda inputs, out: self.run(kernel, inputs, out))

    def inspect(self, kernel: "_ParallelKernel", stage: str) -> str:
        return super().inspect(kernel.get("rows"), stage)


@dataclass(frozen=True)
class Gufunc:
    """The compiled gufunc of one specialization. Calling it computes the rows ``band`` of
    axis 0 of every core block: ``gufunc(arrays, out, band=(start, stop))``."""

    ufunc: np.ufunc
    builder: Any     # numba's GUFuncBuilder: its compile results hold the LLVM and assembly
    ir: StencilIR

    def __call__(self, arrays: Sequence[Any], out: tuple | None,
                 band: tuple[int, int] = (0, ALL_ROWS)) -> Any:
        inputs = (*arrays, np.intp(band[0]), np.intp(band[1]))
        return self.ufunc(*inputs) if out is None else self.ufunc(*inputs, out=out)


def _guvectorize(module, generated: GeneratedModule, ir: StencilIR, arg_dtypes, out_dtypes,
                 cache: bool, target: str = "cpu") -> Gufunc:
    arg_types = [numba_type(dt, a.ndim) for a, dt in zip(ir.arguments, arg_dtypes)]
    layout = ir.layout
    scalars: tuple = ()
    if generated.fill_inputs:   # one scalar per output after the arguments: its fill value
        arg_types += [numba_type(dt, 0) for dt in out_dtypes]
        scalars += ((),) * ir.nout
    arg_types += [numba.types.intp] * 2   # the band of rows
    layout = replace(layout, inputs=layout.inputs + scalars + ((), ()))
    out_types = [numba_type(dt, ir.ndim) for dt in out_dtypes]
    function = getattr(module, generated.kernels["serial"])
    function.__name__ = ir.name   # NumPy names the gufunc after it in its errors
    built = numba.guvectorize([numba.void(*arg_types, *out_types)], str(layout),
                              nopython=True, cache=cache, target=target)(function)
    return Gufunc(getattr(built, "ufunc", built), getattr(built, "gufunc_builder", None), ir)


def _locked_guvectorize(module, generated: GeneratedModule, ir: StencilIR, arg_dtypes,
                        out_dtypes, cache: bool, target: str) -> Gufunc:
    """:func:`_guvectorize` under the module's cache lock, as the pipeline compiles: a gufunc
    built later, on first use, must not race another process writing the same cache entry
    (numba issue #10128: mismatched files, then a segfault on loading them)."""
    if not cache:
        return _guvectorize(module, generated, ir, arg_dtypes, out_dtypes, cache, target)
    with compile_lock(module.__name__):
        validate_entry(module.__name__, f"{ir.name!r} {names(arg_dtypes)} ({target})")
        built = _guvectorize(module, generated, ir, arg_dtypes, out_dtypes, cache, target)
        seal_entry(module.__name__)
        return built


class _ParallelKernel:
    """The parallel target's two gufuncs, each compiled on its first use (most programs only
    ever take one path)."""

    def __init__(self, ir: StencilIR, builders: dict[str, Callable[..., Gufunc]]):
        self.ir = ir
        self._builders = builders
        self._built: dict[str, Gufunc] = {}
        self._lock = threading.Lock()
        self.choices = _Choices()
        self._dispatched: dict[tuple, tuple[str, int]] = {}

    def dispatch(self, arrays, threads: int) -> tuple[str, int]:
        """The path a call on ``arrays`` takes ("blocks" or "rows") and its work (elements of
        the largest array): the key of its thread choice. Kept per (threads, shapes): a
        program calls with the same shapes again and again (a few us a call otherwise)."""
        shapes = (threads, *(getattr(a, "shape", None) for a in arrays))
        found = self._dispatched.get(shapes)
        if found is None:
            path = "blocks" if _spread_blocks(self.ir, arrays, threads) else "rows"
            work = max((a.size for a in arrays if isinstance(a, np.ndarray)), default=0)
            if len(self._dispatched) >= 64:
                self._dispatched.clear()
            found = self._dispatched[shapes] = path, work
        return found

    def get(self, path: str) -> Gufunc:
        found = self._built.get(path)
        if found is None:
            with self._lock:
                found = self._built.get(path)
                if found is None:
                    found = self._built[path] = self._build(path)
        return found

    def _build(self, path: str) -> Gufunc:
        build = self._builders[path]
        try:
            with compile_notice(f"kernel {self.ir.name!r} for the parallel target's "
                                f"{path!r} path"):
                return build()
        except Exception as exc:   # noqa: BLE001 - a damaged cache entry: compile in memory
            if not build.keywords["cache"]:
                raise
            warnings.warn(f"stencilc: the cache entry for {self.ir.name!r} ({path}) could not "
                          f"be used ({exc!r}); compiling it without the cache", RuntimeWarning,
                          stacklevel=4)
            return build(cache=False)


class _Choices(dict):
    """One :class:`ThreadsOrNot` per dispatch path and size class (powers of two of the
    largest input), made on first use."""

    def __missing__(self, key) -> "ThreadsOrNot":
        return self.setdefault(key, ThreadsOrNot())


class ThreadsOrNot:
    """Whether calls of one size class run faster on threads or on one thread, by the clock.

    Splitting pays for large work on idle cores; it loses on small work (waking threads) and
    on busy cores (a thread waits for a core: a shared 2-core host showed an 8 ms floor where
    one thread took 1.7 ms). Neither is known in advance, so the first calls of a size class
    run both ways in turn (:data:`TRIALS` each, the best time per element of each kept: a
    class spans a factor of two in size) and the faster is used. Both are timed again after
    :data:`RECHECK` calls, then after twice as many each time the trials confirm the choice
    (up to :data:`RECHECK_MAX`: on a steady host the slower way is rarely paid for), and at
    once when :data:`SLOW_CALLS` calls in a row run :data:`SLOWER` times slower than their
    way's best (the host's load changed; one slow call is noise, a preempted thread). Both
    ways give the same numbers bit for bit (the same compiled point function)."""

    TRIALS = 2
    RECHECK = 64
    RECHECK_MAX = 1024
    #: calls this many times slower than the best seen for their way, :data:`SLOW_CALLS` in a
    #: row, start new trials (the host got busy, or quiet, between two rechecks)
    SLOWER = 1.5
    SLOW_CALLS = 3

    def __init__(self):
        self.best = {True: math.inf, False: math.inf}
        self.trials = 0
        self.calls = 0          # calls since the last trials began
        self.interval = self.RECHECK
        self.slow = 0           # slow calls in a row
        self.confirmed: bool | None = None   # the choice the last trials made
        self._lock = threading.Lock()

    @property
    def threaded(self) -> bool:
        return self.best[True] <= self.best[False]

    @property
    def settled_on_one_thread(self) -> bool:
        """Whether the last trials are over and chose one thread."""
        return self.trials >= 2 * self.TRIALS and not self.threaded

    def _retry(self, interval: int) -> None:
        self.best = {True: math.inf, False: math.inf}
        self.trials = self.calls = self.slow = 0
        self.interval = interval

    def run(self, call: Callable[[bool], Any], work: int = 1) -> Any:
        """``call(threaded)`` the way chosen; ``work``: the call's size (elements)."""
        with self._lock:
            self.calls += 1
            if self.calls > self.interval:
                self._retry(self.interval)
                self.calls = 1
            trying = self.trials < 2 * self.TRIALS
            threaded = self.trials % 2 == 0 if trying else self.threaded
            self.trials += trying
        started = time.perf_counter()
        result = call(threaded)
        elapsed = (time.perf_counter() - started) / max(1, work)
        with self._lock:
            if trying:
                self.best[threaded] = min(self.best[threaded], elapsed)
                if self.trials == 2 * self.TRIALS:       # the trials' verdict
                    same = self.confirmed == self.threaded
                    self.interval = (min(2 * self.interval, self.RECHECK_MAX) if same
                                     else self.RECHECK)
                    self.confirmed = self.threaded
            elif elapsed > self.SLOWER * self.best[threaded]:
                self.slow += 1
                if self.slow >= self.SLOW_CALLS:
                    self._retry(self.RECHECK)
            else:
                self.slow = 0
        return result


# Dispatch thresholds of the parallel target (see _spread_blocks), chosen rather than tuned:
# with 4+ blocks per thread, uneven shares cost at most a quarter of the work; a block under
# 16k points is too small to split its rows. make bench runs both paths (a stack, one image).
_BLOCKS_PER_THREAD = 4
_SMALL_BLOCK = 16384


def _spread_blocks(ir: StencilIR, arrays, threads: int) -> bool:
    """Spread whole blocks over threads when there are enough of them to keep every thread
    busy, or blocks too small to split; else split each block's rows."""
    loop_shapes = [a.shape[:a.ndim - arg.ndim] for arg, a in zip(ir.arguments, arrays)]
    try:
        blocks = math.prod(np.broadcast_shapes(*loop_shapes))
    except ValueError:   # let NumPy word the error
        return True
    if blocks <= 1:
        return False
    core = max(math.prod(a.shape[a.ndim - arg.ndim:]) for arg, a in zip(ir.arguments, arrays))
    return blocks >= _BLOCKS_PER_THREAD * threads or core < _SMALL_BLOCK


_workqueue_lock = threading.Lock()


def threading_report() -> str:
    """numba's threading layer and thread count, as the parallel target uses them (a tiny
    parallel loop is compiled first: numba picks its layer at the first parallel run)."""
    @numba.njit(parallel=True, cache=False)
    def touch(n):
        total = 0
        for i in numba.prange(n):
            total += i
        return total

    try:
        touch(4)
        layer = numba.threading_layer()
    except Exception as error:   # noqa: BLE001 - no layer can start: say why
        return f"no threading layer ({type(error).__name__}: {error})"
    return (f"numba threading layer {layer!r} ({numba.get_num_threads()} threads; "
            f"NUMBA_THREADING_LAYER={numba.config.THREADING_LAYER!r}); each size of call "
            "runs threaded or on one thread, whichever its first calls timed faster")


@contextlib.contextmanager
def _workqueue_guard():
    """numba's fallback 'workqueue' threading layer aborts the process when two threads run
    parallel code at once; serialize parallel calls in that case only (omp and tbb are safe)."""
    try:
        safe = numba.threading_layer() != "workqueue"
    except ValueError:          # no parallel code has run yet: the layer is not chosen
        safe = False
    if safe:
        yield
    else:
        with _workqueue_lock:
            yield

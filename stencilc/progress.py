"""Long compiles as a user sees them: one line on the ``stencilc`` logger when a compile takes
long, so a pause never reads as a hang (docs/performance.md has what compile time depends
on), and Ctrl-C that stops the caller at once (:func:`interruptible`).

The line goes out at level WARNING, which Python prints to stderr even where logging is not
configured; ``logging.getLogger("stencilc").setLevel(logging.ERROR)`` silences it.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")

logger = logging.getLogger("stencilc")

#: seconds a compile runs before the line is written
SLOW_COMPILE_SECONDS = 2.0


@contextlib.contextmanager
def compile_notice(what: str) -> Iterator[None]:
    """Log ``stencilc: compiling <what> ...`` if the block is still running after
    :data:`SLOW_COMPILE_SECONDS`; nothing otherwise."""
    start = time.perf_counter()

    def notice() -> None:
        logger.warning("stencilc: compiling %s (%.0f s so far; large kernels take longer, "
                       "and later calls and new processes reuse the result)",
                       what, time.perf_counter() - start)

    timer = threading.Timer(SLOW_COMPILE_SECONDS, notice)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def interruptible(work: Callable[[], T]) -> T:
    """``work()``, run so that Ctrl-C stops the caller at once. LLVM's optimizer checks no
    signals, so a long compile in the main thread ignored Ctrl-C until it ended: here the
    main thread waits for a worker thread instead, and a KeyboardInterrupt there leaves the
    compile to finish (or fail) in the background, where it writes a whole cache entry or
    none. Off the main thread (Dask workers, other threads) signals never arrive, so the work
    runs in place."""
    if threading.current_thread() is not threading.main_thread():
        return work()
    outcome: dict[str, object] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:   # noqa: BLE001 - re-raised in the caller
            outcome["error"] = error
        finally:
            done.set()

    worker = threading.Thread(target=run, name="stencilc-compile", daemon=True)
    worker.start()
    while not done.wait(0.05):
        pass
    if "error" in outcome:
        raise outcome["error"]   # type: ignore[misc]
    return outcome["value"]      # type: ignore[return-value]

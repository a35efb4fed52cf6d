"""One line on the ``stencilc`` logger when a compile takes long, so a pause never reads as a
hang (docs/performance.md has what compile time depends on).

The line goes out at level WARNING, which Python prints to stderr even where logging is not
configured; ``logging.getLogger("stencilc").setLevel(logging.ERROR)`` silences it.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Iterator

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

"""The boundary rules compiled for the CPU targets: generated CPU modules import these
(``from stencilc.runtime.cpu import ...``).

Not cached on disk by numba: their code is linked into each generated function, whose cache
entry holds it (a warm process compiles none of these), and caching them would need a
writable folder beside the installed package (a read-only install: "no locator available"),
with files that no manifest of stencilc's checks (docs/reliability.md)."""
from __future__ import annotations

import numba

from .. import boundary

nearest_index = numba.njit(boundary.nearest_index)
reflect_index = numba.njit(boundary.reflect_index)
mirror_index = numba.njit(boundary.mirror_index)
wrap_index = numba.njit(boundary.wrap_index)


@numba.njit
def checked_offset(offset, lo, hi):
    """An offset the frontend could not bound: fail loudly rather than read out of bounds."""
    if offset < lo or offset > hi:
        raise IndexError("stencilc: a relative offset left the kernel's declared neighborhood")
    return offset


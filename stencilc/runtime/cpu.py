"""The boundary rules compiled for the CPU targets: generated CPU modules import these
(``from stencilc.runtime.cpu import ...``)."""
from __future__ import annotations

import numba

from .. import boundary

nearest_index = numba.njit(cache=True)(boundary.nearest_index)
reflect_index = numba.njit(cache=True)(boundary.reflect_index)
mirror_index = numba.njit(cache=True)(boundary.mirror_index)
wrap_index = numba.njit(cache=True)(boundary.wrap_index)


@numba.njit(cache=True)
def checked_offset(offset, lo, hi):
    """An offset the frontend could not bound: fail loudly rather than read out of bounds."""
    if offset < lo or offset > hi:
        raise IndexError("stencilc: a relative offset left the kernel's declared neighborhood")
    return offset


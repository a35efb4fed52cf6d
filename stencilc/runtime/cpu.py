"""The boundary rules compiled for the CPU targets: generated CPU modules import these
(``from stencilc.runtime.cpu import ...``).

Not cached on disk by numba: their code is linked into each generated function, whose cache
entry holds it (a warm process compiles none of these), and caching them would need a
writable folder beside the installed package (a read-only install: "no locator available"),
with files that no manifest of stencilc's checks (docs/reliability.md)."""
from __future__ import annotations

import numba
from numba.core import types
from numba.extending import intrinsic

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



# --- integer narrowing (stencilc.schedules.narrowing) ----------------------------------------

def _wrapping(operation: str):
    """``operation`` (LLVM's add, sub or mul) of two integers of one type, in that type: what
    numba's typing never does for small integers (it widens them to 64 bits first)."""
    @intrinsic
    def narrow(typingctx, a, b):
        if not (isinstance(a, types.Integer) and a == b):
            return None

        def codegen(context, builder, signature, args):
            return getattr(builder, operation)(*args)
        return a(a, b), codegen
    return narrow


narrow_add = _wrapping("add")
narrow_sub = _wrapping("sub")
narrow_mul = _wrapping("mul")


@intrinsic
def as_type_of(typingctx, value, like):
    """``value`` converted to the type numba gives ``like``, whose value is not used (LLVM
    removes its computation): a narrow result in the type the expression as written has."""
    def codegen(context, builder, signature, args):
        return context.cast(builder, args[0], signature.args[0], signature.args[1])
    return like(value, like), codegen

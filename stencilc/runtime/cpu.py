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


# --- stencilc.ndimage.generic_filter ---------------------------------------------------------

@intrinsic
def float64_values(typingctx, values):
    """The numbers of the tuple ``values`` as a 1-D float64 array in the calling function's
    stack frame (one slot per call site, reused by every call): no heap allocation per output
    point. Valid while the kernel runs, which is as long as a point's value is computed."""
    if not isinstance(values, types.BaseTuple) or not all(
            isinstance(t, (types.Number, types.Boolean)) and not isinstance(t, types.Complex)
            for t in values):
        return None
    from numba.core import cgutils
    from numba.np.arrayobj import make_array, populate_array
    array_type = types.Array(types.float64, 1, "C")
    count = len(values)

    def codegen(context, builder, signature, args):
        data = cgutils.alloca_once(builder, context.get_value_type(types.float64), size=count)
        for k, item_type in enumerate(signature.args[0]):
            item = context.cast(builder, builder.extract_value(args[0], k), item_type,
                                types.float64)
            builder.store(item, cgutils.gep_inbounds(builder, data, k))
        array = make_array(array_type)(context, builder)
        intp = lambda n: context.get_constant(types.intp, n)   # noqa: E731
        populate_array(array, data=data, shape=[intp(count)], strides=[intp(8)],
                       itemsize=intp(8), meminfo=None)
        return array._getvalue()
    return array_type(values), codegen


@numba.njit(inline="always")
def stack_values(values):
    """:func:`float64_values` as a function kernels may call. Inlined into the caller by
    numba (``inline="always"``), so the stack buffer is the caller's, not a returned frame's."""
    return float64_values(values)

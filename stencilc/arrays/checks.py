"""Argument checks every array adapter applies, worded as NumPy words them."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..dtypes import native_dtype
from ..ir import Role

if TYPE_CHECKING:  # pragma: no cover
    from ..ufunc import StencilUFunc


def what(f: "StencilUFunc", position: int) -> str:
    """How messages name argument ``position`` (outputs follow the inputs)."""
    if position < f.nin:
        return f"argument {f.ir.arguments[position].name!r}"
    return f"out[{position - f.nin}]"


def refuse_masked(f: "StencilUFunc", args) -> None:
    """A masked array (NumPy's, or a Dask array of them) is a TypeError: a kernel reads the
    data under the mask too, so a masked 1e6 would leak into its neighbours' results."""
    for k, a in enumerate(args):
        if isinstance(a, np.ma.MaskedArray) or isinstance(getattr(a, "_meta", None),
                                                         np.ma.MaskedArray):
            raise TypeError(
                f"{f.__name__}: {what(f, k)} is a masked array; stencil kernels read every "
                "element, masked or not. Fill the masked values first (a.filled(value)), or "
                "compute on a.data and the mask (a.mask) separately")


def to_native(f: "StencilUFunc", array: Any, position: int) -> Any:
    """``array`` (NumPy or Dask) in a supported, native-order dtype: byte-swapped inputs are
    converted, since compiled kernels read native order."""
    dtype = native_dtype(array.dtype, f.__name__, what(f, position))
    return array.astype(dtype) if dtype != array.dtype else array


def out_tuple(f: "StencilUFunc", out: Any) -> tuple | None:
    """``out=`` as a tuple of one array per output (a single array for one output is
    accepted, as NumPy accepts it), or None."""
    if out is None:
        return None
    outs = tuple(out) if isinstance(out, tuple) else (out,)
    if len(outs) != f.nout:
        raise ValueError(f"{f.__name__}: out must be a tuple of {f.nout} arrays, got {len(outs)}")
    return outs


def check_out_casting(f: "StencilUFunc", natural_dtypes, outs) -> None:
    """Each ``out=`` array takes its output's natural dtype under ``same_kind`` casting;
    NumPy's message, which names the output by position only when there are several."""
    import numpy as np
    for k, (o, dt) in enumerate(zip(outs, natural_dtypes)):
        if not np.can_cast(dt, o.dtype, casting="same_kind"):
            which = f" {k}" if f.nout > 1 else ""
            raise TypeError(f"Cannot cast ufunc '{f.__name__}' output{which} from {dt!r} to "
                            f"{o.dtype!r} with casting rule 'same_kind'")


def check_core_ndims(f: "StencilUFunc", arrays: Sequence[Any]) -> None:
    """Every argument has at least its core dimensions, and every standard_indexing array
    holds the constant indices the kernel reads."""
    for position, (argument, array) in enumerate(zip(f.ir.arguments, arrays)):
        if array.ndim < argument.ndim:
            raise ValueError(
                f"{f.__name__}: Input operand {position} does not have enough dimensions "
                f"(has {array.ndim}, gufunc core with signature {f.signature} requires "
                f"{argument.ndim})")
        if argument.role is Role.STANDARD:
            _check_standard(f, argument, array)


def _check_standard(f: "StencilUFunc", argument, array) -> None:
    if argument.ndim == 0 and array.ndim > 0:
        raise ValueError(
            f"{f.__name__}: argument {argument.name!r} is in standard_indexing but the kernel "
            f"never indexes it, so it is a scalar; got an array of shape {array.shape} (index "
            "it in the kernel, or give its core dimensions in signature=)")
    core = array.shape[array.ndim - argument.ndim:]
    for axis, need in enumerate(f.ir.shape_needs.get(argument.name, ())):
        size = core[axis]
        if need is not None and size == size and size < need.length:   # nan: unknown (Dask)
            raise IndexError(
                f"{f.__name__}: the kernel reads {need.read} (line {need.line}), but argument "
                f"{argument.name!r} has core shape {tuple(core)}: an index is out of bounds "
                f"for axis {axis} with size {size}")


def check_out_shapes(f: "StencilUFunc", arrays: Sequence[Any], outs: Sequence[Any]) -> None:
    """Each ``out`` holds the result, checked here so that the error names the kernel's
    signature (NumPy would name the compiled gufunc's, with stencilc's own inputs in it)."""
    d = f.ir.ndim
    loops, core = [], None
    for argument, a in zip(f.ir.arguments, arrays):
        loops.append(tuple(a.shape[:a.ndim - argument.ndim]))
        if argument.role is Role.RELATIVE and core is None:
            core = tuple(a.shape[a.ndim - argument.ndim:])
    try:
        loop = tuple(np.broadcast_shapes(*loops))
    except ValueError:
        return          # the inputs do not broadcast: NumPy words that
    for k, o in enumerate(outs):
        shape = tuple(o.shape)
        out_loop = shape[:len(shape) - d]
        fits = len(shape) >= d and shape[len(shape) - d:] == core
        if fits:
            try:
                fits = tuple(np.broadcast_shapes(out_loop, loop)) == out_loop
            except ValueError:
                fits = False
        if not fits:
            raise ValueError(f"{f.__name__}: output operand {k} with shape {shape} does not "
                             f"fit the result's shape {loop + core} (signature "
                             f"{f.signature})")

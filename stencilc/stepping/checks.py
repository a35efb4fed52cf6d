"""The checks ``iterate`` adds to a call's: counts, and outputs that can become arguments."""
from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..ir import Role

if TYPE_CHECKING:  # pragma: no cover
    from ..ufunc import StencilUFunc


def check_count(f: "StencilUFunc", value: Any, name: str, minimum: int,
                method: str = "iterate") -> int:
    """``value`` as an int of at least ``minimum`` (bools and floats refused, as
    ``range`` refuses them); messages name ``f.<method>``."""
    where = f"{f.__name__}.{method}"
    if isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be an integer, not bool")
    try:
        count = operator.index(value)
    except TypeError:
        raise TypeError(f"{where}: {name} must be an integer, not "
                        f"{type(value).__name__}") from None
    if count < minimum:
        raise ValueError(f"{where}: {name} must be at least {minimum}, got {count}")
    return count


def check_roles(f: "StencilUFunc", args: Sequence[Any]) -> None:
    """Each output feeds a relatively indexed argument (the state), and the call has the
    kernel's arguments."""
    if len(args) != f.nin:
        raise TypeError(f"{f.__name__}.iterate() takes {f.nin} positional argument"
                        f"{'s' if f.nin != 1 else ''} but {len(args)} were given")
    for k in range(f.nout):
        argument = f.ir.arguments[k] if k < f.nin else None
        if argument is None or argument.role is not Role.RELATIVE:
            what = "there is no such argument" if argument is None else \
                f"argument {argument.name!r} is " + \
                ("a scalar" if argument.role is Role.SCALAR else "a standard_indexing array")
            raise TypeError(f"{f.__name__}.iterate: output {k} feeds back into argument {k}, "
                            f"but {what}; the state (the first {f.nout} argument(s), one per "
                            "output) must be arrays the kernel reads by relative offsets")


def check_state(f: "StencilUFunc", arrays: Sequence[Any], out_dtypes) -> None:
    """Each output has its state argument's shape and dtype, so it can be the next step's
    argument."""
    d = f.ir.ndim
    loops = [tuple(a.shape[:a.ndim - arg.ndim]) for arg, a in zip(f.ir.arguments, arrays)]
    try:
        loop_shape = tuple(np.broadcast_shapes(*loops))
    except ValueError:
        loop_shape = None      # the call itself words this error
    for k in range(f.nout):
        a = arrays[k]
        if np.dtype(out_dtypes[k]) != a.dtype:
            raise dtype_mismatch(f, k, np.dtype(out_dtypes[k]), a.dtype)
        if loop_shape is None:
            continue
        shape = loop_shape + tuple(a.shape[a.ndim - d:])
        if tuple(a.shape) != shape and not any(isinstance(s, float) and math.isnan(s)
                                               for s in a.shape):
            raise shape_mismatch(f, k, shape, tuple(a.shape))


def dtype_mismatch(f: "StencilUFunc", k: int, out_dtype, arg_dtype) -> TypeError:
    name = f.ir.arguments[k].name
    return TypeError(
        f"{f.__name__}.iterate: output {k} is {out_dtype} but argument {name!r} is "
        f"{arg_dtype}; each step's output becomes the next step's argument, so they need the "
        f"same dtype (pass {name!r} as {out_dtype}, or decorate with "
        f"out_dtype={str(arg_dtype)!r})")


def shape_mismatch(f: "StencilUFunc", k: int, shape, arg_shape) -> ValueError:
    name = f.ir.arguments[k].name
    return ValueError(
        f"{f.__name__}.iterate: output {k} has shape {shape} but argument {name!r} has "
        f"shape {arg_shape}; each step's output becomes the next step's argument, so the "
        f"state must have the other arguments' full loop shape (broadcast {name!r} first, "
        f"e.g. np.broadcast_to({name}, {shape}).copy())")

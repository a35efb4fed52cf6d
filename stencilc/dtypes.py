"""Supported dtypes and the ``out_dtype`` policy (docs/design.md, 1.1 and 1.4)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .ir import Role, StencilIR

SUPPORTED_DTYPES = tuple(np.dtype(name) for name in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float32", "float64", "complex64", "complex128"))
SUPPORTED_NAMES = ", ".join(d.name for d in SUPPORTED_DTYPES)

DTypes = tuple[np.dtype, ...]


def names(dtypes: Sequence) -> str:
    """``(int8, float32)``: dtypes as the messages spell them."""
    return "(" + ", ".join(np.dtype(d).name for d in dtypes) + ")"


def native_dtype(dtype: np.dtype, kernel: str, what: str) -> np.dtype:
    """The native-order version of ``dtype``, or a TypeError naming ``what`` (``argument 'x'``,
    ``out[0]``) and listing the supported dtypes."""
    native = dtype.newbyteorder("=") if dtype.byteorder not in "=|" else dtype
    if native not in SUPPORTED_DTYPES:
        raise TypeError(f"{kernel}: {what} has dtype {dtype}, which is not supported; "
                        f"supported dtypes: {SUPPORTED_NAMES}")
    return native


def resolve_out_dtypes(ir: StencilIR, out_dtype, arg_dtypes: DTypes, kernel_dtypes: DTypes) -> DTypes:
    """``out_dtype``: None (``np.result_type`` of the array inputs), "kernel" (what the return
    expression computes), one dtype, or one per output."""
    if out_dtype is None:
        arrays = [dt for a, dt in zip(ir.arguments, arg_dtypes) if a.role is not Role.SCALAR]
        return (np.result_type(*arrays),) * ir.nout
    if isinstance(out_dtype, str) and out_dtype == "kernel":
        return kernel_dtypes
    if isinstance(out_dtype, (list, tuple)):
        return tuple(np.dtype(d) for d in out_dtype)
    return (np.dtype(out_dtype),) * ir.nout


def check_storable(ir: StencilIR, kernel_dtypes: DTypes, out_dtypes: DTypes) -> None:
    """Every kernel value can be stored into its output dtype."""
    if len(out_dtypes) != ir.nout:
        raise ValueError(f"{ir.name}: out_dtype gives {len(out_dtypes)} dtype(s) for "
                         f"{ir.nout} output(s)")
    for value, out in zip(kernel_dtypes, out_dtypes):
        if out not in SUPPORTED_DTYPES:
            raise TypeError(f"{ir.name}: output dtype {out} is not supported; "
                            f"supported: {SUPPORTED_NAMES}")
        if value.kind == "c" and out.kind != "c":
            raise TypeError(f"{ir.name}: the kernel computes {value}, which cannot be stored "
                            f"in a {out} output; pass out_dtype='kernel' or a complex dtype")

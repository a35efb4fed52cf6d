"""The options of :func:`stencil_ufunc`, validated once at decoration time."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from . import targets
from .boundary import normalize_boundary, normalize_cval


@dataclass(frozen=True)
class Options:
    """Every option of :func:`stencil_ufunc`; :meth:`validated` checks and normalizes them."""

    signature: str | None = None
    target: str = "cpu"
    boundary: str | None = None
    cval: object = 0
    neighborhood: tuple | None = None
    standard_indexing: tuple[str, ...] = ()
    out_dtype: object = None
    cache: bool = True
    fastmath: bool = False

    def validated(self) -> "Options":
        target = targets.canonical_name(self.target)
        standard = self.standard_indexing
        if isinstance(standard, str):
            standard = (standard,)
        neighborhood = None if self.neighborhood is None else tuple(
            tuple(axis) for axis in self.neighborhood)
        return replace(self, target=target, boundary=normalize_boundary(self.boundary),
                       cval=normalize_cval(self.cval),
                       standard_indexing=tuple(standard), neighborhood=neighborhood,
                       out_dtype=_normalize_out_dtype(self.out_dtype),
                       cache=bool(self.cache), fastmath=bool(self.fastmath))


def _normalize_out_dtype(out_dtype):
    if out_dtype is None or (isinstance(out_dtype, str) and out_dtype == "kernel"):
        return out_dtype
    try:
        if isinstance(out_dtype, (list, tuple)):
            return tuple(np.dtype(d) for d in out_dtype)
        return np.dtype(out_dtype)
    except TypeError:
        raise TypeError(f"out_dtype must be None, 'kernel' or a dtype, not {out_dtype!r}") \
            from None

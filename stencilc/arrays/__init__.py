"""Array kinds as adapters: each one says whether it owns a call's arguments and runs it.

The dispatcher (:class:`stencilc.ufunc.StencilUFunc`) asks the adapters in order and hands
the call to the first that owns the arguments; NumPy, which takes anything ``np.asarray``
takes, comes last. A new kind of array (device arrays, xarray) is a new module here and one
:func:`register` call, touching no other adapter.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from ..ufunc import StencilUFunc


class ArrayAdapter(Protocol):
    name: str

    def owns(self, args: Sequence[Any]) -> bool:
        """Whether this adapter runs a call with these arguments."""

    def call(self, f: "StencilUFunc", args: Sequence[Any], out: Any) -> Any:
        """``f(*args, out=out)`` for arguments this adapter owns."""


ADAPTERS: list[ArrayAdapter] = []


def register(adapter: ArrayAdapter, *, before: str | None = None) -> ArrayAdapter:
    """Add ``adapter``, asked before the one named ``before`` (default: before the fallback
    NumPy adapter, which is always asked last)."""
    names = [a.name for a in ADAPTERS]
    position = names.index(before) if before in names else \
        (names.index("numpy") if "numpy" in names else len(ADAPTERS))
    ADAPTERS.insert(position, adapter)
    return adapter


def adapter_for(args: Sequence[Any]) -> ArrayAdapter:
    """The first registered adapter that owns ``args``."""
    return next(a for a in ADAPTERS if a.owns(args))


from .cuda import CudaArrayAdapter  # noqa: E402  (the built-in entries)
from .dask import DaskAdapter  # noqa: E402
from .numpy import NumpyAdapter  # noqa: E402

register(NumpyAdapter())
register(DaskAdapter())
register(CudaArrayAdapter())

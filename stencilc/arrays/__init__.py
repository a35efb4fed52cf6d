"""Array kinds as adapters: each one says whether it owns a call's arguments and runs it.

The dispatcher (:class:`stencilc.ufunc.StencilUFunc`) asks the adapters in order and hands
the call to the first that owns the arguments; NumPy, which takes anything ``np.asarray``
takes, comes last. A new kind of array (device arrays, xarray) is a new module here and one
:func:`register` call, touching no other adapter.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from ..ufunc import StencilUFunc


class ArrayAdapter(Protocol):
    name: str

    def owns(self, args: Sequence[Any]) -> bool:
        """Whether this adapter runs a call with these arguments."""

    def call_with(self, f: "StencilUFunc", args: Sequence[Any], out: Any, *, axes: Any,
                  axis: Any, dims: Any) -> Any:
        """``f(*args, out=out, axes=axes, axis=axis, dims=dims)`` for arguments this adapter
        owns."""

    def iterate_with(self, f: "StencilUFunc", args: Sequence[Any], steps: int,
                     block_steps: int | None, *, axes: Any, axis: Any, dims: Any) -> Any:
        """``f`` applied ``steps`` times to ``args``, its outputs fed back into the first
        ``f.nout`` of them (:mod:`stencilc.stepping`); the final state."""


class PositionalAdapter(ABC):
    """Base of the adapters for arrays whose axes are known by position (NumPy, Dask, GPU):
    ``axes``/``axis`` move the core axes last around :meth:`call`, which sees core axes last,
    ``out`` as a tuple of one array per output (or None), and a kernel whose boundary is per
    axis. Subclasses define ``name``, ``owns`` and ``call`` (and ``iterate`` where many steps
    can do better than a loop of calls)."""

    @abstractmethod
    def call(self, f: "StencilUFunc", args: Sequence[Any], out: tuple | None) -> Any:
        """``f(*args, out=out)`` with core axes last."""

    def iterate(self, f: "StencilUFunc", args: Sequence[Any], steps: int,
                block_steps: int | None) -> Any:
        """``steps`` steps of ``f`` with core axes last (arguments counted and roles checked
        by ``f.iterate``). By default the plain loop of :meth:`call`: correct for any kind,
        but not blocked; NumPy, Dask and GPU arrays override it."""
        from ..stepping import iterate_by_calls
        return iterate_by_calls(lambda state: self.call(f, state, None), f, args, steps)

    def call_with(self, f: "StencilUFunc", args: Sequence[Any], out: Any, *, axes: Any = None,
                  axis: Any = None, dims: Any = None) -> Any:
        if dims is not None:
            kinds = sorted({type(a).__name__ for a in args if hasattr(a, "ndim")}) or ["scalar"]
            raise TypeError(f"{f.__name__}: dims= names xarray dimensions, but the arguments "
                            f"are {', '.join(kinds)}; use axes= to pick core axes by position")
        f = f.for_dims()
        outs = out_tuple(f, out)
        core = resolve_axes(f, args, outs, axes, axis)
        if core is None:
            return self.call(f, args, outs)
        return call_on_axes(lambda moved, moved_out: self.call(f, moved, moved_out),
                            f, args, outs, core)

    def iterate_with(self, f: "StencilUFunc", args: Sequence[Any], steps: int,
                     block_steps: int | None, *, axes: Any = None, axis: Any = None,
                     dims: Any = None) -> Any:
        if dims is not None:
            raise TypeError(f"{f.__name__}.iterate: dims= names xarray dimensions; use axes= "
                            "to pick core axes by position")
        f = f.for_dims()
        core = resolve_axes(f, args, None, axes, axis)
        if core is None:
            return self.iterate(f, args, steps, block_steps)
        for k in range(f.nout):
            if core[k] != core[f.nin + k]:
                raise ValueError(f"{f.__name__}.iterate: axes= puts output {k}'s core axes at "
                                 f"{core[f.nin + k]} but argument {k}'s at {core[k]}; each "
                                 "step's output becomes the next step's argument, so they "
                                 "must be the same")
        return call_on_axes(lambda moved, _: self.iterate(f, moved, steps, block_steps),
                            f, args, None, core)


from ..axes import call_on_axes, resolve as resolve_axes  # noqa: E402
from .checks import out_tuple  # noqa: E402

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
from .xarray import XarrayAdapter  # noqa: E402

register(NumpyAdapter())
register(DaskAdapter())
register(CudaArrayAdapter())
register(XarrayAdapter(), before="dask")   # a DataArray may hold Dask or GPU arrays

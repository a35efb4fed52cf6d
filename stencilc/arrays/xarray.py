"""xarray DataArrays and Datasets: a DataArray in gives a DataArray out, with coordinates,
attributes and dimension order kept, lazy when the data are Dask arrays.

The core dimensions are picked by name (``dims=("lat", "lon")``, default: the last ones of
the first DataArray argument) or by position (``axes=``, translated to names).
``xr.apply_ufunc`` moves them last and hands the underlying arrays to the kernel with
``dask="allowed"``, so Dask data go through stencilc's own Dask path (any chunking, halos
exchanged by the boundary rule) instead of being computed. A boundary keyed by dimension name
(``boundary={"lon": "wrap", "lat": "nearest"}``) is resolved here, where the names are known.
A Dataset applies the kernel to each data variable that has the core dimensions (``dims=``,
default: the last ones of its first data variable with enough dimensions) and keeps the others
as they are. Results keep the dimension order of their input; with ``axes=``, the output
entries are checked as NumPy checks them, but the order is the input's.
"""
from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING, Any, Sequence

from ..axes import resolve as resolve_axes
from ..ir import Role

if TYPE_CHECKING:  # pragma: no cover
    from ..ufunc import StencilUFunc


def _xarray():
    if "xarray" not in sys.modules:   # no xarray object can exist before xarray is imported
        return None
    import xarray
    return xarray


class XarrayAdapter:
    name = "xarray"

    def owns(self, args: Sequence[Any]) -> bool:
        xr = _xarray()
        return xr is not None and any(isinstance(a, (xr.DataArray, xr.Dataset)) for a in args)

    def call_with(self, f: "StencilUFunc", args: Sequence[Any], out: Any, *, axes: Any = None,
                  axis: Any = None, dims: Any = None) -> Any:
        xr = _xarray()
        if out is not None:
            raise TypeError(f"{f.__name__}: out= is not supported with xarray inputs; the "
                            "result is a new DataArray (assign it, or use .values for NumPy)")
        if dims is not None and (axes is not None or axis is not None):
            raise TypeError("cannot specify both 'dims' and 'axes'/'axis'")
        datasets = [k for k, a in enumerate(args) if isinstance(a, xr.Dataset)]
        if datasets:
            return _each_variable(self, f, args, datasets, axes, axis, dims)
        return _apply(f, args, axes, axis, dims)

    def iterate_with(self, f: "StencilUFunc", args: Sequence[Any], steps: int,
                     block_steps: int | None, *, axes: Any = None, axis: Any = None,
                     dims: Any = None) -> Any:
        xr = _xarray()
        if any(isinstance(a, xr.Dataset) for a in args):
            raise TypeError(f"{f.__name__}.iterate: pass DataArrays (e.g. ds['u']), not a "
                            "Dataset: the state is one array per output")
        if dims is not None and (axes is not None or axis is not None):
            raise TypeError("cannot specify both 'dims' and 'axes'/'axis'")
        return _apply(f, args, axes, axis, dims,
                      lambda kernel: functools.partial(kernel.iterate, steps=steps,
                                                       block_steps=block_steps))


def _apply(f: "StencilUFunc", args: Sequence[Any], axes, axis, dims, how=None):
    """``f`` applied to DataArrays; ``how(kernel)`` gives the function xarray calls on the
    underlying arrays (default: the kernel itself)."""
    xr = _xarray()
    labelled = [k for k, a in enumerate(args) if isinstance(a, xr.DataArray)]
    relative = [k for k in labelled if f.ir.arguments[k].role is Role.RELATIVE]
    first = args[(relative or labelled)[0]]
    core = _core_dims(f, args, first, axes, axis, dims)
    kernel = f.for_dims(core)
    input_core_dims = []
    for argument, a in zip(f.ir.arguments, args):
        if not isinstance(a, xr.DataArray) or argument.ndim == 0:
            input_core_dims.append([])
        elif argument.role is Role.RELATIVE:
            input_core_dims.append(list(core))
        else:   # a standard_indexing array: its own last dimensions
            input_core_dims.append(list(a.dims[a.ndim - argument.ndim:]))
    result = xr.apply_ufunc(how(kernel) if how else kernel, *args, input_core_dims=input_core_dims,
                            output_core_dims=[list(core)] * f.nout, dask="allowed",
                            keep_attrs=True)
    results = result if f.nout > 1 else (result,)
    order = [d for d in first.dims]
    shaped = tuple(r.transpose(*order, ...) if set(order) <= set(r.dims) else r
                   for r in results)
    return shaped if f.nout > 1 else shaped[0]


def _names(dims) -> tuple[str, ...] | None:
    """``dims=`` as a tuple of names (one name may be given as a string)."""
    if dims is None:
        return None
    return (dims,) if isinstance(dims, str) else tuple(dims)


def _core_dims(f: "StencilUFunc", args, first, axes, axis, dims) -> tuple[str, ...]:
    d = f.ir.ndim
    dims = _names(dims)
    if dims is not None:
        if len(dims) != d:
            raise ValueError(f"{f.__name__}: dims={dims!r} names {len(dims)} dimension(s), but "
                             f"the kernel has {d} core dimension(s) ({f.signature})")
        for name in dims:
            if name not in first.dims:
                raise ValueError(f"{f.__name__}: dims names {name!r}, which is not a "
                                 f"dimension of the input (dimensions {first.dims})")
        return dims
    if axes is None and axis is None:
        if first.ndim < d:
            raise ValueError(f"{f.__name__}: the input has {first.ndim} dimension(s) "
                             f"{first.dims}, but the kernel has {d} core dimension(s)")
        return tuple(first.dims[first.ndim - d:])
    positions = resolve_axes(f, [getattr(a, "data", a) for a in args], None, axes, axis)
    if positions is None:
        return tuple(first.dims[first.ndim - d:])
    names = None
    for k, (argument, a) in enumerate(zip(f.ir.arguments, args)):
        if argument.role is Role.RELATIVE and hasattr(a, "dims"):
            mine = tuple(a.dims[i] for i in positions[k])
            if names is not None and mine != names:
                raise ValueError(f"{f.__name__}: axes= picks dimensions {mine} of operand {k} "
                                 f"but {names} of an earlier one; xarray matches dimensions "
                                 "by name, so they must be the same (or pass dims=)")
            names = mine
    return names


def _each_variable(adapter: XarrayAdapter, f: "StencilUFunc", args, datasets, axes, axis, dims):
    xr = _xarray()
    if len(datasets) > 1 or any(isinstance(a, xr.DataArray) for a in args):
        raise TypeError(f"{f.__name__}: a Dataset must be the only xarray argument (got "
                        f"{len(datasets)} Dataset(s) among the arguments)")
    if axes is not None or axis is not None:
        raise TypeError(f"{f.__name__}: with a Dataset, name the core dimensions with dims= "
                        "(axis positions differ from one data variable to the next)")
    k = datasets[0]
    dataset = args[k]
    wanted = _names(dims)
    if wanted is None:   # the last dimensions of the first variable that has enough of them
        first = next((v for v in dataset.data_vars.values() if v.ndim >= f.ir.ndim), None)
        wanted = () if first is None else tuple(first.dims[first.ndim - f.ir.ndim:])
    outputs = [dict() for _ in range(f.nout)]
    applied = 0
    for name, variable in dataset.data_vars.items():
        if not wanted or not set(wanted) <= set(variable.dims):
            for o in outputs:
                o[name] = variable     # no such dimensions: kept as it is
            continue
        call = list(args)
        call[k] = variable
        result = adapter.call_with(f, call, None, dims=wanted)
        for o, r in zip(outputs, result if f.nout > 1 else (result,)):
            o[name] = r
        applied += 1
    if not applied:
        raise ValueError(f"{f.__name__}: no data variable of the Dataset has the core "
                         f"dimension(s) {wanted or f.ir.ndim} (data variables: "
                         f"{ {n: v.dims for n, v in dataset.data_vars.items()} })")
    results = tuple(xr.Dataset(o, coords=dataset.coords, attrs=dataset.attrs) for o in outputs)
    return results if f.nout > 1 else results[0]

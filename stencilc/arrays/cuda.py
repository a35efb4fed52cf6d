"""GPU arrays (numba device arrays, CuPy, anything with ``__cuda_array_interface__``): handed
to the ``cuda`` target as they are, so data and results stay on the device."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from ..dtypes import native_dtype
from ..stepping import advance
from ..targets.cuda import is_device_array
from . import PositionalAdapter
from .checks import check_core_ndims, check_out_casting, what

if TYPE_CHECKING:  # pragma: no cover
    from ..ufunc import StencilUFunc


class CudaArrayAdapter(PositionalAdapter):
    name = "cuda"

    def owns(self, args: Sequence[Any]) -> bool:
        return any(is_device_array(a) for a in args)

    def call(self, f: "StencilUFunc", args: Sequence[Any], out: Any) -> Any:
        wanted = None if out is None else tuple(o.dtype for o in out)
        spec = _specialization(f, args, wanted)
        if out is not None:
            check_out_casting(f, spec.natural_out_dtypes, out)
        return spec(*args, out=out)

    def iterate(self, f: "StencilUFunc", args: Sequence[Any], steps: int,
                block_steps: int | None) -> Any:
        return advance(f, _specialization(f, args, None), list(args), steps, block_steps)


def _specialization(f: "StencilUFunc", args: Sequence[Any], out_dtypes):
    if f.target != "cuda":
        raise TypeError(f"{f.__name__}: GPU arrays need a kernel compiled with "
                        f"target='cuda' (this one has target={f.target!r}); copy them to "
                        "the host first, or decorate with target='cuda'")
    check_core_ndims(f, args)
    dtypes = [native_dtype(a.dtype, f.__name__, what(f, k)) for k, a in enumerate(args)]
    return f.compile(*dtypes, out_dtypes=out_dtypes)

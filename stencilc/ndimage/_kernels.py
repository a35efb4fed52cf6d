"""Kernels written as text: each filter builds the source of a plain stencil kernel, which
stencilc compiles like any user's kernel (same frontend, schedules, targets and disk cache).

A kernel's text depends only on what fixes its loop nest (sizes, footprint, origin, the
weights' symmetry class); weights are run-time arguments, and boundary, ``cval`` and the
output dtype are variants of the one parsed kernel (:meth:`StencilUFunc._variant`).
"""
from __future__ import annotations

import hashlib
import linecache
import threading
from collections import OrderedDict

import numpy as np

from ..options import Options
from ..ufunc import StencilUFunc

#: kernels kept per process, most recently used last; past :data:`MAX_KERNELS` the oldest
#: is dropped (a program calling generic_filter with a new lambda each time would otherwise
#: keep every kernel, and its function, forever); a dropped kernel comes back from the disk
#: cache
_KERNELS: "OrderedDict[tuple, StencilUFunc]" = OrderedDict()
MAX_KERNELS = 256
_LOCK = threading.Lock()


def kernel(text: str, target: str, standard_indexing: tuple[str, ...] = (),
           names: dict | None = None) -> StencilUFunc:
    """The kernel defined by the one ``def`` in ``text``, for ``target``, built once per
    process; ``names`` are the globals it reads besides ``np`` (tables, functions). Its source
    is registered with :mod:`linecache` under a name derived from the text, so stencilc reads
    it, and error messages quote it, as for a file."""
    names = names or {}
    key = (text, target, standard_indexing,
           tuple((name, _identity(value)) for name, value in sorted(names.items())))
    with _LOCK:
        found = _KERNELS.get(key)
        if found is not None:
            _KERNELS.move_to_end(key)
        else:
            digest = hashlib.sha256(text.encode()).hexdigest()[:16]
            filename = f"<stencilc.ndimage:{digest}>"
            linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
            namespace: dict = {"np": np, **names}
            exec(compile(text, filename, "exec"), namespace)
            func = next(v for k, v in namespace.items()
                        if k != "np" and k not in names and callable(v))
            found = StencilUFunc(func, Options(target=target, standard_indexing=standard_indexing,
                                               cache=True))
            _KERNELS[key] = found
            if len(_KERNELS) > MAX_KERNELS:
                _KERNELS.popitem(last=False)
    return found


def _identity(value) -> object:
    """A hashable stand-in for a global's value: an array's bytes, else the object."""
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    return value


def variant(base: StencilUFunc, modes: tuple[str, ...], cval, out_dtype: np.dtype
            ) -> StencilUFunc:
    """``base`` with one boundary mode per core axis, ``cval`` and the output dtype (built
    from the same IR, kept by ``base``)."""
    from ..boundary import normalize_cval
    from ._dask import record
    record(base.neighborhood, tuple(modes))
    return base._variant(boundary=tuple(modes), cval=normalize_cval(cval),
                         out_dtype=np.dtype(out_dtype))


def offsets(size: int, origin: int) -> range:
    """The offsets scipy.ndimage reads along one axis for a filter of ``size`` taps moved by
    ``origin``: tap ``k`` reads ``k - size // 2 - origin``."""
    start = -(size // 2) - origin
    return range(start, start + size)


def spread(offsets_: tuple[int, ...], axes: tuple[int, ...], ndim: int) -> tuple[int, ...]:
    """Offsets along the filtered ``axes`` as offsets along all ``ndim`` axes (0 on the
    others): the kernels run over every axis of the input, so no axis is moved (moving one
    would copy a NumPy array, and numba's device arrays cannot)."""
    full = [0] * ndim
    for axis, o in zip(axes, offsets_):
        full[axis] = o
    return tuple(full)


def all_modes(modes, axes: tuple[int, ...], ndim: int) -> tuple[str, ...]:
    """One boundary mode per axis of the input: the filtered axes' modes, and "nearest" on
    the others (never read outside: their offsets are 0)."""
    full = ["nearest"] * ndim
    for axis, mode in zip(axes, modes):
        full[axis] = mode
    return tuple(full)


def read(name: str, offs) -> str:
    """``x[i, j]``: a relative read as kernel text."""
    return f"{name}[{', '.join(str(o) for o in offs)}]"

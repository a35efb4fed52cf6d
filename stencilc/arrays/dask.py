"""Dask arrays (docs/design.md 1.5): lazy, any chunking, the NumPy answer bit for bit.

* Core dimensions in one chunk each: ``dask.array.apply_gufunc`` with the output dtypes of
  the client-side specialization (Dask never probes the kernel with dummy arrays).
* Core dimensions chunked: each stencil input is padded along its core axes with the
  boundary rule (the same index functions the compiled kernels use, so ``mirror`` works too),
  overlapped by the neighbourhood depth with ``dask.array.overlap`` (``boundary="none"``),
  computed block by block with the same compiled kernel, trimmed with ``trim_internal`` and
  stripped of the padding. Every kept output point lies at least the neighbourhood's depth
  inside its block, so the kernel computes it on its interior path from exactly the values the
  NumPy path reads; what the kernel's boundary rule makes of the block's own edges is trimmed
  away, so no second kernel is compiled. Except where an axis pads with ``cval``: computing on
  pad cells there would do arithmetic on ``cval`` itself (``inf - 4 * inf``) and raise
  floating-point warnings for values nobody sees, so those blocks run the ``boundary=None``
  version of the kernel (:meth:`StencilUFunc.without_boundary`), which fills them instead.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from ..boundary import INDEX_RULES, cast_cval, per_axis
from ..ir import Role
from . import PositionalAdapter
from .checks import check_core_ndims, refuse_masked, to_native

if TYPE_CHECKING:  # pragma: no cover
    from ..ufunc import StencilUFunc


def is_dask_array(value: Any) -> bool:
    if "dask" not in sys.modules:   # no Dask array can exist before dask is imported
        return False
    import dask.array as da
    return isinstance(value, da.Array)


class DaskAdapter(PositionalAdapter):
    name = "dask"

    def owns(self, args) -> bool:
        return any(is_dask_array(a) for a in args)

    def call(self, f: "StencilUFunc", args, out) -> Any:
        return call(f, args, out)

    def iterate(self, f: "StencilUFunc", args, steps: int, block_steps: int | None) -> Any:
        from .dask_iterate import iterate
        return iterate(f, args, steps, block_steps)


def call(f: "StencilUFunc", args: tuple, out) -> Any:
    """``f(*args)`` where at least one argument is a Dask array: a lazy Dask result."""
    import dask.array as da

    if out is not None:
        raise TypeError(f"{f.__name__}: out= is not supported with Dask arrays; "
                        "store the lazy result with da.store or .compute()")
    refuse_masked(f, args)
    arrays = [to_native(f, da.asarray(a), k) for k, a in enumerate(args)]
    check_core_ndims(f, arrays)
    spec = f.compile(*(a.dtype for a in arrays))      # on the client: dtypes, early errors
    arrays = align_loop_chunks(arrays, [a.ndim for a in f.ir.arguments])
    relative = [k for k, a in enumerate(f.ir.arguments) if a.role is Role.RELATIVE]
    d = f.ir.ndim
    core_axes = range(-d, 0)
    depth = [max(-lo, hi) for lo, hi in f.ir.neighborhood]
    first = arrays[relative[0]]
    core_chunks = first.chunks[first.ndim - d:]
    if all(len(c) == 1 for c in core_chunks) or any(first.shape[ax] == 0 for ax in core_axes):
        return _one_chunk(f, arrays, spec.out_dtypes)
    # Axes whose halo would be longer than the axis itself are small: take them whole.
    core_chunks = tuple(c if len(c) == 1 or sum(c) > depth[k] else (sum(c),)
                        for k, c in enumerate(core_chunks))
    for k in relative:
        a = arrays[k]
        arrays[k] = a.rechunk(a.chunks[:a.ndim - d] + core_chunks)
    return _overlapped(f, arrays, relative, depth, spec.out_dtypes)


def align_loop_chunks(arrays, core_ndims):
    """Give every argument the same chunks along each broadcast loop dimension (apply_gufunc
    requires it); the first argument longer than 1 on an axis sets that axis' chunks."""
    loop_ndim = max(a.ndim - c for a, c in zip(arrays, core_ndims))
    reference = {}
    for a, c in zip(arrays, core_ndims):
        offset = loop_ndim - (a.ndim - c)
        for axis in range(a.ndim - c):
            if a.shape[axis] > 1:
                reference.setdefault(axis + offset, a.chunks[axis])
    aligned = []
    for a, c in zip(arrays, core_ndims):
        offset = loop_ndim - (a.ndim - c)
        wanted = {axis: reference[axis + offset] for axis in range(a.ndim - c)
                  if a.shape[axis] > 1 and reference[axis + offset] != a.chunks[axis]}
        aligned.append(a.rechunk(wanted) if wanted else a)
    return aligned


def meta_like(out_dtypes, like):
    """Empty arrays of the output dtypes, of the kind of array ``like``'s chunks are (NumPy, or
    CuPy for a Dask array of CuPy chunks), so Dask knows what the blocks will hold."""
    from dask.array.utils import meta_from_array
    metas = tuple(meta_from_array(like, ndim=1, dtype=dt) for dt in out_dtypes)
    return metas if len(metas) > 1 else metas[0]


def _one_chunk(f: "StencilUFunc", arrays, out_dtypes):
    import dask.array as da
    # Core dims made whole here rather than by apply_gufunc(allow_rechunk=True), which
    # divides by zero on empty core dims (dask 2026.8).
    whole = [a.rechunk({a.ndim - 1 - k: -1 for k in range(argument.ndim)})
             for argument, a in zip(f.ir.arguments, arrays)]
    like = next(a for a, arg in zip(whole, f.ir.arguments) if arg.role is Role.RELATIVE)
    return da.apply_gufunc(f, f.signature, *whole, meta=meta_like(out_dtypes, like),
                           vectorize=False)


def _overlapped(f: "StencilUFunc", arrays, relative, depth, out_dtypes):
    import dask.array as da
    from dask.array.overlap import overlap, trim_internal

    d = f.ir.ndim
    modes = per_axis(f.boundary, d)
    # Axes with a rule are padded with it; None axes are not, and the kernel fills their
    # ends. A None axis in one chunk needs no halo: its block holds the whole axis (and dask
    # refuses a halo longer than the axis).
    pads = [dp if mode is not None else 0 for dp, mode in zip(depth, modes)]
    first = arrays[relative[0]]
    depth = [0 if mode is None and len(first.chunks[first.ndim - d + ax]) == 1 else dp
             for ax, (dp, mode) in enumerate(zip(depth, modes))]
    pads_cval = any(p and mode == "constant" for p, mode in zip(pads, modes))
    local = f.without_boundary() if pads_cval else f
    pieces, dims = [], []
    for k, (argument, a) in enumerate(zip(f.ir.arguments, arrays)):
        if argument.role is Role.RELATIVE:
            a = _pad(a, pads, modes, f.options.cval)
            axes = {a.ndim - d + ax: dp for ax, dp in enumerate(depth)}
            a = overlap(a, depth=axes, boundary={ax: "none" for ax in axes})
            dims.append("()")
        else:
            a, core = beside_core(argument, a, d)
            dims.append(core)
        pieces.append(a)
    signature = ",".join(dims) + "->" + ",".join(["()"] * f.nout)
    block = _BlockKernel(local, tuple(a.role for a in f.ir.arguments),
                         tuple(a.ndim for a in f.ir.arguments), d)
    results = da.apply_gufunc(block, signature, *pieces, meta=meta_like(out_dtypes, first),
                              vectorize=False)
    results = results if f.nout > 1 else (results,)
    finished = []
    for r in results:
        axes = {r.ndim - d + ax: dp for ax, dp in enumerate(depth)}
        r = trim_internal(r, axes, boundary={ax: "none" for ax in axes})
        keep = tuple(slice(p, r.shape[r.ndim - d + ax] - p) for ax, p in enumerate(pads))
        finished.append(r[(Ellipsis,) + keep] if any(pads) else r)
    return tuple(finished) if f.nout > 1 else finished[0]


def beside_core(argument, a, d: int):
    """A scalar or ``standard_indexing`` argument shaped to broadcast against blocks of the
    ``d`` core axes (size-1 axes where they are), and its core dimensions in a signature."""
    if argument.role is Role.SCALAR or argument.ndim == 0:
        return a.reshape(a.shape + (1,) * d), "()"
    c = argument.ndim
    a = a.reshape(a.shape[:a.ndim - c] + (1,) * d + a.shape[a.ndim - c:])
    a = a.rechunk(a.chunks[:a.ndim - c] + tuple((s,) for s in a.shape[a.ndim - c:]))
    return a, "(" + ",".join(argument.core_dims) + ")"


def _pad(a, pads, modes, cval):
    """``a`` extended by ``pads[k]`` on both sides of core axis k with that axis' rule, as the
    kernels read it."""
    import dask.array as da

    d = len(pads)
    for ax, (p, mode) in enumerate(zip(pads, modes)):
        axis = a.ndim - d + ax
        n = a.shape[axis]
        if p == 0:
            continue
        if mode == "constant":
            fill = cast_cval(cval, a.dtype, "the dtype of the array mode 'constant' pads")
            shape = a.shape[:axis] + (p,) + a.shape[axis + 1:]
            chunks = a.chunks[:axis] + ((p,),) + a.chunks[axis + 1:]
            side = da.full_like(a, fill, shape=shape, chunks=chunks)   # same chunk kind
            left, right = side, side
        else:
            rule = INDEX_RULES[mode]
            index = (slice(None),) * axis
            left = a[index + (np.array([rule(i, n) for i in range(-p, 0)]),)]
            right = a[index + (np.array([rule(i, n) for i in range(n, n + p)]),)]
        a = da.concatenate([left, a, right], axis=axis)
    return a


class _BlockKernel:
    """Runs the kernel on one block, dropping the broadcasting axes added to scalars and
    standard_indexing arrays. A plain class so it pickles for dask.distributed."""

    def __init__(self, ufunc: "StencilUFunc", roles, core_ndims, ndim: int):
        self.ufunc = ufunc
        self.roles = roles
        self.core_ndims = core_ndims
        self.ndim = ndim

    def __call__(self, *blocks):
        return self.ufunc(*block_arguments(self.roles, self.core_ndims, self.ndim, blocks))


def block_arguments(roles, core_ndims, ndim: int, blocks) -> list:
    """The kernel's arguments from the blocks: the broadcasting axes :func:`beside_core` added
    to scalars and ``standard_indexing`` arrays dropped."""
    args = []
    for role, c, b in zip(roles, core_ndims, blocks):
        if role is Role.SCALAR:
            b = b.reshape(b.shape[:b.ndim - ndim])
        elif role is Role.STANDARD:
            b = b.reshape(b.shape[:b.ndim - c - ndim] + b.shape[b.ndim - c:])
        args.append(b)
    return args

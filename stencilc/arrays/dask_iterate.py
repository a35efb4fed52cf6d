"""``iterate`` on Dask arrays: one halo exchange per many steps (dask#2244).

A round of ``k`` steps exchanges a halo ``k`` reaches deep once (``dask.array.overlap``:
``periodic`` along ``wrap`` axes, nothing at the other true edges), then every block runs its
``k`` steps with the cache tiles of :mod:`stencilc.stepping.tiles`, keeping the part its halo
makes correct, and the halo is trimmed. The graph has one layer per round instead of one per
step. Blocks at the array's true edges have no halo there: the kernel's boundary rule applies
at that edge at every step, as in a single call. A block learns where it lies from the array's global
indices along each core axis, passed in as one more (overlapped) input.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..boundary import per_axis
from ..ir import Role
from ..stepping import Reach, advance, check_state
from .checks import check_core_ndims, refuse_masked, to_native
from .dask import align_loop_chunks, beside_core, block_arguments, meta_like

if TYPE_CHECKING:  # pragma: no cover
    from ..ufunc import StencilUFunc

#: a round's halo may be at most this share of the largest chunk along its axis (more rounds
#: otherwise): the halo is recomputed by both neighbours
HALO_SHARE = 1 / 8


def iterate(f: "StencilUFunc", args: Sequence[Any], steps: int, block_steps: int | None) -> Any:
    """``steps`` steps of ``f`` on Dask arrays: lazy, the loop's numbers bit for bit."""
    import dask.array as da
    from dask.array.overlap import ensure_minimum_chunksize

    refuse_masked(f, args)
    arrays = [to_native(f, da.asarray(a), k) for k, a in enumerate(args)]
    check_core_ndims(f, arrays)
    spec = f.compile(*(a.dtype for a in arrays))       # on the client: dtypes, early errors
    check_state(f, arrays, spec.out_dtypes)
    ir, d = f.ir, f.ir.ndim
    arrays = align_loop_chunks(arrays, [a.ndim for a in ir.arguments])
    state = arrays[:f.nout]
    if steps == 0 or 0 in state[0].shape:   # nothing to step: an empty state stays empty
        return tuple(state) if f.nout > 1 else state[0]
    shape, chunks = state[0].shape, state[0].chunks
    pieces, dims = [], []
    for argument, a in zip(ir.arguments, arrays):
        if argument.role is Role.RELATIVE:
            pieces.append(da.broadcast_to(a, shape).rechunk(chunks))
            dims.append("()")
        else:
            piece, core = beside_core(argument, a, d)
            pieces.append(piece)
            dims.append(core)
    modes = per_axis(f.boundary, d)
    reach = Reach.of(ir.neighborhood)
    widest = [max(lo, hi) for lo, hi in zip(reach.below, reach.above)]
    core_chunks = chunks[len(shape) - d:]
    split = [len(c) > 1 and w > 0 for c, w in zip(core_chunks, widest)]
    per_round = min((max(1, int(max(c) * HALO_SHARE) // w) for c, w, s in
                     zip(core_chunks, widest, split) if s), default=steps)
    per_round = max(1, min(steps, per_round))
    # Every chunk at least one round's halo deep (a short last chunk merged into its
    # neighbour), so each block's halo comes from its neighbours alone; an axis shorter
    # than the halo is taken whole.
    wanted = {}
    for a, (c, w, s) in enumerate(zip(core_chunks, widest, split)):
        if s and sum(c) <= per_round * w:
            wanted[len(shape) - d + a], split[a] = -1, False
        elif s and min(c) < per_round * w:
            wanted[len(shape) - d + a] = ensure_minimum_chunksize(per_round * w, c)
    if wanted:
        pieces = [p.rechunk(wanted) if role is Role.RELATIVE else p
                  for p, role in zip(pieces, (a.role for a in ir.arguments))]
    rounds = -(-steps // per_round)
    graph = _Graph()
    pieces[:f.nout] = [graph.detach(p) for p in pieces[:f.nout]]
    for r in range(rounds):
        k = steps * (r + 1) // rounds - steps * r // rounds
        depth = {len(shape) - d + a: (k * w if s else 0)
                 for a, (w, s) in enumerate(zip(widest, split))}
        results = _round(f, pieces, dims, modes, depth, k, block_steps, spec.out_dtypes)
        pieces[:f.nout] = [graph.detach(r) for r in results]
    final = tuple(graph.attach(p) for p in pieces[:f.nout])
    return final if f.nout > 1 else final[0]


class _Graph:
    """The graph of every round, gathered layer by layer.

    Each Dask operation copies the layers of its inputs' graph into a new HighLevelGraph, so
    chaining rounds on one array costs time quadratic in the rounds (10 000 steps took 186 s
    to build). Instead each round starts from a stand-in for the last state, an array with the
    state's name and chunks but an empty graph: it builds its own few layers only, which are
    moved here; :meth:`attach` puts the final state on one graph of all of them."""

    def __init__(self):
        self.layers: dict = {}
        self.dependencies: dict = {}

    def detach(self, array):
        """``array``'s layers kept here; a stand-in for it with an empty graph."""
        import dask.array as da
        from dask.highlevelgraph import HighLevelGraph

        graph = array.__dask_graph__()
        if not isinstance(graph, HighLevelGraph):
            graph = HighLevelGraph.from_collections(array.name, dict(graph), ())
        self.layers.update(graph.layers)
        self.dependencies.update(graph.dependencies)
        return da.Array(HighLevelGraph({}, {}), array.name, array.chunks, meta=array._meta)

    def attach(self, stand_in):
        """The array ``stand_in`` stands for, on the graph of every layer gathered."""
        import dask.array as da
        from dask.highlevelgraph import HighLevelGraph

        graph = HighLevelGraph(dict(self.layers), dict(self.dependencies))
        return da.Array(graph, stand_in.name, stand_in.chunks, meta=stand_in._meta)


def _round(f: "StencilUFunc", pieces, dims, modes, depth: dict[int, int], k: int,
           block_steps, out_dtypes):
    """One round: halos ``depth`` deep, ``k`` steps per block, halos trimmed."""
    import dask.array as da
    from dask.array.overlap import overlap, trim_internal

    d = f.ir.ndim
    first = pieces[0]
    boundary = {ax: ("periodic" if modes[ax - first.ndim + d] == "wrap" else "none")
                for ax in depth}
    positions = []
    for ax in depth:   # each core axis' global indices, overlapped like the state
        index = da.arange(first.shape[ax], chunks=(first.chunks[ax],))
        index = index.reshape((1,) * ax + (first.shape[ax],) + (1,) * (first.ndim - ax - 1))
        positions.append(overlap(index, depth={ax: depth[ax]}, boundary={ax: boundary[ax]}))
    inputs = [overlap(p, depth=depth, boundary=boundary) if role is Role.RELATIVE else p
              for p, role in zip(pieces, (a.role for a in f.ir.arguments))]
    signature = ",".join(dims + ["()"] * d) + "->" + ",".join(["()"] * f.nout)
    block = _RoundBlock(f, k, block_steps, tuple(depth[ax] for ax in depth),
                        tuple(first.shape[ax] for ax in depth))
    results = da.apply_gufunc(block, signature, *inputs, *positions,
                              meta=meta_like(out_dtypes, first), vectorize=False)
    results = results if f.nout > 1 else (results,)
    return [trim_internal(r, depth, boundary=boundary) for r in results]


class _RoundBlock:
    """``k`` steps on one overlapped block; what lies in its halo on return is not used. A
    plain class so it pickles for dask.distributed."""

    def __init__(self, f: "StencilUFunc", k: int, block_steps, depth: tuple[int, ...],
                 lengths: tuple[int, ...]):
        self.f = f
        self.k = k
        self.block_steps = block_steps
        self.depth = depth
        self.lengths = lengths

    def __call__(self, *blocks):
        f = self.f
        d, count = f.ir.ndim, len(f.ir.arguments)
        args = block_arguments([a.role for a in f.ir.arguments],
                               [a.ndim for a in f.ir.arguments], d, blocks[:count])
        modes = per_axis(f.boundary, d)
        keep = []
        for a, (index, depth, n) in enumerate(zip(blocks[count:], self.depth, self.lengths)):
            index = index.reshape(-1)
            size = args[0].shape[args[0].ndim - d + a]
            if depth == 0 or modes[a] == "wrap":   # no halo, or halos on both sides
                keep.append((depth, size - depth))
            else:   # a halo on each side but at the array's true edges
                keep.append((0 if index[0] == 0 else depth,
                             size if index[-1] == n - 1 else size - depth))
        args = [np.ascontiguousarray(a) if a.ndim else a for a in args]
        return advance(f, f.compile(*(a.dtype for a in args)), args, self.k,
                       self.block_steps, keep=tuple(keep))

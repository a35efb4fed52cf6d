"""Temporal blocking on the CPU: many steps of a compiled gufunc, tile by tile, in cache.

A round advances the state ``k`` steps (:mod:`.plan` picks ``k`` and the tile size). For each
tile of the output, its region (the tile and its ghost zone, ``k`` reaches deep) is copied
into a small buffer, and the *same* gufunc a single call runs steps it ``k`` times there,
ping-ponging between two buffers; then the tile is copied out. Along axis 0 each step computes
only the rows still needed (the gufunc takes a band of rows), so the ghost rows shrink step
by step; along inner axes whole rows of the region are computed (long rows vectorize).

Why the numbers equal the plain loop bit for bit: every kept point is computed by the same
compiled point function from the same values. Ghost cells lie away from the array's true
edges or at them: at a true edge the region ends where the array ends, so the gufunc applies
the boundary rule there at every step, exactly as a single call does (``wrap`` alone reads
around the array: its regions are taken across the edge instead, which is the same
arithmetic). A ghost cell next to a region's cut edge is wrong after a step (the rule is
applied at a cut), but the error moves inward one reach per step and never reaches the tile.
"""
from __future__ import annotations

import itertools
import math
import threading
import time
from dataclasses import replace
from typing import Any, Callable, Sequence

import numpy as np

from ..ir import Role
from .plan import TilePlan, cuts, plan_tiles
from .problem import Stepping

Ranges = tuple[tuple[int, int], ...]

# How each operand is cut: REGION (a relatively indexed array: by image and core region),
# SLAB (one value or table per image: by image), WHOLE (the same for every image: as is).
REGION, SLAB, WHOLE = "region", "slab", "whole"


Tasks = list[Callable[[], None]]

#: tiles per thread in a round on several threads, so one that starts late takes fewer
TILES_PER_THREAD = 4
#: states of fewer elements advance on one thread (waking threads for each round or step
#: costs more than it saves; the sweep of benchmarks/iterate.py showed 0.3-0.7x the loop)
SMALL_STATE = 2**20


def in_turn(tasks: Tasks) -> None:
    for task in tasks:
        task()


Step = Callable[[list, tuple], Any]


class Scratch:
    """Buffers for the tiles' regions, reused by every tile of every round of one ``advance``
    (on any thread: a tile takes what it needs and gives it back). A region is a share of the
    cache, megabytes: allocated per tile, each was fresh pages from the system, and on this
    project's VMs their faults cost a 7-step round of 8192² heat as much as its arithmetic."""

    def __init__(self) -> None:
        self._free: list[np.ndarray] = []
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...], dtype: np.dtype, held: list) -> np.ndarray:
        """An uninitialized C-contiguous array, recorded in ``held`` for :meth:`give`."""
        dtype = np.dtype(dtype)
        size = math.prod(shape) * dtype.itemsize
        with self._lock:
            fits = [k for k, b in enumerate(self._free) if b.size >= size]
            if fits:
                flat = self._free.pop(min(fits, key=lambda k: self._free[k].size))
            else:   # a larger one replaces the largest free one: the pool never grows past
                flat = None   # the buffers held at once
                if self._free:
                    self._free.pop(max(range(len(self._free)),
                                       key=lambda k: self._free[k].size))
        if flat is None:
            flat = np.empty(max(size, 1), np.uint8)
        held.append(flat)
        return flat[:size].view(dtype).reshape(shape)

    def give(self, held: list) -> None:
        with self._lock:
            self._free.extend(held)
        held.clear()

    def __len__(self) -> int:
        """The buffers kept for reuse."""
        return len(self._free)


def advance(gufunc: Callable, arrays: Sequence[Any], stepping: Stepping,
            run_all: Callable[[Tasks], None] = in_turn, threads: int = 1,
            plan: TilePlan | None = None, step: Step | None = None) -> tuple[np.ndarray, ...]:
    """The state after ``stepping.steps`` steps: ``gufunc(arrays, out, band=rows)`` is one
    step, ``arrays`` the checked arguments (state first, fill values last); ``run_all`` runs
    a round's tiles, which are independent (the parallel target: on ``threads`` threads,
    so a round has at least four tiles per thread where the array allows).
    Returns one new array per state argument, of its shape; only ``stepping.keep`` is
    computed (the rest holds unspecified values)."""
    ir = stepping.ir
    operands, kinds, loop_shape, core = _flatten(ir, arrays)
    images = operands[0].shape[0]
    step = step or (lambda inputs, out: gufunc(inputs, out))
    if operands[0].size < SMALL_STATE:     # threads would cost more than they save
        run_all, threads, step = in_turn, 1, (lambda inputs, out: gufunc(inputs, out))
    keep = stepping.keep or tuple((0, n) for n in core)
    if stepping.steps == 0 or images == 0 or 0 in core:
        finals = [operands[s] for s in range(stepping.nstate)]
    else:
        per_point = sum(2 * operands[s].itemsize for s in range(stepping.nstate)) + \
            sum(o.itemsize for k, o in enumerate(operands[stepping.nstate:], stepping.nstate)
                if kinds[k] == REGION)
        chosen = plan is not None or stepping.block_steps is not None
        plan = plan or plan_tiles(core, images, stepping.reach, per_point, stepping.steps,
                                  stepping.block_steps, tiles=TILES_PER_THREAD * threads
                                  if threads > 1 else 1, itemsize=operands[0].itemsize)
        if stepping.keep is not None or chosen:
            finals = _rounds(gufunc, operands, kinds, stepping, keep, plan, run_all)
        else:
            finals = _fastest(gufunc, operands, kinds, stepping, keep, plan, run_all, step)
    shape = loop_shape + core
    return tuple((np.array(f, copy=True) if f is operands[s] else f).reshape(shape)
                 for s, f in enumerate(finals))


def _fastest(gufunc, operands, kinds, stepping: Stepping, keep: Ranges, plan: TilePlan,
             run_all: Callable[[Tasks], None], step: Step) -> list[np.ndarray]:
    """All steps, by cache tiles or by the plain loop, whichever is faster here. Tiles win
    where the state streams from memory every step; where it stays in cache (a 2048² float32
    state in a 32 MiB L3) the loop can win, and only a clock can say: with enough steps, the
    first round runs tiled and the next :data:`PROBE_STEPS` steps looped, both timed per step,
    and the faster runs the rest. Both give the loop's numbers bit for bit, so the choice
    changes only the time. The loop runs outright where tiles can only add their copies: a
    plan of fewer than :data:`MIN_TILED_STEPS` steps per round, or one tile holding the whole
    state (it is in cache already; the loop's gain there is not allocating per step)."""
    steps, nstate = stepping.steps, stepping.nstate
    whole = plan.slab >= operands[0].shape[0] and tuple(plan.extents) == operands[0].shape[1:]
    if plan.block_steps < MIN_TILED_STEPS or whole:
        return _loop(operands, nstate, steps, step)
    k = min(plan.block_steps, (steps - PROBE_STEPS) // 2)   # leave steps to use the choice
    if k < MIN_TILED_STEPS:              # too few steps to time a round: the plan, untimed
        return _rounds(gufunc, operands, kinds, stepping, keep, plan, run_all)
    plan = replace(plan, block_steps=k)
    scratch = Scratch()
    # Both ways write into the same two buffers, their pages faulted before any timing: a
    # fresh page's first write costs a fault (on this project's VMs, 2 looped steps of a
    # 256 MiB state took 6x a step's time in fresh buffers), which neither way should be
    # charged, and the rest of the steps reuses them whichever way wins.
    first, second = _faulted_like(operands[:nstate]), _faulted_like(operands[:nstate])
    started = time.perf_counter()
    state = _rounds(gufunc, operands, kinds, replace(stepping, steps=k), keep, plan, run_all,
                    spare=[first, second], scratch=scratch)      # one round: into first
    tiled = (time.perf_counter() - started) / k
    started = time.perf_counter()
    state = _loop(state + operands[nstate:], nstate, PROBE_STEPS, step,
                  buffers=[second, first])
    looped = (time.perf_counter() - started) / PROBE_STEPS
    # the probe's last step wrote second (an odd count) or first: the rest writes the other
    ahead = [first, second] if PROBE_STEPS % 2 else [second, first]
    rest = replace(stepping, steps=steps - k - PROBE_STEPS)
    operands = state + operands[nstate:]
    if prefer_loop(tiled, looped):
        return _loop(operands, nstate, rest.steps, step, buffers=ahead)
    return _rounds(gufunc, operands, kinds, rest, keep, plan, run_all, spare=ahead,
                   scratch=scratch)


def _faulted_like(arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Uninitialized arrays like ``arrays``, each page written once."""
    fresh = [np.empty(a.shape, a.dtype) for a in arrays]
    for array in fresh:
        array.reshape(-1).view(np.uint8)[::PAGE_BYTES] = 0
    return fresh


PAGE_BYTES = 4096


#: fewest steps per round for which tiles can pay: a round copies its regions in and its
#: tiles out, about one pass over the state, and saves ``k - 1`` of the loop's ``k``; with
#: ``k = 2`` (the 3-D Laplacian from 128³ on this host's cache) the sweep measured tiles at
#: 0.76-0.85x the loop
MIN_TILED_STEPS = 3
#: plain steps timed against the first tiled round (every step does the same work, so one
#: suffices, and a slow loop costs little while it is being measured); the rest of the run
#: continues in whichever buffer the probe left (``_fastest``)
PROBE_STEPS = 1


def prefer_loop(tiled_seconds: float, looped_seconds: float) -> bool:
    """Whether a looped step ran faster than a tiled one (seconds per step each)."""
    return looped_seconds < tiled_seconds


def _loop(operands, nstate: int, steps: int, step: Step,
          buffers: list | None = None) -> list[np.ndarray]:
    """``steps`` plain steps over the whole state, ping-ponging between two buffers (none
    allocated per step; ``buffers``: the two, each a list of arrays or None to allocate, the
    first written first); ``step(inputs, out)`` is one call, as the target runs it (the
    parallel target: its row bands on threads)."""
    state = [operands[s] for s in range(nstate)]
    others = list(operands[nstate:])
    buffers = [None, None] if buffers is None else buffers
    for j in range(steps):
        if buffers[j % 2] is None:
            buffers[j % 2] = [np.empty_like(s) for s in state]
        out = tuple(buffers[j % 2])
        step(state + others, out)
        state = list(out)
    return state


def _flatten(ir, arrays):
    """The operands with their loop dimensions broadcast and flattened into one leading image
    axis (scalars and tables without loop dimensions stay whole)."""
    d = ir.ndim
    loops = [a.shape[:a.ndim - arg.ndim] for arg, a in zip(ir.arguments, arrays)]
    loop_shape = tuple(np.broadcast_shapes(*loops))
    images = math.prod(loop_shape)
    core = tuple(arrays[0].shape[arrays[0].ndim - d:])
    operands, kinds = [], []
    for k, a in enumerate(arrays):
        argument = ir.arguments[k] if k < len(ir.arguments) else None
        own = a.shape[a.ndim - argument.ndim:] if argument is not None else ()
        if argument is not None and argument.role is Role.RELATIVE:
            kind = REGION
        elif argument is not None and a.ndim > argument.ndim:
            kind = SLAB
        else:
            operands.append(a)
            kinds.append(WHOLE)
            continue
        flat = np.broadcast_to(a, loop_shape + own).reshape((images,) + own)
        operands.append(flat if kind == REGION else np.ascontiguousarray(flat))
        kinds.append(kind)
    return operands, kinds, loop_shape, core


def _rounds(gufunc, operands, kinds, stepping: Stepping, keep: Ranges, plan: TilePlan,
            run_all: Callable[[Tasks], None], spare: list | None = None,
            scratch: Scratch | None = None) -> list[np.ndarray]:
    """The state after ``stepping.steps`` steps in rounds of the plan's cache tiles; the
    rounds write into ``spare``'s two buffers in turn (each a list of arrays, or None to
    allocate; one if one round), neither of which may be the state's; the tiles' regions are
    ``scratch``'s."""
    nstate, reach = stepping.nstate, stepping.reach
    scratch = scratch or Scratch()
    core = operands[0].shape[1:]
    images = operands[0].shape[0]
    rounds = -(-stepping.steps // plan.block_steps)
    sizes = [b - a for a, b in cuts(stepping.steps, -(-stepping.steps // rounds))]
    current = [operands[s] for s in range(nstate)]
    spare = [None, None] if spare is None else spare
    done = 0
    for r, k in enumerate(sizes):
        done += k
        # What this round must leave correct: the kept part, grown by the later rounds' reach.
        valid = tuple((max(0, b), min(n, e))
                      for (b, e), n in zip(reach.grow(keep, stepping.steps - done), core))
        if spare[r % 2] is None:
            spare[r % 2] = [np.empty(o.shape, o.dtype) for o in current]
        target = spare[r % 2]
        pieces = [[(v0 + b, v0 + e) for b, e in cuts(v1 - v0, extent)]
                  for (v0, v1), extent in zip(valid, plan.extents)]
        tiles = itertools.product(cuts(images, plan.slab), *pieces)
        tasks = [_tile_task(gufunc, operands, kinds, current, target, tile[0], tile[1:], k,
                            stepping, scratch) for tile in tiles]
        run_all(tasks)
        current = target
    return current


def _tile_task(gufunc, operands, kinds, current, target, slab, tile: Ranges, k: int,
               stepping: Stepping, scratch: Scratch) -> Callable[[], None]:
    def task() -> None:
        held: list = []
        try:
            _advance_tile(gufunc, operands, kinds, current, target, slab, tile, k, stepping,
                          lambda shape, dtype: scratch.take(shape, dtype, held))
        finally:
            scratch.give(held)
    return task


def _advance_tile(gufunc, operands, kinds, current, target, slab: tuple[int, int],
                  tile: Ranges, k: int, stepping: Stepping,
                  buffer: Callable[[tuple[int, ...], np.dtype], np.ndarray]) -> None:
    """``k`` steps of one tile (and ``slab``'s images) in ``buffer``'s arrays, written into
    ``target``."""
    nstate, reach = stepping.nstate, stepping.reach
    core = operands[0].shape[1:]
    images = slice(*slab)
    region = []
    for a, ((b, e), n) in enumerate(zip(tile, core)):
        if (b, e) == (0, n):
            region.append((0, n))      # the whole axis: its true edges, no ghost zone
            continue
        gb, ge = reach.grow_axis(a, b, e, k)
        region.append((gb, ge) if stepping.modes[a] == "wrap" else (max(0, gb), min(n, ge)))
    inputs = []
    for index, (operand, kind) in enumerate(zip(operands, kinds)):
        source = current[index] if index < nstate else operand
        if kind == REGION:
            inputs.append(_gather(source[images], region, buffer))
        elif kind == SLAB:
            inputs.append(source[images])
        else:
            inputs.append(source)
    state = inputs[:nstate]
    other = [buffer(s.shape, s.dtype) for s in state]
    start0 = region[0][0]
    for j in range(1, k + 1):
        rb, re = reach.grow_axis(0, *tile[0], k - j)
        band = (max(rb, region[0][0]) - start0, min(re, region[0][1]) - start0)
        gufunc(state + inputs[nstate:], tuple(other), band=band)
        state, other = other, state
    inside = (slice(None),) + tuple(slice(b - g, e - g) for (b, e), (g, _) in zip(tile, region))
    at = (images,) + tuple(slice(b, e) for b, e in tile)
    for s in range(nstate):
        target[s][at] = state[s][inside]


def _gather(source: np.ndarray, region: Ranges,
            buffer: Callable[[tuple[int, ...], np.dtype], np.ndarray]) -> np.ndarray:
    """The ``region`` of every image of ``source`` copied into a C-contiguous array from
    ``buffer``. Ranges beyond an axis read around it (``wrap``)."""
    index = [slice(None)]
    around = []
    for axis, (b, e) in enumerate(region, start=1):
        n = source.shape[axis]
        if 0 <= b and e <= n:
            index.append(slice(b, e))
        else:
            index.append(slice(None))
            around.append((axis, np.arange(b, e) % n))
    part = source[tuple(index)]
    for axis, positions in around:
        part = np.take(part, positions, axis=axis)
    gathered = buffer(part.shape, part.dtype)
    np.copyto(gathered, part)
    return gathered

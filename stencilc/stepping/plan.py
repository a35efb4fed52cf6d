"""How a run of many steps is cut into tiles that stay in cache (docs/iterate.md).

A *round* advances the whole state ``k`` steps. Each tile of the output is computed from its
*region*: the tile grown by ``k`` times the neighbourhood's reach on every side (clipped at the
array's true edges, where the boundary rule applies at every step), copied into a small buffer
and stepped ``k`` times there, in cache. The grown part is the ghost zone: it is computed again
by the neighbouring tiles, so ``k`` trades memory traffic (one pass over the array per round
instead of one per step) against recomputation (the ghost zones).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

#: cache per core assumed where the operating system does not say (bytes)
DEFAULT_CACHE_BYTES = 4 << 20
#: share of that cache a tile's buffers may fill (the rest: the stream in and out, the stack)
CACHE_SHARE = 0.5
#: steps per round tried, most first (a round's ghost zone grows with its steps)
BLOCK_STEPS = (32, 16, 8, 4, 2, 1)
#: most extra work the ghost zones may cost: the first of BLOCK_STEPS under it is taken
MAX_RECOMPUTE = 1.2


@functools.lru_cache(maxsize=1)
def cache_bytes() -> int:
    """The cache one core can count on, from Linux's sysfs: its private caches' largest
    (L2) plus its share of the largest shared one (L3 over the CPUs sharing it); else
    :data:`DEFAULT_CACHE_BYTES`. Measured on the heat case (docs/iterate.md): tiles of half
    this ran 1.4x faster than tiles of half the L2 alone."""
    private = shared = 0
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            kind = (index / "type").read_text().strip()
            cpus = _count_cpus((index / "shared_cpu_list").read_text().strip())
            size = (index / "size").read_text().strip()
        except (OSError, ValueError):
            continue
        if kind not in ("Data", "Unified") or not size.endswith("K"):
            continue
        size_bytes = int(size[:-1]) * 1024
        if cpus <= 1:
            private = max(private, size_bytes)
        else:
            shared = max(shared, size_bytes // cpus)
    return private + shared or DEFAULT_CACHE_BYTES


def _count_cpus(listing: str) -> int:
    """How many CPUs a sysfs list like ``0-3,8`` names."""
    count = 0
    for part in listing.split(","):
        low, _, high = part.partition("-")
        count += int(high or low) - int(low) + 1
    return count


@dataclass(frozen=True)
class Reach:
    """How far one step reads along each core axis: ``below[a]`` cells before the point,
    ``above[a]`` after it."""

    below: tuple[int, ...]
    above: tuple[int, ...]

    @classmethod
    def of(cls, neighborhood) -> "Reach":
        return cls(tuple(max(0, -lo) for lo, _ in neighborhood),
                   tuple(max(0, hi) for _, hi in neighborhood))

    def grow(self, ranges, steps: int) -> tuple[tuple[int, int], ...]:
        """``ranges`` (one ``(start, stop)`` per axis) grown by ``steps`` steps' reach."""
        return tuple((b - steps * lo, e + steps * hi)
                     for (b, e), lo, hi in zip(ranges, self.below, self.above))

    def grow_axis(self, axis: int, start: int, stop: int, steps: int) -> tuple[int, int]:
        """``[start, stop)`` along ``axis`` grown by ``steps`` steps' reach."""
        return start - steps * self.below[axis], stop + steps * self.above[axis]

    @property
    def width(self) -> tuple[int, ...]:
        return tuple(lo + hi for lo, hi in zip(self.below, self.above))


@dataclass(frozen=True)
class TilePlan:
    """Steps per round, images per tile (``slab``) and the tile's extent along each core
    axis."""

    block_steps: int
    slab: int
    extents: tuple[int, ...]


def plan_tiles(core: tuple[int, ...], images: int, reach: Reach, bytes_per_point: int,
               steps: int, block_steps: int | None = None, budget: int | None = None,
               tiles: int = 1, itemsize: int | None = None) -> TilePlan:
    """Tiles whose regions (ghost zones included) fit ``budget`` bytes (default: a share of
    :func:`cache_bytes`) at ``bytes_per_point``, at least ``tiles`` of them per round where
    the array allows (several per thread keep every thread busy), and the steps per round.

    When whole core blocks fit and there are enough of them, a tile holds as many images as
    fit and every step runs in one round (no ghost zone is needed). Otherwise a round takes
    the most steps (of :data:`BLOCK_STEPS`, or ``block_steps``) whose ghost zones cost at
    most :data:`MAX_RECOMPUTE`; the tile keeps the inner axes long (whole rows vectorize)
    with enough rows that the ghost rows cost little, and (given the state's ``itemsize``)
    rows whose length in bytes is not a multiple of :data:`ALIASING_BYTES`.
    """
    budget = budget or int(cache_bytes() * CACHE_SHARE)
    points = max(1, budget // max(1, bytes_per_point))
    block = math.prod(core)
    if not any(reach.width) or (block <= points and images >= tiles):
        slab = max(1, min(images, points // max(1, block), -(-images // tiles)))
        return TilePlan(max(1, min(steps, block_steps or steps)), slab, core)
    per_image = -(-tiles // max(1, images))
    tried = (block_steps,) if block_steps else \
        tuple(k for k in BLOCK_STEPS if k <= steps) or (1,)
    for k in tried:
        ghost = [k * w for w in reach.width]
        extents = _extents(core, ghost, points, per_image)
        if itemsize:
            extents = _unaliased(core, extents, ghost, itemsize)
        if _recompute(core, extents, ghost) <= MAX_RECOMPUTE:
            break
    return TilePlan(k, 1, extents)


def _extents(core, ghost, points: int, count: int) -> tuple[int, ...]:
    """Tile extents for ghost zones ``ghost`` (total per axis) in regions of ``points``, at
    least ``count`` tiles (fewer rows each, as long as the core has rows to give)."""
    d = len(core)
    rows = max(32, 8 * ghost[0])    # the shrinking ghost rows then cost under ~6 %
    inner_points = max(1, points // (rows + ghost[0]))
    extents = [0] * d
    for a in range(1, d):   # inner axes share what the rows leave, equally
        side = int(inner_points ** (1 / (d - 1)))
        extents[a] = max(1, min(core[a], side - ghost[a]))
    inner = math.prod(e + (g if e < n else 0)
                      for e, g, n in zip(extents[1:], ghost[1:], core[1:]))
    extents[0] = max(1, min(core[0], points // inner - ghost[0]))
    across = math.prod(-(-n // e) for n, e in zip(core[1:], extents[1:]))
    extents[0] = max(1, min(extents[0], -(-core[0] // -(-count // across))))
    return tuple(extents)


#: a region's rows this many bytes long (a power-of-two width: 4096 or 8192 float32s) put
#: the rows a point reads in the same cache sets; 2-D heat rounds of 7 steps, two runs
#: interleaved, on the development host (AMD EPYC, 32 KiB L1d, 1 MiB L2; other caches' set
#: counts move the threshold, not the rule): 4096 wide 1.01-1.18 ns a point and step as
#: whole rows, 0.55-0.67 cut; 8192 wide 1.23-2.33 against 0.61-0.70
ALIASING_BYTES = 4096
#: rows shorter than this are left whole: cutting a uint8 Life state 4096 wide (4 KiB rows)
#: in two tiles cost more in ghost columns than it gained (0.21 s against 0.17 s, 23 steps)
MIN_CUT_ROW_BYTES = 16384


def _unaliased(core, extents, ghost, itemsize: int) -> tuple[int, ...]:
    """``extents`` with the innermost one changed where a region's row (the tile's extent and
    its ghost zone, or the whole axis) would be a multiple of :data:`ALIASING_BYTES` (rows of
    at least :data:`MIN_CUT_ROW_BYTES`): a whole axis is cut in two, and a tile narrowed by a
    cache line at a time."""
    n, e, g = core[-1], extents[-1], ghost[-1]
    if len(core) < 2 or n * itemsize < MIN_CUT_ROW_BYTES:
        return extents

    def aliased(extent: int) -> bool:
        widths = (n,) if extent >= n else (extent + g, extent + g // 2)   # inside, at an edge
        return any(w * itemsize % ALIASING_BYTES == 0 for w in widths)

    if not aliased(e):
        return extents
    e = -(-n // 2) if e >= n else e
    step = max(1, 64 // itemsize)
    while aliased(e) and e > step:
        e -= step
    return (*extents[:-1], e)


def _recompute(core, extents, ghost) -> float:
    """Points computed per point kept: inner ghost zones at every step (none along an axis a
    tile spans whole), axis 0's shrinking (half of it on average)."""
    factor = (extents[0] + ghost[0] / 2) / extents[0] if extents[0] < core[0] else 1.0
    for n, e, g in zip(core[1:], extents[1:], ghost[1:]):
        factor *= (e + g) / e if e < n else 1.0
    return factor


def cuts(length: int, extent: int) -> list[tuple[int, int]]:
    """``[0, length)`` in pieces of at most ``extent``, of nearly equal size."""
    parts = max(1, -(-length // max(1, extent)))
    edges = [length * k // parts for k in range(parts + 1)]
    return [(a, b) for a, b in zip(edges, edges[1:]) if b > a]

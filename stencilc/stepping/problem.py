"""What a target needs to know to advance a state many steps."""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..ir import StencilIR
from .plan import Reach


@dataclass(frozen=True)
class Stepping:
    """``steps`` steps of the kernel ``ir`` whose outputs feed its first ``ir.nout``
    arguments; ``modes``: the boundary rule of each core axis.

    ``keep``: the part of each core axis to compute, ``(start, stop)`` per axis (None: all of
    it); the rest of the returned state is unspecified. Outside it lie ghost cells (a Dask
    block's halo), which must be at least ``steps`` times the reach deep on every side that
    is not the array's true edge.
    ``block_steps``: steps per round of cache tiles (None: chosen from the cache size).
    """

    ir: StencilIR
    modes: tuple
    steps: int
    block_steps: int | None = None
    keep: tuple[tuple[int, int], ...] | None = None

    @property
    def nstate(self) -> int:
        return self.ir.nout

    @property
    def reach(self) -> Reach:
        return Reach.of(self.ir.neighborhood)

    def with_steps(self, steps: int, keep=None) -> "Stepping":
        return replace(self, steps=steps, keep=keep)

"""What a target needs to know to advance a state many steps."""
from __future__ import annotations

from dataclasses import dataclass

from typing import TYPE_CHECKING, Any, Sequence

from ..boundary import per_axis
from ..ir import StencilIR
from .checks import check_state
from .plan import Reach

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import Specialization
    from ..ufunc import StencilUFunc


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
        """How far a step reads along each axis, for ghost zones. Along ``reflect`` and
        ``mirror`` axes the larger side counts on both: a read past a true edge comes back
        into the array as far as it went out, so with ``x[-1] + x[2]`` the last row reads the
        row three back, past a ghost zone only one row deep (the tiles' results differed
        from the loop's)."""
        reach = Reach.of(self.ir.neighborhood)
        below, above = list(reach.below), list(reach.above)
        for axis, mode in enumerate(self.modes):
            if mode in ("reflect", "mirror"):
                below[axis] = above[axis] = max(below[axis], above[axis])
        return Reach(tuple(below), tuple(above))


def advance(f: "StencilUFunc", spec: "Specialization", arrays: Sequence[Any], steps: int,
            block_steps: int | None, keep=None) -> Any:
    """``steps`` steps of ``f`` from ``arrays`` (checked by an array adapter) through its
    target: the outputs checked against the state first, the result as a call returns it."""
    check_state(f, arrays, spec.out_dtypes)
    stepping = Stepping(f.ir, per_axis(f.boundary, f.ir.ndim), steps, block_steps, keep)
    states = spec.advance(arrays, stepping)
    return states if f.nout > 1 else states[0]

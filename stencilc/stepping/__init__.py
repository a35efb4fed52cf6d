"""Time stepping (docs/iterate.md): ``f.iterate(*args, steps=n)`` applies a kernel ``n``
times, each step's outputs becoming the next step's first ``f.nout`` arguments, and
``f.trajectory(..., every=k)`` yields every k-th state on the way.

The numbers are the plain loop's (``for _ in range(n): u = f(u, ...)``) bit for bit; how a
state advances is each array kind's and target's business: NumPy states run in cache tiles
several steps at a time (:mod:`.tiles`), Dask states exchange one halo per many steps
(:mod:`.dask`), GPU states stay on the device.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Sequence

from .problem import Stepping

if TYPE_CHECKING:  # pragma: no cover
    from ..ufunc import StencilUFunc

__all__ = ["Stepping", "iterate", "trajectory"]


def iterate(f: "StencilUFunc", args: Sequence[Any], steps: int, block_steps: int | None,
            dims: Any = None) -> Any:
    """``f`` applied ``steps`` times, outputs fed back into the first ``f.nout`` arguments."""
    from .. import arrays
    from .checks import check_count, check_roles

    steps = check_count(f, steps, "steps", minimum=0)
    if block_steps is not None:
        block_steps = check_count(f, block_steps, "block_steps", minimum=1)
    check_roles(f, args)
    return arrays.adapter_for(args).iterate_with(f, args, steps, block_steps, dims=dims)


def trajectory(f: "StencilUFunc", args: Sequence[Any], steps: int, every: int,
               block_steps: int | None, dims: Any = None) -> Iterator[tuple[int, Any]]:
    """``(step, state)`` after every ``every`` steps (and after the last one), each state a
    new array (or a tuple of them for several outputs); arguments checked before the first
    state is asked for."""
    from .checks import check_count, check_roles

    steps = check_count(f, steps, "steps", minimum=0)
    every = check_count(f, every, "every", minimum=1)
    if block_steps is not None:
        block_steps = check_count(f, block_steps, "block_steps", minimum=1)
    check_roles(f, args)

    def states() -> Iterator[tuple[int, Any]]:
        current = list(args)
        done = 0
        while done < steps:
            k = min(every, steps - done)
            state = iterate(f, current, k, block_steps, dims)
            current[:f.nout] = state if f.nout > 1 else (state,)
            done += k
            yield done, state

    return states()

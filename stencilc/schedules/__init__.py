"""Schedules: how the loop nest computes a kernel's values, chosen per kernel and dtypes.

Between the simplified IR and code generation (:func:`stencilc.pipeline.generate`), every
target gets the same rewritten IR, so every target makes the same choice (integers narrowed
in the types the target names). Each rewrite keeps
the values numba computes for the body as written (where one cannot, the module that makes it
says when it applies); :class:`Schedule` lists what was chosen, for ``f.schedule(*dtypes)``,
``inspect_source`` and ``stencilc inspect --stage schedule``.

* :mod:`.windows`: reductions over a window (``np.median(x[-1:2, -1:2])``) written out read
  by read, medians as selection networks (:mod:`.networks`);
* :mod:`.accumulate`: loop nests adding to one local over many taps (a 15x15 weights table)
  marked, for the CPU to compute a row at a time;
* :mod:`.narrowing`: integer expressions of small integers computed in a narrower type where
  intervals prove it exact (in the types the target's ``narrowing`` names: int8/16/32 on the
  CPU, int32 on the GPU).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from ..ir import Role, StencilIR, render_expression
from .accumulate import AccumulationChoice, mark_accumulations
from .narrowing import NarrowChoice, NarrowTypes, narrow_integers
from .windows import WindowChoice, lower_windows

__all__ = ["Schedule", "schedule"]


@dataclass(frozen=True)
class Schedule:
    """The IR a target generates code from, and the choices that made it."""

    ir: StencilIR
    dtypes: tuple[np.dtype, ...]
    windows: tuple[WindowChoice, ...] = ()
    narrowed: tuple[NarrowChoice, ...] = ()
    accumulations: tuple[AccumulationChoice, ...] = ()

    def describe(self) -> str:
        """The choices as lines of text (``# ``-free; callers add comment marks)."""
        described = ", ".join(f"{a.name}: {dt.name}"
                              for a, dt in zip(self.ir.arguments, self.dtypes))
        lines = [f"schedule of {self.ir.name} for {described}"]
        if not (self.windows or self.narrowed or self.accumulations):
            lines.append("  the loop nest as written (no window reductions, no integer "
                         "expression to narrow)")
        lines += [f"  window {choice}" for choice in self.windows]
        lines += [f"  narrowed {choice}" for choice in self.narrowed]
        lines += [f"  accumulation {choice}" for choice in self.accumulations]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()


def schedule(ir: StencilIR, arg_dtypes: Sequence[np.dtype], fastmath: bool = False,
             narrowing: NarrowTypes | None = None) -> Schedule:
    """The schedule of ``ir`` (simplified) for arguments of ``arg_dtypes``; ``fastmath`` lets
    floating-point window sums be reassociated (as the option lets LLVM); ``narrowing``: the
    types the target computes narrowed integers in (its runtime has the narrow helpers), None
    for none."""
    dtypes = tuple(np.dtype(d) for d in arg_dtypes)
    by_name = {a.name: dt for a, dt in zip(ir.arguments, dtypes)}
    body, windows = lower_windows(ir.body, ir.env, by_name, ir.firstlineno, fastmath)
    roles = {a.name: a.role.value for a in ir.arguments}
    roles.update({name: "array" for name, value in ir.env.items()
                  if isinstance(value, np.ndarray) and name not in roles})
    body, accumulations = mark_accumulations(body, roles, ir.firstlineno, ir.env)
    narrowed: list[NarrowChoice] = []
    if narrowing is not None:
        body, narrowed = narrow_integers(body, by_name, ir.firstlineno, render_expression,
                                         narrowing)
    return Schedule(replace(ir, body=body), dtypes, tuple(windows), tuple(narrowed),
                    tuple(accumulations))

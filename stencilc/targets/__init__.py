"""Targets as plug-ins: the :class:`Target` protocol and the registry ``target=`` is checked
against.

A target turns the simplified IR into a module of source text for some argument dtypes
(``generate``), learns the value types the kernel computes (``value_dtypes``), compiles the
module into something callable (``compile``) and runs it on arrays (``run``). Adding one is a
new file here, a code generator under ``codegen/``, a runtime helper module under
``runtime/``, and one :func:`register` call at the end of this file (docs/architecture.md has
the recipe).
"""
from __future__ import annotations

import types
from typing import TYPE_CHECKING, Any, Protocol, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ..codegen.common import GeneratedModule
    from ..ir import StencilIR
    from ..options import Options
    from ..schedules.narrowing import NarrowTypes
    from ..stepping import Stepping

DTypes = tuple[np.dtype, ...]


class Target(Protocol):
    """What every target provides. ``kernel`` is whatever ``compile`` returns: only the
    target itself looks inside it."""

    name: str
    aliases: tuple[str, ...]
    description: str
    requires: str            # what must be installed, for error messages and `stencilc targets`
    #: optional: the types integer expressions may be computed in where intervals prove them
    #: exact (stencilc.schedules.narrowing; the runtime module then has the narrow helpers);
    #: absent or None: numba's types as written
    narrowing: "NarrowTypes | None"

    def installed(self) -> bool:
        """Whether its packages are present: kernels can be decorated, compiled and inspected
        (a GPU target's PTX needs no GPU)."""

    def available(self) -> bool:
        """Whether the target can also run kernels here (its devices are present)."""

    def generate(self, ir: "StencilIR", options: "Options", arg_dtypes: DTypes,
                 env_note: str) -> "GeneratedModule":
        """The module text for the simplified ``ir`` specialized on ``arg_dtypes``."""

    def value_dtypes(self, module: types.ModuleType, generated: "GeneratedModule",
                     ir: "StencilIR", arg_dtypes: DTypes) -> DTypes:
        """The dtypes the kernel's return expression computes (typing)."""

    def compile(self, module: types.ModuleType, generated: "GeneratedModule", ir: "StencilIR",
                options: "Options", arg_dtypes: DTypes, out_dtypes: DTypes,
                cache: bool) -> Any:
        """The compiled kernel for these dtypes; ``cache`` says whether the module lives on
        disk, so the compiler may cache its code there too."""

    def run(self, kernel: Any, arrays: Sequence[Any], out: tuple | None) -> Any:
        """Apply the compiled kernel to arrays already checked by an array adapter."""

    def advance(self, kernel: Any, arrays: Sequence[Any], stepping: "Stepping") -> tuple:
        """``stepping.steps`` steps from ``arrays`` (state first, checked by an array
        adapter), each step's outputs the next step's state: one array per output, of the
        kind the arrays were."""

    def inspect(self, kernel: Any, stage: str) -> str:
        """The compiled kernel's ``"llvm"`` or ``"asm"`` text."""


REGISTRY: dict[str, Target] = {}
_ALIASES: dict[str, str] = {}


def register(target: Target) -> Target:
    """Add ``target`` to the registry under its name and aliases."""
    for key in (target.name, *target.aliases):
        if key in REGISTRY or key in _ALIASES:
            raise ValueError(f"target name {key!r} is already registered")
    REGISTRY[target.name] = target
    _ALIASES.update({alias: target.name for alias in target.aliases})
    return target


def names() -> tuple[str, ...]:
    """Every registered target name (aliases excluded)."""
    return tuple(REGISTRY)


def canonical_name(name: str) -> str:
    """The registered name for ``name`` (an alias resolved), or a ValueError listing the
    registry that quotes what the user typed."""
    if not isinstance(name, str):
        raise TypeError(f"target must be a string, not {type(name).__name__}")
    canonical = _ALIASES.get(name, name)
    if canonical not in REGISTRY:
        known = ", ".join(repr(n) for n in (*REGISTRY, *_ALIASES))
        raise ValueError(f"target={name!r} is not a registered target; choose one of {known}")
    target = REGISTRY[canonical]
    if not target.installed():
        raise ValueError(f"target={name!r} is not installed here: it needs {target.requires}")
    return canonical


def get(name: str) -> Target:
    """The registered target called ``name`` (or one of its aliases)."""
    return REGISTRY[canonical_name(name)]


from .cpu import CpuTarget, ParallelTarget, threading_report  # noqa: E402,F401  (built-ins)
from .cuda import CudaTarget  # noqa: E402

register(CpuTarget())
register(ParallelTarget())
register(CudaTarget())

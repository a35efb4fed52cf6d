"""Pass 5, constant folding: locals that hold a compile-time constant.

After name resolution every global constant is already inlined, so a local assigned once, at
the top level, to a constant expression is itself a constant (``R = 2; x[R, 0]``). The values
come from the one constant folder, :func:`stencilc.folding.evaluate`.
"""
from __future__ import annotations

import ast

from ..folding import evaluate
from ..ir import UNKNOWN


def local_constants(body: list[ast.stmt], assigned: dict[str, int]) -> dict[str, object]:
    """``{name: value}`` for every local assigned once, at the top level, to a constant."""
    constants: dict[str, object] = {}
    for stmt in body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
                and isinstance(stmt.targets[0], ast.Name) \
                and assigned.get(stmt.targets[0].id) == 1:
            value = evaluate(stmt.value, lambda name: constants.get(name, UNKNOWN))
            if value is not UNKNOWN:
                constants[stmt.targets[0].id] = value
    return constants

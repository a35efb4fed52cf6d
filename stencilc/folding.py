"""The one constant folder: the value of a constant expression, as Python computes it.

The frontend uses it to bound offsets (``x[K + 1]``, ``range(-R, R + 1)``); the simplify pass
uses it to fold integer arithmetic left after unrolling. Both ask the same question through
:func:`evaluate`, with their own way of looking names up.
"""
from __future__ import annotations

import ast
from typing import Callable

from .ir import UNKNOWN, constant_value

_UNARY = {ast.USub: lambda a: -a, ast.UAdd: lambda a: +a, ast.Invert: lambda a: ~a,
          ast.Not: lambda a: not a}
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.FloorDiv: lambda a, b: a // b,
           ast.Mod: lambda a, b: a % b, ast.Pow: lambda a, b: a ** b,
           ast.Div: lambda a, b: a / b}

Lookup = Callable[[str], object]


def no_names(name: str) -> object:
    """A lookup that knows no names."""
    return UNKNOWN


def evaluate(node: ast.AST, lookup: Lookup = no_names) -> object:
    """The value of ``node`` if it is a constant expression, else :data:`UNKNOWN`.

    ``lookup(name)`` gives a name's constant value or :data:`UNKNOWN`. Constants written by
    :func:`stencilc.ir.constant_node` (``_sc_np.float32(0.5)``) count as constants.
    """
    if isinstance(node, ast.Name):
        return lookup(node.id)
    if isinstance(node, ast.UnaryOp):
        operand = evaluate(node.operand, lookup)
        return UNKNOWN if operand is UNKNOWN else _apply(_UNARY.get(type(node.op)), operand)
    if isinstance(node, ast.BinOp):
        left = evaluate(node.left, lookup)
        if left is UNKNOWN:
            return UNKNOWN
        right = evaluate(node.right, lookup)
        if right is UNKNOWN:
            return UNKNOWN
        return _apply(_BINARY.get(type(node.op)), left, right)
    return constant_value(node)


def int_value(node: ast.AST, lookup: Lookup = no_names) -> int | None:
    """``node``'s value when it is a Python ``int`` (not a bool, not a NumPy integer)."""
    value = evaluate(node, lookup)
    return value if type(value) is int else None


def _apply(op, *operands):
    if op is None:
        return UNKNOWN
    try:
        return op(*operands)
    except (ArithmeticError, TypeError, ValueError):
        return UNKNOWN

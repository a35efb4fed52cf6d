"""Large weighted windows written as loops: ``acc = 0.0`` then ``for``-loops adding to it.

A loop nest over more taps than the simplify pass unrolls (a 15x15 weights table) stays a
loop inside the loop over points, so LLVM vectorizes the taps, a floating-point reduction it
may not reorder, and computes points one at a time (81-95 ns a point at 15x15, against 5 ns
for an unrolled 10x10). This pass marks such a nest as an :class:`~stencilc.ir.Accumulation`:
the CPU then computes a row of points at a time with the loop over the row's points innermost
(vector lanes hold neighbouring points) and each point's additions in the order written
(:mod:`stencilc.codegen.rows`), the same values; other targets compute it as written.

The pattern: ``acc = <constant>`` directly followed by a nest of ``for v in range(<constants>)``
loops, each holding only the next loop, the innermost only ``acc += <expr>`` (or ``acc = acc +
<expr>``), where ``<expr>`` is arithmetic on relative reads (offsets of loop variables and
constants), reads of standard_indexing or global arrays, loop variables, scalar arguments and
constants, and does not read ``acc``; no loop variable is read after the nest.
"""
from __future__ import annotations

import ast
import copy
from dataclasses import dataclass

import numpy as np

from ..folding import int_value
from ..ir import UNKNOWN, Accumulation, RelativeRead, constant_value

#: nests of at most this many taps whose weights are known at compile time (global tables,
#: constants) are left as they are: LLVM unrolls them, folds the weights and vectorizes.
#: Measured on 2048x2048 float32 (benchmarks in the issue-22 note, one core of the 2-vCPU
#: development host): a global-table nest ran 15.3 ms as written against 17.9 ms by rows at
#: 6x6, 28.1 against 26.8 at 8x8, 327 against 44 at 10x10. Weights read from a
#: standard_indexing argument are not known: as written such a nest ran 5.5-7x slower than
#: by rows from 6x6 (102 against 18.5 ms) to 11x11, so those nests always take the row path.
MIN_TAPS = 64


@dataclass(frozen=True)
class AccumulationChoice:
    line: int
    result: str
    taps: int

    def __str__(self) -> str:
        return f"line {self.line}: {self.result} += ... over {self.taps} taps: a row at a time " \
               "on the CPU, each point's additions in the order written; as written elsewhere"


def mark_accumulations(body: list[ast.stmt], names: dict[str, str], firstlineno: int,
                       env: dict[str, object]) -> tuple[list[ast.stmt], list[AccumulationChoice]]:
    """``body`` with every accumulating nest at its top level replaced by an
    :class:`~stencilc.ir.Accumulation`; ``names`` maps the kernel's arguments and the globals
    it reads to ``"relative"``, ``"standard"``, ``"scalar"`` or ``"array"``."""
    result: list[ast.stmt] = []
    choices: list[AccumulationChoice] = []
    k = 0
    while k < len(body):
        node = _match(body, k, names, env) if k + 1 < len(body) else None
        if node is None:
            result.append(body[k])
            k += 1
            continue
        node.number = len(choices)
        result.append(node)
        choices.append(AccumulationChoice(getattr(body[k], "lineno", 1) + firstlineno - 1,
                                          node.result, node.taps))
        k += 2
    return result, choices


def _match(body: list[ast.stmt], k: int, names: dict[str, str], env: dict[str, object]
           ) -> Accumulation | None:
    first, nest = body[k], body[k + 1]
    if not (isinstance(first, ast.Assign) and len(first.targets) == 1
            and isinstance(first.targets[0], ast.Name) and isinstance(nest, ast.For)):
        return None
    acc = first.targets[0].id
    if constant_value(first.value) is UNKNOWN and not _typed_constant(first.value, env):
        return None
    loops, inner = [], nest
    while isinstance(inner, ast.For):
        bounds = _range(inner)
        if bounds is None or not isinstance(inner.target, ast.Name) \
                or any(not isinstance(e, ast.Pass) for e in inner.orelse) \
                or len(inner.body) != 1:
            return None
        loops.append((inner.target.id, bounds))
        inner = inner.body[0]
    update = _update(inner, acc)
    variables = {v for v, _ in loops}
    if update is None or not _allowed(update, variables, names, acc):
        return None
    if not any(isinstance(n, RelativeRead) for n in ast.walk(update)):
        return None
    node = Accumulation(acc, first.value, tuple(loops), update, [first, nest])
    run_time_weights = any(isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)
                           and names.get(n.value.id) == "standard" for n in ast.walk(update))
    if node.taps <= MIN_TAPS and not run_time_weights:
        return None
    later = [n for stmt in body[k + 2:] for n in ast.walk(stmt)]
    if any(isinstance(n, ast.Name) and n.id in variables for n in later):
        return None     # a loop variable's last value is read after the nest
    return ast.copy_location(node, first)


def _typed_constant(node: ast.expr, env: dict[str, object]) -> bool:
    """``np.float32(0)`` as the kernel wrote it (NumPy under any name)."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
        and isinstance(node.func.value, ast.Name) and env.get(node.func.value.id) is np \
        and isinstance(getattr(np, node.func.attr, None), type) and len(node.args) == 1 \
        and not node.keywords and constant_value(node.args[0]) is not UNKNOWN


def _range(loop: ast.For) -> tuple[int, int, int] | None:
    call = loop.iter
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id == "range" and not call.keywords and 1 <= len(call.args) <= 3):
        return None
    values = [int_value(a) for a in call.args]
    if any(v is None for v in values):
        return None
    if len(values) == 1:
        return 0, values[0], 1
    return values[0], values[1], values[2] if len(values) == 3 else 1


def _update(stmt: ast.stmt, acc: str) -> ast.expr | None:
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, ast.Add) \
            and isinstance(stmt.target, ast.Name) and stmt.target.id == acc:
        return stmt.value
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
            and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == acc \
            and isinstance(stmt.value, ast.BinOp) and isinstance(stmt.value.op, ast.Add) \
            and isinstance(stmt.value.left, ast.Name) and stmt.value.left.id == acc:
        return stmt.value.right
    return None


def _allowed(expr: ast.expr, variables: set[str], names: dict[str, str], acc: str) -> bool:
    """Arithmetic on reads, loop variables, scalars and constants only."""
    def ok(node: ast.AST) -> bool:
        if isinstance(node, RelativeRead):
            return all(c is None for c in node.checked) and \
                all(ok_index(o) for o in node.offsets)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult,
                                                                 ast.Div)):
            return ok(node.left) and ok(node.right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return ok(node.operand)
        if isinstance(node, ast.Name):
            return node.id != acc and (node.id in variables or names.get(node.id) == "scalar")
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                and names.get(node.value.id) in ("standard", "array"):
            items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            return all(ok_index(i) for i in items)
        return constant_value(node) is not UNKNOWN

    def ok_index(node: ast.AST) -> bool:
        return all(isinstance(n, (ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop,
                                  ast.Constant, ast.Load))
                   or (isinstance(n, ast.Name) and n.id in variables)
                   for n in ast.walk(node))

    return ok(expr)


def substituted(expr: ast.expr, variable: str, value: int) -> ast.expr:
    """``expr`` with the loop variable ``variable`` replaced by ``value``. Each subscript keeps
    the text it was written with (``written``), which index errors quote: one message, and one
    checking function, for every tap of a written read."""

    class Put(ast.NodeTransformer):
        def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
            if not hasattr(node, "written"):
                node.written = ast.unparse(node)
            return self.generic_visit(node)

        def visit_Name(self, node: ast.Name) -> ast.expr:
            return ast.copy_location(ast.Constant(value), node) if node.id == variable else node

    return Put().visit(copy.deepcopy(expr))


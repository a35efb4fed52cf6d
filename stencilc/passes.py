"""IR-level simplifications that code generators apply before rendering a kernel body.

* Loops over constant ``range(...)`` bounds are unrolled (within a size budget), their
  variable replaced by each value in turn, so every relative read gets constant offsets and
  small loops (``for d in (-1, 1)``) leave no loop behind. A nest whose unrolled body would
  pass the budget stays a loop nest entirely (inner loops included): LLVM unrolls and
  vectorizes those itself, within a few percent of the unrolled text up to 10x10, while numba
  compiles the unrolled text in time proportional to its length (docs/performance.md,
  "Compile time"). Unrolling only the inner loops of such a nest is the one shape LLVM then
  cannot vectorize (6x slower for a 10x10 window), so it is never produced.
* Integer arithmetic on constants is folded (``a + 2`` once ``a`` is known), by the one
  constant folder (:mod:`stencilc.folding`).
* Reads of a global NumPy array at constant indices become typed constants
  (``W[1, 2]`` -> ``np.float32(0.125)``): numba freezes global arrays at compile time anyway.
* ``and``/``or`` between comparisons of plain values become ``&``/``|`` (Game of Life's
  ``n == 3 or (n == 2 and x[0, 0] == 1)``): the same booleans with no branch, so LLVM
  vectorizes the loop (the branching form ran 36x slower on random cells). Only where every
  operand is a comparison (or ``not``) of names, constants, constant-offset reads and
  ``+ - *`` or bitwise arithmetic, which cannot raise or change anything when evaluated.
* Assignments of constants to locals that nothing reads are dropped (an unrolled loop leaves
  its variable at its last value, as Python does, but usually nothing reads it).

Every rewrite keeps the order of operations and the types numba infers, so results are bit
for bit those of the body as written.
"""
from __future__ import annotations

import ast
import copy
from dataclasses import replace

import numpy as np

from .folding import int_value
from .ir import (UNKNOWN, RelativeRead, Role, ShapeNeed, StencilIR, constant_node,
                 constant_value)

#: most statements an unrolled loop nest may produce: a 5x5 window (31 with the loop
#: variables' last values). Measured on weighted windows (benchmarks/compile_time.py
#: --unroll, docs/performance.md): unrolled and rolled nests run alike from 3x3 to 10x10
#: (within 6 %), and rolling saves 0.25 s of compile at 5x5, 0.5 s at 7x7, 1 s at 10x10,
#: 2.7 s at 15x15 (where the unrolled body runs 10-20 % faster). 5x5 stays unrolled: the
#: float64-accumulating Gaussian of make bench ran 2-7 % slower rolled. A two-step loop
#: (``range(-1, 2, 2)``) ran 25 % faster unrolled.
UNROLL_BUDGET = 32
#: most iterations of one loop that are unrolled
MAX_TRIP_COUNT = 32
#: folded integers stay where int64 arithmetic and Python's agree trivially
_SMALL = 2**31


def simplify(ir: StencilIR) -> StencilIR:
    """A copy of ``ir`` with its body simplified (see the module docstring)."""
    body = _Simplifier(ir.env).statements(copy.deepcopy(ir.body))
    return replace(ir, body=drop_dead_constant_stores(body))


def shape_needs(ir: StencilIR) -> dict[str, tuple[ShapeNeed | None, ...]]:
    """For each standard_indexing argument, per core axis, how long the reads at constant
    indices need it to be (``w[2]`` needs 3, ``w[-3]`` needs 3), from the simplified body (so
    unrolled loops count). Adapters check it once per call; reads at other indices are checked
    as they happen (``_sc_index`` in generated code)."""
    needs: dict[str, list[ShapeNeed | None]] = {
        a.name: [None] * a.ndim for a in ir.arguments if a.role is Role.STANDARD}
    for stmt in ir.body:
        for node in ast.walk(stmt):
            if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                    and node.value.id in needs):
                continue
            items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            axes = needs[node.value.id]
            for axis, item in enumerate(items[:len(axes)]):
                index = int_value(item)
                if index is None:
                    continue
                length = index + 1 if index >= 0 else -index
                if axes[axis] is None or length > axes[axis].length:
                    axes[axis] = ShapeNeed(length, ast.unparse(node),
                                           node.lineno + ir.firstlineno - 1)
    return {name: tuple(axes) for name, axes in needs.items()}


def drop_dead_constant_stores(body: list[ast.stmt]) -> list[ast.stmt]:
    """``body`` without assignments of constants to names that are never read."""
    read = {n.id for s in body for n in ast.walk(s)
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store)}
    read |= {n.target.id for s in body for n in ast.walk(s)   # `acc += v` reads acc
             if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)}

    def keep(stmt: ast.stmt) -> bool:
        return not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id not in read
                    and constant_value(stmt.value) is not UNKNOWN)

    def walk(stmts: list[ast.stmt]) -> list[ast.stmt]:
        kept = []
        for stmt in stmts:
            if not keep(stmt):
                continue
            for field in ("body", "orelse"):
                if isinstance(stmt, (ast.If, ast.For)):
                    setattr(stmt, field, walk(getattr(stmt, field)) or [ast.Pass()])
            kept.append(stmt)
        return kept

    return [ast.fix_missing_locations(s) for s in walk(body)]


class _Simplifier(ast.NodeTransformer):
    def __init__(self, env: dict[str, object]):
        self.env = env
        self.unroll = True   # off inside a nest kept rolled

    def statements(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        for stmt in stmts:
            if isinstance(stmt, ast.For):
                result.extend(self.loop(stmt))
            else:
                result.append(self.visit(stmt))
        return result

    # --- statements containing statements -------------------------------------------------

    def visit_If(self, node: ast.If) -> ast.If:
        node.test = self.visit(node.test)
        node.body = self.statements(node.body)
        node.orelse = self.statements(node.orelse)
        return node

    def loop(self, node: ast.For) -> list[ast.stmt]:
        node.iter = self.visit(node.iter)
        values = _range_values(node.iter)
        name = node.target.id
        if self.unroll and values is not None and len(values) <= MAX_TRIP_COUNT \
                and _unrollable(node, name):
            unrolled: list[ast.stmt] = []
            for value in values:
                copies = [_Substitute(name, value).visit(copy.deepcopy(s)) for s in node.body]
                unrolled.extend(self.statements(copies))
                if _size(unrolled) > UNROLL_BUDGET:
                    break
            else:
                if values:   # Python leaves the loop variable at its last value
                    last = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())],
                                      value=ast.Constant(values[-1]))
                    unrolled.append(ast.copy_location(last, node))
                return [ast.fix_missing_locations(s) for s in unrolled]
            # over budget (node.body itself is untouched): the whole nest stays rolled
            self.unroll = False
            try:
                node.body = self.statements(node.body)
            finally:
                self.unroll = True
            return [node]
        node.body = self.statements(node.body)
        return [node]

    # --- expressions ----------------------------------------------------------------------

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        return self.fold(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        return self.fold(node)

    def fold(self, node: ast.expr) -> ast.expr:
        """Integer arithmetic on integer constants, folded while it stays where int64 and
        Python's arithmetic agree trivially; true division, floats and bools are left alone."""
        self.generic_visit(node)
        operands = [node.left, node.right] if isinstance(node, ast.BinOp) else [node.operand]
        if any(int_value(o) is None for o in operands) or isinstance(
                node.op, (ast.Div, ast.Pow, ast.Not, ast.Invert)):
            return node
        value = int_value(node)
        if value is None or abs(value) >= _SMALL:
            return node
        return ast.copy_location(ast.Constant(value), node)

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        self.generic_visit(node)
        if not all(_plain_bool(v) for v in node.values):
            return node
        op = ast.BitAnd() if isinstance(node.op, ast.And) else ast.BitOr()
        result = node.values[0]
        for value in node.values[1:]:
            result = ast.BinOp(left=result, op=op, right=value)
        return ast.copy_location(result, node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        self.generic_visit(node)
        if not isinstance(node.value, ast.Name):
            return node
        table = self.env.get(node.value.id)
        if not isinstance(table, np.ndarray):
            return node
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        index = [int_value(item) for item in items]
        if any(i is None for i in index) or len(index) != table.ndim:
            return node
        if any(not -n <= i < n for i, n in zip(index, table.shape)):
            return node   # out of range: leave it to numba, as written
        return ast.copy_location(constant_node(table[tuple(index)]), node)


_PLAIN_NODES = (ast.Name, ast.Load, ast.Constant, ast.BinOp, ast.UnaryOp, ast.Compare,
                ast.Add, ast.Sub, ast.Mult, ast.BitAnd, ast.BitOr, ast.BitXor, ast.USub,
                ast.UAdd, ast.Not, ast.Invert, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt,
                ast.GtE)


def _plain_bool(node: ast.expr) -> bool:
    """A boolean that evaluating early cannot make raise or differ: a comparison, ``not``, or
    ``&``/``|`` of such, over plain values (:data:`_PLAIN_NODES`, constant-offset reads)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
        return _plain_bool(node.left) and _plain_bool(node.right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _plain_bool(node.operand)
    if not isinstance(node, ast.Compare):
        return False
    for part in ast.walk(node):
        if isinstance(part, RelativeRead):
            if any(c is not None for c in part.checked):
                return False
        elif not isinstance(part, _PLAIN_NODES):
            return False
    return True


class _Substitute(ast.NodeTransformer):
    """Every read of loop variable ``name`` replaced by the constant ``value``."""

    def __init__(self, name: str, value: int):
        self.name = name
        self.value = value

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id == self.name and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Constant(self.value), node)
        return node


def _range_values(call: ast.expr) -> list[int] | None:
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id == "range"):
        return None
    args = [int_value(a) for a in call.args]
    if not args or any(a is None for a in args) or (len(args) == 3 and args[2] == 0):
        return None
    return list(range(*args))


def _unrollable(node: ast.For, name: str) -> bool:
    """No jumps out of the body, and the body never rebinds the loop variable."""
    for inner in ast.walk(ast.Module(body=node.body, type_ignores=[])):
        if isinstance(inner, (ast.Break, ast.Continue, ast.Return)):
            return False
        if isinstance(inner, ast.Name) and inner.id == name and \
                isinstance(inner.ctx, ast.Store):
            return False
    return True


def _size(stmts: list[ast.stmt]) -> int:
    return sum(1 for s in stmts for n in ast.walk(s) if isinstance(n, ast.stmt))

"""Integer narrowing: sums of small integers computed in the narrowest type that holds them.

numba computes ``uint8 + uint8`` in 64 bits (its integer typing widens to the machine integer),
so Game of Life's neighbour count ``x[-1, -1] + ... + x[1, 1]`` runs in int64 vector lanes (4
to an AVX2 register) although it never exceeds 8. Where interval arithmetic proves that every
intermediate value of an integer expression of relative reads and constants (``+ - *``) fits
a narrower signed type the target offers (:class:`NarrowTypes`: int8 on the CPU, int32 on a
GPU), the expression is computed in that type (``_sc_nadd``: a wrapping add in the operands' type, which no value here wraps) and then
converted to the type numba gives the expression as written (``_sc_as_type_of``: the
original expression is typed by numba, and only typed: LLVM drops its dead computation). The
value is the exact integer either way, so it equals numba's wherever numba's computation does
not wrap, which the same intervals prove: expressions whose reads are unsigned and that may go
negative (numba computes them in uint64, where they wrap) are left alone, as are expressions
with reads of 64-bit integers, floats, calls, or locals, and unary minus (numba negates a
small integer in its own type: ``-x`` of an int16 -32768 wraps to -32768).

A local that such an expression is assigned to, assigned nowhere else and read only as an
operand of comparisons with integer constants (Game of Life's ``n == 3 or n == 2``), stays in
the narrow type, and the constants it is compared with become constants of that type: a
comparison of exact integers has the same result in any type that holds them, and without a
conversion back to 64 bits LLVM keeps the whole computation narrow (converted back, it
widens the narrow adds again: it may, as they provably do not wrap). The target names the
types such locals may take apart from the expressions' (:class:`NarrowTypes`). An expression
needs two operations or more to be rewritten.
"""
from __future__ import annotations

import ast
import copy
import itertools
from dataclasses import dataclass

import numpy as np

from ..ir import RESERVED_PREFIX as P, RelativeRead, constant_node

@dataclass(frozen=True)
class NarrowTypes:
    """The narrow types a target computes integer expressions in, narrowest first: its
    ``narrowing`` attribute (targets without one compute numba's types as written)."""

    #: expressions converted back to the type numba gives them as written
    expressions: tuple[np.dtype, ...]
    #: locals only compared with integer constants (kept narrow, no conversion back)
    compared: tuple[np.dtype, ...]


#: The CPU targets'. Only int8 pays for expressions on the development host (AMD EPYC, AVX2;
#: 16M-point int8/uint8/int16 stacks and 4096^2 Game of Life, medians of 11 calls): an int8
#: count of 8 booleans ran Game of Life 1.2x faster (32 lanes instead of 4), while int16 sums
#: ran between 0.9x and 1.1x the int64 code (the 3x3 smooth, a 5-point Laplacian: LLVM's own
#: narrowing of truncated sums already gets most of it), so they are not narrowed; the
#: machinery is tested with int16 and int32 too (tests/test_schedules.py). Game of Life's
#: count kept in int8 for bool states, int16 for uint8 ones ran a 4096^2 step 3.7-4.2x and
#: 3.0x faster than int64 (benchmarks/narrowing.py, AVX-512 host).
CPU_TYPES = NarrowTypes(expressions=(np.dtype(np.int8),),
                        compared=tuple(np.dtype(t) for t in (np.int8, np.int16, np.int32)))
#: The CUDA target's: a GPU register holds 32 bits and a 64-bit add is two instructions,
#: while narrower types only add conversions, so int32. NVVM already narrows expressions
#: whose result is truncated or widened (the PTX of a uint8 smooth is the same either way);
#: what it keeps in 64 bits is a count compared with constants (Game of Life: 7 add.s64
#: become 32-bit adds, tests/test_cuda_ptx.py).
GPU_TYPES = NarrowTypes(expressions=(np.dtype(np.int32),), compared=(np.dtype(np.int32),))
_OPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul"}


@dataclass(frozen=True)
class NarrowChoice:
    line: int
    expression: str
    dtype: np.dtype
    interval: tuple[int, int]
    compared: str | None = None   # the local kept narrow, only compared with constants

    def __str__(self) -> str:
        lo, hi = self.interval
        kept = f", kept in it as {self.compared!r}: only compared with constants" \
            if self.compared else ""
        return f"line {self.line}: {self.expression}: computed in {self.dtype.name} " \
               f"(values in [{lo}, {hi}]){kept}"


@dataclass(frozen=True)
class _Bounds:
    lo: int
    hi: int
    widest: tuple[int, int]   # the extremes of every intermediate value
    ops: int
    unsigned: bool            # some read is of an unsigned dtype


def narrow_integers(body: list[ast.stmt], dtypes: dict[str, np.dtype], firstlineno: int,
                    render, narrow_types: NarrowTypes = CPU_TYPES
                    ) -> tuple[list[ast.stmt], list[NarrowChoice]]:
    """``body`` (not changed: a new list) with every integer expression that one of
    ``narrow_types`` provably holds computed in it; ``render(node)`` words an expression for
    the choices."""
    choices: list[NarrowChoice] = []
    body = [copy.deepcopy(stmt) for stmt in body]
    compared = _compared_locals(body)
    kept: dict[str, np.dtype] = {}

    class Narrow(ast.NodeTransformer):
        def visit_Assign(self, node: ast.Assign) -> ast.stmt:
            name = node.targets[0].id if len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name) else None
            bounds = _bounds(node.value, dtypes) if name in compared else None
            dtype = _fitting(bounds, narrow_types.compared) \
                if bounds is not None and bounds.ops >= 2 else None
            if dtype is None or not all(_fits(c.value, dtype) for c in compared[name]):
                return self.generic_visit(node)
            line = getattr(node, "lineno", 1) + firstlineno - 1
            choices.append(NarrowChoice(line, render(node.value), dtype, (bounds.lo, bounds.hi),
                                        name))
            node.value = _narrow(node.value, dtype)
            kept[name] = dtype
            return node

        def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
            bounds = _bounds(node, dtypes)
            dtype = _fitting(bounds, narrow_types.expressions) \
                if bounds is not None and bounds.ops >= 2 else None
            if dtype is None:
                return self.generic_visit(node)
            line = getattr(node, "lineno", 1) + firstlineno - 1
            choices.append(NarrowChoice(line, render(node), dtype, (bounds.lo, bounds.hi)))
            narrow = _narrow(node, dtype)
            call = ast.Call(func=ast.Name(id=f"{P}as_type_of", ctx=ast.Load()),
                            args=[narrow, node], keywords=[])
            return ast.copy_location(call, node)

    class Retype(ast.NodeTransformer):
        """The constants a kept local is compared with, in its type."""

        def visit_Compare(self, node: ast.Compare) -> ast.expr:
            operands = [node.left] + node.comparators
            names = [o.id for o in operands if isinstance(o, ast.Name) and o.id in kept]
            if not names:
                return node
            typed = [o if isinstance(o, ast.Name) else
                     ast.copy_location(constant_node(kept[names[0]].type(o.value)), o)
                     for o in operands]
            node.left, node.comparators = typed[0], typed[1:]
            return node

    body = [Narrow().visit(stmt) for stmt in body]
    return [Retype().visit(stmt) for stmt in body] if kept else body, choices


def _compared_locals(body: list[ast.stmt]) -> dict[str, list[ast.Constant]]:
    """The locals assigned once, by a plain ``name = value``, and read only in comparisons
    whose every other operand is an integer constant; for each, those constants."""
    nodes = [n for stmt in body for n in _walk(stmt)]
    stores: dict[str, int] = {}
    plain: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            stores[node.id] = stores.get(node.id, 0) + 1
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name):
            plain.add(node.targets[0].id)
    loads = {}
    for node in nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            loads[node.id] = loads.get(node.id, 0) + 1
    found: dict[str, list[ast.Constant]] = {}
    compared_loads: dict[str, int] = {}
    spoiled: set[str] = set()
    for node in nodes:
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left] + node.comparators
        names = {o.id for o in operands if isinstance(o, ast.Name)}
        others = [o for o in operands if not isinstance(o, ast.Name)]
        if len(names) != 1 or not all(isinstance(o, ast.Constant) and type(o.value) is int
                                      for o in others):
            spoiled |= names
            continue
        (name,) = names
        found.setdefault(name, []).extend(others)
        compared_loads[name] = compared_loads.get(name, 0) + \
            sum(isinstance(o, ast.Name) for o in operands)
    return {name: constants for name, constants in found.items()
            if name in plain and stores.get(name) == 1 and name not in spoiled
            and compared_loads[name] == loads.get(name)}


def _walk(node: ast.AST):
    """``ast.walk``, into the statements an accumulation nest keeps as written too."""
    for child in ast.walk(node):
        yield child
        for kept in getattr(child, "original", ()) or ():
            yield from _walk(kept)


def _fits(value: int, dtype: np.dtype) -> bool:
    info = np.iinfo(dtype)
    return info.min <= value <= info.max


def _bounds(node: ast.expr, dtypes: dict[str, np.dtype]) -> _Bounds | None:
    """The interval of ``node``'s exact integer value, or None if it is not an integer
    expression of reads and constants that numba computes without wrapping."""
    if isinstance(node, RelativeRead):
        dtype = dtypes.get(node.array)
        if dtype is None or dtype.kind not in "biu" or dtype.itemsize > 4:
            return None
        lo, hi = (0, 1) if dtype.kind == "b" else (int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
        return _Bounds(lo, hi, (lo, hi), 0, dtype.kind == "u")
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return _Bounds(node.value, node.value, (node.value, node.value), 0, False)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _bounds(node.left, dtypes), _bounds(node.right, dtypes)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Mult):
            corners = [a * b for a, b in itertools.product((left.lo, left.hi),
                                                           (right.lo, right.hi))]
            lo, hi = min(corners), max(corners)
        elif isinstance(node.op, ast.Add):
            lo, hi = left.lo + right.lo, left.hi + right.hi
        else:
            lo, hi = left.lo - right.hi, left.hi - right.lo
        return _combine(lo, hi, [left, right], left.unsigned or right.unsigned)
    return None


def _combine(lo: int, hi: int, parts: list[_Bounds], unsigned: bool) -> _Bounds | None:
    if unsigned and lo < 0:
        return None     # numba may compute this in uint64, where it wraps
    widest = (min([lo] + [p.widest[0] for p in parts]), max([hi] + [p.widest[1] for p in parts]))
    return _Bounds(lo, hi, widest, 1 + sum(p.ops for p in parts), unsigned)


def _fitting(bounds: _Bounds, candidates: tuple[np.dtype, ...]) -> np.dtype | None:
    for dtype in candidates:
        info = np.iinfo(dtype)
        if info.min <= bounds.widest[0] and bounds.widest[1] <= info.max:
            return dtype
    return None


def _narrow(node: ast.expr, dtype: np.dtype) -> ast.expr:
    """``node`` computed in ``dtype``: leaves converted, operations by the runtime's
    wrapping narrow helpers."""

    def convert(leaf: ast.expr) -> ast.expr:
        func = ast.Attribute(value=ast.Name(id=f"{P}np", ctx=ast.Load()), attr=dtype.name,
                             ctx=ast.Load())
        return ast.Call(func=func, args=[copy.deepcopy(leaf)], keywords=[])

    def walk(n: ast.expr) -> ast.expr:
        if isinstance(n, ast.BinOp):
            op = f"{P}n{_OPS[type(n.op)]}"
            return ast.Call(func=ast.Name(id=op, ctx=ast.Load()),
                            args=[walk(n.left), walk(n.right)], keywords=[])
        return convert(n)

    return ast.copy_location(walk(node), node)

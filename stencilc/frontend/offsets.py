"""Pass 6, offsets: relative accesses become IR nodes, and the neighbourhood is inferred.

Every ``x[di, dj]`` of a relatively read array becomes a :class:`RelativeRead` whose offsets
are constants, expressions of ``range`` loop variables with known bounds, or (given
``neighborhood=``) expressions checked at run time; ``x[-1:2, -1:2]`` becomes a
:class:`RelativeWindow`. The interval each access covers feeds :func:`infer_neighborhood`.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..folding import evaluate
from ..ir import UNKNOWN, Interval, RelativeRead, RelativeWindow, Role
from .source import Kernel


#: the farthest offset a relative access may reach along an axis. Border code costs memory in
#: the taps a kernel reads, not in its box, so far taps work (``x[10**6, 0]``); past this bound
#: the index arithmetic of the generated code (int64, with the array's length) could
#: overflow, and no neighbourhood is that wide, so such an offset is a located error.
MAX_OFFSET = 2**31 - 1


@dataclass(frozen=True)
class Access:
    """One relative access: its IR node, its source node, the offsets it spans per axis."""

    node: ast.expr
    source: ast.AST
    spans: tuple[Interval, ...]


def rewrite_accesses(kernel: Kernel, body: list[ast.stmt], roles: dict[str, Role],
                     constants: dict[str, object], assigned: dict[str, int],
                     given: tuple[Interval, ...] | None) -> tuple[list[ast.stmt], list[Access]]:
    """A copy of ``body`` with relative accesses replaced by IR nodes, and those accesses."""
    rewriter = _Rewriter(kernel, roles, constants, assigned, given)
    new = [ast.fix_missing_locations(rewriter.rewrite(s, {})) for s in body]
    return new, rewriter.accesses


def infer_neighborhood(kernel: Kernel, accesses: list[Access], ndim: int,
                       given: tuple[Interval, ...] | None) -> tuple[Interval, ...]:
    """Per axis, the union of every access's span (always holding 0), or the given one,
    which every access must stay inside."""
    lo, hi = [0] * ndim, [0] * ndim
    for access in accesses:
        for axis, (a, b) in enumerate(access.spans):
            if given is not None and (a < given[axis][0] or b > given[axis][1]):
                raise kernel.error(access.source, f"access reaches offsets {a}..{b} on axis "
                                   f"{axis}, outside the given neighborhood {given[axis]}",
                                   hint="widen neighborhood= or drop it to let stencilc infer it")
            lo[axis], hi[axis] = min(lo[axis], a), max(hi[axis], b)
    if given is not None:
        return tuple((min(0, a), max(0, b)) for a, b in given)
    return tuple(zip(lo, hi))


def check_neighborhood(given: Sequence, ndim: int) -> tuple[Interval, ...]:
    """A ``neighborhood=`` option as ``((lo, hi), ...)`` with one pair per core axis."""
    try:
        pairs = tuple((int(lo), int(hi)) for lo, hi in given)
    except (TypeError, ValueError):
        raise ValueError(f"neighborhood must be ((lo, hi), ...) with integers, got {given!r}") \
            from None
    if len(pairs) != ndim:
        raise ValueError(f"neighborhood has {len(pairs)} axes but the kernel indexes {ndim}")
    if any(lo > hi for lo, hi in pairs):
        raise ValueError(f"neighborhood {pairs} has an axis with lo > hi")
    if any(max(abs(lo), abs(hi)) > MAX_OFFSET for lo, hi in pairs):
        raise ValueError(f"neighborhood {pairs} reaches past the largest offset stencilc "
                         f"supports (±{MAX_OFFSET})")
    return pairs


class _Rewriter:
    def __init__(self, kernel: Kernel, roles, constants, assigned, given):
        self.kernel = kernel
        self.roles = roles
        self.constants = constants
        self.assigned = assigned
        self.given = given
        self.accesses: list[Access] = []

    def fold(self, node: ast.expr) -> object:
        return evaluate(node, lambda name: self.constants.get(name, UNKNOWN))

    def rewrite(self, node: ast.AST, ranges: dict[str, Interval]):
        """A copy of ``node`` with relative accesses replaced; ``ranges`` bounds the loop
        variables in scope."""
        if isinstance(node, ast.For):
            interval = self.loop_range(node)
            inner = dict(ranges)
            inner.pop(node.target.id, None)
            if isinstance(interval, tuple):
                inner[node.target.id] = interval
            new = ast.For(target=node.target, iter=self.rewrite(node.iter, ranges),
                          body=[self.rewrite(s, inner) for s in node.body], orelse=[],
                          type_comment=None)
            return ast.copy_location(new, node)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                and self.roles.get(node.value.id) is Role.RELATIVE:
            return self.relative_access(node, ranges)
        new = type(node)()
        for fld, value in ast.iter_fields(node):
            if isinstance(value, list):
                value = [self.rewrite(v, ranges) if isinstance(v, ast.AST) else v for v in value]
            elif isinstance(value, ast.AST):
                value = self.rewrite(value, ranges)
            setattr(new, fld, value)
        return ast.copy_location(new, node)

    def loop_range(self, node: ast.For) -> Interval | None | str:
        """The interval a ``range`` loop variable covers; "empty" if it never runs."""
        if self.assigned.get(node.target.id, 0) != 1 or not isinstance(node.iter, ast.Call):
            return None   # also a loop over an array
        values = [self.fold(a) for a in node.iter.args]
        if any(v is UNKNOWN or not isinstance(v, (int, np.integer)) for v in values):
            return None
        try:
            r = range(*(int(v) for v in values))
        except ValueError:
            raise self.kernel.error(node.iter, "range() step must not be zero") from None
        return (min(r), max(r)) if len(r) else "empty"

    def relative_access(self, node: ast.Subscript, ranges) -> ast.expr:
        name = node.value.id
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        location = dict(lineno=node.lineno, col_offset=node.col_offset,
                        end_lineno=node.end_lineno, end_col_offset=node.end_col_offset)
        slices = [isinstance(item, ast.Slice) for item in items]
        if any(slices):
            if not all(slices):
                raise self.kernel.error(node, "a window must slice every axis",
                                        hint="write e.g. x[-1:2, 0:1] instead of x[-1:2, 0]")
            bounds = tuple(self.window_bounds(item) for item in items)
            window = RelativeWindow(name, bounds, **location)
            self.accesses.append(Access(window, node, tuple((a, b - 1) for a, b in bounds)))
            return window
        offsets, checked, intervals = [], [], []
        for axis, item in enumerate(items):
            interval = self.interval(item, ranges)
            if self.fold(item) is not UNKNOWN:   # a constant: interval is (value, value)
                offsets.append(ast.copy_location(ast.Constant(interval[0]), item))
                checked.append(None)
            elif interval is not None:
                offsets.append(self.rewrite(item, ranges))
                checked.append(None)
            elif self.given is None:
                raise self.kernel.error(
                    item, f"cannot bound the offset `{ast.unparse(item)}` on axis {axis} of "
                          f"{name!r} at compile time",
                    hint="use constants, names bound to constants, or variables of "
                         "`for v in range(a, b)` loops with constant bounds; otherwise pass "
                         "neighborhood=((lo, hi), ...)")
            else:
                interval = tuple(self.given[axis])
                offsets.append(self.rewrite(item, ranges))
                checked.append(interval)
            self.check_reach(item, interval)
            intervals.append(interval)
        read = RelativeRead(name, offsets, tuple(checked), **location)
        self.accesses.append(Access(read, node, tuple(intervals)))
        return read

    def window_bounds(self, item: ast.Slice) -> Interval:
        if item.lower is None or item.upper is None:
            raise self.kernel.error(item, "a window needs both bounds, relative to the output "
                                    "point", hint="write e.g. x[-1:2] for the three values "
                                                  "around the point")
        lo, hi = self.fold(item.lower), self.fold(item.upper)
        for bound, node in ((lo, item.lower), (hi, item.upper)):
            if bound is UNKNOWN or not isinstance(bound, (int, np.integer)) \
                    or isinstance(bound, bool):
                raise self.kernel.error(node, "window bounds must be integer constants")
        if lo >= hi:
            raise self.kernel.error(item, f"window {lo}:{hi} is empty")
        self.check_reach(item, (int(lo), int(hi) - 1))
        return int(lo), int(hi)

    def check_reach(self, node: ast.AST, interval: Interval) -> None:
        if max(abs(interval[0]), abs(interval[1])) > MAX_OFFSET:
            raise self.kernel.error(
                node, f"offset {ast.unparse(node)} reaches {interval[0]}..{interval[1]}, past "
                f"the largest offset stencilc supports (±{MAX_OFFSET})",
                hint="a stencil reads a neighbourhood; for a fixed element, pass the array "
                     "with standard_indexing=")

    def interval(self, node: ast.expr, ranges: dict[str, Interval]) -> Interval | None:
        """Bounds of an integer offset expression over the enclosing range() loops."""
        value = self.fold(node)
        if value is not UNKNOWN:
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise self.kernel.error(node, f"offset {ast.unparse(node)} = {value!r} is not "
                                        "an integer")
            return int(value), int(value)
        if isinstance(node, ast.Name) and node.id in ranges:
            return ranges[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.interval(node.operand, ranges)
            if inner is None:
                return None
            return (-inner[1], -inner[0]) if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
            a, b = self.interval(node.left, ranges), self.interval(node.right, ranges)
            if a is None or b is None:
                return None
            if isinstance(node.op, ast.Add):
                return a[0] + b[0], a[1] + b[1]
            if isinstance(node.op, ast.Sub):
                return a[0] - b[1], a[1] - b[0]
            products = [x * y for x in a for y in b]
            return min(products), max(products)
        return None

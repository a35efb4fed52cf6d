"""Python source -> StencilIR: parse, validate, classify arguments, infer the neighbourhood.

This module only *understands* a kernel; it never imports numba and never emits code. Every
rejection is a :class:`StencilSyntaxError` that points at the offending expression.
"""
from __future__ import annotations

import ast
import builtins
import cmath
import inspect
import math
import textwrap
import types
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .errors import StencilSyntaxError
from .ir import (RESERVED_PREFIX, Argument, Interval, RelativeRead, RelativeWindow, Role,
                 StencilIR, constant_node)
from .signature import Layout, parse_layout

#: builtins a kernel may call (``range`` only as a ``for`` iterator).
ALLOWED_BUILTINS = frozenset({"abs", "min", "max", "int", "float", "bool", "complex", "round",
                              "len", "range"})
ALLOWED_MODULES = {np: "numpy", math: "math", cmath: "cmath"}

_ALLOWED_STATEMENTS = (ast.Assign, ast.AugAssign, ast.If, ast.For, ast.Return, ast.Pass,
                       ast.Break, ast.Continue)
_ALLOWED_EXPRESSIONS = (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call,
                        ast.Name, ast.Constant, ast.Subscript, ast.Attribute, ast.Tuple,
                        ast.Slice, ast.keyword)
_OPERATOR_TYPES = (ast.operator, ast.unaryop, ast.boolop, ast.cmpop, ast.expr_context)

_STATEMENT_HINTS = {
    ast.While: "use `for v in range(a, b)` with constant bounds",
    ast.FunctionDef: "define helpers at module level and decorate them with @numba.njit",
    ast.Lambda: "define helpers at module level and decorate them with @numba.njit",
    ast.Import: "import modules at module level; the kernel may use numpy, math and cmath",
    ast.ImportFrom: "import modules at module level; the kernel may use numpy, math and cmath",
    ast.ListComp: "accumulate in a `for` loop, or take a window such as x[-1:2, -1:2]",
    ast.List: "accumulate in a `for` loop, or take a window such as x[-1:2, -1:2]",
    ast.Expr: "a bare expression has no effect; assign it or return it",
    ast.Raise: "a stencil computes a value at every point; it cannot raise",
}


@dataclass(frozen=True)
class KernelSource:
    """Where a kernel's text came from, so errors can point into the user's file."""

    text: str            # dedented source of the function
    filename: str
    firstlineno: int     # line of the ``def`` (or first decorator) in the file
    indent: int          # columns removed by dedenting
    lines: tuple[str, ...]

    def locate(self, node: ast.AST) -> dict:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else None
        return dict(filename=self.filename, lineno=line + self.firstlineno - 1,
                    offset=col + self.indent + 1, text=text)


def read_source(func: Callable) -> KernelSource:
    """The source of ``func``: from its file, an IPython cell, or a pickled copy."""
    filename = inspect.getsourcefile(func) or func.__code__.co_filename
    stored = getattr(func, "__stencilc_source__", None)
    if stored is not None:
        text, filename, firstlineno = stored
    else:
        try:
            source_lines, firstlineno = inspect.getsourcelines(func)
        except (OSError, TypeError) as exc:
            raise StencilSyntaxError(
                f"cannot read the source of kernel {func.__name__!r}",
                filename=filename, lineno=func.__code__.co_firstlineno, offset=1,
                hint="define the kernel in a file, a notebook cell or an IPython session "
                     "(stencilc compiles from the source text)") from exc
        text = "".join(source_lines)
    raw_lines = text.splitlines()
    first = next((line for line in raw_lines if line.strip()), "")
    indent = len(first) - len(first.lstrip())
    dedented = textwrap.dedent(text)
    return KernelSource(dedented, filename, max(firstlineno, 1), indent,
                        tuple(raw_lines))


def parse_kernel(func: Callable, *, signature: str | None = None,
                 neighborhood: Sequence[Interval] | None = None,
                 standard_indexing: Sequence[str] = ()) -> StencilIR:
    """Understand ``func`` as a stencil kernel (DESIGN 1.3) and return its IR."""
    source = read_source(func)
    fdef = _find_function(source, func)
    analysis = _Analysis(func, source, fdef, tuple(standard_indexing), neighborhood)
    return analysis.run(signature)


def _find_function(source: KernelSource, func: Callable) -> ast.FunctionDef:
    try:
        module = ast.parse(source.text)
    except SyntaxError as exc:  # pragma: no cover - Python already compiled this function
        raise StencilSyntaxError(f"cannot parse kernel: {exc.msg}", filename=source.filename,
                                 lineno=exc.lineno, offset=exc.offset) from None
    for node in module.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if isinstance(node, ast.AsyncFunctionDef):
                raise StencilSyntaxError("a kernel cannot be async", **source.locate(node),
                                         hint="remove `async`")
            return node
    raise StencilSyntaxError(
        f"kernel {func.__name__!r} is not a `def` statement", **source.locate(module),
        hint="write the kernel with `def name(x): return ...`; lambdas are not supported")


class _Analysis:
    """One pass over the kernel's AST; builds the IR or raises at the first problem."""

    def __init__(self, func, source: KernelSource, fdef: ast.FunctionDef,
                 standard_indexing: tuple[str, ...], neighborhood):
        self.func = func
        self.source = source
        self.fdef = fdef
        self.standard_indexing = standard_indexing
        self.given_neighborhood = neighborhood
        self.env: dict[str, object] = {}

    # --- helpers ---------------------------------------------------------------------------

    def error(self, node: ast.AST, message: str, hint: str | None = None) -> StencilSyntaxError:
        return StencilSyntaxError(message, hint=hint, **self.source.locate(node))

    def resolve_global(self, name: str) -> tuple[bool, object]:
        """Look a free name up as Python would: closure, then globals, then builtins."""
        code = self.func.__code__
        if name in code.co_freevars and self.func.__closure__:
            cell = self.func.__closure__[code.co_freevars.index(name)]
            try:
                return True, cell.cell_contents
            except ValueError:
                return False, None
        if name in self.func.__globals__:
            return True, self.func.__globals__[name]
        if hasattr(builtins, name):
            return True, getattr(builtins, name)
        return False, None

    # --- the pass --------------------------------------------------------------------------

    def run(self, signature: str | None) -> StencilIR:
        self.check_arguments()
        body = list(self.fdef.body)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]   # docstring
        if not body:
            raise self.error(self.fdef, "kernel has no body", hint="return a value")
        for stmt in body:
            self.check_syntax(stmt)
        self.assigned = _assignment_counts(body)
        for arg in self.arg_names:
            if arg in self.assigned:
                node = self.first_assignment(body, arg)
                raise self.error(node, f"cannot assign to argument {arg!r}: inputs are read-only",
                                 hint="store the value in a new local name")
        self.roles, self.index_counts = self.classify(body)
        self.constants = self.local_constants(body)
        self.nout = self.check_returns(body)
        self.ndim = self.check_ranks(body)
        if self.given_neighborhood is not None:
            self.given_neighborhood = _check_neighborhood(self.given_neighborhood, self.ndim)
        # (IR node, source node, per-axis offset interval) for every relative access
        self.accesses: list[tuple[ast.expr, ast.AST, tuple[Interval, ...]]] = []
        body = [self.rewrite(stmt, {}) for stmt in body]
        neighborhood = self.neighborhood()
        layout = self.layout(signature)
        arguments = tuple(Argument(name, self.roles[name], dims)
                          for name, dims in zip(self.arg_names, layout.inputs))
        return StencilIR(name=self.fdef.name, filename=self.source.filename,
                         firstlineno=self.source.firstlineno, arguments=arguments,
                         body=[ast.fix_missing_locations(s) for s in body], nout=self.nout,
                         ndim=self.ndim, neighborhood=neighborhood, layout=layout,
                         env=self.env, source=self.source.text)

    def check_arguments(self) -> None:
        args = self.fdef.args
        extra = args.vararg or args.kwarg or args.kwonlyargs
        if extra:
            node = args.vararg or args.kwarg or args.kwonlyargs[0]
            raise self.error(node, "a kernel takes plain positional arguments only",
                             hint="name every array and scalar the kernel reads")
        if args.defaults:
            raise self.error(args.defaults[0], "kernel arguments cannot have defaults",
                             hint="pass every argument when calling the stencil")
        self.arg_names = [a.arg for a in args.posonlyargs + args.args]
        if not self.arg_names:
            raise self.error(self.fdef, "a kernel needs at least one array argument")
        for name in self.standard_indexing:
            if name not in self.arg_names:
                raise self.error(self.fdef, f"standard_indexing names {name!r}, which is not an "
                                 f"argument of {self.fdef.name!r}",
                                 hint=f"arguments are {', '.join(self.arg_names)}")

    def first_assignment(self, body, name: str) -> ast.AST:
        for stmt in body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and node.id == name \
                        and isinstance(node.ctx, ast.Store):
                    return node
        return self.fdef  # pragma: no cover

    # --- syntax whitelist -------------------------------------------------------------------

    def check_syntax(self, stmt: ast.stmt) -> None:
        for node in ast.walk(stmt):
            if isinstance(node, ast.stmt) and not isinstance(node, _ALLOWED_STATEMENTS):
                raise self.error(node, f"`{type(node).__name__}` statements are not supported "
                                 "in a stencil kernel", hint=_STATEMENT_HINTS.get(type(node)))
            if isinstance(node, ast.expr) and not isinstance(node, _ALLOWED_EXPRESSIONS):
                raise self.error(node, f"`{type(node).__name__}` expressions are not supported "
                                 "in a stencil kernel", hint=_STATEMENT_HINTS.get(type(node)))
            if isinstance(node, ast.Constant) and not isinstance(
                    node.value, (bool, int, float, complex)):
                raise self.error(node, f"constant {node.value!r} is not a number",
                                 hint="kernels compute numbers; strings, bytes and None "
                                      "are not supported")
            if isinstance(node, ast.Name) and node.id.startswith(RESERVED_PREFIX):
                raise self.error(node, f"names starting with {RESERVED_PREFIX!r} are reserved "
                                 "for generated code", hint="rename the variable")
            if isinstance(node, ast.For):
                self.check_for(node)
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self.check_target(target)
            if isinstance(node, ast.AugAssign):
                self.check_target(node.target, augmented=True)
            if isinstance(node, ast.Return) and node.value is None:
                raise self.error(node, "`return` needs a value", hint="return the output value")
            if isinstance(node, ast.Call) and any(isinstance(a, ast.Starred) for a in node.args):
                raise self.error(node, "star-arguments are not supported")
            if isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.MatMult):
                raise self.error(node, "`@` (matrix product) is not supported in a stencil "
                                 "kernel", hint="kernel values are numbers; use `*`")
            if isinstance(node, ast.Slice) and node.step is not None:
                raise self.error(node.step, "slices with a step are not supported",
                                 hint="write x[-1:2] and index the window")

    def check_target(self, target: ast.expr, augmented: bool = False) -> None:
        if isinstance(target, ast.Name):
            return
        if isinstance(target, ast.Tuple) and not augmented \
                and all(isinstance(e, ast.Name) for e in target.elts):
            return
        if isinstance(target, ast.Subscript):
            base = target.value.id if isinstance(target.value, ast.Name) else None
            if base is not None:
                raise self.error(target, f"cannot assign into {base!r}: stencil inputs are "
                                 "read-only and locals cannot be arrays",
                                 hint="compute into a local name and return it")
        raise self.error(target, "only plain names can be assigned to",
                         hint="assign to a local name such as `acc = ...`")

    def check_for(self, node: ast.For) -> None:
        if node.orelse:
            raise self.error(node.orelse[0], "`for ... else` is not supported")
        if not isinstance(node.target, ast.Name):
            raise self.error(node.target, "the loop variable must be a single name")
        it = node.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
                and it.func.id == "range" and 1 <= len(it.args) <= 3 and not it.keywords):
            raise self.error(it, "kernels loop only over `range(...)`",
                             hint="write `for v in range(a, b)` or `range(a, b, step)`")

    # --- arguments and their roles ------------------------------------------------------------

    def classify(self, body) -> tuple[dict[str, Role], dict[str, int]]:
        roles: dict[str, Role] = {}
        counts: dict[str, int] = {}
        for stmt in body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                        and node.value.id in self.arg_names:
                    name = node.value.id
                    n = len(node.slice.elts) if isinstance(node.slice, ast.Tuple) else 1
                    if name in counts and counts[name] != n and name not in self.standard_indexing:
                        raise self.error(node, f"{name!r} is indexed with {n} indices here but "
                                         f"{counts[name]} elsewhere",
                                         hint="a relatively indexed array gets one offset per "
                                              "dimension everywhere")
                    counts.setdefault(name, n)
        for name in self.arg_names:
            if name in self.standard_indexing:
                roles[name] = Role.STANDARD
            elif name in counts:
                roles[name] = Role.RELATIVE
            else:
                roles[name] = Role.SCALAR
        if Role.RELATIVE not in roles.values():
            raise self.error(self.fdef, f"kernel {self.fdef.name!r} reads no array relatively",
                             hint="index an argument with offsets from the output point, "
                                  "e.g. x[-1] + x[1]")
        return roles, counts

    def check_ranks(self, body) -> int:
        ranks = {self.index_counts[n] for n, r in self.roles.items() if r is Role.RELATIVE}
        if len(ranks) > 1:
            name = next(n for n, r in self.roles.items() if r is Role.RELATIVE
                        and self.index_counts[n] != min(ranks))
            node = next(node for s in body for node in ast.walk(s)
                        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                        and node.value.id == name)
            raise self.error(node, "relatively indexed arrays must all have the same number of "
                             f"dimensions; found {sorted(ranks)}",
                             hint="pass lower-dimensional arrays through standard_indexing")
        return ranks.pop()

    def local_constants(self, body) -> dict[str, object]:
        """Locals assigned once, at the top level, to a constant expression."""
        constants: dict[str, object] = {}
        for stmt in body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
                    and isinstance(stmt.targets[0], ast.Name) \
                    and self.assigned.get(stmt.targets[0].id) == 1:
                value = self.fold(stmt.value, constants)
                if value is not _UNKNOWN:
                    constants[stmt.targets[0].id] = value
        return constants

    def check_returns(self, body) -> int:
        arities = set()
        first = None
        for stmt in body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Return):
                    n = len(node.value.elts) if isinstance(node.value, ast.Tuple) else 1
                    if first is not None and n not in arities:
                        raise self.error(node, f"this `return` gives {n} value(s) but an earlier "
                                         f"one gives {first}",
                                         hint="every return gives the same number of outputs")
                    arities.add(n)
                    first = n if first is None else first
        if first is None:
            raise self.error(self.fdef, f"kernel {self.fdef.name!r} never returns a value",
                             hint="end the kernel with `return <value>`")
        if not _always_returns(body):
            raise self.error(body[-1], "the kernel can finish without returning a value",
                             hint="end every path through the kernel with `return`")
        return first

    # --- constant folding and offset intervals ---------------------------------------------------

    def fold(self, node: ast.expr, constants: dict[str, object]):
        """The value of a constant expression, or _UNKNOWN."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in constants:
                return constants[node.id]
            if node.id not in self.arg_names and node.id not in self.assigned:
                found, value = self.resolve_global(node.id)
                if found and _is_constant(value):
                    return value
            return _UNKNOWN
        if isinstance(node, ast.UnaryOp):
            operand = self.fold(node.operand, constants)
            if operand is _UNKNOWN:
                return _UNKNOWN
            return _apply(_UNARY.get(type(node.op)), operand)
        if isinstance(node, ast.BinOp):
            left, right = self.fold(node.left, constants), self.fold(node.right, constants)
            if left is _UNKNOWN or right is _UNKNOWN:
                return _UNKNOWN
            return _apply(_BINARY.get(type(node.op)), left, right)
        return _UNKNOWN

    def interval(self, node: ast.expr, ranges: dict[str, Interval]) -> Interval | None:
        """Bounds of an integer offset expression over the enclosing range() loops."""
        value = self.fold(node, self.constants)
        if value is not _UNKNOWN:
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise self.error(node, f"offset {ast.unparse(node)} = {value!r} is not an integer")
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

    def loop_range(self, node: ast.For) -> Interval | None | str:
        """The interval a ``range`` loop variable covers; "empty" if it never runs."""
        if self.assigned.get(node.target.id, 0) != 1:
            return None
        values = [self.fold(a, self.constants) for a in node.iter.args]
        if any(v is _UNKNOWN or not isinstance(v, (int, np.integer)) for v in values):
            return None
        try:
            r = range(*(int(v) for v in values))
        except ValueError:
            raise self.error(node.iter, "range() step must not be zero") from None
        return (min(r), max(r)) if len(r) else "empty"

    # --- rewriting accesses ------------------------------------------------------------------------

    def rewrite(self, node: ast.AST, ranges: dict[str, Interval]):
        """Return a copy of ``node`` with relative accesses replaced by IR nodes."""
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
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            return self.rewrite_name(node)
        if isinstance(node, ast.Attribute):
            self.check_attribute(node)
        if isinstance(node, ast.Call):
            self.check_call(node)
        new = type(node)()
        for fld, value in ast.iter_fields(node):
            if isinstance(value, list):
                value = [self.rewrite(v, ranges) if isinstance(v, ast.AST) else v for v in value]
            elif isinstance(value, ast.AST):
                value = self.rewrite(value, ranges)
            setattr(new, fld, value)
        return ast.copy_location(new, node)

    def rewrite_name(self, node: ast.Name) -> ast.expr:
        name = node.id
        if name in self.arg_names:
            if self.roles[name] is Role.RELATIVE:
                raise self.error(node, f"{name!r} is read relatively and must be indexed",
                                 hint=f"write {name}[0{', 0' * (self.ndim - 1)}] for the "
                                      "centre value, or a window such as "
                                      f"{name}[-1:2{', -1:2' * (self.ndim - 1)}]")
            return node
        if name in self.assigned:
            return node
        found, value = self.resolve_global(name)
        if not found:
            raise self.error(node, f"name {name!r} is not defined")
        if _is_constant(value):
            return ast.copy_location(constant_node(value), node)
        if value is getattr(builtins, name, None):
            if name not in ALLOWED_BUILTINS:
                raise self.error(node, f"builtin {name!r} is not supported in a stencil kernel",
                                 hint=f"supported builtins: {', '.join(sorted(ALLOWED_BUILTINS))}")
            return node
        if isinstance(value, types.ModuleType):
            if value not in ALLOWED_MODULES:
                raise self.error(node, f"module {value.__name__!r} cannot be used in a kernel",
                                 hint="kernels may use numpy, math, cmath and @numba.njit "
                                      "functions")
        elif not (_is_jitted(value) or isinstance(value, (np.ufunc, np.ndarray))
                  or _is_module_function(value)):
            raise self.error(node, f"{name!r} ({type(value).__name__}) cannot be used in a "
                             "compiled kernel",
                             hint="call only numba @njit functions, math/numpy functions, or "
                                  "read numeric constants")
        self.env[name] = value
        return node

    def check_attribute(self, node: ast.Attribute) -> None:
        base = node.value
        if node.attr.startswith("_"):
            raise self.error(node, f"attribute {node.attr!r} is not supported in a stencil "
                             "kernel", hint="kernels may read .real, .imag and the public "
                                            "functions of numpy and math")
        if isinstance(base, ast.Name) and self.roles.get(base.id) is Role.RELATIVE:
            raise self.error(node, f"{base.id!r} is read relatively; `{ast.unparse(node)}` "
                             "has no meaning there",
                             hint=f"pass {base.id!r} in standard_indexing to read it whole")
        if isinstance(base, ast.Name) and base.id not in self.arg_names \
                and base.id not in self.assigned:
            found, value = self.resolve_global(base.id)
            if found and isinstance(value, types.ModuleType) and not hasattr(value, node.attr):
                raise self.error(node, f"module {value.__name__!r} has no attribute "
                                 f"{node.attr!r}")

    def check_call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "range":
            if not self.is_loop_iter(node):
                raise self.error(node, "range() can only be iterated by a `for` loop")

    def is_loop_iter(self, call: ast.Call) -> bool:
        return any(isinstance(n, ast.For) and n.iter is call
                   for n in ast.walk(self.fdef))

    def relative_access(self, node: ast.Subscript, ranges) -> ast.expr:
        name = node.value.id
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        location = dict(lineno=node.lineno, col_offset=node.col_offset,
                        end_lineno=node.end_lineno, end_col_offset=node.end_col_offset)
        slices = [isinstance(item, ast.Slice) for item in items]
        if any(slices):
            if not all(slices):
                raise self.error(node, "a window must slice every axis",
                                 hint="write e.g. x[-1:2, 0:1] instead of x[-1:2, 0]")
            bounds = tuple(self.window_bounds(item) for item in items)
            window = RelativeWindow(name, bounds, **location)
            self.accesses.append((window, node, tuple((a, b - 1) for a, b in bounds)))
            return window
        offsets, checked, intervals = [], [], []
        for axis, item in enumerate(items):
            value = self.fold(item, self.constants)
            interval = self.interval(item, ranges)
            if value is not _UNKNOWN:
                offsets.append(ast.copy_location(ast.Constant(interval[0]), item))
                checked.append(None)
            elif interval is not None:
                offsets.append(self.rewrite(item, ranges))
                checked.append(None)
            elif self.given_neighborhood is None:
                raise self.error(item, f"cannot bound the offset `{ast.unparse(item)}` on axis "
                                 f"{axis} of {name!r} at compile time",
                                 hint="use constants, names bound to constants, or variables "
                                      "of `for v in range(a, b)` loops with constant bounds; "
                                      "otherwise pass neighborhood=((lo, hi), ...)")
            else:
                interval = tuple(self.given_neighborhood[axis])
                offsets.append(self.rewrite(item, ranges))
                checked.append(interval)
            intervals.append(interval)
        read = RelativeRead(name, offsets, tuple(checked), **location)
        self.accesses.append((read, node, tuple(intervals)))
        return read

    def window_bounds(self, item: ast.Slice) -> Interval:
        if item.lower is None or item.upper is None:
            raise self.error(item, "a window needs both bounds, relative to the output point",
                             hint="write e.g. x[-1:2] for the three values around the point")
        lo, hi = self.fold(item.lower, self.constants), self.fold(item.upper, self.constants)
        for bound, node in ((lo, item.lower), (hi, item.upper)):
            if bound is _UNKNOWN or not isinstance(bound, (int, np.integer)) \
                    or isinstance(bound, bool):
                raise self.error(node, "window bounds must be integer constants")
        if lo >= hi:
            raise self.error(item, f"window {lo}:{hi} is empty")
        return int(lo), int(hi)

    # --- neighbourhood and layout ----------------------------------------------------------------

    def neighborhood(self) -> tuple[Interval, ...]:
        given = self.given_neighborhood
        lo, hi = [0] * self.ndim, [0] * self.ndim
        for _, node, spans in self.accesses:
            for axis, (a, b) in enumerate(spans):
                if given is not None and (a < given[axis][0] or b > given[axis][1]):
                    raise self.error(node, f"access reaches offsets {a}..{b} on axis {axis}, "
                                     f"outside the given neighborhood {given[axis]}",
                                     hint="widen neighborhood= or drop it to let stencilc "
                                          "infer it")
                lo[axis], hi[axis] = min(lo[axis], a), max(hi[axis], b)
        if given is not None:
            return tuple((min(0, a), max(0, b)) for a, b in given)
        return tuple(zip(lo, hi))

    def layout(self, signature: str | None) -> Layout:
        letters = ["n", "m", "p", "q"] + [f"d{k}" for k in range(4, self.ndim)]
        core = tuple(letters[:self.ndim])
        if signature is None:
            inputs = []
            for name in self.arg_names:
                role = self.roles[name]
                if role is Role.RELATIVE:
                    inputs.append(core)
                elif role is Role.STANDARD:
                    inputs.append(tuple(f"{name}_{k}" for k in range(self.index_counts.get(
                        name, 1))))
                else:
                    inputs.append(())
            return Layout(tuple(inputs), (core,) * self.nout)
        try:
            layout = parse_layout(signature)
        except (TypeError, ValueError) as exc:
            raise self.error(self.fdef, str(exc)) from None
        where = f"signature {signature!r}"
        if len(layout.inputs) != len(self.arg_names):
            raise self.error(self.fdef, f"{where} has {len(layout.inputs)} input(s) but "
                             f"{self.fdef.name!r} takes {len(self.arg_names)} argument(s)")
        if len(layout.outputs) != self.nout:
            raise self.error(self.fdef, f"{where} has {len(layout.outputs)} output(s) but the "
                             f"kernel returns {self.nout} value(s)")
        first_relative = None
        for name, dims in zip(self.arg_names, layout.inputs):
            role = self.roles[name]
            if role is Role.RELATIVE:
                if len(dims) != self.ndim:
                    raise self.error(self.fdef, f"{where} gives {name!r} {len(dims)} core "
                                     f"dimension(s) but the kernel indexes it with {self.ndim}")
                if first_relative is not None and dims != first_relative:
                    raise self.error(self.fdef, f"{where}: relatively indexed arrays must share "
                                     f"core dimensions, but {name!r} has {dims}")
                first_relative = first_relative or dims
            elif role is Role.SCALAR and dims:
                raise self.error(self.fdef, f"{where} gives {name!r} core dimensions {dims} but "
                                 "the kernel never indexes it",
                                 hint="index it relatively, or list it in standard_indexing")
            elif role is Role.STANDARD and name in self.index_counts \
                    and len(dims) != self.index_counts[name]:
                raise self.error(self.fdef, f"{where} gives {name!r} {len(dims)} core "
                                 f"dimension(s) but the kernel indexes it with "
                                 f"{self.index_counts[name]}")
        for dims in layout.outputs:
            if dims != first_relative:
                raise self.error(self.fdef, f"{where}: every output has the core dimensions of "
                                 f"the stencil inputs {first_relative}, not {dims}")
        return layout


# --- small pure helpers ----------------------------------------------------------------------

class _Unknown:
    def __repr__(self) -> str:
        return "<unknown>"


_UNKNOWN = _Unknown()

_UNARY = {ast.USub: lambda a: -a, ast.UAdd: lambda a: +a, ast.Invert: lambda a: ~a,
          ast.Not: lambda a: not a}
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.FloorDiv: lambda a, b: a // b,
           ast.Mod: lambda a, b: a % b, ast.Pow: lambda a, b: a ** b,
           ast.Div: lambda a, b: a / b}


def _apply(op, *operands):
    if op is None:
        return _UNKNOWN
    try:
        return op(*operands)
    except (ArithmeticError, TypeError, ValueError):
        return _UNKNOWN


def _is_constant(value) -> bool:
    if isinstance(value, (bool, int, float, complex, np.number, np.bool_)):
        return True
    return isinstance(value, tuple) and all(_is_constant(v) for v in value)


def _is_jitted(value) -> bool:
    return hasattr(value, "py_func") and hasattr(value, "overloads")


def _is_module_function(value) -> bool:
    module = getattr(value, "__module__", None) or ""
    return isinstance(value, types.BuiltinFunctionType) and module in ("math", "cmath", "numpy")


def _assignment_counts(body) -> dict[str, int]:
    counts: dict[str, int] = {}
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                counts[node.id] = counts.get(node.id, 0) + 1
    return counts


def _always_returns(stmts: list[ast.stmt]) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return):
        return True
    if isinstance(last, ast.If):
        return _always_returns(last.body) and _always_returns(last.orelse)
    return False


def _check_neighborhood(given, ndim: int) -> tuple[Interval, ...]:
    try:
        pairs = tuple((int(lo), int(hi)) for lo, hi in given)
    except (TypeError, ValueError):
        raise ValueError(f"neighborhood must be ((lo, hi), ...) with integers, got {given!r}") \
            from None
    if len(pairs) != ndim:
        raise ValueError(f"neighborhood has {len(pairs)} axes but the kernel indexes {ndim}")
    if any(lo > hi for lo, hi in pairs):
        raise ValueError(f"neighborhood {pairs} has an axis with lo > hi")
    return pairs

"""Target-neutral code generation: what every target's generated module shares.

* :class:`AccessRenderer` turns the IR's relative accesses into plain indexing, for the
  interior (through an :class:`IndexStrategy` the target chooses) or through the boundary rule;
* :func:`emit_point_functions` writes the per-point functions (``_sc_point`` for the interior,
  ``_sc_border`` and its window helpers near the edges) under the target's decorators;
* :class:`Writer` accumulates the module text and maps each generated line to the user's line;
* :func:`emit_header` writes the module docstring and imports, naming the target's runtime
  helper module (and no other target's).

A target adds only how points are laid out: loops on the CPU, thread indices on a GPU.
"""
from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from ..boundary import INDEX_RULES, cast_cval
from ..folding import int_value
from ..ir import (RESERVED_PREFIX as P, Accumulation, RelativeRead, RelativeWindow, Role,
                  StencilIR, WindowReduction, constant_node)
from ..schedules.windows import rolled

def helper(prefix: str, base: str) -> str:
    """The local name of a generated or runtime helper: ``_sc_nearest``, ``_sc_cpu_nearest``
    (a module may hold point functions for two targets, each with its own helpers)."""
    return f"{P}{prefix}{base}"


@dataclass(frozen=True)
class GeneratedModule:
    """The text of one generated module and the names a target compiles from it."""

    source: str
    point: str                  # the interior per-point function (typed to learn dtypes)
    kernels: dict[str, str]     # role -> function name, e.g. {"serial": "smooth"}; per target
    line_map: dict[int, int]    # generated line -> line in the user's file
    fill_inputs: bool = False   # kernels take one fill value per output after the arguments


@dataclass(frozen=True)
class BoundarySpec:
    """The boundary rule of each core axis, and ``cval``.

    A ``None`` axis never reads outside: an output point whose neighbourhood leaves the array
    along a ``None`` axis gets the fill value (``cval`` in the output dtype), which kernels
    take as a run-time input (``_sc_fill0, ...``) because the output dtype is known only after
    typing. Other points near the edges read through the other axes' rules.
    """

    modes: tuple[str | None, ...]
    cval: object

    @property
    def computes_border(self) -> bool:
        """Whether some border points are computed (through ``_sc_border``)."""
        return any(m is not None for m in self.modes)

    @property
    def fills(self) -> bool:
        """Whether some border points take the fill value instead."""
        return any(m is None for m in self.modes)


def name(text: str) -> ast.Name:
    return ast.Name(id=text, ctx=ast.Load())


def plus(base: ast.expr, offset: ast.expr) -> ast.expr:
    """``base + offset`` written the way a person would (``i - 1``, ``i``, ``i + k``)."""
    if isinstance(offset, ast.Constant) and isinstance(offset.value, int):
        if offset.value == 0:
            return base
        op = ast.Sub() if offset.value < 0 else ast.Add()
        return ast.BinOp(left=base, op=op, right=ast.Constant(abs(offset.value)))
    return ast.BinOp(left=base, op=ast.Add(), right=offset)


def index_tuple(items: list[ast.expr]) -> ast.expr:
    return items[0] if len(items) == 1 else ast.Tuple(elts=items, ctx=ast.Load())


def cast_constant(value, dtype: np.dtype, array: str) -> ast.expr:
    """``value`` converted to ``dtype`` by the cval rule, as a typed constant expression."""
    return constant_node(cast_cval(value, dtype, f"the dtype of {array!r}, which mode "
                                                 "'constant' reads outside"))


class IndexStrategy(Protocol):
    """How a target writes the index of an interior read at a constant offset."""

    def interior_index(self, axis: int, offset: int) -> ast.expr: ...

    def prologue(self) -> list[str]:
        """Statements the point function needs first (e.g. hoisted index variables)."""


class PlainIndex:
    """``i + offset``: signed indices, nothing hoisted."""

    def interior_index(self, axis: int, offset: int) -> ast.expr:
        return plus(name(f"{P}i{axis}"), ast.Constant(offset))

    def prologue(self) -> list[str]:
        return []


@dataclass(frozen=True)
class StandardReads:
    """What the renderer needs to check reads of standard_indexing arrays: the arguments,
    the locals holding part of one, and where the user's lines start."""

    arguments: frozenset[str]
    array_locals: dict[str, str]
    firstlineno: int
    kernel: str = ""

    @classmethod
    def of(cls, ir: StencilIR) -> "StandardReads":
        return cls(frozenset(a.name for a in ir.arguments if a.role is Role.STANDARD),
                   dict(ir.array_locals), ir.firstlineno, ir.name)


class AccessRenderer(ast.NodeTransformer):
    """Turns IR accesses into plain indexing, for the interior or through the boundary rule."""

    def __init__(self, ndim: int, border: bool, spec: BoundarySpec, dtypes: dict[str, np.dtype],
                 windows: list[RelativeWindow], index: IndexStrategy,
                 standard: StandardReads | None = None, checks: dict[str, str] | None = None,
                 prefix: str = "", rows: dict[str, str] | None = None,
                 hoisted: dict[str, str] | None = None):
        self.ndim = ndim
        # ruled point functions (emit_point_functions): each border read's rule computed once
        # per function (expression -> variable, for its prologue), and the axes read as is
        # (``None`` mode) indexed in uint64, those functions running only where they are inside
        self.hoisted = hoisted
        self.rows = rows or {}   # reduction's key -> buffer holding the row's values
        self.prefix = prefix     # of the helpers called: this target's, or another's
        self.standard = standard or StandardReads(frozenset(), {}, 1)
        self.checks = {} if checks is None else checks   # message -> index-check helper
        self.border = border
        self.spec = spec
        self.dtypes = dtypes
        self.windows = windows   # border windows need helper functions; collected here
        self.index = index

    def point_index(self, node: RelativeRead) -> list[ast.expr]:
        items = []
        for axis, (offset, checked) in enumerate(zip(node.offsets, node.checked)):
            offset = self.visit(offset)
            if not self.border and checked is None and isinstance(offset, ast.Constant):
                items.append(self.index.interior_index(axis, offset.value))
                continue
            if checked is not None:
                offset = ast.Call(func=name(helper(self.prefix, "checked")),
                                  args=[offset, ast.Constant(checked[0]), ast.Constant(checked[1])],
                                  keywords=[])
            items.append(plus(name(f"{P}i{axis}"), offset))
        return items

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if self.prefix and node.id in NARROW_HELPERS.values():   # another runtime's helper
            return ast.copy_location(ast.Name(id=helper(self.prefix, node.id.removeprefix(P)),
                                              ctx=node.ctx), node)
        return node

    def visit_RelativeRead(self, node: RelativeRead) -> ast.expr:
        items = self.point_index(node)
        array = name(node.array)
        if not self.border:
            return ast.Subscript(value=array, slice=index_tuple(items), ctx=ast.Load())
        return self.border_read(array, items)

    def border_read(self, array: ast.Name, items: list[ast.expr]) -> ast.expr:
        """A read near the edges: remapped along the axes with an index rule, tested along
        the ``constant`` axes (reading ``cval`` outside), as is along ``None`` axes (the
        border store only computes points whose window stays inside along those)."""
        mapped, inside = [], []
        for axis, (item, mode) in enumerate(zip(items, self.spec.modes)):
            n = name(f"{P}n{axis}")
            if mode in INDEX_RULES:
                item = self.hoist(ast.Call(func=name(helper(self.prefix, mode)), args=[item, n],
                                           keywords=[]), item)
            elif mode == "constant":
                inside.append(self.hoist(ast.Compare(left=ast.Constant(0),
                                                     ops=[ast.LtE(), ast.Lt()],
                                                     comparators=[item, n]), item))
            elif self.hoisted is not None:
                item = self.hoist(ast.Call(func=ast.Attribute(value=name(f"{P}np"), attr="uint64",
                                                              ctx=ast.Load()),
                                           args=[item], keywords=[]), item)
            mapped.append(item)
        read = ast.Subscript(value=array, slice=index_tuple(mapped), ctx=ast.Load())
        if not inside:
            return read
        test = inside[0] if len(inside) == 1 else ast.BoolOp(op=ast.And(), values=inside)
        return ast.IfExp(test=test, body=read,
                         orelse=cast_constant(self.spec.cval, self.dtypes[array.id], array.id))

    def hoist(self, value: ast.expr, item: ast.expr) -> ast.expr:
        """``value``, computed from the index ``item``, as a variable of the prologue where
        values are hoisted and ``item`` depends on the point's indices only."""
        indices = {f"{P}i{k}" for k in range(self.ndim)}
        if self.hoisted is None or not all(n.id in indices for n in ast.walk(item)
                                           if isinstance(n, ast.Name)):
            return value
        return name(self.hoisted.setdefault(ast.unparse(value), f"{P}h{len(self.hoisted)}"))

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        """Reads of standard_indexing arrays: an index not known before the call (and any
        index of a local holding part of one) is checked as it happens, against the length
        of its axis; constant indices of the arguments are checked once per call instead."""
        written = getattr(node, "written", None) or ast.unparse(node)
        node = self.generic_visit(node)
        owner = node.value.id if isinstance(node.value, ast.Name) else None
        part_of = self.standard.array_locals.get(owner)
        if part_of is None and owner not in self.standard.arguments:
            return node
        items = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        line = getattr(node, "lineno", 1) + self.standard.firstlineno - 1
        for axis, item in enumerate(items):
            if isinstance(item, ast.Slice) or (part_of is None and int_value(item) is not None):
                continue
            whose = f"{owner!r}" if part_of is None else f"{owner!r} (part of {part_of!r})"
            message = f"stencilc: kernel {self.standard.kernel!r}: {written} (line {line}) " \
                      f"indexes {whose} out of bounds along its axis {axis}"
            check = self.checks.setdefault(message,
                                           helper(self.prefix, f"index{len(self.checks)}"))
            length = ast.Subscript(value=ast.Attribute(value=name(owner), attr="shape",
                                                       ctx=ast.Load()),
                                   slice=ast.Constant(axis), ctx=ast.Load())
            items[axis] = ast.Call(func=name(check), args=[item, length], keywords=[])
        node.slice = index_tuple(items)
        return node

    def visit_Accumulation(self, node: Accumulation) -> ast.stmt | list[ast.stmt]:
        """A large accumulating nest: read from the row buffer the CPU filled, or computed
        here as written."""
        return self._from_row(node) or [self.visit(copy.deepcopy(stmt))
                                         for stmt in node.original]

    def visit_WindowReduction(self, node: WindowReduction) -> ast.stmt | list[ast.stmt]:
        """A large window reduction: read from the row buffer the CPU filled, or computed
        here by a loop over the window."""
        return self._from_row(node) or [self.visit(stmt) for stmt in rolled(node)]

    def _from_row(self, node: Accumulation | WindowReduction) -> ast.stmt | None:
        """``result = buffer[i_last]`` in the interior where a row buffer holds the values."""
        buffer = self.rows.get(node.key)
        if buffer is None or self.border:
            return None
        value = ast.Subscript(value=name(buffer), slice=name(f"{P}i{self.ndim - 1}"),
                              ctx=ast.Load())
        target = ast.Name(id=node.result, ctx=ast.Store())
        return ast.copy_location(ast.Assign(targets=[target], value=value), node)

    def visit_RelativeWindow(self, node: RelativeWindow) -> ast.expr:
        if not self.border:
            items = [ast.Slice(lower=plus(name(f"{P}i{k}"), ast.Constant(lo)),
                               upper=plus(name(f"{P}i{k}"), ast.Constant(hi)))
                     for k, (lo, hi) in enumerate(node.bounds)]
            return ast.Subscript(value=name(node.array), slice=index_tuple(items), ctx=ast.Load())
        self.windows.append(node)
        function = helper(self.prefix, f"window{len(self.windows) - 1}")
        args = [name(node.array)] + [name(f"{P}i{k}") for k in range(self.ndim)] \
            + [name(f"{P}n{k}") for k in range(self.ndim)]
        return ast.Call(func=name(function), args=args, keywords=[])


class Writer:
    """Accumulates source lines and remembers which user line each one came from."""

    def __init__(self, firstlineno: int):
        self.lines: list[str] = []
        self.line_map: dict[int, int] = {}
        self.firstlineno = firstlineno

    def add(self, text: str = "", indent: int = 0, user_line: int | None = None) -> None:
        self.lines.append("    " * indent + text if text else "")
        if user_line is not None:
            self.line_map[len(self.lines)] = user_line + self.firstlineno - 1

    def gap(self) -> None:
        """Two blank lines, as between top-level functions."""
        self.add()
        self.add()

    def statements(self, stmts: list[ast.stmt], indent: int) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.If):
                self.add(f"if {ast.unparse(stmt.test)}:", indent, stmt.lineno)
                self.statements(stmt.body, indent + 1)
                orelse = stmt.orelse
                while len(orelse) == 1 and isinstance(orelse[0], ast.If):
                    branch = orelse[0]
                    self.add(f"elif {ast.unparse(branch.test)}:", indent, branch.lineno)
                    self.statements(branch.body, indent + 1)
                    orelse = branch.orelse
                if orelse:
                    self.add("else:", indent)
                    self.statements(orelse, indent + 1)
            elif isinstance(stmt, ast.For):
                self.add(f"for {ast.unparse(stmt.target)} in {ast.unparse(stmt.iter)}:", indent,
                         stmt.lineno)
                self.statements(stmt.body, indent + 1)
            else:
                for line in ast.unparse(stmt).splitlines():
                    self.add(line, indent, getattr(stmt, "lineno", None))

    @property
    def source(self) -> str:
        return "\n".join(self.lines) + "\n"


#: the integer-narrowing helpers a scheduled body calls (stencilc.schedules.narrowing): runtime
#: name -> the name in the body (another runtime's get its prefix, see :func:`helper`)
NARROW_HELPERS = {"as_type_of": f"{P}as_type_of", "narrow_add": f"{P}nadd",
                  "narrow_sub": f"{P}nsub", "narrow_mul": f"{P}nmul"}


def emit_header(out: Writer, ir: StencilIR, target: str, spec: BoundarySpec,
                dtypes: dict[str, np.dtype], runtime_module: str, env_note: str,
                other_runtimes: dict[str, str] | None = None) -> None:
    """The module docstring, the imports (the target's runtime helpers included), and a note
    naming the globals the kernel reads (so the text, and its cache key, changes with them)."""
    described = ", ".join(f"{arg}: {dt.name}" for arg, dt in dtypes.items())
    out.add(f'"""stencilc-generated {target} kernel for `{ir.name}` '
            f'({ir.filename}:{ir.firstlineno}).')
    out.add()
    modes = spec.modes[0] if len(set(spec.modes)) == 1 else spec.modes
    # cval is in the text (and the cache key) only where the code reads it: a filled border
    # takes it as a run-time input, so changing it there compiles nothing new
    cval = f", cval={spec.cval!r}" if "constant" in spec.modes else ""
    out.add(f"boundary={modes!r}{cval}; argument dtypes {described}.")
    out.add('"""')
    out.add(f"import math as {P}math")
    out.add(f"import numpy as {P}np")
    out.add(f"import numba as {P}numba")
    runtimes = {"": runtime_module, **(other_runtimes or {})}   # helper prefix -> module
    for prefix, module in runtimes.items():
        rules = ", ".join(f"{mode}_index as {helper(prefix, mode)}" for mode in INDEX_RULES)
        out.add(f"from {module} import checked_offset as {helper(prefix, 'checked')}, {rules}")
    if any(isinstance(n, ast.Name) and n.id in NARROW_HELPERS.values()
           for stmt in ir.body for n in ast.walk(stmt)):
        for prefix, module in runtimes.items():
            names = ", ".join(f"{name} as {helper(prefix, local.removeprefix(P))}"
                              for name, local in NARROW_HELPERS.items())
            out.add(f"from {module} import {names}")
    if env_note:
        out.add(f"# names read from the kernel's globals (set by stencilc): {env_note}")


def emit_point_functions(out: Writer, ir: StencilIR, spec: BoundarySpec,
                         dtypes: dict[str, np.dtype], index: IndexStrategy,
                         point_decorator: str, border_decorator: str, *, prefix: str = "",
                         with_border: bool = True,
                         transform: Callable[[list[ast.stmt], bool], list[ast.stmt]] | None
                         = None, rows: tuple[str, IndexStrategy, dict[str, str]] | None = None,
                         row_functions: Callable[[Callable[[], "AccessRenderer"]], None] | None
                         = None,
                         ruled: dict[str, tuple[str, tuple[str | None, ...]]] | None = None
                         ) -> None:
    """``_sc_point`` (interior reads, no boundary logic) and, unless every axis is ``None``,
    ``_sc_border`` with the window helpers its border windows need. ``prefix`` names them
    and the helpers they call (``_sc_cpu_point``); ``transform(body, border)`` rewrites each
    rendered body (the CUDA target makes conversions explicit there). ``rows``
    (decorator, index strategy, result -> buffer) adds ``_sc_point_rows``: the interior point
    reading its large window reductions from row buffers, which it takes after the
    arguments; ``row_functions(make_renderer)`` then writes the functions that fill them,
    rendering with interior renderers that share the index checks of the point functions.
    ``ruled`` (function name -> decorator, modes) adds border point functions applying the
    rules of other modes, ``None`` along the axes they may index as is (in uint64), each rule
    computed once in their prologue: for points known to be inside along the ``None`` axes
    (the CPU's border rows and row ends)."""
    d = ir.ndim
    args = [a.name for a in ir.arguments]
    index_params = [f"{P}i{k}" for k in range(d)]
    shape_params = [f"{P}n{k}" for k in range(d)]
    windows: list[RelativeWindow] = []
    standard = StandardReads.of(ir)
    checks: dict[str, str] = {}

    def point_function(function: str, border: bool, decorator: str,
                       strategy: IndexStrategy | None = None,
                       buffers: dict[str, str] | None = None,
                       modes: tuple[str | None, ...] | None = None) -> None:
        strategy = strategy or (PlainIndex() if border else index)
        rules = spec if modes is None else BoundarySpec(modes, spec.cval)
        hoisted: dict[str, str] | None = None if modes is None else {}
        renderer = AccessRenderer(d, border, rules, dtypes, windows, strategy, standard, checks,
                                  prefix, buffers, hoisted=hoisted)
        body = []
        for stmt in ir.body:
            rendered = renderer.visit(copy.deepcopy(stmt))
            body += rendered if isinstance(rendered, list) else [rendered]
        body = [ast.fix_missing_locations(s) for s in body]
        if transform is not None:
            body = [ast.fix_missing_locations(s) for s in transform(body, border)]
        params = index_params + (shape_params if border else []) + args + \
            list((buffers or {}).values())
        out.gap()
        out.add(decorator)
        out.add(f"def {function}({', '.join(params)}):")
        for line in strategy.prologue():
            out.add(line, 1)
        for value, variable in (hoisted or {}).items():
            out.add(f"{variable} = {value}", 1)
        out.statements(body, 1)

    point_function(helper(prefix, "point"), False, point_decorator)
    if rows is not None:
        point_function(helper(prefix, "point_rows"), False, rows[0], rows[1], rows[2])
    if row_functions is not None:
        row_functions(lambda: AccessRenderer(d, False, spec, dtypes, windows, PlainIndex(),
                                             standard, checks, prefix))
    for function, (decorator, modes) in (ruled or {}).items():
        point_function(function, True, decorator, modes=modes)
    if spec.computes_border and with_border:
        point_function(helper(prefix, "border"), True, border_decorator)
        for number, window in enumerate(windows):
            _window_helper(out, border_decorator, number, window, d, spec, dtypes, prefix)
    for message, function in checks.items():
        _index_check(out, border_decorator, function, message)


def _index_check(out: Writer, decorator: str, function: str, message: str) -> None:
    """An index check for one read: numba raises only constant messages, so each read that
    needs one gets its own, naming the read."""
    out.gap()
    out.add(decorator)
    out.add(f"def {function}(index, n):")
    out.add("if index < -n or index >= n:", 1)
    out.add(f"raise IndexError({message!r})", 2)
    out.add("return index", 1)


def _window_helper(out: Writer, decorator: str, number: int, window: RelativeWindow, d: int,
                   spec: BoundarySpec, dtypes, prefix: str) -> None:
    """A function that builds a window near the border, reading through the boundary rule."""
    renderer = AccessRenderer(d, True, spec, dtypes, [], PlainIndex(), prefix=prefix)
    offsets = [plus(name(f"{P}a{k}"), ast.Constant(lo)) for k, (lo, _) in enumerate(window.bounds)]
    read = renderer.border_read(
        name(window.array), [plus(name(f"{P}i{k}"), o) for k, o in enumerate(offsets)])
    shape = ", ".join(str(hi - lo) for lo, hi in window.bounds) + ("," if d == 1 else "")
    params = [window.array] + [f"{P}i{k}" for k in range(d)] + [f"{P}n{k}" for k in range(d)]
    out.gap()
    out.add(decorator)
    out.add(f"def {helper(prefix, f'window{number}')}({', '.join(params)}):")
    out.add(f"{P}w = {P}np.empty(({shape}), {window.array}.dtype)", 1)
    for k, (lo, hi) in enumerate(window.bounds):
        out.add(f"for {P}a{k} in range({hi - lo}):", 1 + k)
    where = ", ".join(f"{P}a{k}" for k in range(d))
    out.add(f"{P}w[{where}] = {ast.unparse(ast.fix_missing_locations(read))}", 1 + d)
    out.add(f"return {P}w", 1)


def fill_params(ir: StencilIR, spec: BoundarySpec) -> list[str]:
    """The fill-value inputs (one per output) kernels take after the arguments, if any."""
    return [f"{P}fill{k}" for k in range(ir.nout)] if spec.fills else []


def inside_none_axes(ir: StencilIR, spec: BoundarySpec) -> str | None:
    """The test that the point ``_sc_i0, ...`` has its whole neighbourhood inside the array
    along every ``None`` axis (so it is computed, not filled); None if that always holds."""
    tests = []
    for axis, (mode, (lo, hi)) in enumerate(zip(spec.modes, ir.neighborhood)):
        if mode is None and (lo < 0 or hi > 0):
            tests.append(f"{max(0, -lo)} <= {P}i{axis} < {P}n{axis} - {max(0, hi)}")
    return " and ".join(tests) if tests else None


def _point_index(ir: StencilIR) -> str:
    return ", ".join(f"{P}i{k}" for k in range(ir.ndim))


def store_point(ir: StencilIR, call: str) -> list[str]:
    """The statements that store the value(s) of ``call`` into the outputs ``_sc_out0, ...``
    at ``_sc_i0, ...`` (every target writes outputs the same way)."""
    idx = _point_index(ir)
    outs = [f"{P}out{k}" for k in range(ir.nout)]
    if ir.nout == 1:
        return [f"{outs[0]}[{idx}] = {call}"]
    return [f"{P}v = {call}"] + [f"{o}[{idx}] = {P}v[{k}]" for k, o in enumerate(outs)]


def border_stores(ir: StencilIR, spec: BoundarySpec, computed: list[str]) -> list[str]:
    """The statements for one border point: ``computed`` (statements computing and storing it)
    where its window stays inside along every ``None`` axis, else the fill values."""
    fill = [f"{P}out{k}[{_point_index(ir)}] = {f}" for k, f in enumerate(fill_params(ir, spec))]
    if not spec.computes_border:
        return fill
    test = inside_none_axes(ir, spec)
    if test is None:
        return computed
    return [f"if {test}:"] + ["    " + s for s in computed] + ["else:"] + \
        ["    " + s for s in fill]


def point_stores(ir: StencilIR, spec: BoundarySpec) -> tuple[list[str], list[str]]:
    """The statements that store one interior point (through ``_sc_point``) and one border
    point (through ``_sc_border``, or the fill values)."""
    args = ", ".join(a.name for a in ir.arguments)
    idx = _point_index(ir)
    shapes = ", ".join(f"{P}n{k}" for k in range(ir.ndim))
    return (store_point(ir, f"{P}point({idx}, {args})"),
            border_stores(ir, spec, store_point(ir, f"{P}border({idx}, {shapes}, {args})")))

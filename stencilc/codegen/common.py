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
from typing import Protocol

import numpy as np

from ..boundary import INDEX_RULES, outside_value
from ..ir import RESERVED_PREFIX as P, RelativeRead, RelativeWindow, StencilIR, constant_node

#: the local name each boundary rule's runtime helper is imported under
RULE_NAMES = {mode: f"{P}{mode}" for mode in INDEX_RULES}


@dataclass(frozen=True)
class GeneratedModule:
    """The text of one generated module and the names a target compiles from it."""

    source: str
    point: str                  # the interior per-point function (typed to learn dtypes)
    kernels: dict[str, str]     # role -> function name, e.g. {"serial": "smooth"}; per target
    line_map: dict[int, int]    # generated line -> line in the user's file


@dataclass(frozen=True)
class BoundarySpec:
    boundary: str | None
    cval: object


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


def cast_constant(value, dtype: np.dtype) -> ast.expr:
    """``value`` converted to ``dtype`` as a C cast would, as a typed constant expression."""
    return constant_node(dtype.type(outside_value(value, dtype)))


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


class AccessRenderer(ast.NodeTransformer):
    """Turns IR accesses into plain indexing, for the interior or through the boundary rule."""

    def __init__(self, ndim: int, border: bool, spec: BoundarySpec, dtypes: dict[str, np.dtype],
                 windows: list[RelativeWindow], index: IndexStrategy):
        self.ndim = ndim
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
                offset = ast.Call(func=name(f"{P}checked"),
                                  args=[offset, ast.Constant(checked[0]), ast.Constant(checked[1])],
                                  keywords=[])
            items.append(plus(name(f"{P}i{axis}"), offset))
        return items

    def visit_RelativeRead(self, node: RelativeRead) -> ast.expr:
        items = self.point_index(node)
        array = name(node.array)
        if not self.border:
            return ast.Subscript(value=array, slice=index_tuple(items), ctx=ast.Load())
        return self.border_read(array, items)

    def border_read(self, array: ast.Name, items: list[ast.expr]) -> ast.expr:
        mode = self.spec.boundary
        if mode == "constant":
            inside = [ast.Compare(left=ast.Constant(0), ops=[ast.LtE(), ast.Lt()],
                                  comparators=[item, name(f"{P}n{axis}")])
                      for axis, item in enumerate(items)]
            test = inside[0] if len(inside) == 1 else ast.BoolOp(op=ast.And(), values=inside)
            read = ast.Subscript(value=array, slice=index_tuple(items), ctx=ast.Load())
            return ast.IfExp(test=test, body=read,
                             orelse=cast_constant(self.spec.cval, self.dtypes[array.id]))
        mapped = [ast.Call(func=name(RULE_NAMES[mode]), args=[item, name(f"{P}n{axis}")],
                           keywords=[])
                  for axis, item in enumerate(items)]
        return ast.Subscript(value=array, slice=index_tuple(mapped), ctx=ast.Load())

    def visit_RelativeWindow(self, node: RelativeWindow) -> ast.expr:
        if not self.border:
            items = [ast.Slice(lower=plus(name(f"{P}i{k}"), ast.Constant(lo)),
                               upper=plus(name(f"{P}i{k}"), ast.Constant(hi)))
                     for k, (lo, hi) in enumerate(node.bounds)]
            return ast.Subscript(value=name(node.array), slice=index_tuple(items), ctx=ast.Load())
        self.windows.append(node)
        helper = f"{P}window{len(self.windows) - 1}"
        args = [name(node.array)] + [name(f"{P}i{k}") for k in range(self.ndim)] \
            + [name(f"{P}n{k}") for k in range(self.ndim)]
        return ast.Call(func=name(helper), args=args, keywords=[])


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


def emit_header(out: Writer, ir: StencilIR, target: str, spec: BoundarySpec,
                dtypes: dict[str, np.dtype], runtime_module: str, env_note: str) -> None:
    """The module docstring, the imports (the target's runtime helpers included), and a note
    naming the globals the kernel reads (so the text, and its cache key, changes with them)."""
    described = ", ".join(f"{arg}: {dt.name}" for arg, dt in dtypes.items())
    out.add(f'"""stencilc-generated {target} kernel for `{ir.name}` '
            f'({ir.filename}:{ir.firstlineno}).')
    out.add()
    out.add(f"boundary={spec.boundary!r}, cval={spec.cval!r}; argument dtypes {described}.")
    out.add('"""')
    out.add(f"import math as {P}math")
    out.add(f"import numpy as {P}np")
    out.add(f"import numba as {P}numba")
    rules = ", ".join(f"{mode}_index as {local}" for mode, local in RULE_NAMES.items())
    out.add(f"from {runtime_module} import checked_offset as {P}checked, {rules}")
    if env_note:
        out.add(f"# names read from the kernel's globals (set by stencilc): {env_note}")


def emit_point_functions(out: Writer, ir: StencilIR, spec: BoundarySpec,
                         dtypes: dict[str, np.dtype], index: IndexStrategy,
                         point_decorator: str, border_decorator: str) -> None:
    """``_sc_point`` (interior reads, no boundary logic) and, unless ``boundary=None``,
    ``_sc_border`` with the window helpers its border windows need."""
    d = ir.ndim
    args = [a.name for a in ir.arguments]
    index_params = [f"{P}i{k}" for k in range(d)]
    shape_params = [f"{P}n{k}" for k in range(d)]
    windows: list[RelativeWindow] = []

    def point_function(function: str, border: bool, decorator: str) -> None:
        strategy = PlainIndex() if border else index
        renderer = AccessRenderer(d, border, spec, dtypes, windows, strategy)
        body = [ast.fix_missing_locations(renderer.visit(copy.deepcopy(s))) for s in ir.body]
        params = index_params + (shape_params if border else []) + args
        out.gap()
        out.add(decorator)
        out.add(f"def {function}({', '.join(params)}):")
        for line in strategy.prologue():
            out.add(line, 1)
        out.statements(body, 1)

    point_function(f"{P}point", False, point_decorator)
    if spec.boundary is not None:
        point_function(f"{P}border", True, border_decorator)
        for number, window in enumerate(windows):
            _window_helper(out, border_decorator, number, window, d, spec, dtypes)


def _window_helper(out: Writer, decorator: str, number: int, window: RelativeWindow, d: int,
                   spec: BoundarySpec, dtypes) -> None:
    """A function that builds a window near the border, reading through the boundary rule."""
    renderer = AccessRenderer(d, True, spec, dtypes, [], PlainIndex())
    offsets = [plus(name(f"{P}a{k}"), ast.Constant(lo)) for k, (lo, _) in enumerate(window.bounds)]
    read = renderer.border_read(
        name(window.array), [plus(name(f"{P}i{k}"), o) for k, o in enumerate(offsets)])
    shape = ", ".join(str(hi - lo) for lo, hi in window.bounds) + ("," if d == 1 else "")
    params = [window.array] + [f"{P}i{k}" for k in range(d)] + [f"{P}n{k}" for k in range(d)]
    out.gap()
    out.add(decorator)
    out.add(f"def {P}window{number}({', '.join(params)}):")
    out.add(f"{P}w = {P}np.empty(({shape}), {window.array}.dtype)", 1)
    for k, (lo, hi) in enumerate(window.bounds):
        out.add(f"for {P}a{k} in range({hi - lo}):", 1 + k)
    where = ", ".join(f"{P}a{k}" for k in range(d))
    out.add(f"{P}w[{where}] = {ast.unparse(ast.fix_missing_locations(read))}", 1 + d)
    out.add(f"return {P}w", 1)


def point_stores(ir: StencilIR, spec: BoundarySpec) -> tuple[list[str], list[str]]:
    """The statements that store one interior point and one border point into the outputs
    ``_sc_out0, ...`` at ``_sc_i0, ...`` (every target writes outputs the same way)."""
    d = ir.ndim
    args = ", ".join(a.name for a in ir.arguments)
    outs = [f"{P}out{k}" for k in range(ir.nout)]
    idx = ", ".join(f"{P}i{k}" for k in range(d))
    shapes = ", ".join(f"{P}n{k}" for k in range(d))

    def store(call: str) -> list[str]:
        if ir.nout == 1:
            return [f"{outs[0]}[{idx}] = {call}"]
        return [f"{P}v = {call}"] + [f"{o}[{idx}] = {P}v[{k}]" for k, o in enumerate(outs)]

    interior = store(f"{P}point({idx}, {args})")
    if spec.boundary is not None:
        border = store(f"{P}border({idx}, {shapes}, {args})")
    else:
        cval = ast.unparse(constant_node(spec.cval))
        border = [f"{o}[{idx}] = {cval}" for o in outs]
    return interior, border

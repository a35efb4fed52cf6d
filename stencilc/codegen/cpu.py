"""CPU code generation: one readable Python module of numba functions per specialization.

The module holds
  * ``_sc_point``: the kernel body evaluated at one interior point, reads indexed directly
    (in uint64, so numba adds no negative-index wraparound) and inlined by numba into the nest;
  * ``_sc_border``: the same body with every read passed through the boundary rule
    (absent for ``boundary=None``, whose border points are set to ``cval``);
  * ``_sc_edge``: the border points of one box, which the nest calls for every border slab;
  * the loop nest, named after the kernel, that ``numba.guvectorize`` turns into the gufunc:
    every axis runs as border slab / interior / border slab, so the innermost interior loop
    carries no boundary logic and LLVM vectorizes it; for ``target="parallel"`` also
    ``_sc_rows``, the same nest with its outermost interior loop under ``prange``.
"""
from __future__ import annotations

import ast
import copy
from dataclasses import dataclass

import numpy as np

from ..boundary import INDEX_RULES, outside_value
from ..optimize import simplify
from ..ir import (RESERVED_PREFIX as P, RelativeRead, RelativeWindow, StencilIR,
                  constant_node)

#: runtime helper each boundary rule is compiled as, imported under this local name
_RULE_NAMES = {mode: f"{P}{mode}" for mode in INDEX_RULES}


@dataclass(frozen=True)
class GeneratedModule:
    source: str
    kernel: str                 # the serial loop nest that numba.guvectorize compiles
    rows_kernel: str | None     # parallel target: the nest that splits one block's rows
    point: str                  # the interior per-point function (typed to learn dtypes)
    line_map: dict[int, int]    # generated line -> line in the user's file


@dataclass(frozen=True)
class CpuOptions:
    boundary: str | None
    cval: object
    fastmath: bool
    parallel: bool = False


def _name(text: str) -> ast.Name:
    return ast.Name(id=text, ctx=ast.Load())


def _plus(base: ast.expr, offset: ast.expr) -> ast.expr:
    """``base + offset`` written the way a person would (``i - 1``, ``i``, ``i + k``)."""
    if isinstance(offset, ast.Constant) and isinstance(offset.value, int):
        if offset.value == 0:
            return base
        op = ast.Sub() if offset.value < 0 else ast.Add()
        return ast.BinOp(left=base, op=op, right=ast.Constant(abs(offset.value)))
    return ast.BinOp(left=base, op=ast.Add(), right=offset)


def _uint64(value: ast.expr) -> ast.expr:
    return ast.Call(func=ast.Attribute(value=_name(f"{P}np"), attr="uint64", ctx=ast.Load()),
                    args=[value], keywords=[])


def _unsigned_plus(axis: int, offset: int) -> ast.expr:
    """An interior index ``i + offset`` computed in uint64. numba wraps negative signed
    indices around (a select per read); LLVM cannot always prove an interior index is
    non-negative, and then gathers instead of loading vectors. Unsigned indices need no
    wraparound, and interior indices are never negative."""
    base = _uint64(_name(f"{P}i{axis}"))
    if offset == 0:
        return base
    op = ast.Sub() if offset < 0 else ast.Add()
    return ast.BinOp(left=base, op=op, right=_uint64(ast.Constant(abs(offset))))


def _index(items: list[ast.expr]) -> ast.expr:
    return items[0] if len(items) == 1 else ast.Tuple(elts=items, ctx=ast.Load())


def cast_constant(value, dtype: np.dtype) -> ast.expr:
    """``value`` converted to ``dtype`` as a C cast would, as a typed constant expression."""
    return constant_node(dtype.type(outside_value(value, dtype)))


class _AccessRenderer(ast.NodeTransformer):
    """Turns IR accesses into plain indexing, for the interior or through the boundary rule."""

    def __init__(self, ndim: int, border: bool, options: CpuOptions, dtypes: dict[str, np.dtype],
                 windows: list[RelativeWindow]):
        self.ndim = ndim
        self.border = border
        self.options = options
        self.dtypes = dtypes
        self.windows = windows   # border windows need helper functions; collected here

    def point_index(self, node: RelativeRead) -> list[ast.expr]:
        items = []
        for axis, (offset, checked) in enumerate(zip(node.offsets, node.checked)):
            offset = self.visit(offset)
            if not self.border and checked is None and isinstance(offset, ast.Constant):
                items.append(_unsigned_plus(axis, offset.value))
                continue
            if checked is not None:
                offset = ast.Call(func=_name(f"{P}checked"),
                                  args=[offset, ast.Constant(checked[0]), ast.Constant(checked[1])],
                                  keywords=[])
            items.append(_plus(_name(f"{P}i{axis}"), offset))
        return items

    def visit_RelativeRead(self, node: RelativeRead) -> ast.expr:
        items = self.point_index(node)
        array = _name(node.array)
        if not self.border:
            return ast.Subscript(value=array, slice=_index(items), ctx=ast.Load())
        return self.border_read(array, items)

    def border_read(self, array: ast.Name, items: list[ast.expr]) -> ast.expr:
        mode = self.options.boundary
        if mode == "constant":
            inside = [ast.Compare(left=ast.Constant(0), ops=[ast.LtE(), ast.Lt()],
                                  comparators=[item, _name(f"{P}n{axis}")])
                      for axis, item in enumerate(items)]
            test = inside[0] if len(inside) == 1 else ast.BoolOp(op=ast.And(), values=inside)
            read = ast.Subscript(value=array, slice=_index(items), ctx=ast.Load())
            return ast.IfExp(test=test, body=read,
                             orelse=cast_constant(self.options.cval, self.dtypes[array.id]))
        rule = _RULE_NAMES[mode]
        mapped = [ast.Call(func=_name(rule), args=[item, _name(f"{P}n{axis}")], keywords=[])
                  for axis, item in enumerate(items)]
        return ast.Subscript(value=array, slice=_index(mapped), ctx=ast.Load())

    def visit_RelativeWindow(self, node: RelativeWindow) -> ast.expr:
        if not self.border:
            items = [ast.Slice(lower=_plus(_name(f"{P}i{k}"), ast.Constant(lo)),
                               upper=_plus(_name(f"{P}i{k}"), ast.Constant(hi)))
                     for k, (lo, hi) in enumerate(node.bounds)]
            return ast.Subscript(value=_name(node.array), slice=_index(items), ctx=ast.Load())
        self.windows.append(node)
        helper = f"{P}window{len(self.windows) - 1}"
        args = [_name(node.array)] + [_name(f"{P}i{k}") for k in range(self.ndim)] \
            + [_name(f"{P}n{k}") for k in range(self.ndim)]
        return ast.Call(func=_name(helper), args=args, keywords=[])


class _Writer:
    """Accumulates source lines and remembers which user line each one came from."""

    def __init__(self, firstlineno: int):
        self.lines: list[str] = []
        self.line_map: dict[int, int] = {}
        self.firstlineno = firstlineno

    def add(self, text: str = "", indent: int = 0, user_line: int | None = None) -> None:
        self.lines.append("    " * indent + text if text else "")
        if user_line is not None:
            self.line_map[len(self.lines)] = user_line + self.firstlineno - 1

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
                    self.add(line, indent, stmt.lineno)

    @property
    def source(self) -> str:
        return "\n".join(self.lines) + "\n"


def generate_cpu(ir: StencilIR, options: CpuOptions, arg_dtypes: tuple[np.dtype, ...],
                 env_note: str = "") -> GeneratedModule:
    """The module source for ``ir`` specialized on ``arg_dtypes`` (one per argument)."""
    dtypes = {a.name: np.dtype(d) for a, d in zip(ir.arguments, arg_dtypes)}
    args = [a.name for a in ir.arguments]
    d = ir.ndim
    out = _Writer(ir.firstlineno)
    described = ", ".join(f"{name}: {dt.name}" for name, dt in dtypes.items())
    out.add('"""stencilc-generated CPU kernel for '
            f'`{ir.name}` ({ir.filename}:{ir.firstlineno}).')
    out.add()
    out.add(f"boundary={options.boundary!r}, cval={options.cval!r}, "
            f"{'parallel' if options.parallel else 'cpu'} target; argument dtypes {described}.")
    out.add('"""')
    out.add("import math as _sc_math")
    out.add("import numpy as _sc_np")
    out.add("import numba as _sc_numba")
    rules = ", ".join(f"{mode}_index as {name}" for mode, name in _RULE_NAMES.items())
    out.add(f"from stencilc.runtime import checked_offset as {P}checked, {rules}")
    out.add("# numba caches compiled code only for modules imported from a file")
    out.add(f"{P}CACHE = __file__.endswith('.py')")
    if env_note:
        out.add(f"# names read from the kernel's globals (set by stencilc): {env_note}")
    jit = f"@_sc_numba.njit(cache={P}CACHE, fastmath={options.fastmath}, error_model='numpy')"

    windows: list[RelativeWindow] = []
    index_params = [f"{P}i{k}" for k in range(d)]
    shape_params = [f"{P}n{k}" for k in range(d)]

    simplified = simplify(ir.body, ir.env)

    def point_function(name: str, border: bool) -> None:
        renderer = _AccessRenderer(d, border, options, dtypes, windows)
        body = [renderer.visit(copy.deepcopy(s)) for s in simplified]
        params = index_params + (shape_params if border else []) + args
        out.add()
        out.add()
        if border:
            out.add(jit)
        else:
            # numba inlines the interior point into the loop nest itself: LLVM's own inliner
            # gives up on large bodies (a 5x5 kernel), and a call per point never vectorizes.
            out.add(jit.replace("njit(", "njit(inline='always', "))
        out.add(f"def {name}({', '.join(params)}):")
        out.statements([ast.fix_missing_locations(s) for s in body], 1)

    point_function(f"{P}point", border=False)
    has_border = options.boundary is not None
    if has_border:
        point_function(f"{P}border", border=True)
        for number, window in enumerate(windows):
            _window_helper(out, jit, number, window, d, options, dtypes)

    interior, border = _point_stores(ir, options, args, has_border)
    _edge_function(out, jit, ir, args, border)
    _loop_nest(out, ir.name, ir, options, args, interior, parallel=False)
    rows_kernel = None
    if options.parallel:
        rows_kernel = f"{P}rows"
        _loop_nest(out, f"{P}ploops", ir, options, args, interior, parallel=True)
        params = ", ".join(args + [f"{P}out{k}" for k in range(ir.nout)])
        out.add()
        out.add()
        out.add(f"def {rows_kernel}({params}):")
        out.add(f"{P}ploops({params})", 1)
    return GeneratedModule(out.source, ir.name, rows_kernel, f"{P}point", out.line_map)


def _window_helper(out: _Writer, jit: str, number: int, window: RelativeWindow, d: int,
                   options: CpuOptions, dtypes) -> None:
    """A function that builds a window near the border, reading through the boundary rule."""
    renderer = _AccessRenderer(d, True, options, dtypes, [])
    offsets = [_plus(_name(f"{P}a{k}"), ast.Constant(lo)) for k, (lo, _) in enumerate(window.bounds)]
    read = renderer.border_read(
        _name(window.array), [_plus(_name(f"{P}i{k}"), o) for k, o in enumerate(offsets)])
    shape = ", ".join(str(hi - lo) for lo, hi in window.bounds) + ("," if d == 1 else "")
    params = [window.array] + [f"{P}i{k}" for k in range(d)] + [f"{P}n{k}" for k in range(d)]
    out.add()
    out.add()
    out.add(jit)
    out.add(f"def {P}window{number}({', '.join(params)}):")
    out.add(f"{P}w = _sc_np.empty(({shape}), {window.array}.dtype)", 1)
    for k, (lo, hi) in enumerate(window.bounds):
        out.add(f"for {P}a{k} in range({hi - lo}):", 1 + k)
    where = ", ".join(f"{P}a{k}" for k in range(d))
    out.add(f"{P}w[{where}] = {ast.unparse(ast.fix_missing_locations(read))}", 1 + d)
    out.add(f"return {P}w", 1)


def _point_stores(ir: StencilIR, options: CpuOptions, args: list[str],
                  has_border: bool) -> tuple[list[str], list[str]]:
    """The statements that store one interior point and one border point."""
    d = ir.ndim
    outs = [f"{P}out{k}" for k in range(ir.nout)]
    idx = ", ".join(f"{P}i{k}" for k in range(d))
    shapes = ", ".join(f"{P}n{k}" for k in range(d))

    def store(call: str) -> list[str]:
        if ir.nout == 1:
            return [f"{outs[0]}[{idx}] = {call}"]
        return [f"{P}v = {call}"] + [f"{o}[{idx}] = {P}v[{k}]" for k, o in enumerate(outs)]

    interior = store(f"{P}point({idx}, {', '.join(args)})")
    if has_border:
        border = store(f"{P}border({idx}, {shapes}, {', '.join(args)})")
    else:
        cval = ast.unparse(constant_node(options.cval))
        border = [f"{o}[{idx}] = {cval}" for o in outs]
    return interior, border


def _edge_function(out: _Writer, jit: str, ir: StencilIR, args: list[str],
                   border: list[str]) -> None:
    """``_sc_edge``: the border points in one box ``[b0, e0) x [b1, e1) ...``. The loop nest
    calls it for every border slab, so the border body appears once in the module rather
    than once per slab (2 x ndim of them)."""
    d = ir.ndim
    bounds = [f"{P}{w}{k}" for k in range(d) for w in "be"]
    params = bounds + [f"{P}n{k}" for k in range(d)] + args + \
        [f"{P}out{k}" for k in range(ir.nout)]
    out.add()
    out.add()
    out.add(jit)
    out.add(f"def {P}edge({', '.join(params)}):")
    for k in range(d):
        out.add(f"for {P}i{k} in range({P}b{k}, {P}e{k}):", 1 + k)
    for line in border:
        out.add(line, 1 + d)


def _loop_nest(out: _Writer, name: str, ir: StencilIR, options: CpuOptions, args: list[str],
               interior: list[str], parallel: bool) -> None:
    """The loop nest over one core block, as an njit function ``name``: every axis runs as
    border slab / interior / border slab, so the innermost interior loop holds no boundary
    logic (a branch on an outer index around it kept LLVM from vectorizing 5x5 kernels).
    ``parallel``: numba splits the outermost interior loop across threads (the rows of one
    image)."""
    d = ir.ndim
    outs = [f"{P}out{k}" for k in range(ir.nout)]
    shapes = ", ".join(f"{P}n{k}" for k in range(d))
    out.add()
    out.add()
    if parallel:   # the serial nest is the gufunc kernel itself; guvectorize compiles it
        out.add(f"@_sc_numba.njit(parallel=True, cache={P}CACHE, "
                f"fastmath={options.fastmath}, error_model='numpy')")
    out.add(f"def {name}({', '.join(args + outs)}):")
    out.add(f"{shapes}{',' if d == 1 else ''} = {outs[0]}.shape", 1)
    # The interior starts at a literal, so LLVM can prove every interior read's index is
    # non-negative.
    lows = [max(0, -lo) for lo, _ in ir.neighborhood]
    for k, (_, hi) in enumerate(ir.neighborhood):
        out.add(f"{P}hi{k} = max({lows[k]}, {P}n{k} - {max(0, hi)})", 1)

    def edge(k: int, begin: str, end: str, indent: int) -> None:
        box = [f"{P}i{a}, {P}i{a} + 1" for a in range(k)] + [f"{begin}, {end}"] + \
            [f"0, {P}n{a}" for a in range(k + 1, d)]
        out.add(f"{P}edge({', '.join(box)}, {shapes}, {', '.join(args + outs)})", indent)

    def split_axis(k: int, indent: int) -> None:
        edge(k, "0", f"min({lows[k]}, {P}n{k})", indent)
        if parallel and k == 0:
            # numba types a prange index as uint64, and uint64 - int64 is float64 in its
            # (NumPy's) promotion rules (numba issues #5801, #7495): use a signed copy.
            out.add(f"for {P}t0 in _sc_numba.prange({lows[0]}, {P}hi0):", indent)
            out.add(f"{P}i0 = _sc_np.intp({P}t0)", indent + 1)
        else:
            out.add(f"for {P}i{k} in range({lows[k]}, {P}hi{k}):", indent)
        if k == d - 1:
            for line in interior:
                out.add(line, indent + 1)
        else:
            split_axis(k + 1, indent + 1)
        edge(k, f"{P}hi{k}", f"{P}n{k}", indent)

    split_axis(0, 1)

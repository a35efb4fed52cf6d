"""The CPU's large window reductions, a row of output points at a time.

A window reduction too large to write out (:class:`~stencilc.ir.WindowReduction`, more than
49 cells) computed point by point is a loop over the window inside the loop over points:
LLVM vectorizes the inner loop, a reduction it may not reorder for floats, and the points one
at a time. Here the interior point function reads the reduction from a buffer (``_sc_rw<k>``)
that ``_sc_rows<k>`` fills for a whole row of points first, with loops whose innermost runs
along the row (vector lanes hold neighbouring points) in one of two ways
(:func:`stencilc.schedules.windows.row_method`):

* ``separable``: for every column the row needs, the window's leading axes reduced into
  ``_sc_rv<k>`` (one pass over the input rows, in C order), then the last axis over those
  columns: 15 + 15 operations a point for 15x15 instead of 225. Used where the order cannot
  change the result; min and max of floats keep the rank of each column's winner
  (``_sc_rr<k>``), so ties and NaNs resolve as numba's C-order loop resolves them.
* ``ordered``: each point's operations in C order, rows of the window outermost, the
  last-axis taps written out inside the loop over the row: numba's order, point by point.
* ``histogram``: the median of 8-bit values from a histogram of the window (256 bins) that
  moves along the row: per point one column leaves and one enters, and the median's bin moves
  from where it was (Huang's algorithm; constant work per point in the window's width).

Border points run the same row functions on copies of the border strips padded through the
boundary rule (:func:`stencilc.codegen.cpu._strip_functions`); where some axis leaves its
border unchanged (``None``), they compute the reductions point by point by the loop over the
window (the rolled form of :func:`~stencilc.schedules.windows.rolled`), with the same
operations in the same order.
"""
from __future__ import annotations

import ast
import copy
import itertools
from dataclasses import dataclass

import numpy as np

from ..ir import RESERVED_PREFIX as P, Accumulation, RelativeRead, StencilIR, WindowReduction
from ..schedules.accumulate import substituted
from ..schedules.windows import (better, histogram_bins, histogram_shift, median_of_bins,
                                 row_method)
from .common import Writer

_OPS = {"min": "<", "max": ">"}
#: the most last-axis taps written out in a row pass (more stay a loop)
MAX_WRITTEN_TAPS = 64


@dataclass(frozen=True)
class RowReduction:
    number: int
    node: WindowReduction | Accumulation
    method: str         # a row method of schedules.windows, or "accumulate"

    @property
    def buffers(self) -> list[tuple[str, str | None]]:
        """``(name, dtype name)`` of the buffers along the last axis this reduction uses;
        None: the type numba gives the accumulator (the buffer is allocated by
        :func:`accumulator_probe`)."""
        k, node = self.number, self.node
        if isinstance(node, Accumulation):
            return [(f"{P}rw{k}", None)]
        found = [(f"{P}rw{k}", node.value.name)]
        if self.method == "histogram" and histogram_bins(node.dtype) > 256:
            found += [(f"{P}rh{k}", "int32"), (f"{P}rc{k}", "int32")]
        if self.method == "separable":
            column = node.dtype.name if node.op in ("min", "max") else node.accumulate.name
            if node.op == "mean" and node.dtype.kind in "biu":   # exact sums, then float64
                column = "uint64" if node.dtype.kind == "u" else "int64"
            found.append((f"{P}rv{k}", column))
            if node.op in ("min", "max") and node.dtype.kind == "f":
                found.append((f"{P}rr{k}", "int32"))
        return found

    def length(self, buffer: str) -> int | None:
        """The length of ``buffer`` where it is not along the last axis (a histogram's bins,
        zeroed when allocated), else None."""
        node = self.node
        if buffer == f"{P}rh{self.number}":
            return histogram_bins(node.dtype)
        return 256 if buffer == f"{P}rc{self.number}" else None


def row_reductions(ir: StencilIR, fastmath: bool) -> list[RowReduction]:
    """The body's large window reductions and accumulations that the CPU computes a row at
    a time."""
    found = []
    for node in (n for stmt in ir.body for n in ast.walk(stmt)):
        if isinstance(node, WindowReduction):
            found.append((node, row_method(node, fastmath)))
        elif isinstance(node, Accumulation):
            found.append((node, "accumulate"))
    return [RowReduction(k, n, m) for k, (n, m) in enumerate(found) if m != "point"]


def row_inputs(row: RowReduction, ir: StencilIR) -> list[str]:
    """The kernel arguments the row function reads."""
    if isinstance(row.node, Accumulation):
        return [a.name for a in ir.arguments]
    return [row.node.window.array]


def emit_row_function(out: Writer, decorator: str, row: RowReduction, ir: StencilIR,
                      make_renderer) -> None:
    """``_sc_rows<k>(leading indices, b, e, inputs..., buffers...)``: the reduction's values
    for the points ``[b, e)`` of the last axis into ``_sc_rw<k>``."""
    d = ir.ndim
    leading = [f"{P}i{k}" for k in range(d - 1)]
    params = leading + [f"{P}b", f"{P}e"] + row_inputs(row, ir) + [b for b, _ in row.buffers]
    out.gap()
    out.add(decorator)
    out.add(f"def {P}rows{row.number}({', '.join(params)}):")
    if row.method == "accumulate":
        body = _accumulate(row, ir, make_renderer)
    else:
        body = {"separable": _separable, "ordered": _ordered,
                "histogram": _histogram}[row.method](row, d)
    # no points (an array narrower than the window): the passes over the columns around
    # them would still read the window's reach past the array's ends
    out.add(f"if {P}e <= {P}b:", 1)
    out.add("return", 2)
    for line in body:
        out.add(line, 1)


def accumulator_probe(node: Accumulation, dtypes: dict[str, np.dtype],
                      env: dict[str, object]) -> str:
    """An expression numba types as the accumulator: ``init + update`` with every read a zero
    of the array's dtype and every loop variable an intp zero (numba types the loop-carried
    local as this sum: its type absorbs the initial value's)."""
    variables = {v for v, _ in node.loops}

    def zero(dtype) -> ast.expr:
        return ast.parse(f"{P}np.{np.dtype(dtype).name}(0)", mode="eval").body

    class Probe(ast.NodeTransformer):
        def visit_RelativeRead(self, read: RelativeRead) -> ast.expr:
            return zero(dtypes[read.array])

        def visit_Subscript(self, sub: ast.Subscript) -> ast.expr:
            owner = sub.value.id
            return zero(dtypes[owner] if owner in dtypes else env[owner].dtype)

        def visit_Name(self, n: ast.Name) -> ast.expr:
            return zero(np.intp) if n.id in variables else n

    probe = ast.BinOp(left=copy.deepcopy(node.init), op=ast.Add(),
                      right=Probe().visit(copy.deepcopy(node.update)))
    return ast.unparse(ast.fix_missing_locations(probe))


def _unsigned_reads(expr: ast.expr, arrays: set[str]) -> ast.expr:
    """Relative reads of the interior indexed in uint64 (never negative there; signed indices
    cost a wraparound select each, and LLVM then gathers instead of loading vectors)."""
    class Wrap(ast.NodeTransformer):
        def visit_Subscript(self, sub: ast.Subscript) -> ast.expr:
            sub = self.generic_visit(sub)
            if isinstance(sub.value, ast.Name) and sub.value.id in arrays:
                items = sub.slice.elts if isinstance(sub.slice, ast.Tuple) else [sub.slice]
                wrapped = [ast.parse(f"{P}np.uint64(0)", mode="eval").body for _ in items]
                for w, item in zip(wrapped, items):
                    w.args = [item]
                sub.slice = ast.Tuple(elts=wrapped, ctx=ast.Load()) if len(wrapped) > 1 \
                    else wrapped[0]
            return sub
    return ast.fix_missing_locations(Wrap().visit(expr))


def _accumulate(row: RowReduction, ir: StencilIR, make_renderer) -> list[str]:
    node, k = row.node, row.number
    last = f"{P}i{ir.ndim - 1}"
    rw, u = f"{P}rw{k}", f"{P}u"
    relative = {a.name for a in ir.arguments if a.role.value == "relative"}

    def render(expr: ast.expr) -> str:
        rendered = make_renderer().visit(copy.deepcopy(expr))
        return ast.unparse(_unsigned_reads(rendered, relative))

    lines = [f"for {last} in range({P}b, {P}e):",
             f"    {rw}[{P}np.uint64({last})] = {render(node.init)}"]
    *outer, (variable, bounds) = node.loops
    values = list(range(*bounds))
    blocked = len(values) <= MAX_WRITTEN_TAPS
    loops = outer if blocked else list(node.loops)
    for depth, (v, (start, stop, step)) in enumerate(loops):
        lines.append("    " * depth + f"for {v} in range({start}, {stop}, {step}):")
    inner = "    " * len(loops)
    lines += [inner + f"for {last} in range({P}b, {P}e):",
              inner + f"    {u} = {P}np.uint64({last})"]
    if blocked:   # the innermost taps in registers, the row buffer read and written once
        lines.append(inner + f"    {P}s = {rw}[{u}]")
        lines += [inner + f"    {P}s = {P}s + {render(substituted(node.update, variable, c))}"
                  for c in values]
        lines.append(inner + f"    {rw}[{u}] = {P}s")
    else:
        lines.append(inner + f"    {rw}[{u}] = {rw}[{u}] + {render(node.update)}")
    return lines


def _column(offset: int) -> str:
    """The uint64 index ``_sc_j + offset`` (never negative in the interior; unsigned indices
    need no wraparound test, so the loop along the row vectorizes)."""
    if offset == 0:
        return f"{P}np.uint64({P}j)"
    return f"{P}np.uint64({P}j {'-' if offset < 0 else '+'} {abs(offset)})"


def _cast(dtype_name: str) -> str:
    return f"{P}np.{dtype_name}"


def _leading_loops(node: WindowReduction) -> tuple[list[str], list[str]]:
    """The loops over the window's leading axes (C order) and the uint64 row index of each
    axis inside them."""
    loops, rows = [], []
    for k, (lo, hi) in enumerate(node.window.bounds[:-1]):
        loops.append("    " * k + f"for {P}a{k} in range({lo}, {hi}):")
        loops.append("    " * (k + 1) + f"{P}x{k} = {P}np.uint64({P}i{k} + {P}a{k})")
        rows.append(f"{P}x{k}")
    return loops, rows


def _read(node: WindowReduction, rows: list[str], column: str) -> str:
    return f"{node.window.array}[{', '.join(rows + [column])}]"


def _separable(row: RowReduction, d: int) -> list[str]:
    node, k = row.node, row.number
    lo, hi = node.window.bounds[-1]
    rw, rv = f"{P}rw{k}", f"{P}rv{k}"
    loops, rows = _leading_loops(node)
    inner = "    " * (len(node.window.bounds) - 1)
    column = dict(row.buffers)[rv]
    lines = [f"{P}cb = {P}b + {lo}", f"{P}ce = {P}e + {hi - 1}"]
    u = f"{P}u"
    along = [f"for {P}j in range({P}cb, {P}ce):", f"    {u} = {P}np.uint64({P}j)"]
    read = _read(node, rows, u)
    if node.op in ("sum", "mean"):
        # pass 1: the leading axes, for every column the row needs
        lines += along + [f"    {rv}[{u}] = {_cast(column)}(0)"]
        lines += loops + [inner + a for a in along] + \
            [inner + f"    {rv}[{u}] = {rv}[{u}] + {_cast(column)}({read})"]
        # pass 2: the last axis
        lines += [f"for {P}j in range({P}b, {P}e):", f"    {u} = {P}np.uint64({P}j)"]
        taps = [f"{rv}[{_column(a)}]" for a in range(lo, hi)]
        lines += [f"    {P}s = {_cast(column)}(0)"]
        lines += _taps(f"    {P}s = {P}s + ", taps, lo, hi, f"{rv}[{P}np.uint64({P}j + {P}c)]")
        if node.op == "mean":
            value = _cast(node.value.name)
            lines += [f"    {rw}[{u}] = {value}({value}({P}s) / {P}np.intp({node.cells}))"]
        else:
            lines += [f"    {rw}[{u}] = {P}s"]
        return lines
    return lines + _extremes(row, node.dtype, loops, rows, inner, along)


def _extremes(row: RowReduction, dtype: np.dtype, loops: list[str], rows: list[str],
              inner: str, along: list[str]) -> list[str]:
    """The two passes of a separable minimum or maximum: each column's winner over the
    leading axes (and for floats its rank in C order), then the winner of the columns along
    the last axis, ties (0.0 against -0.0) and the first NaN resolved by those ranks as in
    numba's C-order loop. (A NaN-free variant without the masks, chosen per row, ran no
    faster and doubled the compile time.)"""
    node, k = row.node, row.number
    lo, hi = node.window.bounds[-1]
    rw, rv = f"{P}rw{k}", f"{P}rv{k}"
    rr = f"{P}rr{k}" if len(row.buffers) == 3 else None
    u, op = f"{P}u", _OPS[node.op]
    v, s, q, r = f"{P}v", f"{P}s", f"{P}q", f"{P}r"
    first = _read(node, [f"{P}np.uint64({P}i{a} + {lo_a})"
                         for a, (lo_a, _) in enumerate(node.window.bounds[:-1])], u)
    lines = along + [f"    {rv}[{u}] = {first}"]
    if rr:
        lines += [f"    {rr}[{u}] = 0", f"{P}rank = {P}np.int32(0)"]
    test = better(op, v, s, dtype)
    lines += loops + [inner + a for a in along] + [
        inner + f"    {v} = {_read(node, rows, u)}",
        inner + f"    {s} = {rv}[{u}]",
        inner + f"    {P}t = {test}",
        inner + f"    {rv}[{u}] = {v} if {P}t else {s}"]
    if rr:
        lines += [inner + f"    {rr}[{u}] = {P}rank if {P}t else {rr}[{u}]",
                  inner + f"{P}rank += {P}np.int32(1)"]
    lines += [f"for {P}j in range({P}b, {P}e):", f"    {u} = {P}np.uint64({P}j)",
              f"    {s} = {rv}[{_column(lo)}]"]
    if rr:
        lines += [f"    {r} = {rr}[{_column(lo)}]"]
    # a loop over the taps: numba types its body once (written out, 15 taps of NaN-aware
    # selects took seconds to type); LLVM unrolls it fully, so the loop along the row is
    # innermost again and vectorizes
    lines += [f"    for {P}c in range({lo + 1}, {hi}):",
              f"        {v} = {rv}[{P}np.uint64({P}j + {P}c)]"]
    if rr:
        ranked = better(op, v, s, dtype, (q, r))
        lines += [f"        {q} = {rr}[{P}np.uint64({P}j + {P}c)]",
                  f"        {P}t = {ranked}",
                  f"        {s} = {v} if {P}t else {s}", f"        {r} = {q} if {P}t else {r}"]
    else:
        lines += [f"        {s} = {v} if {better(op, v, s, dtype)} else {s}"]
    return lines + [f"    {rw}[{u}] = {s}"]


def _histogram(row: RowReduction, d: int) -> list[str]:
    """Huang's running median: ``_sc_h`` counts the window's values by bin (value + 128 for
    int8), ``_sc_m`` is the bin holding the rank ``t`` value (NumPy's middle, the lower of the
    two middles for an even count) and ``_sc_lt`` the count of values in the bins below it.
    16-bit values: 65536 bins in a buffer of the core block (zeroed once; each row takes its
    last window out again) and 256 coarse bins of 256 (``_sc_rc<k>``), over which the
    median's bin moves 256 at a time where they are empty or wholly passed."""
    node, k = row.node, row.number
    lo, hi = node.window.bounds[-1]
    rw, u, v = f"{P}rw{k}", f"{P}u", f"{P}v"
    shift = histogram_shift(node.dtype)
    t = (node.cells - 1) // 2
    loops, rows = _leading_loops(node)
    inner = "    " * (len(node.window.bounds) - 1)
    intp = f"{P}np.intp"
    many = histogram_bins(node.dtype) > 256
    h, hc, m, lt = (f"{P}rh{k}" if many else f"{P}h"), f"{P}rc{k}", f"{P}m", f"{P}lt"

    def column(at: str, change: str) -> list[str]:
        """The window's column ``at`` counted in (``change`` ``+``) or out (``-``)."""
        lines = [f"{u} = {P}np.uint64({at})"] + loops
        lines += [inner + f"{v} = {intp}({_read(node, rows, u)}) + {shift}",
                  inner + f"{h}[{v}] {change}= 1"]
        if many:
            lines.append(inner + f"{hc}[{v} >> 8] {change}= 1")
        return lines + [inner + f"{lt} {change}= {intp}({v} < {m})"]

    lines = [] if many else [f"{h} = {P}np.zeros(256, {P}np.int32)"]
    lines += [f"{m} = {intp}(0)", f"{lt} = {intp}(0)",
              f"for {P}c in range({P}b + {lo}, {P}b + {hi - 1}):"]
    lines += ["    " + line for line in column(f"{P}c", "+")]
    lines += [f"for {P}j in range({P}b, {P}e):", f"    if {P}j > {P}b:"]
    lines += ["        " + line for line in column(f"{P}j + {lo - 1}", "-")]
    lines += ["    " + line for line in column(f"{P}j + {hi - 1}", "+")]
    down, up = [f"{m} -= 1", f"{lt} -= {h}[{m}]"], [f"{lt} += {h}[{m}]", f"{m} += 1"]
    if many:   # a whole coarse bin at a time where it lies wholly on the way
        down = [f"if ({m} & 255) == 0 and {lt} - {hc}[({m} >> 8) - 1] > {t}:",
                f"    {m} -= 256", f"    {lt} -= {hc}[{m} >> 8]", "else:"] + \
            ["    " + line for line in down]
        up = [f"if ({m} & 255) == 0 and {lt} + {hc}[{m} >> 8] <= {t}:",
              f"    {lt} += {hc}[{m} >> 8]", f"    {m} += 256", "else:"] + \
            ["    " + line for line in up]
    lines += [f"    while {lt} > {t}:"] + ["        " + line for line in down]
    lines += [f"    while {lt} + {h}[{m}] <= {t}:"] + ["        " + line for line in up]
    lines += ["    " + line for line in median_of_bins(
        node, h, m, lt, f"{rw}[{P}np.uint64({P}j)]", hc if many else None)]
    if many:   # the last window out again: the buffers are zero for the next row
        lines += [f"for {P}c in range({P}e - 1 + {lo}, {P}e - 1 + {hi}):"]
        lines += ["    " + line for line in column(f"{P}c", "-")]
    return lines


def _taps(prefix: str, taps: list[str], lo: int, hi: int, rolled_tap: str) -> list[str]:
    """``prefix + tap`` for each tap in order: written out up to :data:`MAX_WRITTEN_TAPS`
    (the loop along the row is then the innermost, and vectorizes), else a loop."""
    if len(taps) <= MAX_WRITTEN_TAPS:
        return [prefix + tap for tap in taps]
    return [f"    for {P}c in range({lo}, {hi}):", "    " + prefix + rolled_tap]


def _ordered(row: RowReduction, d: int) -> list[str]:
    node, k = row.node, row.number
    lo, hi = node.window.bounds[-1]
    rw = f"{P}rw{k}"
    acc = _cast(node.accumulate.name)
    loops, rows = _leading_loops(node)
    inner = "    " * (len(node.window.bounds) - 1)
    u = f"{P}u"
    along = [f"for {P}j in range({P}b, {P}e):", f"    {u} = {P}np.uint64({P}j)"]
    lines = along + [f"    {rw}[{u}] = {acc}(0)"] + loops
    taps = [_read(node, rows, _column(a)) for a in range(lo, hi)]
    lines += [inner + a for a in along] + [inner + f"    {P}s = {rw}[{u}]"]
    lines += [inner + line for line in
              _taps(f"    {P}s = {P}s + {acc}(", [t + ")" for t in taps], lo, hi,
                    _read(node, rows, f"{P}np.uint64({P}j + {P}c)") + ")")]
    lines += [inner + f"    {rw}[{u}] = {P}s"]
    if node.op == "mean":
        lines += along + [f"    {rw}[{u}] = {acc}({rw}[{u}] / {P}np.intp({node.cells}))"]
    return lines


def row_buffers(rows: list[RowReduction]) -> list[tuple[str, str | None]]:
    return list(itertools.chain.from_iterable(r.buffers for r in rows))

"""Window reductions written out: ``np.sum(x[-1:2, -1:2])`` as nine reads and eight adds.

numba computes ``np.median(window)`` by building a view of the window for every output point
and running its array reduction on it: a call, an iterator and (for the median) a copy and a
quickselect per point, none of which vectorizes. For windows of up to :data:`MAX_CELLS`
cells this pass replaces the reduction by the same arithmetic on the window's elements, read
one by one (relative reads, so the interior needs no boundary logic and the border goes
through the rule read by read), in statements just before the statement that used it:

* ``sum``: numba's accumulator type (NumPy's: integers narrower than 64 bits and booleans
  accumulate in int64/uint64), from zero, in C order: the same additions in the same order,
  so the same bits for every dtype;
* ``mean``: the same, accumulated as numba's ``np.mean`` does (float64 for integers and
  booleans, the array's type for floats), divided by the cell count and converted back;
* ``min``/``max`` (and ``amin``/``amax``): the first element, then each later one that is
  smaller (larger), the first NaN met winning as in numba; complex values compared real part
  first;
* ``median`` (up to :data:`MAX_MEDIAN_CELLS` cells, integers and floats): a selection network
  (:mod:`.networks`) then NumPy's middle value or mean of the two middle values. A window
  holding NaN gives NaN, NumPy's rule (numba's quickselect returns an arbitrary element).

Larger windows become a :class:`~stencilc.ir.WindowReduction` (sums, means, minima and
maxima of every dtype; medians of :data:`HISTOGRAM_DTYPES`), which the CPU computes a row at
a time (:func:`row_method`); other medians keep numba's ``np.median`` on the window array
(listed in the schedule).
"""
from __future__ import annotations

import ast
import copy
import itertools
from dataclasses import dataclass

import numpy as np

from ..ir import RESERVED_PREFIX as P, RelativeRead, RelativeWindow, WindowReduction, constant_node
from .networks import median_ranks, selection_network

#: the largest window whose reductions are written out read by read (a 7x7 window): the text
#: grows with the cells, and so does numba's compile time
MAX_CELLS = 49
#: the largest window whose median is a selection network (3x3x3 = 27 cells: 126
#: compare-exchanges; 49 cells would take 319)
MAX_MEDIAN_CELLS = 27
#: the dtypes whose larger medians the CPU computes from a running histogram, a bin per value
#: (:func:`histogram_bins`): 256 for 8-bit types, 65536 for 16-bit ones (with 256 coarse
#: bins of 256 values, so the median's bin moves over empty ranges 256 at a time)
HISTOGRAM_DTYPES = ("uint8", "int8", "uint16", "int16")

REDUCTIONS = ("sum", "mean", "min", "max", "median")
_ALIASES = {"amin": "min", "amax": "max"}
_METHODS = ("sum", "mean", "min", "max")


@dataclass(frozen=True)
class WindowChoice:
    """How one window reduction is computed."""

    line: int          # in the user's file
    reduction: str     # what the kernel wrote, e.g. ``np.median(x[-1:2, -1:2])``
    how: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reduction}: {self.how}"


def lower_windows(body: list[ast.stmt], env: dict, dtypes: dict[str, np.dtype],
                  firstlineno: int, fastmath: bool = False
                  ) -> tuple[list[ast.stmt], list[WindowChoice]]:
    """``body`` with every window reduction it can write out replaced (a new list; ``body``
    is not changed), and how each reduction found is computed."""
    lowering = _Lowering(env, dtypes, firstlineno, fastmath)
    return lowering.block(copy.deepcopy(body)), lowering.choices


def _reduction(node: ast.AST, env: dict) -> tuple[str, RelativeWindow] | None:
    """``(name, window)`` if ``node`` is ``np.<reduction>(window)`` or ``window.<method>()``."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and not node.keywords):
        return None
    attr = _ALIASES.get(node.func.attr, node.func.attr)
    owner = node.func.value
    if isinstance(owner, RelativeWindow) and not node.args and attr in _METHODS:
        return attr, owner
    if isinstance(owner, ast.Name) and env.get(owner.id) is np and len(node.args) == 1 \
            and isinstance(node.args[0], RelativeWindow) and attr in REDUCTIONS:
        return attr, node.args[0]
    return None


def _written(name: str, window: RelativeWindow) -> str:
    bounds = ", ".join(f"{lo}:{hi}" for lo, hi in window.bounds)
    return f"np.{name}({window.array}[{bounds}])"


def accumulator(dtype: np.dtype) -> np.dtype:
    """The type numba's ``np.sum`` accumulates ``dtype`` in (NumPy's rule)."""
    if dtype.kind == "b":
        return np.dtype(np.int64)
    if dtype.kind in "iu" and dtype.itemsize < 8:
        return np.dtype(np.int64 if dtype.kind == "i" else np.uint64)
    return dtype


class _Lowering:
    def __init__(self, env: dict, dtypes: dict[str, np.dtype], firstlineno: int,
                 fastmath: bool):
        self.env = env
        self.fastmath = fastmath
        self.dtypes = dtypes
        self.firstlineno = firstlineno
        self.choices: list[WindowChoice] = []
        self.counter = itertools.count()

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        for stmt in stmts:
            prelude: list[ast.stmt] = []
            for name, value in ast.iter_fields(stmt):
                if name in ("body", "orelse", "finalbody"):
                    setattr(stmt, name, self.block(value))
                elif isinstance(value, ast.expr):
                    setattr(stmt, name, self.expression(value, stmt, prelude))
                elif isinstance(value, list):
                    setattr(stmt, name, [self.expression(v, stmt, prelude)
                                         if isinstance(v, ast.expr) else v for v in value])
            result += prelude + [stmt]
        return result

    def expression(self, node: ast.expr, stmt: ast.stmt, prelude: list[ast.stmt]) -> ast.expr:
        lowering = self

        class Replace(ast.NodeTransformer):
            def visit_Call(self, call: ast.Call) -> ast.expr:
                call = self.generic_visit(call)
                found = _reduction(call, lowering.env)
                if found is None:
                    return call
                lowered = lowering.lower(*found, stmt, prelude)
                return call if lowered is None else lowered

        return Replace().visit(node)

    def lower(self, name: str, window: RelativeWindow, stmt: ast.stmt,
              prelude: list[ast.stmt]) -> ast.expr | None:
        dtype = self.dtypes[window.array]
        cells = int(np.prod([hi - lo for lo, hi in window.bounds]))
        line = getattr(stmt, "lineno", 1) + self.firstlineno - 1
        written = _written(name, window)
        result = f"{P}w{next(self.counter)}"
        if (name != "median" and cells > MAX_CELLS) or \
                (name == "median" and cells > MAX_MEDIAN_CELLS and dtype.name in HISTOGRAM_DTYPES):
            node = reduction_node(result, name, window, dtype, stmt)
            self.choices.append(WindowChoice(line, written, _row_description(
                node, row_method(node, self.fastmath))))
            prelude.append(node)
            return ast.Name(id=result, ctx=ast.Load())
        refusal = _refusal(name, dtype, cells)
        if refusal:
            self.choices.append(WindowChoice(line, written, f"numba's np.{name} on a window "
                                                            f"array per point ({refusal})"))
            return None
        writer = _Statements(result, window, stmt)
        how = getattr(self, f"_{name}")(writer, dtype, cells)
        self.choices.append(WindowChoice(line, written, how))
        prelude += writer.statements
        return ast.Name(id=result, ctx=ast.Load())

    @staticmethod
    def _sum(w: "_Statements", dtype: np.dtype, cells: int) -> str:
        acc = accumulator(dtype)
        total = w.assign(_typed(acc, 0))
        for read in w.reads():
            total = w.assign(f"{total} + {_cast(acc)}(R)", read)
        w.assign(total, name=w.result)
        return f"written out: {cells} adds in {acc.name}, in C order (numba's order)"

    @staticmethod
    def _mean(w: "_Statements", dtype: np.dtype, cells: int) -> str:
        acc = np.dtype(np.float64) if dtype.kind in "biu" else dtype
        total = w.assign(_typed(acc, 0))
        for read in w.reads():
            total = w.assign(f"{total} + {_cast(acc)}(R)", read)
        w.assign(f"{_cast(acc)}({total} / {P}np.intp({cells}))", name=w.result)
        return f"written out: {cells} adds in {acc.name}, in C order, / {cells} (numba's order)"

    @staticmethod
    def _min(w: "_Statements", dtype: np.dtype, cells: int, op: str = "<") -> str:
        values = w.values()
        m = values[0]
        for v in values[1:]:
            m = w.assign(f"{v} if {better(op, v, m, dtype)} else {m}")
        w.assign(m, name=w.result)
        return f"written out: {cells - 1} selects (vectorizes across points)"

    @classmethod
    def _max(cls, w: "_Statements", dtype: np.dtype, cells: int) -> str:
        return cls._min(w, dtype, cells, ">")

    @staticmethod
    def _median(w: "_Statements", dtype: np.dtype, cells: int) -> str:
        values = w.values()
        any_nan = None
        if dtype.kind == "f":   # NaN gives NaN; the network compares NaN-free values
            any_nan = w.assign(" | ".join(f"({v} != {v})" for v in values))
            values = [w.assign(f"{v} if {v} == {v} else {_typed(dtype, 0)}") for v in values]
        ranks = median_ranks(cells)
        exchanges = selection_network(cells, ranks)
        # every value a new name, min/max rather than `if` expressions (each of which is a
        # branch in numba's IR): numba types straight-line SSA fastest
        for i, j in exchanges:
            a, b = values[i], values[j]
            values[i], values[j] = w.assign(f"min({a}, {b})"), w.assign(f"max({a}, {b})")
        # numba's np.median returns float64 for every dtype (its odd and even cases unify)
        middle = f"{P}np.float64({values[ranks[0]]})" if len(ranks) == 1 else \
            f"({values[ranks[0]]} + {values[ranks[1]]}) / 2"
        if any_nan:
            middle = f"{_typed(np.dtype(np.float64), np.nan)} if {any_nan} else {middle}"
        w.assign(middle, name=w.result)
        return f"selection network: {len(exchanges)} compare-exchanges (vectorizes across " \
               "points)"


def _refusal(name: str, dtype: np.dtype, cells: int) -> str | None:
    """Why a reduction keeps numba's function, or None."""
    if name == "median":
        if dtype.kind not in "iuf":
            return f"the median of {dtype} windows is not written out"
        if cells > MAX_MEDIAN_CELLS:
            return f"{cells} cells, more than the {MAX_MEDIAN_CELLS} of a selection network, " \
                   f"and {dtype} is not one of the {'/'.join(HISTOGRAM_DTYPES)} of a histogram"
    return None


# --- windows too large to write out ----------------------------------------------------------

def reduction_node(result: str, op: str, window: RelativeWindow, dtype: np.dtype,
                   stmt: ast.stmt) -> WindowReduction:
    """The :class:`~stencilc.ir.WindowReduction` computing ``np.<op>(window)`` into
    ``result``, with numba's accumulator and result types."""
    if op == "median":   # numba's np.median is float64 for every dtype
        node = WindowReduction(result, op, window, dtype, dtype, np.dtype(np.float64))
        return ast.copy_location(node, stmt)
    if op == "sum":
        accumulate = accumulator(dtype)
    elif op == "mean":
        accumulate = np.dtype(np.float64) if dtype.kind in "biu" else dtype
    else:
        accumulate = dtype
    node = WindowReduction(result, op, window, dtype, accumulate, accumulate)
    return ast.copy_location(node, stmt)




def row_method(node: WindowReduction, fastmath: bool) -> str:
    """How the CPU computes a row of a large window reduction (:mod:`stencilc.codegen.rows`).

    ``separable``: the window's leading axes reduced for each column, then the last axis
    (2 x 15 operations a point for 15x15 instead of 225), where the order of the operations
    cannot change the result: integer sums (wrapping arithmetic is associative), means of
    integers up to 32 bits over fewer than 2**21 cells (their float64 partial sums are exact
    integers below 2**53), min and max of integers and of floats (the winner's row is kept,
    so ties and NaNs resolve as in C order);
    ``ordered``: every point's operations in C order, the points of a row side by side in
    vector lanes (floating-point sums and means, means of 64-bit integers);
    ``histogram``: medians of 8- and 16-bit integers, from a histogram of the window that moves
    along the row (Huang's algorithm: per point a column of the window leaves, one enters,
    and the median's bin moves), exact;
    ``point``: a loop over the window per point (complex min and max).
    ``fastmath=True`` makes floating-point sums and means separable: they then differ from
    C order in the last bits (docs/kernel-language.md, "Window reductions")."""
    kind = node.dtype.kind
    if node.op == "median":
        return "histogram"
    if node.op in ("min", "max"):
        return "point" if kind == "c" else "separable"
    if kind in "biu" and (node.op == "sum" or (node.dtype.itemsize <= 4 and node.cells < 2**21)):
        return "separable"
    if fastmath and kind in "fc":
        return "separable"
    return "ordered"


def _row_description(node: WindowReduction, method: str) -> str:
    cells = node.cells
    lead = cells // (node.window.bounds[-1][1] - node.window.bounds[-1][0])
    last = cells // lead
    if method == "histogram":   # the cuda target refuses these (codegen/cuda.py)
        bins = histogram_bins(node.dtype)
        levels = "" if bins <= 256 else ", 256 coarse bins over them"
        return f"a row at a time, a running histogram of the window ({bins} bins{levels}; " \
               f"{2 * lead} updates a point, exact) on the CPU targets"
    reassociated = node.dtype.kind in "fc" and node.op in ("sum", "mean")
    how = {"separable": f"a row at a time, separable ({lead} + {last} operations a point"
                        f"{', reassociated under fastmath' if reassociated else ', exact'})",
           "ordered": f"a row at a time, {cells} operations a point in C order (exact), "
                      "points side by side in vector lanes",
           "point": f"a loop over the {cells} cells per point"}[method]
    return f"{how} in {node.accumulate.name} on the CPU; a loop over the window per point " \
           "on other targets"


def rolled(node: WindowReduction) -> list[ast.stmt]:
    """The reduction as a loop nest over the window in C order, one point at a time: numba's
    operations in numba's order (what every target can compute); a median of 8-bit values
    counts the values into 256 bins, then finds the middle rank's bin, one of 16-bit values
    does so in two passes, 256 coarse bins then the 256 values of the middle one (the CPU
    targets)."""
    d = len(node.window.bounds)
    location = {k: getattr(node, k) for k in ("lineno", "col_offset") if hasattr(node, k)}
    loops = [f"{node.result}_a{k}" for k in range(d)]
    read = RelativeRead(node.window.array, [ast.Name(id=v, ctx=ast.Load()) for v in loops],
                        (None,) * d, **location)
    r, acc = node.result, _cast(node.accumulate)

    def over_window(update: str) -> list[str]:
        """``update`` (reading the cell as ``R``) for every cell of the window, in C order."""
        nest = ["    " * k + f"for {loops[k]} in range({lo}, {hi}):"
                for k, (lo, hi) in enumerate(node.window.bounds)]
        return nest + ["    " * d + line for line in update.splitlines()]

    if node.op == "median" and histogram_bins(node.dtype) > 256:
        text = _two_pass_median(node, over_window)
    else:
        if node.op == "median":
            first, update = _counted_median(node)
        elif node.op in ("sum", "mean"):
            first = f"{r} = {_typed(node.accumulate, 0)}"
            update = f"{r} = {r} + {acc}(R)"
        else:
            first = f"{r} = R0"
            op = "<" if node.op == "min" else ">"
            v = f"{r}_v"
            update = f"{v} = R\n{r} = {v} if {better(op, v, r, node.dtype)} else {r}"
        text = [first] + over_window(update)
        if node.op == "mean":
            text.append(f"{r} = {acc}({r} / {P}np.intp({node.cells}))")
        if node.op == "median":
            text += _median_of_counts(node)
    origin = RelativeRead(node.window.array, [ast.Constant(lo) for lo, _ in node.window.bounds],
                          (None,) * d, **location)

    class Put(ast.NodeTransformer):
        def visit_Name(self, name: ast.Name) -> ast.expr:
            if name.id == "R":
                return copy.deepcopy(read)
            return copy.deepcopy(origin) if name.id == "R0" else name

    body = ast.parse("\n".join(text)).body
    for stmt in body:
        for child in ast.walk(stmt):
            ast.copy_location(child, node)
    return [Put().visit(stmt) for stmt in body]


def _two_pass_median(node: WindowReduction, over_window) -> list[str]:
    """NumPy's median of a 16-bit window, one point at a time without 65536 bins: the values
    counted into 256 coarse bins (the high byte), the coarse bin of the middle rank found,
    then that bin's values counted by their low byte; for an even count the next value up is
    in the same bin or is the smallest value above it (a third pass)."""
    r, shift, t = node.result, histogram_shift(node.dtype), (node.cells - 1) // 2
    coarse, fine, below, c, f, v = (f"{r}_{n}" for n in ("hc", "hf", "c", "m", "f", "v"))
    bin_of = f"{v} = {P}np.intp(R) + {shift}"
    text = [f"{coarse} = {P}np.zeros(256, {P}np.int32)", f"{fine} = {P}np.zeros(256, {P}np.int32)"]
    text += over_window(f"{bin_of}\n{coarse}[{v} >> 8] = {coarse}[{v} >> 8] + 1")
    text += [f"{below} = {P}np.intp(0)", f"{c} = {P}np.intp(0)",
             f"while {below} + {coarse}[{c}] <= {t}:", f"    {below} = {below} + {coarse}[{c}]",
             f"    {c} = {c} + 1"]
    text += over_window(f"{bin_of}\nif ({v} >> 8) == {c}:\n"
                        f"    {fine}[{v} & 255] = {fine}[{v} & 255] + 1")
    text += [f"{f} = {P}np.intp(0)", f"while {below} + {fine}[{f}] <= {t}:",
             f"    {below} = {below} + {fine}[{f}]", f"    {f} = {f} + 1",
             f"{c} = {c} * 256 + {f}"]          # the middle value's bin
    value = f"{P}np.float64({c} - {shift})"
    if node.cells % 2:
        return text + [f"{r} = {value}"]
    upper = f"{r}_up"
    text += [f"{upper} = {c}", f"if {below} + {fine}[{f}] <= {t + 1}:",
             f"    {upper} = {P}np.intp({histogram_bins(node.dtype)})"]
    text += ["    " + line for line in over_window(
        f"{bin_of}\nif {c} < {v} < {upper}:\n    {upper} = {v}")]
    return text + [f"{r} = ({value} + {P}np.float64({upper} - {shift})) / 2"]


def _counted_median(node: WindowReduction) -> tuple[str, str]:
    """The first statement and the loop body counting an 8-bit window's values by bin."""
    h, v = f"{node.result}_h", f"{node.result}_v"
    return f"{h} = {P}np.zeros(256, {P}np.int32)", \
        f"{v} = {P}np.intp(R) + {histogram_shift(node.dtype)}\n{h}[{v}] = {h}[{v}] + 1"


def _median_of_counts(node: WindowReduction) -> list[str]:
    """NumPy's median from the counts of :func:`_counted_median`: the bin holding the middle
    rank, found from the lowest bin up."""
    r = node.result
    h, below, m = f"{r}_h", f"{r}_c", f"{r}_m"
    t = (node.cells - 1) // 2
    return [f"{below} = {P}np.intp(0)", f"{m} = {P}np.intp(0)",
            f"while {below} + {h}[{m}] <= {t}:", f"    {below} = {below} + {h}[{m}]",
            f"    {m} = {m} + 1"] + median_of_bins(node, h, m, below, r)


def median_of_bins(node: WindowReduction, h: str, m: str, below: str, target: str,
                   coarse: str | None = None) -> list[str]:
    """``target = `` NumPy's median (float64) of a window whose values are counted by bin in
    ``h``, where ``m`` is the bin holding the lower middle value (rank ``(cells - 1) // 2``)
    and ``below`` the count of values in the bins under it: that value, or for an even count
    its mean with the next value up (in ``m``, or the next bin holding one, found 256 bins at
    a time over empty ``coarse`` bins where there are). The rows' running histogram and the
    per-point count share it."""
    shift = histogram_shift(node.dtype)
    value = f"{P}np.float64({m} - {shift})"
    if node.cells % 2:
        return [f"{target} = {value}"]
    upper, t = f"{m}_up", (node.cells - 1) // 2
    step = "1" if coarse is None else \
        f"256 if ({upper} & 255) == 0 and {coarse}[{upper} >> 8] == 0 else 1"
    return [f"{upper} = {m}", f"if {below} + {h}[{m}] <= {t + 1}:", f"    {upper} = {m} + 1",
            f"    while {h}[{upper}] == 0:", f"        {upper} = {upper} + ({step})",
            f"{target} = ({value} + {P}np.float64({upper} - {shift})) / 2"]


def histogram_shift(dtype: np.dtype) -> int:
    """What a value of ``dtype`` (one of :data:`HISTOGRAM_DTYPES`) adds to become its bin."""
    return -int(np.iinfo(dtype).min) if dtype.kind == "i" else 0


def histogram_bins(dtype: np.dtype) -> int:
    """The bins of a histogram of ``dtype``'s values: one per value."""
    return 1 << (8 * np.dtype(dtype).itemsize)


def better(op: str, v: str, s: str, dtype: np.dtype, ranks: tuple[str, str] | None = None) -> str:
    """The test that ``v`` replaces the winner so far ``s`` in numba's C-order ``np.min``
    (``op`` ``<``) or ``np.max`` (``>``): strictly better, or the first NaN met. With
    ``ranks`` (C-order ranks of ``v`` and ``s``, for a separable pass that meets values out of
    order), also an equal value or a NaN met earlier.

    Floats are compared quietly: ``<`` on a NaN raises the invalid-operation flag, which NumPy
    reports as a RuntimeWarning after the call, so NaNs are replaced by zero before ``<`` and
    the comparison masked (``==`` and ``!=`` never raise it)."""
    if dtype.kind == "c":
        return f"({v}.real {op} {s}.real) | (({v}.real == {s}.real) & ({v}.imag {op} {s}.imag))"
    if dtype.kind != "f":
        return f"{v} {op} {s}"
    zero = _typed(dtype, 0)
    less = f"((({v} if {v} == {v} else {zero}) {op} ({s} if {s} == {s} else {zero})) & " \
           f"({v} == {v}) & ({s} == {s}))"
    if ranks is None:
        return f"(({v} != {v}) & ({s} == {s})) | {less}"
    q, r = ranks
    return f"(({v} != {v}) & (({s} == {s}) | ({q} < {r}))) | {less} | " \
           f"(({v} == {s}) & ({q} < {r}))"


def _cast(dtype: np.dtype) -> str:
    return f"{P}np.{dtype.name}"


def _typed(dtype: np.dtype, value) -> str:
    return ast.unparse(constant_node(dtype.type(value)))


class _Statements:
    """Statements computing one reduction into ``result``, located at the statement that
    used it; ``R`` in a statement's text stands for the relative read it is given."""

    def __init__(self, result: str, window: RelativeWindow, stmt: ast.stmt):
        self.result = result
        self.window = window
        self.stmt = stmt
        self.statements: list[ast.stmt] = []
        self.names = itertools.count()

    def reads(self) -> list[RelativeRead]:
        """The window's elements in C order, as relative reads."""
        location = {k: getattr(self.window, k) for k in
                    ("lineno", "col_offset", "end_lineno", "end_col_offset")
                    if hasattr(self.window, k)}
        return [RelativeRead(self.window.array, [ast.Constant(o) for o in offsets],
                             (None,) * len(offsets), **location)
                for offsets in itertools.product(*(range(lo, hi)
                                                   for lo, hi in self.window.bounds))]

    def values(self) -> list[str]:
        """The window's elements read into variables, in C order; their names."""
        return [self.assign("R", read) for read in self.reads()]

    def assign(self, value: str, read: RelativeRead | None = None, name: str | None = None
               ) -> str:
        """``name = value`` (a new name if none is given); the name."""
        if name is None:
            name = f"{self.result}_{next(self.names)}"
        self.add(f"{name} = {value}", read)
        return name

    def add(self, text: str, read: RelativeRead | None = None) -> None:
        stmt = ast.parse(text).body[0]
        for node in ast.walk(stmt):
            ast.copy_location(node, self.stmt)
        if read is not None:
            class Put(ast.NodeTransformer):
                def visit_Name(self, node: ast.Name) -> ast.expr:
                    return read if node.id == "R" else node

            stmt = Put().visit(stmt)
        self.statements.append(stmt)

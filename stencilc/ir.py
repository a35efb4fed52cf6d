"""StencilIR: what the frontend understood about a kernel, and all the code generators read.

The body stays a Python AST, with every relative access replaced by one of the two node types
below, so code generators only have to decide how to *render* an access (direct, boundary
mapped, checked) and can print everything else with :func:`ast.unparse`.
"""
from __future__ import annotations

import ast
import copy
import enum
import math
from dataclasses import dataclass, field

import numpy as np

from .signature import Layout

Interval = tuple[int, int]

#: generated code names its own variables with this prefix; kernels may not use it.
RESERVED_PREFIX = "_sc_"


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


#: what constant folding returns for an expression whose value is not known at compile time
UNKNOWN = _Unknown()


class Role(enum.Enum):
    RELATIVE = "relative"   # x[di, dj]: offsets from the output point
    STANDARD = "standard"   # w[k]: absolute indices (standard_indexing)
    SCALAR = "scalar"       # never indexed: one value per call (core dims "()")


@dataclass(frozen=True)
class Argument:
    name: str
    role: Role
    core_dims: tuple[str, ...]

    @property
    def ndim(self) -> int:
        return len(self.core_dims)


class RelativeRead(ast.expr):
    """``x[d0, d1, ...]``: the element of ``array`` at the output point plus the offsets.

    ``offsets`` are expressions (constants once folded). ``checked[k]`` is ``None`` when the
    offset on axis k is known at compile time, or the ``(lo, hi)`` interval it must be checked
    against at run time (offsets the frontend could not bound, given ``neighborhood=``).
    """

    _fields = ("offsets",)

    def __init__(self, array: str = "", offsets: list[ast.expr] | None = None,
                 checked: tuple[Interval | None, ...] = (), **location):
        super().__init__(**location)   # defaults let copy.deepcopy rebuild the node
        self.array = array
        self.offsets = offsets or []
        self.checked = checked


class RelativeWindow(ast.expr):
    """``x[lo0:hi0, lo1:hi1]``: the window of ``array`` around the output point, as an array."""

    _fields = ()

    def __init__(self, array: str = "", bounds: tuple[Interval, ...] = (), **location):
        super().__init__(**location)
        self.array = array
        self.bounds = bounds   # half-open [lo, hi) per axis, relative to the output point


class WindowReduction(ast.stmt):
    """``result = np.<op>(window)`` (sum, mean, min, max, median) over a window too large to write out
    read by read, put in the body by the schedule (:mod:`stencilc.schedules.windows`). Every
    target can compute it as a rolled loop nest over the window in C order
    (:func:`stencilc.schedules.windows.rolled`); the CPU computes a row of them at a time.

    ``dtype`` is the array's, ``accumulate`` the type numba's reduction accumulates in,
    ``value`` the type of the result."""

    _fields = ()

    def __init__(self, result: str = "", op: str = "", window: RelativeWindow | None = None,
                 dtype=None, accumulate=None, value=None, **location):
        super().__init__(**location)
        self.result = result
        self.op = op
        self.window = window
        self.dtype = dtype
        self.accumulate = accumulate
        self.value = value

    @property
    def cells(self) -> int:
        return math.prod(hi - lo for lo, hi in self.window.bounds)

    @property
    def key(self) -> str:
        """Unique among the body's accumulations and window reductions (results are)."""
        return self.result


class Accumulation(ast.stmt):
    """``result = init`` then a loop nest over constant ranges whose only statement adds
    ``update`` to ``result`` (a weighted window written as loops too large to unroll), put in
    the body by the schedule (:mod:`stencilc.schedules.accumulate`). ``original`` holds the
    two statements as written, which every target can compute per point; the CPU computes a
    row of points at a time, each point's additions in the same order.

    ``loops``: ``(variable, (start, stop, step))`` from the outermost."""

    _fields = ()

    def __init__(self, result: str = "", init: ast.expr | None = None,
                 loops: tuple = (), update: ast.expr | None = None,
                 original: list | None = None, number: int = 0, **location):
        super().__init__(**location)
        self.number = number    # several nests may accumulate into the same local
        self.result = result
        self.init = init
        self.loops = loops
        self.update = update
        self.original = original or []

    @property
    def key(self) -> str:
        """Unique among the body's accumulations and window reductions."""
        return f"{self.result}#{self.number}"

    @property
    def taps(self) -> int:
        return math.prod(len(range(*bounds)) for _, bounds in self.loops)


@dataclass(frozen=True)
class ShapeNeed:
    """An axis of a standard_indexing array must be at least ``length`` long, for ``read``
    (``w[2, 0]``) at ``line`` of the user's file."""

    length: int
    read: str
    line: int


@dataclass
class StencilIR:
    """The kernel as the code generators see it."""

    name: str
    filename: str
    firstlineno: int
    arguments: tuple[Argument, ...]
    body: list[ast.stmt]
    nout: int
    ndim: int
    neighborhood: tuple[Interval, ...]      # per axis, union over arrays, always holds 0
    layout: Layout
    env: dict[str, object] = field(default_factory=dict)   # globals the body needs at run time
    source: str = ""
    #: locals holding part of a standard_indexing array (``c = b[0]``) -> that argument
    array_locals: dict[str, str] = field(default_factory=dict)
    #: per standard_indexing argument and axis: the longest that axis must be for the reads
    #: at constant indices, with the first read that needs it (set by :func:`shape_needs`)
    shape_needs: dict[str, tuple["ShapeNeed", ...]] = field(default_factory=dict)

    def dump(self) -> str:
        """A readable listing of the IR, for debugging and ``stencilc`` CLI output."""
        lines = [f"kernel {self.name} ({self.filename}:{self.firstlineno})",
                 f"  layout       {self.layout}",
                 f"  neighborhood {self.neighborhood}"]
        lines += [f"  arg {a.name:<10} {a.role.value:<8} core dims {a.core_dims}"
                  for a in self.arguments]
        lines += ["  body:"] + ["    " + line for line in render_body(self.body).splitlines()]
        return "\n".join(lines)


class _Printer(ast.NodeTransformer):
    def visit_RelativeRead(self, node: RelativeRead) -> ast.expr:
        parts = ", ".join(ast.unparse(o) + ("?" if c else "")
                          for o, c in zip(node.offsets, node.checked))
        return ast.Name(id=f"{node.array}@[{parts}]", ctx=ast.Load())

    def visit_RelativeWindow(self, node: RelativeWindow) -> ast.expr:
        parts = ", ".join(f"{lo}:{hi}" for lo, hi in node.bounds)
        return ast.Name(id=f"{node.array}@[{parts}]", ctx=ast.Load())

    def visit_Accumulation(self, node: Accumulation) -> list[ast.stmt]:
        return [self.visit(copy.deepcopy(stmt)) for stmt in node.original]

    def visit_WindowReduction(self, node: WindowReduction) -> ast.stmt:
        window = ast.unparse(self.visit_RelativeWindow(node.window))
        return ast.parse(f"{node.result} = {node.op}[{node.accumulate}]({window})").body[0]


def render_body(body: list[ast.stmt]) -> str:
    """The body as text, relative accesses shown as ``x@[-1, 0]`` (``?`` marks run-time checks)."""
    module = ast.Module(body=[_Printer().visit(copy.deepcopy(s)) for s in body], type_ignores=[])
    return ast.unparse(ast.fix_missing_locations(module))


def render_expression(node: ast.expr) -> str:
    """One expression as text, relative accesses shown as in :func:`render_body`."""
    return ast.unparse(ast.fix_missing_locations(_Printer().visit(copy.deepcopy(node))))


def constant_node(value) -> ast.expr:
    """An AST expression that evaluates to ``value``, with its exact type, in generated code.

    NumPy scalars keep their dtype (``_sc_np.float32(0.5)``); infinities and NaN go through
    ``_sc_math`` because they have no literal.
    """
    if isinstance(value, tuple):
        return ast.Tuple(elts=[constant_node(v) for v in value], ctx=ast.Load())
    if isinstance(value, (np.number, np.bool_)):
        ctor = ast.Attribute(value=ast.Name(id=f"{RESERVED_PREFIX}np", ctx=ast.Load()),
                             attr=np.dtype(type(value)).name, ctx=ast.Load())
        return ast.Call(func=ctor, args=[constant_node(value.item())], keywords=[])
    if isinstance(value, float) and not math.isfinite(value):
        name = "nan" if math.isnan(value) else "inf"
        node = ast.Attribute(value=ast.Name(id=f"{RESERVED_PREFIX}math", ctx=ast.Load()),
                             attr=name, ctx=ast.Load())
        return ast.UnaryOp(op=ast.USub(), operand=node) if value < 0 else node
    if isinstance(value, complex) and not (math.isfinite(value.real) and math.isfinite(value.imag)):
        return ast.Call(func=ast.Name(id="complex", ctx=ast.Load()),
                        args=[constant_node(value.real), constant_node(value.imag)], keywords=[])
    return ast.Constant(value)


def constant_value(node: ast.AST) -> object:
    """The value of a constant written by :func:`constant_node`, else :data:`UNKNOWN`."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id == f"{RESERVED_PREFIX}math" and node.attr in ("inf", "nan"):
        return math.inf if node.attr == "inf" else math.nan
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
            and isinstance(node.operand, ast.Attribute):
        value = constant_value(node.operand)
        return UNKNOWN if value is UNKNOWN else -value
    if isinstance(node, ast.Tuple):
        values = tuple(constant_value(e) for e in node.elts)
        return UNKNOWN if any(v is UNKNOWN for v in values) else values
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and isinstance(node.func.value, ast.Name) and len(node.args) == 1 \
            and not node.keywords:
        value = constant_value(node.args[0])
        if value is UNKNOWN:
            return UNKNOWN
        if node.func.value.id == f"{RESERVED_PREFIX}np":
            return np.dtype(node.func.attr).type(value)
        return UNKNOWN
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id == "complex" and len(node.args) == 2:
        real, imag = (constant_value(a) for a in node.args)
        return UNKNOWN if UNKNOWN in (real, imag) else complex(real, imag)
    return UNKNOWN

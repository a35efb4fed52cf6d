"""CPU code generation (the ``cpu`` and ``parallel`` targets share the module).

The kernel's body is compiled twice per specialization, or four times:

  * ``_sc_point``, the point function on its own: typed first (its return type gives the value
    dtypes), then called for border points;
  * ``_sc_interior``, the interior rows ``[b0, e0)`` of one core block, with the point function
    inlined by numba (``inline='always'``: LLVM's own inliner gives up on large bodies, and a
    call per point never vectorizes). Its innermost loop holds no boundary logic, so LLVM
    vectorizes it; its reads index in uint64 (:class:`UnsignedIndex`);
  * for kernels of reads at constant offsets, ``_sc_point_leading`` and ``_sc_point_last``:
    the body reading through the rules of the leading axes only (the middle of a border row:
    the rules depend on the row alone, so LLVM hoists them and vectorizes the row) and of the
    last axis only (the ends of an interior row), each rule computed once per point.

Around them, small functions: ``_sc_edge`` computes the border points of one box by copying
each point's neighbourhood through the boundary rules into a small patch (``_sc_patch_<x>``)
and calling ``_sc_point`` on the patch, so the body is not repeated with a rule per read
(with the ruled point functions, only the corners take patches, and ``_sc_side`` computes the
ends of interior rows); the loop nest named after the kernel, which ``numba.guvectorize``
turns into the gufunc, calls ``_sc_edge`` for the 2 x ndim border slabs and ``_sc_interior``
for the rest of the rows ``[_sc_rb, _sc_re)`` it is given (the parallel target runs bands of
rows on several threads). numba links compiled callees into their callers, so no body is typed
more often than listed here.
"""
from __future__ import annotations

import ast
import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..boundary import INDEX_RULES, per_axis
from ..folding import int_value
from ..ir import (RESERVED_PREFIX as P, Accumulation, RelativeRead, RelativeWindow, Role,
                  StencilIR, WindowReduction)
from .rows import (RowReduction, accumulator_probe, emit_row_function, row_buffers,
                   row_inputs, row_reductions)
from .common import (BoundarySpec, GeneratedModule, Writer, border_stores, cast_constant,
                     emit_header, emit_point_functions, fill_params, helper, name, store_point)

RUNTIME_MODULE = "stencilc.runtime.cpu"


@dataclass(frozen=True)
class CpuOptions:
    boundary: str | None | tuple[str | None, ...]
    cval: object
    fastmath: bool


class UnsignedIndex:
    """Interior indices in uint64, one variable per axis and offset, hoisted to the top of the
    point function (``_sc_u0m1 = uint64(_sc_i0 - 1)``). numba wraps negative *signed* indices
    around (a select per read); LLVM cannot always prove an interior index non-negative, and
    then gathers instead of loading vectors. Unsigned indices need no wraparound, and interior
    indices are never negative."""

    def __init__(self):
        self.used: dict[tuple[int, int], str] = {}

    def interior_index(self, axis: int, offset: int) -> ast.expr:
        suffix = "" if offset == 0 else ("m" if offset < 0 else "p") + str(abs(offset))
        return name(self.used.setdefault((axis, offset), f"{P}u{axis}{suffix}"))

    def prologue(self) -> list[str]:
        lines = []
        for (axis, offset), variable in sorted(self.used.items()):
            index = f"{P}i{axis}" if offset == 0 else \
                f"{P}i{axis} {'-' if offset < 0 else '+'} {abs(offset)}"
            lines.append(f"{variable} = {P}np.uint64({index})")
        return lines


def generate_cpu(ir: StencilIR, options: CpuOptions, arg_dtypes: tuple[np.dtype, ...],
                 env_note: str = "") -> GeneratedModule:
    """The module source for the simplified ``ir`` specialized on ``arg_dtypes``."""
    dtypes = {a.name: np.dtype(dt) for a, dt in zip(ir.arguments, arg_dtypes)}
    spec = BoundarySpec(per_axis(options.boundary, ir.ndim), options.cval)
    box = _Box.of(ir)
    out = Writer(ir.firstlineno)
    emit_header(out, ir, "cpu", spec, dtypes, RUNTIME_MODULE, env_note)
    out.add("# numba caches compiled code only for modules imported from a file")
    out.add(f"{P}CACHE = __file__.endswith('.py')")
    flags = f"fastmath={options.fastmath}, error_model='numpy'"
    jit = f"@{P}numba.njit(cache={P}CACHE, {flags})"
    inline = f"@{P}numba.njit(inline='always', {flags})"
    direct = reads_directly(box)
    rows = row_reductions(ir, options.fastmath)
    with_rows = (inline, UnsignedIndex(), {r.node.key: f"{P}rw{r.number}" for r in rows}) \
        if rows else None
    strips = bool(rows) and box.has_border and spec.computes_border and not spec.fills \
        and not direct
    ruled = _ruled_point_functions(ir, spec, box, jit) \
        if not (direct or strips) and _reads_through_rules(ir, spec, box) else {}
    emit_point_functions(
        out, ir, spec, dtypes, UnsignedIndex(), jit, jit, with_border=direct, rows=with_rows,
        row_functions=lambda make: [emit_row_function(out, jit, row, ir, make) for row in rows],
        ruled=ruled)
    out.add(f"{P}point_inline = {inline[1:]}({P}point.py_func)")

    # with ruled point functions only the corners of border rows take patches: none in 1-D
    # or where the neighbourhood reaches along the last axis only
    corners = not ruled or LEADING in ruled
    patches = _Patches({}, box.extents) if direct or strips or not corners \
        else _Patches.of(ir, spec, box)
    for array, cells in patches.cells.items():
        _patch_function(out, inline, array, cells, dtypes[array], spec, box)
    nest = _Nest(ir, [a.name for a in ir.arguments] + fill_params(ir, spec),
                 [f"{P}out{k}" for k in range(ir.nout)], patches, rows, dtypes, box)
    # large kernels: the border function compiled once and called (inlined into the interior
    # and the nest, it was typed and optimized three times: 0.5 s of a 15x15 min's compile);
    # their rows are long enough that the call costs nothing measurable
    if strips:
        _strip_functions(out, inline, jit, ir, spec, box, nest)
    elif ruled:
        # called once per box (border slabs, 1-D ends; interior rows' ends go through
        # _sc_side): none where the neighbourhood reaches along the last axis only
        if LEADING in ruled or ir.ndim == 1:
            _edge_function(out, jit, ir, spec, box, nest, direct, ruled)
        if ir.ndim > 1 and LAST in ruled:
            _side_function(out, inline, ir, nest)
    else:
        _edge_function(out, jit if rows else inline, ir, spec, box, nest, direct)
    _interior_function(out, jit, ir, box, nest, side=ir.ndim > 1 and LAST in ruled)
    _loop_nest(out, ir, box, nest)
    return GeneratedModule(out.source, f"{P}point", {"serial": ir.name}, out.line_map,
                           fill_inputs=spec.fills)


@dataclass(frozen=True)
class _Box:
    """The neighbourhood as the nests use it: per axis, how far it reaches below (``lows``)
    and above (``highs``) the point, and the patch that holds it (``extents``; the point sits
    at ``lows`` in it)."""

    lows: tuple[int, ...]
    highs: tuple[int, ...]

    @classmethod
    def of(cls, ir: StencilIR) -> "_Box":
        return cls(tuple(max(0, -lo) for lo, _ in ir.neighborhood),
                   tuple(max(0, hi) for _, hi in ir.neighborhood))

    @property
    def extents(self) -> tuple[int, ...]:
        return tuple(lo + hi + 1 for lo, hi in zip(self.lows, self.highs))

    @property
    def has_border(self) -> bool:
        return any(self.lows) or any(self.highs)

    def interior_end(self, axis: int) -> str:
        """Where the interior of ``axis`` ends (it starts at ``lows``)."""
        if not self.highs[axis]:
            return f"{P}n{axis}"
        return f"max({self.lows[axis]}, {P}n{axis} - {self.highs[axis]})"


Cells = tuple[tuple[int, ...], ...]

#: the most cells a border patch may hold (128 KiB of float64). A neighbourhood whose box is
#: larger (a far tap: ``x[0, 0] + x[1000, 0]``) computes border points through ``_sc_border``
#: instead, every read through its boundary rule: memory in the taps read, not in the box.
PATCH_CELLS = 1 << 14


def reads_directly(box: "_Box") -> bool:
    """Whether border points read through the rules one read at a time (no patch)."""
    return math.prod(box.extents) > PATCH_CELLS


@dataclass(frozen=True)
class _Patches:
    """Border points copy the neighbourhood of each relative argument into a patch, then
    call ``_sc_point`` on the patches. ``cells``: per array, the cells of its patch the kernel
    reads (every cell where some read's offset is known only at run time)."""

    cells: dict[str, Cells]
    extents: tuple[int, ...]

    @classmethod
    def of(cls, ir: StencilIR, spec: BoundarySpec, box: _Box) -> "_Patches":
        if not (spec.computes_border and box.has_border):
            return cls({}, box.extents)
        return cls({a.name: _cells_read(ir, a.name, box) for a in ir.arguments
                    if a.role is Role.RELATIVE}, box.extents)

    @property
    def names(self) -> list[str]:
        return [f"{P}p_{a}" for a in self.cells]

    def allocations(self) -> list[str]:
        """One patch per array, allocated once per core block and refilled for every point."""
        return [f"{P}p_{a} = {P}np.empty({_shape_tuple(self.extents)}, {a}.dtype)"
                for a in self.cells]


def _cells_read(ir: StencilIR, array: str, box: _Box) -> Cells:
    """The patch cells of ``array`` the kernel reads, in order; all of them where a read's
    offset is known only at run time (or a window reads a block)."""
    def everything() -> Cells:
        return tuple(itertools.product(*(range(e) for e in box.extents)))

    found: set[tuple[int, ...]] = set()
    for node in (n for stmt in ir.body for n in ast.walk(stmt)):
        if isinstance(node, RelativeWindow) and node.array == array:
            return everything()
        if isinstance(node, WindowReduction) and node.window.array == array:
            return everything()
        if isinstance(node, Accumulation):
            return everything()
        if isinstance(node, RelativeRead) and node.array == array:
            offsets = [int_value(o) if c is None else None
                       for o, c in zip(node.offsets, node.checked)]
            if any(o is None for o in offsets):
                return everything()
            found.add(tuple(o + low for o, low in zip(offsets, box.lows)))
    return tuple(sorted(found))


@dataclass(frozen=True)
class _Nest:
    """The parameters the nest functions pass along: the kernel's inputs (arguments, fill
    values), its outputs, and the patches."""

    ir: StencilIR
    inputs: list[str]
    outputs: list[str]
    patches: _Patches
    rows: list[RowReduction]
    dtypes: dict[str, np.dtype]
    box: "_Box"

    @property
    def shapes(self) -> str:
        return ", ".join(f"{P}n{k}" for k in range(self.ir.ndim))

    @property
    def buffers(self) -> list[str]:
        return [name for name, _ in row_buffers(self.rows)]

    @property
    def passed(self) -> str:
        """What every nest function takes after its own bounds: shapes, inputs, outputs,
        patches, row buffers."""
        return ", ".join([self.shapes] + self.inputs + self.outputs + self.patches.names
                         + self.buffers)

    def allocations(self) -> list[str]:
        """The patches and the row buffers, allocated once per core block."""
        # as long as a padded border strip's row (_strip_functions): the row passes read and
        # write the window's reach past each end
        last = f"{P}n{self.ir.ndim - 1} + {self.box.extents[-1] - 1}"
        found = self.patches.allocations()
        for row in self.rows:
            for name, dtype in row.buffers:
                length = row.length(name)
                if length is not None:
                    found.append(f"{name} = {P}np.zeros({length}, {P}np.{dtype})")
                elif dtype is None:
                    probe = accumulator_probe(row.node, self.dtypes, self.ir.env)
                    found.append(f"{name} = {P}np.full({last}, {probe})")
                else:
                    found.append(f"{name} = {P}np.empty({last}, {P}np.{dtype})")
        return found

    def interior_point(self, index: str) -> str:
        """The call computing one interior point (reading the row buffers, if any)."""
        args = ", ".join(a.name for a in self.ir.arguments)
        if not self.rows:
            return f"{P}point_inline({index}, {args})"
        values = ", ".join(f"{P}rw{r.number}" for r in self.rows)
        return f"{P}point_rows({index}, {args}, {values})"

    def fill_rows(self, leading: list[str], begin: str, end: str) -> list[str]:
        """The calls filling the row buffers for the points ``[begin, end)`` of the last
        axis, at the leading indices given."""
        calls = []
        for row in self.rows:
            inputs = row_inputs(row, self.ir) + [name for name, _ in row.buffers]
            calls.append(f"{P}rows{row.number}({', '.join(leading + [begin, end] + inputs)})")
        return calls

    def edge(self, ranges: list[str], function: str = f"{P}edge") -> str:
        """The call computing the border points in the box ``ranges`` (``"b, e"`` per axis)."""
        return f"{function}({', '.join(ranges)}, {self.passed})"


def _unliteral(value: int) -> str:
    """An integer argument of a call between compiled functions: numba compiles the callee
    once more for every distinct literal argument (``Literal[int](0)``), so none is passed."""
    return f"{P}np.intp({value})"


def _shape_tuple(values) -> str:
    return f"({', '.join(str(v) for v in values)}{',' if len(values) == 1 else ''})"


def _patch_function(out: Writer, decorator: str, array: str, cells: Cells, dtype: np.dtype,
                    spec: BoundarySpec, box: _Box) -> None:
    """``_sc_patch_<array>``: copies the cells of the neighbourhood of the point ``_sc_i0, ...``
    of ``array`` that the kernel reads into the patch ``_sc_p``, through each axis' boundary
    rule (``cval`` outside along a ``constant`` axis; as is along a ``None`` axis, where the
    points computed stay inside). A whole patch is filled axis by axis, some cells through a
    table of them."""
    d = len(box.lows)
    params = [f"{P}p", array] + [f"{P}i{k}" for k in range(d)] + [f"{P}n{k}" for k in range(d)]
    whole = len(cells) == math.prod(box.extents)
    if not whole:
        table = ", ".join(_shape_tuple(c) for c in cells)
        out.gap()
        out.add(f"{P}cells_{array} = {P}np.array([{table}], {P}np.intp)")
    out.gap()
    out.add(decorator)
    out.add(f"def {P}patch_{array}({', '.join(params)}):")
    if not whole:
        out.add(f"for {P}t in range({len(cells)}):", 1)
    for k, (extent, low) in enumerate(zip(box.extents, box.lows)):
        indent = 2 + k if whole else 2
        if whole:
            out.add(f"for {P}a{k} in range({extent}):", 1 + k)
        else:
            out.add(f"{P}a{k} = {P}cells_{array}[{P}t, {k}]", indent)
        out.add(_ruled_index(spec, k, f"{P}i{k} + {P}a{k}" + (f" - {low}" if low else "")),
                indent)
    out.add(f"{P}p[{', '.join(f'{P}a{k}' for k in range(d))}] = "
            f"{_ruled_read(spec, array, dtype, d)}", 1 + d if whole else 2)


def _ruled_index(spec: BoundarySpec, axis: int, index: str) -> str:
    """``_sc_j<axis> = index`` through the axis' index rule (as is along ``constant`` and
    ``None`` axes: :func:`_ruled_read` tests it)."""
    mode = spec.modes[axis]
    if mode in INDEX_RULES:
        index = f"{helper('', mode)}({index}, {P}n{axis})"
    return f"{P}j{axis} = {index}"


def _ruled_read(spec: BoundarySpec, array: str, dtype: np.dtype, d: int) -> str:
    """``array[_sc_j0, ...]``, or ``cval`` where an index leaves a ``constant`` axis."""
    read = f"{array}[{', '.join(f'{P}j{k}' for k in range(d))}]"
    inside = [f"0 <= {P}j{k} < {P}n{k}" for k, mode in enumerate(spec.modes)
              if mode == "constant"]
    if not inside:
        return read
    cval = ast.unparse(cast_constant(spec.cval, dtype, array))
    return f"{read} if {' and '.join(inside)} else {cval}"


#: the point functions reading through the rules of some axes only (``_ruled_point_functions``)
LEADING, LAST = f"{P}point_leading", f"{P}point_last"


def _reads_through_rules(ir: StencilIR, spec: BoundarySpec, box: _Box) -> bool:
    """Whether border points may read through the rules of the axes they leave, read by read,
    instead of copying a patch: kernels of reads at constant offsets (no windows, loop nests
    or offsets known at run time), every border point computed (no ``None`` axis)."""
    if not (spec.computes_border and box.has_border) or spec.fills:
        return False
    for node in (n for stmt in ir.body for n in ast.walk(stmt)):
        if isinstance(node, (RelativeWindow, WindowReduction, Accumulation)):
            return False
        if isinstance(node, RelativeRead) and any(c is not None for c in node.checked):
            return False
    return True


def _ruled_point_functions(ir: StencilIR, spec: BoundarySpec, box: _Box,
                           decorator: str) -> dict[str, tuple[str, tuple[str | None, ...]]]:
    """The border points of a row whose last axis stays inside (the middle of a border row)
    read through the rules of the leading axes only (``_sc_point_leading``: the rules depend
    only on the row, so LLVM hoists them and vectorizes the row as the interior's); the ends
    of a row inside along the leading axes through the last axis' rule only
    (``_sc_point_last``). Patches remain for the corners. A patch per point cost the seed's
    uint8 smooth (16, 1000, 1000) 0.8 ms of its 3.0 (boundary=None: 2.2 ms)."""
    d = ir.ndim
    functions = {}
    if d > 1 and any(box.lows[:-1] + box.highs[:-1]):
        functions[LEADING] = (decorator, spec.modes[:-1] + (None,))
    if box.lows[-1] or box.highs[-1]:
        functions[LAST] = (decorator, (None,) * (d - 1) + spec.modes[-1:])
    return functions


def _edge_function(out: Writer, decorator: str, ir: StencilIR, spec: BoundarySpec, box: _Box,
                   nest: _Nest, direct: bool, ruled: dict | None = None) -> None:
    """``_sc_edge``: the border points in one box ``[b0, e0) x [b1, e1) ...``, each through
    ``_sc_point`` on patches of the relative arguments (or the fill values). Inlined where it
    is called: a call per row's border costs as much as the row's interior in small images
    (numba passes every array field by field). With ``ruled`` point functions (see
    :func:`_ruled_point_functions`) each row's middle reads through the leading axes' rules
    and only its ends take patches; then it is called once per box (rows' ends go through
    ``_sc_side``)."""
    d = ir.ndim
    index, args = _box_function(out, decorator, f"{P}edge", ir, nest)
    computed = [f"{P}patch_{a}({P}p_{a}, {a}, {index}, {nest.shapes})" for a in nest.patches.cells]
    if d == 1 and ruled:   # no leading axes: every border point leaves the last axis only
        computed = store_point(ir, f"{LAST}({index}, {nest.shapes}, {args})")
    elif spec.computes_border and direct:
        computed = store_point(ir, f"{P}border({index}, {nest.shapes}, {args})")
    elif spec.computes_border:
        patched = [f"{P}p_{a.name}" if a.name in nest.patches.cells else a.name
                   for a in ir.arguments]
        centers = ", ".join(_unliteral(low) for low in box.lows)
        computed += store_point(ir, f"{P}point({centers}, {', '.join(patched)})")
    last = d - 1
    if LEADING not in (ruled or {}):
        for k in range(d):
            out.add(f"for {P}i{k} in range({P}b{k}, {P}e{k}):", 1 + k)
        for line in border_stores(ir, spec, computed):
            out.add(line, 1 + d)
        return
    out.add(f"{P}lo = min({box.lows[last]}, {P}n{last})", 1)
    out.add(f"{P}hi = max({P}lo, {P}n{last} - {box.highs[last]})", 1)
    for k in range(last):
        out.add(f"for {P}i{k} in range({P}b{k}, {P}e{k}):", 1 + k)
    middle = store_point(ir, f"{LEADING}({index}, {nest.shapes}, {args})")
    for begin, end, lines in ((f"{P}b{last}", f"min({P}e{last}, {P}lo)", computed),
                              (f"max({P}b{last}, {P}lo)", f"min({P}e{last}, {P}hi)", middle),
                              (f"max({P}b{last}, {P}hi)", f"{P}e{last}", computed)):
        out.add(f"for {P}i{last} in range({begin}, {end}):", d)
        for line in lines:
            out.add(line, d + 1)


def _box_function(out: Writer, decorator: str, function: str, ir: StencilIR,
                  nest: _Nest) -> tuple[str, str]:
    """The head of a function over the points of a box, ``function(b0, e0, b1, e1, ...,
    passed)``; returns the point's index and the kernel's arguments, as call arguments."""
    bounds = [f"{P}{w}{k}" for k in range(ir.ndim) for w in "be"]
    out.gap()
    out.add(decorator)
    out.add(f"def {function}({', '.join(bounds)}, {nest.passed}):")
    return ", ".join(f"{P}i{k}" for k in range(ir.ndim)), ", ".join(a.name for a in ir.arguments)


def _side_function(out: Writer, decorator: str, ir: StencilIR, nest: _Nest) -> None:
    """``_sc_side``: the ends of rows inside along every leading axis (same parameters as
    ``_sc_edge``), through the last axis' rule only; inlined in the interior's rows."""
    d = ir.ndim
    index, args = _box_function(out, decorator, f"{P}side", ir, nest)
    for k in range(d):
        out.add(f"for {P}i{k} in range({P}b{k}, {P}e{k}):", 1 + k)
    for line in store_point(ir, f"{LAST}({index}, {nest.shapes}, {args})"):
        out.add(line, 1 + d)


def _strip_functions(out: Writer, inline: str, jit: str, ir: StencilIR, spec: BoundarySpec,
                     box: _Box, nest: _Nest) -> None:
    """``_sc_edge`` for kernels with row schedules: the border points of a box computed as the
    interior is, a row at a time, on copies of the relative arguments padded through the
    boundary rules (``_sc_pad_<array>``: a row of points and the window's reach around it). A point
    per patch cost 82 % of a 15x15 float32 minimum's time (each of the 57 000 border points
    of a 2048x2048 image copied 225 cells and looped over them); as strips, the border
    costs about what as many interior points do. The same values: the padded copies hold
    what the rules read, and the interior's code computes every point."""
    d = ir.ndim
    relative = [a.name for a in ir.arguments if a.role is Role.RELATIVE]
    for array in relative:
        _pad_function(out, inline, array, nest.dtypes[array], spec, box)
    # the points [b, e) of each axis, output coordinates; the padded arrays start at o
    bounds = [f"{P}{w}{k}" for k in range(d) for w in "be"]
    origins = [f"{P}o{k}" for k in range(d)]
    out.gap()
    out.add(inline)
    params = bounds + origins + nest.inputs + nest.outputs + nest.buffers
    out.add(f"def {P}strip({', '.join(params)}):")
    padded = [f"{P}t{k}" for k in range(d)]
    last = d - 1
    row = (f"{P}b{last} - {P}o{last}", f"{P}e{last} - {P}o{last}")   # in padded coordinates
    if d == 1:
        for line in nest.fill_rows([], *row):
            out.add(line, 1)
    for k in range(d):
        out.add(f"for {P}i{k} in range({P}b{k}, {P}e{k}):", 1 + k)
        out.add(f"{padded[k]} = {P}i{k} - {P}o{k}", 2 + k)
        if k == d - 2:
            for line in nest.fill_rows(padded[:-1], *row):
                out.add(line, 2 + k)
    for line in store_point(ir, nest.interior_point(", ".join(padded))):
        out.add(line, 1 + d)
    _box_function(out, jit, f"{P}edge", ir, nest)
    empty = " or ".join(f"{P}e{k} <= {P}b{k}" for k in range(d))
    out.add(f"if {empty}:", 1)
    out.add("return", 2)
    # one row of points at a time: the copies hold that row's window (extent rows along each
    # leading axis), so their memory is bounded by the window times a row, whatever the box
    # (a whole border slab at once was extent0 + lows0 - 1 rows: 21 for 15x15, 15 times an
    # input of one row)
    shape = _shape_tuple([str(e) for e in box.extents[:-1]] +
                         [f"{P}e{last} - {P}b{last} + {box.extents[last] - 1}"])
    for array in relative:
        out.add(f"{P}q_{array} = {P}np.empty({shape}, {array}.dtype)", 1)
    out.add(f"{P}o{last} = {P}b{last} - {box.lows[last]}", 1)
    for k in range(last):
        out.add(f"for {P}i{k} in range({P}b{k}, {P}e{k}):", 1 + k)
        out.add(f"{P}o{k} = {P}i{k} - {box.lows[k]}", 2 + k)
    for array in relative:
        out.add(f"{P}pad_{array}({P}q_{array}, {array}, {', '.join(origins)}, {nest.shapes})",
                1 + last)
    rows = [f"{P}i{k}, {P}i{k} + 1" for k in range(last)] + [f"{P}b{last}, {P}e{last}"]
    inputs = [f"{P}q_{a}" if a in relative else a for a in nest.inputs]
    out.add(f"{P}strip({', '.join(rows + origins + inputs + nest.outputs + nest.buffers)})",
            1 + last)


def _pad_function(out: Writer, decorator: str, array: str, dtype: np.dtype,
                  spec: BoundarySpec, box: _Box) -> None:
    """``_sc_pad_<array>(q, array, o0, ..., n0, ...)``: ``q[a0, ...]`` is what the boundary rules
    read at ``array[o0 + a0, ...]`` (``cval`` outside along a ``constant`` axis)."""
    d = len(box.lows)
    params = [f"{P}q", array] + [f"{P}o{k}" for k in range(d)] + [f"{P}n{k}" for k in range(d)]
    out.gap()
    out.add(decorator)
    out.add(f"def {P}pad_{array}({', '.join(params)}):")
    for k in range(d):
        out.add(f"for {P}a{k} in range({P}q.shape[{k}]):", 1 + k)
        out.add(_ruled_index(spec, k, f"{P}o{k} + {P}a{k}"), 2 + k)
    out.add(f"{P}q[{', '.join(f'{P}a{k}' for k in range(d))}] = "
            f"{_ruled_read(spec, array, dtype, d)}", 1 + d)


def _interior_function(out: Writer, jit: str, ir: StencilIR, box: _Box, nest: _Nest,
                       side: bool = False) -> None:
    """``_sc_interior``: rows ``[b0, e0)`` of axis 0's interior, each axis after it as border
    slab / interior / border slab (so a row's border points are computed beside it, while it
    is in cache), the point function inlined in the innermost interior loop. ``side``: the
    ends of the rows through ``_sc_side``."""
    d = ir.ndim
    index = ", ".join(f"{P}i{k}" for k in range(d))
    out.gap()
    out.add(jit)
    out.add(f"def {P}interior({P}b0, {P}e0, {nest.passed}):")
    for k in range(1, d):
        out.add(f"{P}hi{k} = {box.interior_end(k)}", 1)

    def edge(k: int, begin: str, end: str, indent: int) -> None:
        ranges = [f"{P}i{a}, {P}i{a} + 1" for a in range(k)] + [f"{begin}, {end}"] + \
            [f"{_unliteral(0)}, {P}n{a}" for a in range(k + 1, d)]
        out.add(nest.edge(ranges, f"{P}side" if side and k == d - 1 else f"{P}edge"), indent)

    def split_axis(k: int, indent: int) -> None:
        low = (_unliteral(0), f"min({box.lows[k]}, {P}n{k})")
        high = (f"{P}hi{k}", f"{P}n{k}")
        if box.lows[k]:
            edge(k, *low, indent)
        if k == d - 1:
            leading = [f"{P}i{a}" for a in range(d - 1)]
            for line in nest.fill_rows(leading, _unliteral(box.lows[k]), f"{P}hi{k}"):
                out.add(line, indent)
        out.add(f"for {P}i{k} in range({box.lows[k]}, {P}hi{k}):", indent)
        if k == d - 1:
            for line in store_point(ir, nest.interior_point(index)):
                out.add(line, indent + 1)
        else:
            split_axis(k + 1, indent + 1)
        if box.highs[k]:
            edge(k, *high, indent)

    if d == 1:
        for line in nest.fill_rows([], f"{P}b0", f"{P}e0"):
            out.add(line, 1)
    out.add(f"for {P}i0 in range({P}b0, {P}e0):", 1)
    if d == 1:
        for line in store_point(ir, nest.interior_point(index)):
            out.add(line, 2)
    else:
        split_axis(1, 2)


def _loop_nest(out: Writer, ir: StencilIR, box: _Box, nest: _Nest) -> None:
    """The loop nest over one core block, named after the kernel (the gufunc kernel): the
    rows ``[_sc_rb, _sc_re)`` of axis 0 (the parallel target gives each thread a band; the
    cpu target all rows), as border slab / ``_sc_interior`` / border slab."""
    d = ir.ndim
    out.gap()
    out.add(f"def {ir.name}({', '.join(nest.inputs + [f'{P}rb', f'{P}re'] + nest.outputs)}):")
    out.add(f"{nest.shapes}{',' if d == 1 else ''} = {P}out0.shape", 1)
    out.add(f"{P}hi0 = {box.interior_end(0)}", 1)
    out.add(f"{P}r0 = max({P}rb, 0)", 1)
    out.add(f"{P}r1 = min({P}re, {P}n0)", 1)
    for line in nest.allocations():
        out.add(line, 1)
    whole = [f"{_unliteral(0)}, {P}n{a}" for a in range(1, d)]
    low = (f"{P}r0", f"min({box.lows[0]}, {P}r1)")
    high = (f"max({P}hi0, {P}r0)", f"{P}r1")
    if box.lows[0]:
        out.add(nest.edge([", ".join(low)] + whole), 1)
    out.add(f"{P}interior(max({box.lows[0]}, {P}r0), min({P}hi0, {P}r1), {nest.passed})", 1)
    if box.highs[0]:
        out.add(nest.edge([", ".join(high)] + whole), 1)

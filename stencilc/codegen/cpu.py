"""CPU code generation: the loop nests around the shared point functions.

The module holds, besides what :mod:`.common` emits (``_sc_point``, ``_sc_border``):
  * ``_sc_edge``: the border points of one box, which the nest calls for every border slab;
  * the loop nest, named after the kernel, that ``numba.guvectorize`` turns into the gufunc:
    every axis runs as border slab / interior / border slab, so the innermost interior loop
    carries no boundary logic and LLVM vectorizes it; for the parallel target also
    ``_sc_rows``, the same nest with its outermost interior loop under ``prange``.

Interior reads index in uint64 (:class:`UnsignedIndex`), and the interior point is inlined by
numba (``inline='always'``): LLVM's own inliner gives up on large bodies (a 5x5 kernel), and a
call per point never vectorizes.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np

from ..boundary import per_axis
from ..ir import RESERVED_PREFIX as P, StencilIR
from .common import (BoundarySpec, GeneratedModule, Writer, emit_header, emit_point_functions,
                     fill_params, name, point_stores)

RUNTIME_MODULE = "stencilc.runtime.cpu"


@dataclass(frozen=True)
class CpuOptions:
    boundary: str | None | tuple[str | None, ...]
    cval: object
    fastmath: bool
    parallel: bool = False


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
    out = Writer(ir.firstlineno)
    emit_header(out, ir, "parallel" if options.parallel else "cpu", spec, dtypes,
                RUNTIME_MODULE, env_note)
    out.add("# numba caches compiled code only for modules imported from a file")
    out.add(f"{P}CACHE = __file__.endswith('.py')")
    jit = f"@{P}numba.njit(cache={P}CACHE, fastmath={options.fastmath}, error_model='numpy')"
    inlined = jit.replace("njit(", "njit(inline='always', ")
    emit_point_functions(out, ir, spec, dtypes, UnsignedIndex(), inlined, jit)

    interior, border = point_stores(ir, spec)
    params = [a.name for a in ir.arguments] + fill_params(ir, spec) + \
        [f"{P}out{k}" for k in range(ir.nout)]
    _edge_function(out, jit, ir, params, border)
    _loop_nest(out, ir.name, ir, params, options, interior, parallel=False)
    kernels = {"serial": ir.name}
    if options.parallel:
        kernels["rows"] = f"{P}rows"
        _loop_nest(out, f"{P}ploops", ir, params, options, interior, parallel=True)
        out.gap()
        out.add(f"def {P}rows({', '.join(params)}):")
        out.add(f"{P}ploops({', '.join(params)})", 1)
    return GeneratedModule(out.source, f"{P}point", kernels, out.line_map,
                           fill_inputs=spec.fills)


def _edge_function(out: Writer, jit: str, ir: StencilIR, kernel_params: list[str],
                   border: list[str]) -> None:
    """``_sc_edge``: the border points in one box ``[b0, e0) x [b1, e1) ...``. The loop nest
    calls it for every border slab, so the border body appears once in the module rather
    than once per slab (2 x ndim of them)."""
    d = ir.ndim
    bounds = [f"{P}{w}{k}" for k in range(d) for w in "be"]
    params = bounds + [f"{P}n{k}" for k in range(d)] + kernel_params
    out.gap()
    out.add(jit)
    out.add(f"def {P}edge({', '.join(params)}):")
    for k in range(d):
        out.add(f"for {P}i{k} in range({P}b{k}, {P}e{k}):", 1 + k)
    for line in border:
        out.add(line, 1 + d)


def _loop_nest(out: Writer, function: str, ir: StencilIR, kernel_params: list[str],
               options: CpuOptions, interior: list[str], parallel: bool) -> None:
    """The loop nest over one core block, as a function ``function``: every axis runs as
    border slab / interior / border slab, so the innermost interior loop holds no boundary
    logic (a branch on an outer index around it kept LLVM from vectorizing 5x5 kernels).
    ``parallel``: numba splits the outermost interior loop across threads (the rows of one
    image)."""
    d = ir.ndim
    params = ", ".join(kernel_params)
    shapes = ", ".join(f"{P}n{k}" for k in range(d))
    out.gap()
    if parallel:   # the serial nest is the gufunc kernel itself; guvectorize compiles it
        out.add(f"@{P}numba.njit(parallel=True, cache={P}CACHE, "
                f"fastmath={options.fastmath}, error_model='numpy')")
    out.add(f"def {function}({params}):")
    out.add(f"{shapes}{',' if d == 1 else ''} = {P}out0.shape", 1)
    # The interior starts at a literal, so LLVM can prove every interior read's index is
    # non-negative.
    lows = [max(0, -lo) for lo, _ in ir.neighborhood]
    highs = [max(0, hi) for _, hi in ir.neighborhood]
    for k in range(d):
        bound = f"max({lows[k]}, {P}n{k} - {highs[k]})" if highs[k] else f"{P}n{k}"
        out.add(f"{P}hi{k} = {bound}", 1)

    def edge(k: int, begin: str, end: str, indent: int) -> None:
        box = [f"{P}i{a}, {P}i{a} + 1" for a in range(k)] + [f"{begin}, {end}"] + \
            [f"0, {P}n{a}" for a in range(k + 1, d)]
        out.add(f"{P}edge({', '.join(box)}, {shapes}, {params})", indent)

    def split_axis(k: int, indent: int) -> None:
        # an axis the neighbourhood does not reach on one side has no border slab there
        if lows[k]:
            edge(k, "0", f"min({lows[k]}, {P}n{k})", indent)
        if parallel and k == 0:
            # numba types a prange index as uint64, and uint64 - int64 is float64 in its
            # (NumPy's) promotion rules (numba issues #5801, #7495): use a signed copy.
            out.add(f"for {P}t0 in {P}numba.prange({lows[0]}, {P}hi0):", indent)
            out.add(f"{P}i0 = {P}np.intp({P}t0)", indent + 1)
        else:
            out.add(f"for {P}i{k} in range({lows[k]}, {P}hi{k}):", indent)
        if k == d - 1:
            for line in interior:
                out.add(line, indent + 1)
        else:
            split_axis(k + 1, indent + 1)
        if highs[k]:
            edge(k, f"{P}hi{k}", f"{P}n{k}", indent)

    split_axis(0, 1)

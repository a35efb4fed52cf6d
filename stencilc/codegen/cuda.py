"""CUDA code generation: one thread per output point around the shared point functions.

The module holds:
  * ``_sc_cpu_point``: the interior point function compiled for the CPU, only to learn the
    value types (every target computes numba's CPU types, docs/design.md 1.4);
  * ``_sc_point`` / ``_sc_border`` as CUDA device functions, with every numeric conversion
    written out (:mod:`.explicit`), so numba's CUDA simulator, which runs them as Python on
    NumPy scalars, computes what the compiled kernel computes;
  * the kernel, named after the user's function. Every array argument has one leading batch
    axis (the flattened loop dimensions; length 1 when broadcast), scalars are 1-D arrays of
    the batch. ``threadIdx.x`` runs along the contiguous last axis (coalesced loads), the
    second-to-last axis along y, batch and outer axes along z, one point per thread; its
    twin ``<name>_sc_strided`` has grid-stride loops for grids past CUDA's 65535 blocks along
    y or z (compiled only if such a launch happens). Indices are 64-bit. Interior points call
    ``_sc_point`` with no boundary logic; the others go through the shared border stores.
"""
from __future__ import annotations

import ast
import math
import re

import numba
import numpy as np
from numba.core import types

from ..boundary import per_axis
from ..errors import StencilSyntaxError
from ..ir import RESERVED_PREFIX as P, RelativeWindow, StencilIR, WindowReduction
from .common import (BoundarySpec, GeneratedModule, PlainIndex, Writer, emit_header,
                     emit_point_functions, fill_params, point_stores)
from .explicit import explicit_conversions

RUNTIME_MODULE = "stencilc.runtime.cuda"
CPU_RUNTIME_MODULE = "stencilc.runtime.cpu"

#: threads per block: 32 along the contiguous axis (a warp reads one segment), 8 rows
BLOCK_2D = (32, 8, 1)
BLOCK_1D = (256, 1, 1)
#: CUDA's limit on gridDim.y and gridDim.z; larger extents are covered by grid-stride loops
MAX_GRID_YZ = 65535


def generate_cuda(ir: StencilIR, boundary, cval, fastmath: bool, arg_dtypes,
                  env_note: str = "") -> GeneratedModule:
    """The module source for the simplified ``ir`` specialized on ``arg_dtypes``."""
    refuse_what_cannot_run(ir)
    dtypes = {a.name: np.dtype(dt) for a, dt in zip(ir.arguments, arg_dtypes)}
    spec = BoundarySpec(per_axis(boundary, ir.ndim), cval)
    out = Writer(ir.firstlineno)
    emit_header(out, ir, "cuda", spec, dtypes, RUNTIME_MODULE, env_note,
                other_runtimes={"cpu_": CPU_RUNTIME_MODULE})
    out.add(f"from numba import cuda as {P}cuda")
    out.add(f"from {RUNTIME_MODULE} import stored as {P}stored")
    out.add("# numba caches compiled code only for modules imported from a file")
    out.add(f"{P}CACHE = __file__.endswith('.py')")

    cpu_jit = f"@{P}numba.njit(cache={P}CACHE, error_model='numpy')"
    emit_point_functions(out, ir, spec, dtypes, PlainIndex(), cpu_jit, cpu_jit, prefix="cpu_",
                         with_border=False)
    value_types = {a.name: _numba_type(dtypes[a.name], a.ndim) for a in ir.arguments}

    def explicit(body, border):
        return explicit_conversions(body, value_types, ir.env)[0]

    device = f"@{P}cuda.jit(device=True, inline='always', fastmath={fastmath})"
    emit_point_functions(out, ir, spec, dtypes, PlainIndex(), device, device, transform=explicit)
    _kernel(out, ir, spec, fastmath, strided=False)
    _kernel(out, ir, spec, fastmath, strided=True)
    return GeneratedModule(out.source, f"{P}cpu_point",
                           {"cuda": ir.name, "cuda_strided": strided_name(ir)}, out.line_map,
                           fill_inputs=spec.fills)


def _numba_type(dtype: np.dtype, ndim: int):
    scalar = numba.from_dtype(dtype)
    return types.Array(scalar, ndim, "A") if ndim else scalar


def batched_name(argument: str) -> str:
    """The kernel parameter holding every batch of ``argument``."""
    return f"{P}all_{argument.removeprefix(P)}"


def strided_name(ir: StencilIR) -> str:
    """The grid-stride twin of the kernel, launched only where the grid cannot cover the
    array (more than :data:`MAX_GRID_YZ` blocks along y or z)."""
    return f"{ir.name}{P}strided"


def _kernel(out: Writer, ir: StencilIR, spec: BoundarySpec, fastmath: bool,
            strided: bool) -> None:
    """The kernel: one output point per thread, or (``strided``) grid-stride loops over the
    rows and the batch. The loops keep loop-carried 64-bit indices and array descriptors live
    (flux-like kernels: 80 registers against 32 without them, so occupancy under 50 %);
    the one-point kernel is what runs wherever the grid fits, i.e. below 65535 * 8 rows."""
    d = ir.ndim
    outs = [f"{P}out{k}" for k in range(ir.nout)]
    params = [batched_name(a.name) for a in ir.arguments] + fill_params(ir, spec) + \
        [batched_name(o) for o in outs]
    out.gap()
    out.add(f"@{P}cuda.jit(cache={P}CACHE, fastmath={fastmath})")
    out.add(f"def {strided_name(ir) if strided else ir.name}({', '.join(params)}):")
    first = batched_name(outs[0])
    out.add(f"{P}nb = {first}.shape[0]", 1)
    for k in range(d):
        out.add(f"{P}n{k} = {first}.shape[{k + 1}]", 1)

    def thread(axis: str) -> str:
        return f"{P}np.int64({P}cuda.blockIdx.{axis}) * {P}cuda.blockDim.{axis} + " \
               f"{P}cuda.threadIdx.{axis}"

    def stride(axis: str) -> str:
        return f"{P}np.int64({P}cuda.gridDim.{axis}) * {P}cuda.blockDim.{axis}"

    last = d - 1
    outer = [k for k in range(d - 2)]            # core axes spread over z with the batch
    extent = " * ".join([f"{P}nb"] + [f"{P}n{k}" for k in outer])
    z = "z" if d >= 2 else "y"
    out.add(f"{P}i{last} = {thread('x')}", 1)
    if strided:
        out.add(f"if {P}i{last} < {P}n{last}:", 1)
        indent = 2
        if d >= 2:
            out.add(f"for {P}i{d - 2} in range({thread('y')}, {P}n{d - 2}, {stride('y')}):",
                    indent)
            indent += 1
        out.add(f"for {P}t in range({P}cuda.blockIdx.{z}, {extent}, {P}cuda.gridDim.{z}):",
                indent)
        indent += 1
    else:
        tests = [f"{P}i{last} < {P}n{last}"]
        if d >= 2:
            out.add(f"{P}i{d - 2} = {thread('y')}", 1)
            tests.append(f"{P}i{d - 2} < {P}n{d - 2}")
        out.add(f"{P}t = {P}np.int64({P}cuda.blockIdx.{z})", 1)
        tests.append(f"{P}t < {extent}")
        out.add(f"if {' and '.join(tests)}:", 1)
        indent = 2
    out.add(f"{P}r = {P}t", indent)
    for k in reversed(outer):
        out.add(f"{P}i{k} = {P}r % {P}n{k}", indent)
        out.add(f"{P}r = {P}r // {P}n{k}", indent)
    out.add(f"{P}b = {P}r", indent)
    for a in ir.arguments:   # this batch's block of each argument (batch 0 where broadcast)
        whole = batched_name(a.name)
        out.add(f"{a.name} = {whole}[{P}b if {whole}.shape[0] > 1 else 0]", indent)
    for o in outs:
        out.add(f"{o} = {batched_name(o)}[{P}b]", indent)
    interior, border = (_converted_stores(lines) for lines in point_stores(ir, spec))
    tests = [f"{max(0, -lo)} <= {P}i{k} < {P}n{k} - {max(0, hi)}"
             for k, (lo, hi) in enumerate(ir.neighborhood) if lo < 0 or hi > 0]
    if not tests:
        for line in interior:
            out.add(line, indent)
        return
    out.add(f"if {' and '.join(tests)}:", indent)
    for line in interior:
        out.add(line, indent + 1)
    out.add("else:", indent)
    for line in border:
        out.add(line, indent + 1)


_STORE = re.compile(rf"^(\s*)({P}out\d+)\[(.*)\] = (.*)$")


def _converted_stores(lines: list[str]) -> list[str]:
    """Each store into an output converted through ``_sc_stored`` (numba's C cast on a GPU;
    the same wraparound in the simulator)."""
    converted = []
    for line in lines:
        found = _STORE.match(line)
        converted.append(line if found is None else
                         f"{found[1]}{found[2]}[{found[3]}] = {P}stored({found[4]}, {found[2]})")
    return converted


def launch_shape(ndim: int, batch: int, core_shape: tuple[int, ...]):
    """(blocks per grid, threads per block, whether the grid-stride kernel is needed) for
    ``batch`` blocks of ``core_shape``."""
    if ndim == 1:
        block = BLOCK_1D
        wanted = (math.ceil(core_shape[0] / block[0]), batch, 1)
    else:
        block = BLOCK_2D
        outer = batch * math.prod(core_shape[:-2])
        wanted = (math.ceil(core_shape[-1] / block[0]), math.ceil(core_shape[-2] / block[1]),
                  outer)
    grid = (wanted[0], min(wanted[1], MAX_GRID_YZ), min(wanted[2], MAX_GRID_YZ))
    return grid, block, grid != wanted


def refuse_what_cannot_run(ir: StencilIR) -> None:
    """Relative windows (arrays built per point) and NumPy functions have no CUDA
    implementation in numba-cuda: a located error, before any compiler sees the kernel."""
    nodes = [node for stmt in ir.body for node in ast.walk(stmt)]
    for node in nodes:
        if isinstance(node, WindowReduction) and node.op == "median":
            node = node.window   # the CPU's running histogram; here numba's np.median
        if isinstance(node, RelativeWindow):
            raise _located(ir, node, "a relative window (an array per point) cannot run on "
                           "the cuda target", "np.sum/mean/min/max of a window and np.median "
                           "of up to 27 cells run there; otherwise read the elements one by "
                           "one, e.g. in a `for` loop over range(...), or use target='cpu'")
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name) \
                and ir.env.get(node.func.value.id) is np:
            function = getattr(np, node.func.attr, None)
            if isinstance(function, type):      # np.float32(...): a conversion, fine
                continue
            hint = f"use math.{node.func.attr}" if hasattr(math, node.func.attr) else \
                "use the math module's functions, or target='cpu'"
            raise _located(ir, node, f"NumPy's {node.func.value.id}.{node.func.attr} has "
                           "no CUDA implementation", hint)


def _located(ir: StencilIR, node: ast.AST, message: str, hint: str) -> StencilSyntaxError:
    lines = ir.source.splitlines()
    index = getattr(node, "lineno", 1) - 1
    text = lines[index] if 0 <= index < len(lines) else None
    first = next((line for line in lines if line.strip()), "")
    indent = len(first) - len(first.lstrip())
    return StencilSyntaxError(message, hint=hint, filename=ir.filename,
                              lineno=index + ir.firstlineno, offset=node.col_offset + indent + 1,
                              text=text)

"""What the CUDA assembler says about a generated kernel, without a GPU.

``ptxas`` (in numba-cuda's ``cu12`` extra, package ``nvidia-cuda-nvcc``) assembles the PTX
that :meth:`~stencilc.targets.cuda.CudaKernel.ptx` returns for a real architecture and
reports registers per thread and local-memory spills. With the launch's block size that gives
the occupancy (resident threads per SM over the SM's maximum), the first limit on a
bandwidth-bound kernel. The PTX itself gives the global loads and stores, for the
memory-traffic model of docs/gpu.md. ``make test`` checks every kernel of
``tests/test_cuda_ptx.py`` with :func:`problems`.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

#: per SM on sm_80 and sm_90: 64K 32-bit registers, at most 2048 resident threads, 32 blocks
REGISTERS_PER_SM = 65536
THREADS_PER_SM = 2048
BLOCKS_PER_SM = 32
#: registers are allocated per warp in units of 256
REGISTER_UNIT = 256
#: the least occupancy a generated kernel may have at its block size
MIN_OCCUPANCY = 0.5


@dataclass(frozen=True)
class Report:
    """ptxas's and the PTX's figures for one kernel on one architecture."""

    arch: str
    registers: int
    spill_stores: int          # bytes
    spill_loads: int           # bytes
    stack_frame: int           # bytes of local memory per thread
    global_loads: int          # ld.global instructions in the PTX (static count)
    global_stores: int         # st.global instructions

    def occupancy(self, threads_per_block: int) -> float:
        """Resident threads per SM over :data:`THREADS_PER_SM` at this block size."""
        warps = math.ceil(threads_per_block / 32)
        per_warp = math.ceil(max(self.registers, 1) * 32 / REGISTER_UNIT) * REGISTER_UNIT
        blocks = min(REGISTERS_PER_SM // (per_warp * warps),
                     THREADS_PER_SM // threads_per_block, BLOCKS_PER_SM)
        return blocks * threads_per_block / THREADS_PER_SM


def ptxas_path() -> str | None:
    """``ptxas`` from the nvidia-cuda-nvcc wheel, else from ``PATH``; None if neither."""
    try:
        import nvidia.cuda_nvcc as nvcc
        for folder in getattr(nvcc, "__path__", []):
            candidate = os.path.join(folder, "bin", "ptxas")
            if os.access(candidate, os.X_OK):
                return candidate
    except ImportError:
        pass
    return shutil.which("ptxas")


def assemble(ptx: str, arch: str, max_registers: int | None = None) -> Report:
    """Assemble ``ptx`` for ``arch`` (``"sm_80"``) and read ptxas's verbose report."""
    path = ptxas_path()
    if path is None:
        raise FileNotFoundError("ptxas not found: pip install 'stencilc[cuda]' (numba-cuda[cu12] "
                                "brings nvidia-cuda-nvcc)")
    with tempfile.TemporaryDirectory() as folder:
        source = os.path.join(folder, "kernel.ptx")
        with open(source, "w") as handle:
            handle.write(ptx)
        command = [path, "-v", "--gpu-name", arch, source, "-o", os.path.join(folder, "k.cubin")]
        if max_registers is not None:
            command[1:1] = ["-maxrregcount", str(max_registers)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ptxas failed for {arch}: {done.stderr.strip()}")
    text = done.stderr + done.stdout

    def number(pattern: str) -> int:
        found = re.findall(pattern, text)
        return max((int(f) for f in found), default=0)

    return Report(arch, number(r"Used (\d+) registers"),
                  number(r"(\d+) bytes spill stores"), number(r"(\d+) bytes spill loads"),
                  number(r"(\d+) bytes stack frame"),
                  len(re.findall(r"\bld\.global\.", ptx)), len(re.findall(r"\bst\.global\.", ptx)))


def problems(report: Report, threads_per_block: int) -> list[str]:
    """What makes the kernel slow on a GPU before it runs: spills to local memory, or an
    occupancy under :data:`MIN_OCCUPANCY` at the launch's block size."""
    found = []
    if report.spill_stores or report.spill_loads:
        found.append(f"{report.arch}: {report.spill_stores} bytes of spill stores and "
                     f"{report.spill_loads} bytes of spill loads (local memory)")
    occupancy = report.occupancy(threads_per_block)
    if occupancy < MIN_OCCUPANCY:
        found.append(f"{report.arch}: {report.registers} registers per thread give "
                     f"{occupancy:.0%} occupancy at {threads_per_block} threads per block "
                     f"(under {MIN_OCCUPANCY:.0%})")
    return found

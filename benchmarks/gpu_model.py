"""A memory-traffic model of the cuda target for the cases of benchmarks/gpu_suite.py, from
the compiler alone (no GPU): what fraction of the device's copy bandwidth each kernel can
reach if it is bound by DRAM traffic. A model, not a measurement: docs/gpu.md shows it beside
the measurements still owed.

For each case it assembles the kernel's PTX with ptxas for sm_80 and sm_90 (registers,
spills, occupancy at the launch's block size) and counts the global loads an interior point
issues (the ``boundary=None`` variant: its border only stores fill values). The traffic model:
a copy moves one element in and one out per point. A stencil issues one load per tap, but
neighbouring threads of a block share their taps through L1, so DRAM delivers each block's
tile plus its halo once: ``(bx + 2 rx) (by + 2 ry) / (bx by)`` elements read per point, plus
one written. Along an axis spread over blocks (the 3-D Laplacian's z), the neighbouring
planes come from L2 if it holds them (optimistic bound: no extra traffic) or from DRAM
(pessimistic: one more read per plane tap). Predicted fraction of copy bandwidth =
copy bytes per point / model bytes per point.

    python benchmarks/gpu_model.py        # prints the table, writes docs/bench-gpu-model.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_suite import laplacian7, mean3  # noqa: E402

from stencilc import stencil_ufunc  # noqa: E402
from stencilc.codegen.cuda import BLOCK_2D  # noqa: E402
from stencilc.targets import ptxas  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"
CASES = [("mean3", mean3, "float32", (8192, 8192)), ("laplacian7", laplacian7, "float64",
                                                     (512, 512, 512))]


def traffic(neighborhood, block=BLOCK_2D) -> tuple[float, float]:
    """(optimistic, pessimistic) elements moved per output point: reads + one write."""
    bx, by = block[0], block[1]
    (ylo, yhi), (xlo, xhi) = neighborhood[-2], neighborhood[-1]
    tile = (bx + xhi - xlo) * (by + yhi - ylo) / (bx * by)
    plane_taps = sum(1 for lo, hi in neighborhood[:-2] for _ in range(hi - lo))
    return tile + 1, tile + plane_taps + 1


def model() -> list[dict]:
    rows = []
    for name, kernel, dtype, shape in CASES:
        f = stencil_ufunc(target="cuda", boundary="nearest")(kernel)
        spec = f.compile(dtype)
        interior = stencil_ufunc(target="cuda", boundary=None)(kernel).compile(dtype)
        loads = ptxas.assemble(interior.kernel.ptx((8, 0)), "sm_80").global_loads
        optimistic, pessimistic = traffic(f.ir.neighborhood)
        row = {"case": name, "dtype": dtype, "shape": list(shape),
               "loads_per_point": loads, "ideal_loads": 1,
               "dram_elements_per_point": [round(optimistic, 3), round(pessimistic, 3)],
               "copy_fraction": [round(2 / pessimistic, 2), round(2 / optimistic, 2)]}
        for cc, arch in ((8, 0), "sm_80"), ((9, 0), "sm_90"):
            report = ptxas.assemble(spec.kernel.ptx(cc), arch)
            threads = BLOCK_2D[0] * BLOCK_2D[1]
            row[arch] = {"registers": report.registers, "spill_bytes": report.spill_stores,
                         "occupancy": report.occupancy(threads)}
        rows.append(row)
    return rows


def main() -> int:
    if ptxas.ptxas_path() is None:
        print("ptxas not found (pip install 'stencilc[cuda]'); no model")
        return 0
    rows = model()
    print(f"{'case':12s} {'loads/pt':>8s} {'DRAM elem/pt':>14s} {'copy fraction':>14s} "
          f"{'sm_80 regs/occ':>15s} {'sm_90 regs/occ':>15s}")
    for r in rows:
        lo, hi = r["dram_elements_per_point"]
        f_lo, f_hi = r["copy_fraction"]
        cells = [f"{r[a]['registers']}/{r[a]['occupancy']:.0%}" for a in ("sm_80", "sm_90")]
        print(f"{r['case']:12s} {r['loads_per_point']:8d} {lo:6.2f}-{hi:<6.2f} "
              f"{f_lo:6.2f}-{f_hi:<6.2f}  {cells[0]:>15s} {cells[1]:>15s}")
    (DOCS / "bench-gpu-model.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

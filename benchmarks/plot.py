"""Draw docs/bench-cpu.png from docs/bench-cpu.json and docs/bench-first-call.json.

Left: each case's cold-cache time as a multiple of `np.copyto` of the same array (the memory
roofline, 1.0), log scale, every contender. Right: first call in a new process.

    python benchmarks/plot.py
"""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"
ORDER = ["stencilc parallel", "stencilc cpu", "hand numba loop", "seed", "scipy correlate",
         "scipy correlate1d x2", "scipy uniform_filter", "scipy laplace"]
COLOURS = {"stencilc parallel": "#1b7837", "stencilc cpu": "#5aae61", "hand numba loop": "#999999",
           "seed": "#d6604d", "scipy correlate": "#4393c3", "scipy correlate1d x2": "#92c5de",
           "scipy uniform_filter": "#2166ac", "scipy laplace": "#053061"}


def main() -> None:
    cpu = json.loads((DOCS / "bench-cpu.json").read_text())
    first = json.loads((DOCS / "bench-first-call.json").read_text())
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5), width_ratios=[3, 1])

    cases = list(cpu["cases"].values())
    width = 0.8 / len(ORDER)
    for k, name in enumerate(ORDER):
        xs, ys = [], []
        for i, case in enumerate(cases):
            entry = case["contenders"].get(name)
            if entry is not None:
                xs.append(i + (k - len(ORDER) / 2) * width)
                ys.append(entry["cold_s"] / case["contenders"]["copy"]["cold_s"])
        if xs:
            left.bar(xs, ys, width, label=name, color=COLOURS[name])
    left.axhline(1.0, color="black", lw=1, ls="--", label="np.copyto (roofline)")
    left.set_yscale("log")
    left.set_xticks(range(len(cases)))
    left.set_xticklabels([c["title"].replace(", ", ",\n", 1) for c in cases], fontsize=7)
    left.set_ylabel("time / np.copyto time (cold cache, lower is better)")
    left.set_title(f"Steady state, {cpu['cpu_model']} ({cpu['machine']})", fontsize=9)
    left.legend(fontsize=7, ncol=2)

    labels = {"seed": "seed", "stencilc_cold": "stencilc\ncold cache",
              "stencilc_warm": "stencilc\nwarm cache", "numba_floor": "numba floor\n(cached njit)"}
    medians = first["median_s"]
    names = [n for n in labels if n in medians]
    right.bar(range(len(names)), [medians[n] for n in names],
              color=["#d6604d", "#5aae61", "#1b7837", "#999999"][:len(names)])
    right.set_xticks(range(len(names)))
    right.set_xticklabels([labels[n] for n in names], fontsize=7)
    right.set_ylabel("seconds, imports included")
    right.set_title("First call in a new process\n(int8 3x3 smooth, (16, 1000, 1000))", fontsize=9)
    fig.tight_layout()
    fig.savefig(DOCS / "bench-cpu.png", dpi=110)
    print(f"wrote {DOCS / 'bench-cpu.png'}")


if __name__ == "__main__":
    main()

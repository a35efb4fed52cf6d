"""Draws docs/boundaries.png: what each boundary mode reads outside an array.

The values outside are not drawn by hand: a stencil with a wide neighbourhood reads them
through stencilc itself (``x[k]`` for k far outside), one row per mode. Run:
``.venv/bin/python docs/make_boundary_pictures.py``.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

from stencilc import stencil_ufunc

matplotlib.use("Agg")

MODES = ["constant", "nearest", "reflect", "mirror", "wrap"]
VALUES = np.array([1, 2, 3, 4, 5], dtype=np.int64)   # a b c d e
REACH = 4                                             # cells shown on each side


def reads(mode: str) -> np.ndarray:
    """What a kernel at each array point reads at offsets -REACH..REACH, through stencilc: one
    kernel with an output per offset."""
    offsets = range(-REACH, REACH + 1)
    source = "def look(x):\n    return " + ", ".join(f"x[{k}]" for k in offsets) + "\n"
    path = Path(__file__).with_name(f".look_{mode}.py")   # kernels are read from real files
    path.write_text(source)
    try:
        namespace: dict = {}
        exec(compile(source, str(path), "exec"), namespace)
        look = stencil_ufunc(boundary=mode, cval=0)(namespace["look"])
        return np.array(look(VALUES))    # [offset, point]
    finally:
        path.unlink()


def extended_row(mode: str) -> np.ndarray:
    """The array as a mode extends it: left of point 0 and right of the last point."""
    table = reads(mode)
    left = table[:REACH, 0]                 # point 0 reading -4..-1
    right = table[REACH + 1:, -1]           # the last point reading +1..+4
    return np.concatenate([left, VALUES, right])


def main(path: Path = Path(__file__).with_name("boundaries.png")) -> Path:
    import matplotlib.pyplot as plt

    names = "abcde"
    fig, axes = plt.subplots(len(MODES), 1, figsize=(7.5, 0.75 * len(MODES) + 0.4))
    for ax, mode in zip(axes, MODES):
        row = extended_row(mode)
        colours = ["#dddddd" if not REACH <= k < REACH + len(VALUES) else "#8ecae6"
                   for k in range(len(row))]
        for k, (value, colour) in enumerate(zip(row, colours)):
            ax.add_patch(plt.Rectangle((k, 0), 0.95, 0.95, color=colour))
            label = "cval" if mode == "constant" and colour == "#dddddd" else names[value - 1]
            ax.text(k + 0.47, 0.45, label, ha="center", va="center", fontsize=10)
        ax.set_xlim(-3.2, len(row))
        ax.set_ylim(0, 1)
        ax.axis("off")
        ax.text(-3.1, 0.45, f'"{mode}"', va="center", fontsize=10, family="monospace")
    fig.suptitle("what a kernel reads outside the array (blue: the array)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(main())

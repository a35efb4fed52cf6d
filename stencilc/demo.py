"""What ``stencilc demo`` and ``stencilc bench`` run: the seed's smoothing of an image stack,
timed in one run against the seed's own numba.stencil + guvectorize, scipy.ndimage and a plain
``np.copyto`` (the memory roofline), every result checked against the seed's numbers.

The demo uses real photographs bundled with scikit-image (no download): it writes them as a
folder of PNGs, reads them back lazily with :func:`stencilc.image.imread`, smooths them through
Dask with a progress bar, writes the results with :func:`stencilc.image.imsave`, and saves a
before/after picture.
"""
from __future__ import annotations

import contextlib
import os
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .api import stencil_ufunc


def smooth(x):
    """The reference post's kernel: the 3x3 mean of a neighbourhood, floor-divided."""
    return (x[-1, -1] + x[-1, 0] + x[-1, 1] +
            x[0, -1] + x[0, 0] + x[0, 1] +
            x[1, -1] + x[1, 0] + x[1, 1]) // 9


def seed_smooth(dtype: np.dtype) -> Callable[[np.ndarray], np.ndarray]:
    """The post's numba.stencil inside numba.guvectorize, its hard-coded dtype set to
    ``dtype`` (the post wrote ``numba.int8``)."""
    import numba

    kernel = numba.stencil(smooth)
    item = numba.from_dtype(np.dtype(dtype))

    @numba.guvectorize([(item[:, :], item[:, :])], "(n, m) -> (n, m)")
    def seed(x, out):
        out[:] = kernel(x)

    return seed


def scipy_smooth(x: np.ndarray) -> np.ndarray:
    """scipy.ndimage's way to the same numbers: a 3x3 correlation in a wider integer type,
    floor-divided, the border set to 0 as numba.stencil leaves it."""
    from scipy import ndimage
    wide = np.int32 if x.dtype.itemsize < 4 else np.int64
    total = ndimage.correlate(x.astype(wide), np.ones((1, 3, 3), wide), mode="constant")
    result = (total // 9).astype(x.dtype)
    result[:, [0, -1], :] = 0
    result[:, :, [0, -1]] = 0
    return result


@dataclass
class Row:
    name: str
    seconds: float
    same: bool | None


def median_seconds(call: Callable[[], object], repeats: int) -> float:
    """The median wall time of ``repeats`` calls, after one untimed call (compiling or
    loading from the disk cache, faulting pages in)."""
    call()
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        call()
        times.append(time.perf_counter() - begin)
    return statistics.median(times)


def compare(stack: np.ndarray, repeats: int = 5) -> list[Row]:
    """Time the smoothing of ``stack`` (N, H, W) by every contender, in this run."""
    import dask.array as da

    kernels = {t: stencil_ufunc(target=t)(smooth) for t in ("cpu", "parallel")}
    seed = seed_smooth(stack.dtype)
    reference = seed(stack)
    lazy = da.from_array(stack, chunks=(max(1, len(stack) // os.cpu_count()), -1, -1))
    out = np.empty_like(stack)
    contenders: list[tuple[str, Callable[[], np.ndarray]]] = [
        ("np.copyto (memory roofline)", lambda: np.copyto(out, stack) or out),
        ("stencilc target='cpu'", lambda: kernels["cpu"](stack)),
        ("stencilc target='parallel'", lambda: kernels["parallel"](stack)),
        ("stencilc cpu on Dask (threads)", lambda: kernels["cpu"](lazy).compute()),
        ("seed: numba.stencil + guvectorize", lambda: seed(stack)),
        ("scipy.ndimage.correlate", lambda: scipy_smooth(stack)),
    ]
    rows = []
    for name, call in contenders:
        seconds = median_seconds(call, repeats)
        result = call()
        same = None if name.startswith("np.copyto") else bool(np.array_equal(result, reference))
        rows.append(Row(name, seconds, same))
    return rows


def table(rows: list[Row], pixels: int) -> str:
    """The comparison as text: time, megapixels per second, and speed against the seed."""
    seed = next(r.seconds for r in rows if r.name.startswith("seed"))
    lines = [f"{'':36s} {'time':>10s} {'Mpx/s':>9s} {'vs seed':>8s}  same numbers as the seed",
             "-" * 90]
    for r in rows:
        same = "-" if r.same is None else ("yes" if r.same else "NO")
        lines.append(f"{r.name:36s} {r.seconds * 1e3:8.2f} ms {pixels / r.seconds / 1e6:9.1f} "
                     f"{seed / r.seconds:7.1f}x  {same}")
    return "\n".join(lines)


def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo, else what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        import platform
        return platform.processor() or platform.machine() or "unknown CPU"


@contextlib.contextmanager
def busy_core(busy: bool = True):
    """With ``busy``, a second process spins on one core for the block (a shared host), started
    a second before the block so that it already competes; nothing otherwise."""
    if not busy:
        yield
        return
    import subprocess
    import sys
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        yield
    finally:
        spinner.kill()
        spinner.wait()


def machine() -> str:
    """The CPU model and core count, for naming the machine a table was measured on."""
    return f"{cpu_model()}, {os.cpu_count()} cores"


def sample_images(count: int) -> list[np.ndarray]:
    """``count`` real 512x512 grey photographs from scikit-image's bundled data (turned and
    flipped to make more than the six it has)."""
    from skimage import data

    astronaut = data.astronaut().astype(np.uint32)
    grey = ((299 * astronaut[..., 0] + 587 * astronaut[..., 1] + 114 * astronaut[..., 2])
            // 1000).astype(np.uint8)
    bases = [data.camera(), data.moon(), data.brick(), data.grass(), data.gravel(), grey]
    images = []
    for k in range(count):
        image = np.rot90(bases[k % len(bases)], k // len(bases) % 4)
        images.append(np.ascontiguousarray(image[:, ::-1] if k // (4 * len(bases)) % 2 else image))
    return images


def run_demo(out_dir: str, count: int = 24, repeats: int = 5, overwrite: bool = True) -> str:
    """The seed's pipeline on real images, then the comparison table; returns the path of the
    before/after PNG."""
    from .image import imread, imsave

    frames_dir = os.path.join(out_dir, "frames")
    smoothed_dir = os.path.join(out_dir, "smoothed")
    print(f"1. writing {count} sample photographs (scikit-image's, 512x512 uint8) "
          f"to {frames_dir}/")
    imsave(np.stack(sample_images(count)), frames_dir, overwrite=True, progress=False)

    print("2. imread -> smooth -> imsave, lazily through Dask (one chunk per file):")
    # the README's kernel: the timing table below matches the seed (boundary=None, a black
    # frame of cval); the pictures read the nearest pixel at the edges instead
    kernel = stencil_ufunc(boundary="nearest")(smooth)
    stack = imread(os.path.join(frames_dir, "*.png"))
    started = time.perf_counter()
    written = imsave(kernel(stack), smoothed_dir, overwrite=overwrite)
    elapsed = time.perf_counter() - started
    print(f"   wrote {len(written)} files to {smoothed_dir}/ in {elapsed:.2f} s "
          "(reading, compiling or loading the kernel, smoothing, writing)")

    print(f"3. the same smoothing timed in memory (median of {repeats}), {machine()}:")
    values = stack.compute()
    print(table(compare(values, repeats), values.size))

    before_after = os.path.join(out_dir, "before_after.png")
    first = values[0]
    side_by_side = np.concatenate([first, np.full((first.shape[0], 8), 255, np.uint8),
                                   kernel(first)], axis=1)
    import imageio.v3 as iio
    iio.imwrite(before_after, side_by_side)
    print(f"4. before/after picture: {before_after}")
    return before_after


def run_bench(count: int = 16, size: int = 512, repeats: int = 5) -> None:
    """The table on the post's data: a random int8 stack."""
    stack = np.random.default_rng(0).integers(-128, 128, size=(count, size, size),
                                              dtype=np.int8)
    print(f"smooth (3x3 mean, int8), {count} x {size} x {size}, median of {repeats}; "
          f"{machine()}")
    print(table(compare(stack, repeats), stack.size))

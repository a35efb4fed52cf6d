"""GPU speed of the cuda target, measured in one run on the device at hand:

* the 3x3 float32 mean on 8192x8192 (``boundary="nearest"``) and the 7-point float64
  Laplacian on 512^3 (``boundary="nearest"``), on device arrays (results stay on the device);
* against the device's own device-to-device copy of the same array (the memory roofline: a
  stencil reads the input once and writes the output once, as a copy does), against
  ``cupyx.scipy.ndimage`` (``uniform_filter``, ``correlate``) where CuPy is installed, and
  against stencilc's ``parallel`` CPU target on host arrays.

Times come from CUDA events, median of several launches after a warm-up. Writes
docs/bench-gpu.json. Where no GPU is present (or under NUMBA_ENABLE_CUDASIM) it says so and
exits 0.

    python benchmarks/gpu_suite.py [--repeat N]
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path

import numpy as np

from stencilc.demo import median_seconds

DOCS = Path(__file__).resolve().parents[1] / "docs"


def mean3(x):
    return (x[-1, -1] + x[-1, 0] + x[-1, 1] +
            x[0, -1] + x[0, 0] + x[0, 1] +
            x[1, -1] + x[1, 0] + x[1, 1]) / 9


def laplacian7(u):
    return (u[-1, 0, 0] + u[1, 0, 0] + u[0, -1, 0] + u[0, 1, 0] + u[0, 0, -1] + u[0, 0, 1]
            - 6 * u[0, 0, 0])


def gpu_present() -> bool:
    try:
        from numba import config, cuda
    except ImportError:
        return False
    return not config.ENABLE_CUDASIM and cuda.is_available()


def device_seconds(run, repeat: int) -> float:
    """Median seconds of ``run()`` on the device, by CUDA events, after one warm-up."""
    from numba import cuda
    run()
    cuda.synchronize()
    times = []
    for _ in range(repeat):
        start, stop = cuda.event(), cuda.event()
        start.record()
        run()
        stop.record()
        stop.synchronize()
        times.append(cuda.event_elapsed_time(start, stop) / 1e3)
    return statistics.median(times)


def case(name, kernel, shape, dtype, cupy_filter, repeat: int) -> dict:
    from numba import cuda

    from stencilc import stencil_ufunc

    gpu = stencil_ufunc(boundary="nearest", target="cuda")(kernel)
    cpu = stencil_ufunc(boundary="nearest", target="parallel")(kernel)
    host = np.random.default_rng(0).random(shape).astype(dtype)
    x = cuda.to_device(host)
    out = cuda.device_array_like(x)
    copy_target = cuda.device_array_like(x)
    nbytes = 2 * host.nbytes   # read once, write once
    result = {"case": name, "shape": list(shape), "dtype": np.dtype(dtype).name}
    result["copy_s"] = device_seconds(lambda: copy_target.copy_to_device(x), repeat)
    result["stencilc_cuda_s"] = device_seconds(lambda: gpu(x, out=out), repeat)
    np.testing.assert_allclose(out.copy_to_host(), cpu(host), rtol=1e-5)
    result["fraction_of_copy_bandwidth"] = result["copy_s"] / result["stencilc_cuda_s"]
    result["copy_GBps"] = nbytes / result["copy_s"] / 1e9
    result["stencilc_GBps"] = nbytes / result["stencilc_cuda_s"] / 1e9
    try:
        import cupy
        cx = cupy.asarray(x)
        cout = cupy.empty_like(cx)
        result["cupyx_s"] = device_seconds(lambda: cupy_filter(cx, cout), repeat)
        result["speedup_vs_cupyx"] = result["cupyx_s"] / result["stencilc_cuda_s"]
    except ImportError:
        result["cupyx_s"] = None
    host_out = np.empty_like(host)
    result["parallel_cpu_s"] = median_seconds(lambda: cpu(host, out=host_out), max(3, repeat // 4))
    result["speedup_vs_parallel_cpu"] = result["parallel_cpu_s"] / result["stencilc_cuda_s"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    if not gpu_present():
        print("bench-gpu: no CUDA GPU here (or NUMBA_ENABLE_CUDASIM is set); nothing measured. "
              "Run `make bench-gpu` on a machine with an NVIDIA GPU and numba-cuda.")
        return 0
    from numba import cuda

    def uniform(cx, cout):
        from cupyx.scipy import ndimage
        ndimage.uniform_filter(cx, size=3, mode="nearest", output=cout)

    def correlate(cx, cout):
        import cupy
        from cupyx.scipy import ndimage
        weights = cupy.zeros((3, 3, 3), cx.dtype)
        weights[1, 1, 1] = -6
        for index in [(0, 1, 1), (2, 1, 1), (1, 0, 1), (1, 2, 1), (1, 1, 0), (1, 1, 2)]:
            weights[index] = 1
        ndimage.correlate(cx, weights, mode="nearest", output=cout)

    device = cuda.get_current_device()
    results = {
        "device": device.name.decode() if isinstance(device.name, bytes) else str(device.name),
        "compute_capability": list(device.compute_capability),
        "host": platform.processor() or platform.machine(),
        "cases": [case("mean 3x3", mean3, (8192, 8192), np.float32, uniform, args.repeat),
                  case("laplacian 7-point", laplacian7, (512, 512, 512), np.float64, correlate,
                       args.repeat)],
    }
    for r in results["cases"]:
        print(f"{r['case']:<18} {r['dtype']:<8} stencilc {r['stencilc_GBps']:7.1f} GB/s = "
              f"{r['fraction_of_copy_bandwidth']:.0%} of copy; "
              f"vs cupyx {r.get('speedup_vs_cupyx') or float('nan'):.2f}x; "
              f"vs parallel CPU {r['speedup_vs_parallel_cpu']:.1f}x")
    (DOCS / "bench-gpu.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

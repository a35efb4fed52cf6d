"""The seed's smoothing on an NVIDIA GPU: the same kernel with ``target="cuda"``. NumPy
inputs are copied to the device and back; CuPy and numba device arrays stay there. Without a
GPU this says so and stops (``NUMBA_ENABLE_CUDASIM=1`` runs it in numba-cuda's simulator,
slowly). Checked against the cpu target.
"""
import numpy as np

from stencilc import stencil_ufunc
from stencilc.targets import REGISTRY


def smooth(x):
    return (x[-1, -1] + x[-1, 0] + x[-1, 1] +
            x[ 0, -1] + x[ 0, 0] + x[ 0, 1] +
            x[ 1, -1] + x[ 1, 0] + x[ 1, 1]) // 9


def main(shape=(4, 64, 64)) -> None:
    if not REGISTRY["cuda"].available():
        print("no CUDA GPU here (and NUMBA_ENABLE_CUDASIM is not set): skipped")
        return
    from numba import config
    if config.ENABLE_CUDASIM:
        shape = (1, 12, 12)     # the simulator runs every GPU thread as a Python thread
    gpu = stencil_ufunc(target="cuda")(smooth)
    cpu = stencil_ufunc(target="cpu")(smooth)
    stack = np.random.default_rng(0).integers(-128, 128, size=shape, dtype=np.int8)
    np.testing.assert_array_equal(gpu(stack), cpu(stack))
    print(f"GPU result for {shape} int8 equals the cpu target's")


if __name__ == "__main__":
    main()

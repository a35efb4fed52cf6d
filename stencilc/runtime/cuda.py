"""The boundary rules compiled for the CUDA target: generated CUDA modules import these
(``from stencilc.runtime.cuda import ...``). Every call into numba-cuda for device code is
here or in :mod:`stencilc.targets.cuda`, so a successor with the ``cuda.jit`` API (e.g.
numba-cuda-mlir) can be swapped in at these two places.

Device functions are inlined at numba's IR level (``inline="always"``): the kernel then types
without asking the driver for the device's compute capability, so PTX can be produced on a
machine with no GPU (``f.inspect_asm`` and the tests).
"""
from __future__ import annotations

import numpy as np
from numba import config, cuda

from .. import boundary

device = cuda.jit(device=True, inline="always")

nearest_index = device(boundary.nearest_index)
reflect_index = device(boundary.reflect_index)
mirror_index = device(boundary.mirror_index)
wrap_index = device(boundary.wrap_index)


@device
def checked_offset(offset, lo, hi):
    """An offset the frontend could not bound: fail rather than read out of bounds (a real
    GPU reports it only in a debug build, as numba-cuda raises in kernels only there)."""
    if offset < lo or offset > hi:
        raise IndexError("stencilc: a relative offset left the kernel's declared neighborhood")
    return offset


if config.ENABLE_CUDASIM:
    @device
    def stored(value, out):
        """``value`` converted to ``out``'s dtype as a GPU store converts it: integers wrap
        (the simulator's NumPy refuses ``int8 <- -200`` with OverflowError)."""
        return np.asarray(value).astype(out.dtype)[()]
else:
    @device
    def stored(value, out):
        """On a GPU the store itself converts (a C cast: integers wrap); nothing to do."""
        return value


# --- integer narrowing (stencilc.schedules.narrowing) ----------------------------------------
# The code generator writes ``as_type_of`` out as a conversion (codegen/explicit.py), so only
# the wrapping operations reach a device function.

if config.ENABLE_CUDASIM:
    def narrow_add(a, b):
        """NumPy scalars of one type: the sum in that type (never wraps where it is used)."""
        return a + b

    def narrow_sub(a, b):
        return a - b

    def narrow_mul(a, b):
        return a * b

    def as_type_of(value, like):
        return type(like)(value)
else:
    # numba intrinsics are target-generic: LLVM's add/sub/mul and cast compile for NVVM too
    from .cpu import as_type_of, narrow_add, narrow_mul, narrow_sub  # noqa: F401

"""The CUDA target (``target="cuda"``, alias ``"gpu"``): the same kernel on NVIDIA GPUs.

NumPy inputs are copied to the device and the results back; numba device arrays and CuPy
arrays (anything with ``__cuda_array_interface__``) stay on the device, and results come back
as the same kind. Loop dimensions are flattened into one batch axis, so a stack of images is
one launch. Every call into numba-cuda is here or in :mod:`stencilc.runtime.cuda`.

With ``NUMBA_ENABLE_CUDASIM=1`` numba-cuda's simulator runs the kernels as Python on the CPU
(small arrays only: each thread is a Python thread); :meth:`CudaTarget.inspect` compiles real
PTX with ``numba.cuda.compile_ptx``, which needs NVVM but no GPU.
"""
from __future__ import annotations

import math
import sys
import types as pytypes
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..cache import compile_lock, seal_entry
from ..codegen.common import GeneratedModule
from ..dtypes import DTypes
from ..errors import TargetUnavailableError
from ..ir import Role, StencilIR
from ..schedules.narrowing import GPU_TYPES as GPU_NARROW_TYPES
from .cpu import CpuTarget

#: the architecture PTX is compiled for when no GPU is present (Ampere; PTX runs on newer)
DEFAULT_CC = (8, 0)

#: cache entries sealed after their kernel's first launch in this process
_SEALED: set[tuple[str, bool]] = set()


def is_device_array(value: Any) -> bool:
    """A GPU array: a numba device array, a CuPy array, anything with
    ``__cuda_array_interface__``, or an array of numba's simulator (``__cuda_ndarray__``)."""
    return (hasattr(value, "__cuda_array_interface__") or hasattr(value, "__cuda_ndarray__")) \
        and not isinstance(value, np.ndarray)


class CudaTarget:
    name = "cuda"
    aliases: tuple[str, ...] = ("gpu",)
    description = "NVIDIA GPUs: one thread per output point (NumPy, numba device and CuPy arrays)"
    requires = "numba-cuda and an NVIDIA GPU (pip install 'stencilc[cuda]'; " \
               "NUMBA_ENABLE_CUDASIM=1 runs it in numba-cuda's CPU simulator)"
    #: integer expressions computed in int32 where exact (GPU registers are 32 bits)
    narrowing = GPU_NARROW_TYPES

    def installed(self) -> bool:
        try:
            from numba import cuda  # noqa: F401
        except ImportError:
            return False
        return True

    def available(self) -> bool:
        try:
            from numba import cuda
            return bool(cuda.is_available())
        except Exception:   # noqa: BLE001 - not installed, no driver, a broken toolkit
            return False

    def generate(self, ir: StencilIR, options, arg_dtypes: DTypes, env_note: str) -> GeneratedModule:
        from ..codegen.cuda import generate_cuda   # the GPU's code generator, when used

        return generate_cuda(ir, options.boundary, options.cval, options.fastmath,
                             tuple(arg_dtypes), env_note=env_note)

    def value_dtypes(self, module: pytypes.ModuleType, generated: GeneratedModule,
                     ir: StencilIR, arg_dtypes: DTypes) -> DTypes:
        # numba's CPU typing of the module's CPU twin of the point function: the types every
        # target computes (the device functions convert explicitly to the same types)
        return CpuTarget().value_dtypes(module, generated, ir, arg_dtypes)

    def compile(self, module: pytypes.ModuleType, generated: GeneratedModule, ir: StencilIR,
                options, arg_dtypes: DTypes, out_dtypes: DTypes, cache: bool) -> "CudaKernel":
        # numba-cuda compiles the kernel for the argument types at its first launch
        return CudaKernel(getattr(module, generated.kernels["cuda"]), ir, tuple(arg_dtypes),
                          tuple(out_dtypes), generated.fill_inputs,
                          module.__name__ if cache else None,
                          getattr(module, generated.kernels["cuda_strided"]))

    def run(self, kernel: "CudaKernel", arrays: Sequence[Any], out: tuple | None) -> Any:
        return kernel(arrays, out)

    def advance(self, kernel: "CudaKernel", arrays: Sequence[Any], stepping) -> tuple:
        """The state stays on the device: NumPy arguments are copied there once, each step
        writes into the other of two device buffers, and the results come back (NumPy
        inputs) or stay (device inputs) at the end."""
        from numba import cuda

        kernel.require_gpu()
        count, nstate = len(kernel.ir.arguments), stepping.nstate
        args, fills = list(arrays[:count]), list(arrays[count:])
        on_device = any(is_device_array(a) for a in args)
        moved = [_numba_device(a) if is_device_array(a) else cuda.to_device(np.asarray(a))
                 for a in args]
        state = moved[:nstate]
        buffers = [[cuda.device_array(tuple(s.shape), s.dtype) for s in state]
                   for _ in range(2)]
        if stepping.steps == 0:
            for copy, s in zip(buffers[0], state):
                copy.copy_to_device(s)
            state = buffers[0]
        for step in range(stepping.steps):
            out = buffers[step % 2]
            kernel([*state, *moved[nstate:], *fills], tuple(out))
            state = out
        if on_device:
            return tuple(_like_inputs(s, args) for s in state)
        return tuple(s.copy_to_host() for s in state)

    def inspect(self, kernel: "CudaKernel", stage: str) -> str:
        if stage != "asm":
            raise ValueError("the cuda target shows its PTX (inspect_asm); LLVM IR is not kept")
        return kernel.ptx()


@dataclass(frozen=True)
class CudaKernel:
    dispatcher: Any
    ir: StencilIR
    arg_dtypes: DTypes
    out_dtypes: DTypes
    fill_inputs: bool

    def numba_types(self) -> list:
        """The kernel's parameter types, as the launches pass them (C-contiguous batches)."""
        import numba
        result = []
        for argument, dt in zip(self.ir.arguments, self.arg_dtypes):
            result.append(numba.types.Array(numba.from_dtype(dt), 1 + argument.ndim, "C"))
        if self.fill_inputs:
            result += [numba.from_dtype(dt) for dt in self.out_dtypes]
        result += [numba.types.Array(numba.from_dtype(dt), 1 + self.ir.ndim, "C")
                   for dt in self.out_dtypes]
        return result

    def ptx(self, cc: tuple[int, int] | None = None, strided: bool = False) -> str:
        """The kernel (or its grid-stride twin) compiled to PTX for ``cc`` (the current
        device's, else :data:`DEFAULT_CC`); needs NVVM, not a GPU."""
        from numba import cuda
        if cc is None:
            cc = cuda.get_current_device().compute_capability if _has_gpu() else DEFAULT_CC
        dispatcher = self.strided if strided else self.dispatcher
        ptx, _ = cuda.compile_ptx(dispatcher.py_func, tuple(self.numba_types()), cc=cc)
        return ptx

    cache_name: str | None = None   # the generated module's cache entry, if it has one
    strided: Any = None             # the grid-stride twin, for grids past CUDA's limits

    def require_gpu(self) -> None:
        """stencilc's one-line error where no GPU (or simulator) can run the kernel, before
        numba-cuda's driver errors."""
        if not CudaTarget().available():
            raise TargetUnavailableError(
                f"{self.ir.name}: no CUDA GPU here to run a target='cuda' kernel (it compiles "
                "and f.inspect_asm() shows its PTX; NUMBA_ENABLE_CUDASIM=1 runs it in "
                "numba-cuda's simulator)")

    def launch(self, grid, block, args: tuple, strided: bool = False) -> None:
        """Launch the kernel (or its grid-stride twin). numba-cuda compiles each at its first
        launch and writes the cache entry's files then: that launch holds the entry's lock
        and seals it after."""
        dispatcher = self.strided if strided else self.dispatcher
        sealed = (self.cache_name, strided)
        if self.cache_name is None or sealed in _SEALED:
            dispatcher[grid, block](*args)
            return
        with compile_lock(self.cache_name):
            dispatcher[grid, block](*args)
            seal_entry(self.cache_name)
        _SEALED.add(sealed)

    def __call__(self, arrays: Sequence[Any], out: tuple | None) -> Any:
        from numba import cuda

        ir = self.ir
        self.require_gpu()
        count = len(ir.arguments)
        args, fills = list(arrays[:count]), list(arrays[count:])
        device = any(is_device_array(a) for a in args) or \
            any(is_device_array(o) for o in (out or ()))
        loop_shape, core_shape = _shapes(ir, args, out)
        batch = math.prod(loop_shape)
        batches = [_batched(a, argument, loop_shape, ir.name)
                   for a, argument in zip(args, ir.arguments)]
        inputs = [b if is_device_array(b) else cuda.to_device(b) for b in batches]
        shape = (batch,) + core_shape
        results = []
        for k, dt in enumerate(self.out_dtypes):
            given = None if out is None else out[k]
            if given is not None and is_device_array(given):
                results.append(given.reshape(shape))
            else:
                results.append(cuda.device_array(shape, dt))
        fills = [np.asarray(v, dtype=dt)[()] for v, dt in zip(fills, self.out_dtypes)]
        if batch and math.prod(core_shape):
            from ..codegen.cuda import launch_shape

            grid, block, strided = launch_shape(ir.ndim, batch, core_shape)
            self.launch(grid, block, (*inputs, *fills, *results), strided)
        full = loop_shape + core_shape
        finished = []
        for k, result in enumerate(results):
            given = None if out is None else out[k]
            if given is not None:
                if not is_device_array(given):
                    given[...] = result.copy_to_host().reshape(full)
                finished.append(given)
            elif device:
                finished.append(_like_inputs(result.reshape(full), args))
            else:
                finished.append(result.copy_to_host().reshape(full))
        return tuple(finished) if len(finished) > 1 else finished[0]


def _has_gpu() -> bool:
    from numba import config, cuda
    return not config.ENABLE_CUDASIM and cuda.is_available()


def _shapes(ir: StencilIR, args, out) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The broadcast loop shape and the core shape, checked as NumPy's gufuncs check them."""
    loops, core = [], None
    for argument, a in zip(ir.arguments, args):
        shape = tuple(a.shape)
        c = argument.ndim
        loops.append(shape[:len(shape) - c])
        if argument.role is Role.RELATIVE:
            mine = shape[len(shape) - c:]
            if core is not None and mine != core:
                raise ValueError(f"{ir.name}: Input operand has a mismatch in its core "
                                 f"dimension: {mine} against {core} (gufunc signature "
                                 f"{ir.layout})")
            core = mine
    loop_shape = tuple(np.broadcast_shapes(*loops))
    for k, o in enumerate(out or ()):
        if tuple(o.shape) != loop_shape + core:
            raise ValueError(f"{ir.name}: out[{k}] has shape {tuple(o.shape)}, but the "
                             f"result has shape {loop_shape + core}")
    return loop_shape, core


def _batched(a, argument, loop_shape: tuple[int, ...], name: str):
    """``a`` with its loop dimensions flattened into one leading batch axis: the full batch,
    or length 1 where it broadcasts along every loop dimension (scalars become 1-D)."""
    c = argument.ndim
    shape = tuple(a.shape)
    core = shape[len(shape) - c:]
    mine = shape[:len(shape) - c]
    if math.prod(mine) == 1:
        target = (1,) + core
    elif mine == loop_shape:
        target = (math.prod(loop_shape),) + core
    elif is_device_array(a):
        raise ValueError(f"{name}: device array argument {argument.name!r} with loop shape "
                         f"{mine} broadcasts only partly against {loop_shape}; give it the "
                         "full loop shape or none")
    else:
        a = np.broadcast_to(a, loop_shape + core)
        target = (math.prod(loop_shape),) + core
    if is_device_array(a):
        return a.reshape(target)
    return np.ascontiguousarray(np.asarray(a).reshape(target))


def _numba_device(array):
    """A device array as numba's own (CuPy arrays through ``__cuda_array_interface__``)."""
    from numba import cuda
    return array if hasattr(array, "copy_to_host") else cuda.as_cuda_array(array)


def _like_inputs(result, args):
    """A device result as the kind of device array the inputs were: CuPy for CuPy inputs
    (zero-copy, through ``__cuda_array_interface__``), else numba's device array."""
    if any(type(a).__module__.startswith("cupy") for a in args) and "cupy" in sys.modules:
        import cupy
        return cupy.asarray(result)
    return result

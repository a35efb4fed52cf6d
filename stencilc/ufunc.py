"""StencilUFunc: the object ``@stencil_ufunc`` returns. It only dispatches.

A call normalizes its arguments, picks (or compiles, once, under a lock) the specialization
for their dtypes, and hands the arrays to that specialization's NumPy gufunc, which does the
broadcasting over loop dimensions, output allocation and core-dimension checks.
"""
from __future__ import annotations

import contextlib
import functools
import math
import threading
import types
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from . import dask as stencil_dask
from . import specialize
from .frontend import parse_kernel
from .ir import StencilIR
from .options import Options

DTypes = tuple[np.dtype, ...]


class StencilUFunc:
    """A stencil kernel compiled, per dtype combination, into a NumPy generalized ufunc.

    Call it like a gufunc: ``f(*arrays, out=None)``. Attributes: ``signature``, ``nin``,
    ``nout``, ``py_func``, ``target``, ``boundary``, ``neighborhood``, ``types``.
    """

    def __init__(self, py_func: Callable, options: Options, eager_types=()):
        self.py_func = py_func
        self.options = options.validated()
        self.ir: StencilIR = parse_kernel(
            py_func, signature=self.options.signature, neighborhood=self.options.neighborhood,
            standard_indexing=self.options.standard_indexing)
        functools.update_wrapper(self, py_func)
        self._specializations: dict[tuple[DTypes, DTypes | None], specialize.Specialization] = {}
        self._lock = threading.Lock()
        self.compile_count = 0   # specializations compiled by this object (tests count these)
        self._borderless_twin: StencilUFunc | None = None
        for entry in eager_types:
            arg_dtypes, out_dtypes = _eager_dtypes(entry, self.nin, self.nout)
            self.compile(*arg_dtypes, out_dtypes=out_dtypes)

    # --- attributes of DESIGN 1.2 ----------------------------------------------------------

    @property
    def signature(self) -> str:
        return str(self.ir.layout)

    @property
    def nin(self) -> int:
        return len(self.ir.arguments)

    @property
    def nout(self) -> int:
        return self.ir.nout

    @property
    def target(self) -> str:
        return self.options.target

    @property
    def boundary(self) -> str | None:
        return self.options.boundary

    @property
    def neighborhood(self) -> tuple[tuple[int, int], ...]:
        return self.ir.neighborhood

    @property
    def types(self) -> list[str]:
        """The specializations compiled so far, in NumPy's ``'bb->b'`` notation."""
        return sorted({s.types for s in self._specializations.values()})

    def __repr__(self) -> str:
        return f"<stencil_ufunc {self.__name__} {self.signature} target={self.target!r} " \
               f"boundary={self.boundary!r}>"

    # --- compiling -------------------------------------------------------------------------

    def compile(self, *dtypes, out_dtypes=None) -> specialize.Specialization:
        """Compile (or fetch) the specialization for one dtype per argument."""
        arg_dtypes = tuple(self._check_dtype(np.dtype(d), i) for i, d in enumerate(dtypes))
        if len(arg_dtypes) != self.nin:
            raise TypeError(f"{self.__name__} takes {self.nin} argument dtype(s), "
                            f"got {len(arg_dtypes)}")
        wanted = None if out_dtypes is None else tuple(np.dtype(d) for d in out_dtypes)
        key = (arg_dtypes, wanted)
        found = self._specializations.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._specializations.get(key)
            if found is None:
                found = specialize.build(self.ir, self.options, arg_dtypes, wanted)
                self.compile_count += 1
                self._specializations[key] = found
                self._specializations.setdefault((arg_dtypes, found.out_dtypes), found)
                if found.natural_out_dtypes == found.out_dtypes:   # a call without out= too
                    self._specializations.setdefault((arg_dtypes, None), found)
        return found

    def _borderless(self) -> "StencilUFunc":
        """This kernel with boundary=None: what each padded Dask block runs."""
        with self._lock:
            if self._borderless_twin is None:
                self._borderless_twin = StencilUFunc(
                    self.py_func, replace(self.options, boundary=None, cval=0))
            return self._borderless_twin

    def inspect_source(self, *dtypes) -> str:
        """The generated module for these argument dtypes (the first compiled ones if none)."""
        if not dtypes:
            if not self._specializations:
                raise ValueError(f"{self.__name__} has no specialization yet; pass the argument "
                                 "dtypes, e.g. inspect_source('float64')")
            return next(iter(self._specializations.values())).source
        arg_dtypes = tuple(np.dtype(d) for d in dtypes)
        if len(arg_dtypes) != self.nin:
            raise TypeError(f"{self.__name__} takes {self.nin} argument dtype(s), "
                            f"got {len(arg_dtypes)}")
        return specialize.generate(self.ir, self.options, arg_dtypes).source

    # --- calling ---------------------------------------------------------------------------

    def __call__(self, *args: Any, out=None, **kwargs: Any):
        if kwargs:
            name = next(iter(kwargs))
            raise TypeError(f"{self.__name__}() got an unexpected keyword argument {name!r}")
        if len(args) != self.nin:
            raise TypeError(f"{self.__name__}() takes {self.nin} positional argument"
                            f"{'s' if self.nin != 1 else ''} but {len(args)} were given")
        if any(stencil_dask.is_dask_array(a) for a in args):
            return stencil_dask.call(self, args, out)
        arrays = [self._to_native(np.asarray(a), i) for i, a in enumerate(args)]
        outs = self._as_outputs(out)
        self._check_core_ndims(arrays)
        arrays = [a if core_contiguous(a, arg.ndim) else np.ascontiguousarray(a)
                  for a, arg in zip(arrays, self.ir.arguments)]
        arg_dtypes = tuple(a.dtype for a in arrays)
        if outs is None:
            return self._run(self.compile(*arg_dtypes), arrays)
        # The specialization that stores into out's dtypes also knows the natural ones, so a
        # call with out= compiles one specialization, not two.
        spec = self.compile(*arg_dtypes, out_dtypes=tuple(o.dtype for o in outs))
        for k, (o, dt) in enumerate(zip(outs, spec.natural_out_dtypes)):
            if not np.can_cast(dt, o.dtype, casting="same_kind"):
                raise TypeError(f"Cannot cast ufunc '{self.__name__}' output {k} from {dt!r} to "
                                f"{o.dtype!r} with casting rule 'same_kind'")
        # An output that overlaps an input is safe: NumPy's ufunc machinery copies the input
        # first (tests/test_hostile.py checks it).
        if all(core_contiguous(o, self.ir.ndim) for o in outs):
            return self._run(spec, arrays, out=tuple(outs))
        # An output the kernels cannot write directly (strided core blocks): compute into
        # fresh arrays, then copy.
        staged = tuple(np.empty(o.shape, o.dtype) for o in outs)
        self._run(spec, arrays, out=staged)
        for o, result in zip(outs, staged):
            np.copyto(o, result)
        return tuple(outs) if self.nout > 1 else outs[0]

    def _run(self, spec: specialize.Specialization, arrays, **kwargs):
        if spec.rows_ufunc is None:
            return spec.ufunc(*arrays, **kwargs)
        ufunc = spec.ufunc if self._loop_parallel(arrays) else spec.rows_ufunc
        with _workqueue_guard():
            return ufunc(*arrays, **kwargs)

    def _loop_parallel(self, arrays) -> bool:
        """target="parallel": spread whole blocks over threads when there are enough of them
        to keep every thread busy, or blocks too small to split; else split each block's rows."""
        import numba
        loop_shapes = [a.shape[:a.ndim - arg.ndim] for arg, a in zip(self.ir.arguments, arrays)]
        try:
            blocks = math.prod(np.broadcast_shapes(*loop_shapes))
        except ValueError:   # let NumPy word the error
            return True
        if blocks <= 1:
            return False
        core = max(math.prod(a.shape[a.ndim - arg.ndim:])
                   for arg, a in zip(self.ir.arguments, arrays))
        return blocks >= _BLOCKS_PER_THREAD * numba.get_num_threads() or core < _SMALL_BLOCK

    def _check_dtype(self, dtype: np.dtype, position: int) -> np.dtype:
        """The native-order version of ``dtype`` for argument ``position`` (outputs follow the
        inputs), or a TypeError listing the supported dtypes."""
        native = dtype.newbyteorder("=") if dtype.byteorder not in "=|" else dtype
        if native not in specialize.SUPPORTED_DTYPES:
            what = f"argument {self.ir.arguments[position].name!r}" if position < self.nin \
                else f"out[{position - self.nin}]"
            raise TypeError(f"{self.__name__}: {what} has dtype {dtype}, which is not "
                            f"supported; supported dtypes: {specialize.SUPPORTED_NAMES}")
        return native

    def _to_native(self, array, position: int):
        """A NumPy or Dask array in a supported, native-order dtype (byte-swapped inputs are
        converted, since compiled kernels read native order)."""
        dtype = self._check_dtype(array.dtype, position)
        return array.astype(dtype) if dtype != array.dtype else array

    def _as_outputs(self, out) -> list[np.ndarray] | None:
        if out is None:
            return None
        outs = list(out) if isinstance(out, tuple) else [out]
        if len(outs) != self.nout:
            raise ValueError(f"{self.__name__}: out must be a tuple of {self.nout} arrays, "
                             f"got {len(outs)}")
        for k, o in enumerate(outs):
            if not isinstance(o, np.ndarray):
                raise TypeError(f"{self.__name__}: out[{k}] must be a numpy array, "
                                f"not {type(o).__name__}")
            if not o.flags.writeable:
                raise ValueError(f"{self.__name__}: output array {k} is read-only")
            self._check_dtype(o.dtype, self.nin + k)
            if not o.dtype.isnative:
                raise TypeError(f"{self.__name__}: out[{k}] has non-native byte order {o.dtype}")
        return outs

    def _check_core_ndims(self, arrays: list[np.ndarray]) -> None:
        for position, (argument, array) in enumerate(zip(self.ir.arguments, arrays)):
            if array.ndim < argument.ndim:
                raise ValueError(
                    f"{self.__name__}: Input operand {position} does not have enough dimensions "
                    f"(has {array.ndim}, gufunc core with signature {self.signature} requires "
                    f"{argument.ndim})")

    # --- pickling: by the original function and the options; recompiles on load -------------

    def __reduce__(self):
        source = (self.ir.source, self.ir.filename, self.ir.firstlineno)
        return _rebuild, (_pickle_by_value(self.py_func), source, self.options)


# target="parallel" dispatch thresholds (see _loop_parallel), chosen rather than tuned: with
# 4+ blocks per thread, uneven shares cost at most a quarter of the work; a block under 16k
# points is too small to split its rows. make bench runs both paths (a stack, one image).
_BLOCKS_PER_THREAD = 4
_SMALL_BLOCK = 16384

def core_contiguous(array: np.ndarray, core_ndim: int) -> bool:
    """Whether each core block of ``array`` (its last ``core_ndim`` axes) is C-contiguous, as
    the compiled kernels require; loop axes may have any strides."""
    expected = array.itemsize
    for axis in range(array.ndim - 1, array.ndim - 1 - core_ndim, -1):
        if array.shape[axis] != 1 and array.strides[axis] != expected:
            return False
        expected *= array.shape[axis]
    return True


_workqueue_lock = threading.Lock()


@contextlib.contextmanager
def _workqueue_guard():
    """numba's fallback 'workqueue' threading layer aborts the process when two threads run
    parallel code at once; serialize parallel calls in that case only (omp and tbb are safe)."""
    import numba
    try:
        safe = numba.threading_layer() != "workqueue"
    except ValueError:          # no parallel code has run yet: the layer is not chosen
        safe = False
    if safe:
        yield
    else:
        with _workqueue_lock:
            yield


def _pickle_by_value(func: Callable) -> bytes:
    """cloudpickle ``func`` with its code and the globals it reads, never by reference, so a
    process that cannot import the kernel's module (a Dask worker, a notebook) still gets it."""
    import cloudpickle
    clone = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__,
                               func.__closure__)
    clone.__qualname__ = func.__qualname__
    clone.__module__ = "stencilc.<kernel by value>"   # in no sys.modules: pickled by value
    return cloudpickle.dumps(clone)


def _rebuild(pickled_func: bytes, source, options: Options) -> StencilUFunc:
    import cloudpickle
    func = cloudpickle.loads(pickled_func)
    func.__stencilc_source__ = source
    return StencilUFunc(func, options)


def _eager_dtypes(entry, nin: int, nout: int) -> tuple[DTypes, DTypes | None]:
    """One numba-style ``types`` entry -> (argument dtypes, output dtypes or None)."""
    import numba
    from numba.core import sigutils

    if isinstance(entry, str):
        args, _ = sigutils.normalize_signature(entry)
        entry = tuple(args)
    items = tuple(entry) if isinstance(entry, (tuple, list)) else (entry,)
    dtypes = []
    for item in items:
        if isinstance(item, numba.types.Array):
            item = item.dtype
        dtypes.append(np.dtype(numba.np.numpy_support.as_dtype(item))
                      if isinstance(item, numba.types.Type) else np.dtype(item))
    if len(dtypes) == nin:
        return tuple(dtypes), None
    if len(dtypes) == nin + nout:
        return tuple(dtypes[:nin]), tuple(dtypes[nin:])
    raise TypeError(f"a types entry needs {nin} input dtype(s), optionally followed by "
                    f"{nout} output dtype(s); got {len(dtypes)}: {entry!r}")

"""StencilUFunc: the object ``@stencil_ufunc`` returns. It only dispatches.

It runs the pipeline's first half once (frontend, simplify), keeps one specialization per
dtype combination (compiled once, under a lock, by :func:`stencilc.pipeline.build` for its
target), and hands each call to the array adapter that owns the arguments.
"""
from __future__ import annotations

import functools
import inspect
import threading
import types
from dataclasses import replace
from typing import Any, Callable, Sequence

import numpy as np

from . import arrays, pipeline, targets
from .arrays.checks import what
from .boundary import NamedModes, normalize_boundary, normalize_cval, per_axis
from .dtypes import DTypes, native_dtype
from .errors import StencilNameError
from .ir import StencilIR
from .options import Options
from .schedules import Schedule
from .stepping import check_count, check_roles


#: "this keyword was not given" (None is a boundary mode)
_UNSET: Any = type("Unset", (), {"__repr__": lambda self: "<unset>"})()


class StencilUFunc:
    """A stencil kernel compiled, per dtype combination, into a NumPy generalized ufunc.

    Call it like a gufunc: ``f(*arrays, out=None)``; ``boundary=``/``cval=`` in a call
    override the decorator's. Attributes: ``signature``, ``nin``, ``nout``, ``py_func``,
    ``target``, ``boundary``, ``cval``, ``neighborhood``, ``types``.
    """

    def __init__(self, py_func: Callable, options: Options, eager_types=(), *,
                 ir: StencilIR | None = None):
        self.py_func = py_func
        self.options = options.validated()
        self._target = targets.get(self.options.target)
        functools.update_wrapper(self, py_func)
        self._specializations: dict[tuple[DTypes, DTypes | None], pipeline.Specialization] = {}
        self._lock = threading.Lock()
        self._ir_lock = threading.Lock()
        self._ir = ir
        if ir is None:
            try:
                self._ir = self._understand()
            except StencilNameError:
                pass   # a global bound after the decorator: understood on first use instead
        self._variants: dict[tuple, StencilUFunc] = {}   # option changes -> that kernel
        self.compile_count = 0   # specializations compiled by this object (tests count these)
        for entry in eager_types:
            arg_dtypes, out_dtypes = _eager_dtypes(entry, self.nin, self.nout)
            self.compile(*arg_dtypes, out_dtypes=out_dtypes)

    # --- attributes of docs/design.md 1.2 --------------------------------------------------

    @property
    def ir(self) -> StencilIR:
        """The kernel's IR. Globals are read when it is built: at decoration, or, when the
        kernel reads a global that is not defined yet, on first use (a call, ``compile``, or
        an attribute that needs it). Their values are kept from then on."""
        if self._ir is None:
            with self._ir_lock:
                if self._ir is None:
                    self._ir = self._understand()
        return self._ir

    def _understand(self) -> StencilIR:
        ir = pipeline.understand(self.py_func, self.options)
        boundary = self.options.boundary
        if isinstance(boundary, NamedModes):
            if len(boundary) != ir.ndim:
                raise ValueError(f"boundary={boundary!r} names {len(boundary)} dimension(s), "
                                 f"but the kernel has {ir.ndim} core axes; give one mode per "
                                 "core dimension")
        else:
            per_axis(boundary, ir.ndim)   # one mode per core axis, if a tuple
        return ir

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
    def boundary(self) -> str | None | tuple[str | None, ...] | dict[str, str | None]:
        b = self.options.boundary
        return dict(b) if isinstance(b, NamedModes) else b

    @property
    def cval(self) -> bool | int | float | complex:
        return self.options.cval

    @property
    def neighborhood(self) -> tuple[tuple[int, int], ...]:
        return self.ir.neighborhood

    @property
    def __signature__(self) -> inspect.Signature:
        """The kernel's own parameters (positional, as for any ufunc), and the keywords of
        :meth:`__call__`."""
        kernel = inspect.signature(self.py_func).parameters.values()
        return inspect.Signature(
            [p.replace(kind=inspect.Parameter.POSITIONAL_ONLY) for p in kernel]
            + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None)
               for name in ("out", "axes", "axis", "dims")]
            + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=getattr(self, name))
               for name in ("boundary", "cval")])

    @property
    def types(self) -> list[str]:
        """The specializations compiled so far, in NumPy's ``'bb->b'`` notation (with those of
        the per-axis kernels a boundary keyed by name resolved to)."""
        found = {s.types for s in self._specializations.values()}
        for variant in list(self._variants.values()):
            found.update(variant.types)
        return sorted(found)

    def __repr__(self) -> str:
        return f"<stencil_ufunc {self.__name__} {self.signature} target={self.target!r} " \
               f"boundary={self.boundary!r}>"

    # --- compiling -------------------------------------------------------------------------

    def for_dims(self, dims: tuple[str, ...] | None = None) -> "StencilUFunc":
        """The kernel to run when its core axes are the dimensions ``dims`` (default: the
        signature's names): itself, unless ``boundary`` is keyed by dimension name, then the
        same kernel (same IR) with one mode per axis in that order."""
        named = self.options.boundary
        if not isinstance(named, NamedModes):
            return self
        source = "this call's core dimensions are" if dims is not None else \
            f"the signature {self.signature} names its core dimensions"
        dims = tuple(dims) if dims is not None else self.ir.layout.outputs[0]
        return self._variant(boundary=named.resolve(dims, self.__name__, source))

    def _variant(self, **changes) -> "StencilUFunc":
        """This kernel with some options changed, built once from the same IR (the kernel is
        not parsed again) and kept."""
        key = tuple(sorted(changes.items()))
        with self._lock:
            variant = self._variants.get(key)
            if variant is None:
                variant = StencilUFunc(self.py_func, replace(self.options, **changes),
                                       ir=self.ir)
                self._variants[key] = variant
        return variant

    def with_options(self, *, boundary: Any = _UNSET, cval: Any = _UNSET) -> "StencilUFunc":
        """This kernel with another ``boundary`` and/or ``cval`` (the decorator's meaning):
        built once from the same IR, kept, and compiled per dtypes like any kernel. A call
        ``f(x, boundary="wrap")`` runs ``f.with_options(boundary="wrap")(x)``."""
        changes = {}
        if boundary is not _UNSET:
            boundary = normalize_boundary(boundary)
            if isinstance(boundary, NamedModes):
                if len(boundary) != self.ir.ndim:
                    raise ValueError(f"{self.__name__}: boundary={boundary!r} names "
                                     f"{len(boundary)} dimension(s), but the kernel has "
                                     f"{self.ir.ndim} core axes; give one mode per core "
                                     "dimension")
            else:
                per_axis(boundary, self.ir.ndim)
            if boundary != self.options.boundary or \
                    getattr(boundary, "written", None) != getattr(self.options.boundary,
                                                                  "written", None):
                changes["boundary"] = boundary
        if cval is not _UNSET:
            cval = normalize_cval(cval)
            if cval != self.options.cval or type(cval) is not type(self.options.cval):
                changes["cval"] = cval
        return self._variant(**changes) if changes else self

    def compile(self, *dtypes, out_dtypes=None,
                dims: Sequence[str] | None = None) -> pipeline.Specialization:
        """Compile (or fetch) the specialization for one dtype per argument. For a boundary
        keyed by dimension name, ``dims`` gives the core dimensions in axis order (default:
        the signature's names if they are the boundary's, else the boundary's names in the
        order written)."""
        named = self.options.boundary
        if isinstance(named, NamedModes):
            dims = named.default_dims(self.ir.layout.outputs[0]) if dims is None else dims
            return self.for_dims(tuple(dims)).compile(*dtypes, out_dtypes=out_dtypes)
        arg_dtypes = self._arg_dtypes(dtypes)
        wanted = None if out_dtypes is None else tuple(np.dtype(d) for d in out_dtypes)
        key = (arg_dtypes, wanted)
        found = self._specializations.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._specializations.get(key)
            if found is None:
                found = pipeline.build(self.ir, self.options, self._target, arg_dtypes, wanted)
                self.compile_count += 1
                self._specializations[key] = found
                self._specializations.setdefault((arg_dtypes, found.out_dtypes), found)
                if found.natural_out_dtypes == found.out_dtypes:   # a call without out= too
                    self._specializations.setdefault((arg_dtypes, None), found)
        return found

    def _arg_dtypes(self, dtypes) -> DTypes:
        if len(dtypes) != self.nin:
            raise TypeError(f"{self.__name__} takes {self.nin} argument dtype(s), "
                            f"got {len(dtypes)}")
        return tuple(native_dtype(np.dtype(d), self.__name__, what(self, k))
                     for k, d in enumerate(dtypes))

    def without_boundary(self) -> "StencilUFunc":
        """This kernel with ``boundary=None`` on every axis, built from the same IR (not parsed
        again): what padded Dask blocks run where an axis pads with ``cval``. It keeps ``cval``
        where some axis fills with it."""
        fills = None in per_axis(self.boundary, self.ir.ndim)
        return self._variant(boundary=None, cval=self.options.cval if fills else 0)

    # --- inspecting each stage -------------------------------------------------------------

    def inspect_ir(self) -> str:
        """The IR after simplification: arguments, layout, neighbourhood and the body, with
        relative reads shown as ``x@[-1, 0]``."""
        return self.ir.dump()

    def inspect_source(self, *dtypes) -> str:
        """The generated module for these argument dtypes (the first compiled ones if none)."""
        if not dtypes:
            if not self._specializations:
                raise ValueError(f"{self.__name__} has no specialization yet; pass the argument "
                                 "dtypes, e.g. inspect_source('float64')")
            return next(iter(self._specializations.values())).source
        concrete = self.for_dims()
        return pipeline.generate(concrete.ir, concrete.options, concrete._target,
                                 self._arg_dtypes(dtypes)).source

    def schedule(self, *dtypes) -> Schedule:
        """How the loop nest computes the kernel for these argument dtypes (every target makes
        the same choices): window reductions written out or kept, with the reason. ``str()``
        of the result lists them; ``inspect_source`` ends with the same list."""
        return pipeline.schedule(self.ir, self._arg_dtypes(dtypes), self.options.fastmath,
                                 narrowing=getattr(self._target, "narrowing", None))

    def inspect_llvm(self, *dtypes) -> str:
        """The LLVM IR the target compiled for these argument dtypes (compiling if needed)."""
        return self._target.inspect(self.compile(*dtypes).kernel, "llvm")

    def inspect_asm(self, *dtypes) -> str:
        """The machine code (assembly) the target compiled for these argument dtypes: check
        here that the inner loop vectorized."""
        return self._target.inspect(self.compile(*dtypes).kernel, "asm")

    # --- calling ---------------------------------------------------------------------------

    def __call__(self, *args: Any, out=None, axes: list | None = None, axis: int | None = None,
                 dims: Sequence[str] | None = None, boundary: Any = _UNSET, cval: Any = _UNSET,
                 **kwargs: Any):
        """Apply the kernel: ``f(*arrays, out=None, axes=None, axis=None, dims=None)``.

        ``axes``/``axis`` pick each operand's core axes as for NumPy's gufuncs (e.g.
        ``axes=[(1, 2), (1, 2)]`` runs on (H, W) of an (N, H, W, C) stack); ``dims`` names
        them for xarray inputs (default: their last dimensions). ``boundary``/``cval``
        replace the decorator's for this call (:meth:`with_options`: the variant is compiled
        once and kept). NumPy, Dask, GPU and xarray inputs give results of the same kind.
        """
        if boundary is not _UNSET or cval is not _UNSET:
            return self.with_options(boundary=boundary, cval=cval)(
                *args, out=out, axes=axes, axis=axis, dims=dims, **kwargs)
        if kwargs:
            name = next(iter(kwargs))
            raise TypeError(f"{self.__name__}() got an unexpected keyword argument {name!r}")
        if len(args) != self.nin:
            raise TypeError(f"{self.__name__}() takes {self.nin} positional argument"
                            f"{'s' if self.nin != 1 else ''} but {len(args)} were given")
        return arrays.adapter_for(args).call_with(self, args, out, axes=axes, axis=axis,
                                                  dims=dims)

    # --- time stepping (docs/iterate.md) ---------------------------------------------------

    def iterate(self, *args: Any, steps: int, block_steps: int | None = None,
                axes: list | None = None, axis: int | None = None,
                dims: Sequence[str] | None = None, boundary: Any = _UNSET,
                cval: Any = _UNSET) -> Any:
        """Apply the kernel ``steps`` times, each step's outputs becoming the next step's first
        ``nout`` arguments (the state); the other arguments stay fixed. Returns the final
        state (a tuple for several outputs), equal bit for bit to
        ``for _ in range(steps): u = f(u, ...)``.

        NumPy states advance in cache-sized tiles, ``block_steps`` steps at a time (default:
        chosen from the cache size and the neighbourhood); Dask states exchange one halo per
        many steps; GPU states stay on the device. ``axes``/``axis`` pick core axes as for a
        call (each state's output at its argument's axes); ``dims`` names the core dimensions
        of xarray inputs; ``boundary``/``cval`` replace the decorator's, as for a call.
        """
        if boundary is not _UNSET or cval is not _UNSET:
            return self.with_options(boundary=boundary, cval=cval).iterate(
                *args, steps=steps, block_steps=block_steps, axes=axes, axis=axis, dims=dims)
        steps = check_count(self, steps, "steps", minimum=0)
        if block_steps is not None:
            block_steps = check_count(self, block_steps, "block_steps", minimum=1)
        check_roles(self, args)
        return arrays.adapter_for(args).iterate_with(self, args, steps, block_steps, axes=axes,
                                                     axis=axis, dims=dims)

    def trajectory(self, *args: Any, steps: int, every: int, block_steps: int | None = None,
                   axes: list | None = None, axis: int | None = None,
                   dims: Sequence[str] | None = None, boundary: Any = _UNSET,
                   cval: Any = _UNSET):
        """Like :meth:`iterate`, yielding ``(step, state)`` after every ``every`` steps and
        after the last: ``every`` steps run blocked between two states. Each state is a new
        array (or tuple of arrays), safe to keep. ``boundary``/``cval`` as for a call."""
        if boundary is not _UNSET or cval is not _UNSET:
            return self.with_options(boundary=boundary, cval=cval).trajectory(
                *args, steps=steps, every=every, block_steps=block_steps, axes=axes,
                axis=axis, dims=dims)
        steps = check_count(self, steps, "steps", minimum=0, method="trajectory")
        every = check_count(self, every, "every", minimum=1, method="trajectory")
        if block_steps is not None:
            check_count(self, block_steps, "block_steps", minimum=1, method="trajectory")
        check_roles(self, args)
        return self._states(args, steps, every, dict(block_steps=block_steps, axes=axes,
                                                     axis=axis, dims=dims))

    def _states(self, args, steps: int, every: int, options: dict):
        current = list(args)
        done = 0
        while done < steps:
            k = min(every, steps - done)
            state = self.iterate(*current, steps=k, **options)
            current[:self.nout] = state if self.nout > 1 else (state,)
            done += k
            yield done, state

    # --- pickling: the function, its IR and the options; recompiles on load -----------------

    def __reduce__(self):
        # The IR goes along, so a worker computes with the globals' values this process
        # read (they may have changed since), and does not parse the kernel again.
        import cloudpickle
        return _rebuild, (_pickle_by_value(self.py_func), cloudpickle.dumps(self.ir),
                          self.options)


def _pickle_by_value(func: Callable) -> bytes:
    """cloudpickle ``func`` with its code and the globals it reads, never by reference, so a
    process that cannot import the kernel's module (a Dask worker, a notebook) still gets it."""
    import cloudpickle
    clone = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__,
                               func.__closure__)
    clone.__qualname__ = func.__qualname__
    clone.__module__ = "stencilc.<kernel by value>"   # in no sys.modules: pickled by value
    return cloudpickle.dumps(clone)


def _rebuild(pickled_func: bytes, pickled_ir: bytes, options: Options) -> StencilUFunc:
    import cloudpickle
    return StencilUFunc(cloudpickle.loads(pickled_func), options,
                        ir=cloudpickle.loads(pickled_ir))


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

"""One specialization: generate the module for some dtypes, type it, build the gufunc."""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import warnings
from dataclasses import dataclass

import numba
import numpy as np
from numba.core import errors as numba_errors
from numba.np.numpy_support import as_dtype

from .cache import compile_lock, load_module, module_name, remove_entry
from .codegen.cpu import CpuOptions, GeneratedModule, generate_cpu
from .errors import StencilInternalError
from .ir import Role, StencilIR
from .options import Options

SUPPORTED_DTYPES = tuple(np.dtype(name) for name in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float32", "float64", "complex64", "complex128"))
SUPPORTED_NAMES = ", ".join(d.name for d in SUPPORTED_DTYPES)


@dataclass(frozen=True)
class Specialization:
    """The compiled gufunc for one combination of argument and output dtypes."""

    arg_dtypes: tuple[np.dtype, ...]
    out_dtypes: tuple[np.dtype, ...]
    kernel_dtypes: tuple[np.dtype, ...]   # what the kernel's return expression computes
    natural_out_dtypes: tuple[np.dtype, ...]   # what out_dtype picks when no out= is given
    ufunc: np.ufunc
    source: str
    # target="parallel": ``ufunc`` spreads the loop dimensions over threads (numba's parallel
    # gufunc); ``rows_ufunc`` runs one block at a time with its rows spread over threads.
    rows_ufunc: np.ufunc | None = None

    @property
    def types(self) -> str:
        """NumPy's ``ufunc.types`` notation, e.g. ``'bb->b'``."""
        return "".join(d.char for d in self.arg_dtypes) + "->" + \
            "".join(d.char for d in self.out_dtypes)


def numba_type(dtype: np.dtype, ndim: int):
    """Arrays are typed C-contiguous: LLVM vectorizes loops over known-stride rows only, and
    the dispatcher hands every gufunc C-contiguous core blocks (copying any that are not)."""
    scalar = numba.from_dtype(dtype)
    return numba.types.Array(scalar, ndim, "C") if ndim else scalar


def generate(ir: StencilIR, options: Options, arg_dtypes) -> GeneratedModule:
    cpu = CpuOptions(boundary=options.boundary, cval=options.cval, fastmath=options.fastmath,
                     parallel=options.target == "parallel")
    return generate_cpu(ir, cpu, tuple(arg_dtypes), env_note=describe_env(ir.env))


def build(ir: StencilIR, options: Options, arg_dtypes: tuple[np.dtype, ...],
          out_dtypes: tuple[np.dtype, ...] | None) -> Specialization:
    """Compile ``ir`` for ``arg_dtypes``; ``out_dtypes`` None means: apply ``out_dtype``."""
    generated = generate(ir, options, arg_dtypes)
    if not options.cache:
        return _compile(ir, options, generated, arg_dtypes, out_dtypes, on_disk=False)
    name = module_name(generated.source)
    with compile_lock(name):
        try:
            return _compile(ir, options, generated, arg_dtypes, out_dtypes, on_disk=True)
        except StencilInternalError as from_disk:   # not a user error: maybe a damaged entry
            # Compile once more without the disk. If that fails too, its error is the real one;
            # if it works, the cache entry was unreadable (truncated, overwritten): drop it.
            spec = _compile(ir, options, generated, arg_dtypes, out_dtypes, on_disk=False)
            remove_entry(name)
            warnings.warn(f"stencilc: the cache entry for {ir.name!r} {_names(arg_dtypes)} "
                          f"could not be used ({from_disk.__cause__!r}); "
                          "compiled it in memory and removed the entry", RuntimeWarning,
                          stacklevel=5)
            return spec


def _compile(ir: StencilIR, options: Options, generated: GeneratedModule, arg_dtypes,
             out_dtypes, on_disk: bool) -> Specialization:
    module = load_module(generated.source, ir.env, on_disk=on_disk)
    on_disk = module.__file__.endswith(".py")
    arg_types = [numba_type(dt, a.ndim) for a, dt in zip(ir.arguments, arg_dtypes)]
    with _user_errors(ir, generated, module.__file__, arg_dtypes):
        point = getattr(module, generated.point)
        index_types = [numba.types.intp] * ir.ndim
        point.compile(tuple(index_types + arg_types))
        returned = point.nopython_signatures[-1].return_type
        kernel_dtypes = _value_dtypes(ir, returned, arg_dtypes)
        natural = resolve_out_dtypes(ir, options.out_dtype, arg_dtypes, kernel_dtypes)
        out_dtypes = natural if out_dtypes is None else out_dtypes
        _check_storable(ir, kernel_dtypes, out_dtypes)
        out_types = [numba_type(dt, ir.ndim) for dt in out_dtypes]

        def gufunc(kernel: str, target: str) -> np.ufunc:
            function = getattr(module, kernel)
            function.__name__ = ir.name   # NumPy names the gufunc after it in its errors
            built = numba.guvectorize([numba.void(*arg_types, *out_types)], str(ir.layout),
                                      nopython=True, cache=on_disk, target=target)(function)
            return getattr(built, "ufunc", built)   # the parallel target returns the ufunc

        parallel = generated.rows_kernel is not None
        ufunc = gufunc(generated.kernel, "parallel" if parallel else "cpu")
        rows = gufunc(generated.rows_kernel, "cpu") if parallel else None
    return Specialization(tuple(arg_dtypes), tuple(out_dtypes), kernel_dtypes, tuple(natural),
                          ufunc, generated.source, rows)


def resolve_out_dtypes(ir: StencilIR, out_dtype, arg_dtypes, kernel_dtypes):
    """DESIGN 1.1 ``out_dtype``: None, "kernel", one dtype, or one per output."""
    if out_dtype is None:
        arrays = [dt for a, dt in zip(ir.arguments, arg_dtypes) if a.role is not Role.SCALAR]
        return (np.result_type(*arrays),) * ir.nout
    if isinstance(out_dtype, str) and out_dtype == "kernel":
        return kernel_dtypes
    if isinstance(out_dtype, (list, tuple)):
        return tuple(np.dtype(d) for d in out_dtype)
    return (np.dtype(out_dtype),) * ir.nout


def _value_dtypes(ir: StencilIR, returned, arg_dtypes) -> tuple[np.dtype, ...]:
    items = list(returned) if isinstance(returned, numba.types.BaseTuple) else [returned]
    dtypes = []
    for item in items:
        try:
            dtypes.append(np.dtype(as_dtype(item)))
        except (numba_errors.NumbaError, TypeError):   # what as_dtype raises for non-numbers
            raise TypeError(f"{ir.name}: the kernel returns {item} for argument dtypes "
                            f"{_names(arg_dtypes)}; a stencil must return numbers") from None
    return tuple(dtypes)


def _check_storable(ir: StencilIR, kernel_dtypes, out_dtypes) -> None:
    if len(out_dtypes) != ir.nout:
        raise ValueError(f"{ir.name}: out_dtype gives {len(out_dtypes)} dtype(s) for "
                         f"{ir.nout} output(s)")
    for value, out in zip(kernel_dtypes, out_dtypes):
        if out not in SUPPORTED_DTYPES:
            raise TypeError(f"{ir.name}: output dtype {out} is not supported; "
                            f"supported: {SUPPORTED_NAMES}")
        if value.kind == "c" and out.kind != "c":
            raise TypeError(f"{ir.name}: the kernel computes {value}, which cannot be stored "
                            f"in a {out} output; pass out_dtype='kernel' or a complex dtype")


def describe_env(env: dict[str, object]) -> str:
    """A stable description of the globals a kernel reads, so the module text (and its cache
    key) changes when any of them does."""
    parts = []
    for name in sorted(env):
        value = env[name]
        if isinstance(value, np.ndarray):
            digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()[:12]
            what = f"array {value.dtype}{list(value.shape)} {digest}"
        elif hasattr(value, "py_func"):
            code = value.py_func.__code__
            digest = hashlib.sha256(code.co_code + repr(code.co_consts).encode()).hexdigest()[:12]
            what = f"{value.py_func.__module__}.{value.py_func.__qualname__} {digest}"
        else:
            what = getattr(value, "__name__", type(value).__name__)
        parts.append(f"{name}={what}")
    return ", ".join(parts)


def _names(dtypes) -> str:
    return "(" + ", ".join(np.dtype(d).name for d in dtypes) + ")"


_NUMBA_LOCATION = re.compile(r'File "([^"]+)", line (\d+)')
_NOISE = re.compile(r"^(During:|Failed in |- Resolution failure|Rewrite failed|\s*$|\s*\^)")


@contextlib.contextmanager
def _user_errors(ir: StencilIR, generated: GeneratedModule, module_file: str, arg_dtypes):
    """numba's typing errors, re-raised as a TypeError that points into the user's kernel."""
    try:
        yield
    except (TypeError, ValueError):
        raise
    except numba_errors.NumbaError as exc:
        message = str(exc)
        where = ""
        for path, line in _NUMBA_LOCATION.findall(message):
            ours = os.path.realpath(path) == os.path.realpath(module_file)
            user_line = generated.line_map.get(int(line)) if ours else None
            if user_line is not None:   # the IR's copy of the source: also there after pickling
                text = ir.source.splitlines()[user_line - ir.firstlineno].strip()
                where = f"\n  at {ir.filename}, line {user_line}: {text}"
                break
        summary = []
        for ln in message.splitlines():
            if ln.startswith(("There are ", "- Of which")):
                break
            if not (_NOISE.match(ln) or _NUMBA_LOCATION.search(ln) or ln.startswith("  ")):
                summary.append(ln.strip())
        raise TypeError(f"{ir.name}: the kernel cannot be compiled for argument dtypes "
                        f"{_names(arg_dtypes)}: " + " ".join(summary[:3]) + where) from None
    except Exception as exc:
        raise StencilInternalError(
            f"stencilc failed to compile kernel {ir.name!r} for {_names(arg_dtypes)}: "
            f"{type(exc).__name__}: {exc}. This is a bug in stencilc; please report it with "
            "the kernel's source.") from exc

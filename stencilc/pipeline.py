"""The pipeline, each stage once and in order:

    frontend -> StencilIR -> simplify  (:func:`understand`, once per kernel)
    -> target code -> typing -> out_dtype policy -> compiled kernel  (:func:`build`, per dtypes)

:func:`build` is target-neutral: ``target.generate`` -> :mod:`stencilc.cache` ->
``target.value_dtypes`` -> ``target.compile``. A damaged disk-cache entry is compiled again in
memory; a typing failure in the user's kernel becomes a located :class:`StencilTypingError`.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from .boundary import cast_cval
from .cache import (compile_lock, load_module, module_name, remove_entry, seal_entry,
                    validate_entry)
from .codegen.common import GeneratedModule
from .dtypes import DTypes, check_storable, names, resolve_out_dtypes
from .errors import StencilError, StencilInternalError, StencilTypingError
from .frontend import parse_kernel
from .ir import StencilIR
from .passes import shape_needs, simplify
from .progress import compile_notice, interruptible
from .schedules import schedule

if TYPE_CHECKING:  # pragma: no cover
    from .options import Options
    from .stepping import Stepping
    from .targets import Target


@dataclass(frozen=True)
class Specialization:
    """The compiled kernel for one combination of argument and output dtypes, on one target.
    Call it with arrays an adapter has checked: ``spec(*arrays, out=None)``."""

    target: Target
    arg_dtypes: DTypes
    out_dtypes: DTypes
    kernel_dtypes: DTypes        # what the kernel's return expression computes
    natural_out_dtypes: DTypes   # what out_dtype picks when no out= is given
    source: str
    kernel: Any                  # the target's compiled kernel; only the target looks inside
    fills: tuple = ()            # cval in each output dtype, where the kernel takes them

    def __call__(self, *arrays: Any, out: tuple | None = None) -> Any:
        return self.target.run(self.kernel, (*arrays, *self.fills), out)

    def advance(self, arrays: Sequence[Any], stepping: "Stepping") -> tuple:
        """The state after ``stepping.steps`` steps from ``arrays`` (checked by an array
        adapter): one array per output."""
        return self.target.advance(self.kernel, (*arrays, *self.fills), stepping)

    @property
    def types(self) -> str:
        """NumPy's ``ufunc.types`` notation, e.g. ``'bb->b'``."""
        return "".join(d.char for d in self.arg_dtypes) + "->" + \
            "".join(d.char for d in self.out_dtypes)


def understand(func: Callable, options: Options) -> StencilIR:
    """The kernel's IR after the frontend passes and the simplify pass."""
    ir = simplify(parse_kernel(func, signature=options.signature,
                               neighborhood=options.neighborhood,
                               standard_indexing=options.standard_indexing))
    return replace(ir, shape_needs=shape_needs(ir))


def generate(ir: StencilIR, options: Options, target: Target, arg_dtypes: DTypes) -> GeneratedModule:
    """The target's module text for ``arg_dtypes``, from the IR as scheduled for them (the
    schedule is listed in comments at the end: appended, so no generated line moves)."""
    chosen = schedule(ir, arg_dtypes, options.fastmath,
                      narrowing=getattr(target, "narrowing", None))
    generated = target.generate(chosen.ir, options, tuple(arg_dtypes), describe_env(ir.env))
    note = "".join(f"# {line}\n" for line in chosen.describe().splitlines())
    return replace(generated, source=f"{generated.source}\n\n{note}")


def build(ir: StencilIR, options: Options, target: Target, arg_dtypes: DTypes,
          out_dtypes: DTypes | None) -> Specialization:
    """Compile ``ir`` for ``arg_dtypes``; ``out_dtypes`` None means: apply ``out_dtype``."""
    with compile_notice(f"kernel {ir.name!r} for {names(arg_dtypes)} on target "
                        f"{target.name!r}"):
        return interruptible(lambda: _build(ir, options, target, arg_dtypes, out_dtypes))


def _build(ir: StencilIR, options: Options, target: Target, arg_dtypes: DTypes,
           out_dtypes: DTypes | None) -> Specialization:
    generated = generate(ir, options, target, arg_dtypes)
    if not options.cache:
        return _compile(ir, options, target, generated, arg_dtypes, out_dtypes, on_disk=False)
    name = module_name(generated.source)
    what = f"{ir.name!r} {names(arg_dtypes)}"
    with compile_lock(name):
        validate_entry(name, what)
        try:
            spec = _compile(ir, options, target, generated, arg_dtypes, out_dtypes, on_disk=True)
        except StencilError as from_disk:
            if not isinstance(from_disk, StencilInternalError):
                seal_entry(name)   # the user's kernel failed; what numba wrote is sound
                raise
            failure = from_disk.__cause__ or from_disk
        except Exception as from_disk:   # noqa: BLE001 - the kernel's, or the entry's
            failure = from_disk
        else:
            seal_entry(name)
            return spec
        # Compile once more without the disk. If that fails too, its error is the real one;
        # if it works, the cache entry was unreadable (written by a newer numba, edited): drop it.
        try:
            spec = _compile(ir, options, target, generated, arg_dtypes, out_dtypes,
                            on_disk=False)
        except BaseException:
            seal_entry(name)
            raise
        remove_entry(name)
        warnings.warn(f"stencilc: the cache entry for {what} could not be used ({failure!r}); "
                      "compiled it in memory and removed the entry", RuntimeWarning,
                      stacklevel=6)
        return spec


def _compile(ir: StencilIR, options: Options, target: Target, generated: GeneratedModule,
             arg_dtypes: DTypes, out_dtypes: DTypes | None, on_disk: bool) -> Specialization:
    module = load_module(generated.source, ir.env, on_disk=on_disk)
    on_disk = module.__file__.endswith(".py")
    with located_errors(ir, generated, module.__file__, arg_dtypes):
        kernel_dtypes = target.value_dtypes(module, generated, ir, arg_dtypes)
        natural = resolve_out_dtypes(ir, options.out_dtype, arg_dtypes, kernel_dtypes)
        out_dtypes = natural if out_dtypes is None else out_dtypes
        check_storable(ir, kernel_dtypes, out_dtypes)
        fills = fill_values(ir, options, generated, out_dtypes)
        kernel = target.compile(module, generated, ir, options, arg_dtypes, out_dtypes, on_disk)
    return Specialization(target, tuple(arg_dtypes), tuple(out_dtypes), kernel_dtypes,
                          tuple(natural), generated.source, kernel, fills)


def fill_values(ir: StencilIR, options: Options, generated: GeneratedModule,
                out_dtypes: DTypes) -> tuple:
    """``cval`` in each output dtype, for kernels that fill border points (a ``None`` axis):
    the values are run-time inputs, so one rule (:func:`~stencilc.boundary.cast_cval`) gives
    them on every target."""
    if not generated.fill_inputs:
        return ()
    return tuple(cast_cval(options.cval, dt, f"the dtype of output {k} of {ir.name!r}, which "
                           "boundary=None fills with cval")
                 for k, dt in enumerate(out_dtypes))


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


@contextlib.contextmanager
def located_errors(ir: StencilIR, generated: GeneratedModule, module_file: str, arg_dtypes):
    """numba's typing errors re-raised as a :class:`StencilTypingError` at the user's line
    (found through the generated module's line map); anything else unexpected is an internal
    error that names the kernel."""
    from numba.core import errors as numba_errors

    try:
        yield
    except (TypeError, ValueError):
        raise
    except numba_errors.NumbaError as exc:
        raise _typing_error(ir, generated, module_file, arg_dtypes, exc) from None
    except Exception as exc:
        raise StencilInternalError(
            f"stencilc failed to compile kernel {ir.name!r} for {names(arg_dtypes)}: "
            f"{type(exc).__name__}: {exc}. This is a bug in stencilc; please report it with "
            "the kernel's source.") from exc


def _typing_error(ir: StencilIR, generated: GeneratedModule, module_file: str, arg_dtypes,
                  exc) -> StencilTypingError:
    loc = getattr(exc, "loc", None)
    user_line = None
    if loc is not None and loc.filename and os.path.realpath(loc.filename) == \
            os.path.realpath(module_file):
        user_line = generated.line_map.get(loc.line)
    text = None
    if user_line is not None:   # the IR's copy of the source: also there after pickling
        lines = ir.source.splitlines()
        index = user_line - ir.firstlineno
        text = lines[index] if 0 <= index < len(lines) else None
    return StencilTypingError(
        f"{ir.name}: the kernel cannot be compiled for argument dtypes {names(arg_dtypes)}: "
        f"{_first_sentence(exc)}", filename=ir.filename if user_line else None,
        lineno=user_line, text=text)


def _first_sentence(exc) -> str:
    """numba's own words for what went wrong, without its pipeline name, location block and
    candidate listings (the location is the user's, given separately)."""
    message = getattr(exc, "msg", None) or str(exc)
    kept = []
    for line in message.splitlines():
        stripped = line.strip()
        if stripped.startswith(("There are ", "File \"", "- Of which", "During:")) and kept:
            break
        if stripped and not stripped.startswith(("Failed in ", "During:")):
            kept.append(stripped)
    return " ".join(kept[:3]) or type(exc).__name__

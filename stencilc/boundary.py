"""The boundary modes of docs/design.md 1.4 as index rules: the one source of truth for every
target.

Each rule maps any integer index ``i`` (possibly far outside ``[0, n)``) onto the element of
an array of length ``n >= 1`` that scipy.ndimage reads there. The functions are plain Python
integer arithmetic, so the CPU backend compiles them with ``numba.njit`` and a GPU backend with
``numba.cuda.jit(device=True)``; Python's ``%`` (floor modulo) is what numba gives on both.
Mode ``"constant"`` reads ``cval`` instead of remapping, and ``None`` never reads outside.
"""
from __future__ import annotations

import decimal
import math
import numbers
from typing import Callable

import numpy as np


def nearest_index(i: int, n: int) -> int:
    """``a a a | a b c d | d d d``"""
    if i < 0:
        return 0
    if i >= n:
        return n - 1
    return i


def reflect_index(i: int, n: int) -> int:
    """``c b a | a b c d | d c b`` (half-sample symmetric; repeats with period 2n)."""
    if 0 <= i < n:              # the common cases first: a border read one stencil radius
        return i                # away needs no division
    if -n <= i < 0:
        return -1 - i
    if n <= i < 2 * n:
        return 2 * n - 1 - i
    period = 2 * n
    i = i % period
    if i >= n:
        i = period - 1 - i
    return i


def mirror_index(i: int, n: int) -> int:
    """``d c b | a b c d | c b a`` (whole-sample symmetric; repeats with period 2n - 2)."""
    if 0 <= i < n:
        return i
    if n == 1:
        return 0
    if -n < i < 0:
        return -i
    if n <= i < 2 * n - 1:
        return 2 * n - 2 - i
    period = 2 * n - 2
    i = i % period
    if i >= n:
        i = period - i
    return i


def wrap_index(i: int, n: int) -> int:
    """``b c d | a b c d | a b c`` (periodic)."""
    if 0 <= i < n:
        return i
    if -n <= i < 0:
        return i + n
    return i % n


#: modes that remap an outside index onto an element of the array
INDEX_RULES: dict[str, Callable[[int, int], int]] = {
    "nearest": nearest_index,
    "reflect": reflect_index,
    "mirror": mirror_index,
    "wrap": wrap_index,
}

MODES = (None, "constant", *INDEX_RULES)

#: scipy.ndimage's other names for the same rules
ALIASES = {"grid-wrap": "wrap", "grid-mirror": "reflect", "grid-constant": "constant"}

#: names users bring from ``np.pad`` and other libraries, and the mode that does the same
LOOKALIKES = {"edge": "nearest", "symmetric": "reflect", "periodic": "wrap",
              "circular": "wrap", "replicate": "nearest"}


class NamedModes(tuple):
    """``boundary={"lat": "nearest", "lon": "wrap"}``: one mode per core dimension, by name.
    Stored as sorted ``(name, mode)`` pairs (hashable); :meth:`resolve` turns it into one mode
    per core axis once a call says which dimension each axis is."""

    #: the names in the order the user wrote them (equality and hashing ignore it)
    written: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return repr(dict(self))

    def default_dims(self, signature_dims: tuple[str, ...]) -> tuple[str, ...]:
        """The core dimensions to assume where no call names them (``f.compile``): the
        signature's names where they are the dict's, else the dict's names as written."""
        if set(signature_dims) == {name for name, _ in self}:
            return tuple(signature_dims)
        return self.written or tuple(name for name, _ in self)

    def resolve(self, dims: tuple[str, ...], kernel: str, source: str) -> tuple[str | None, ...]:
        named = dict(self)
        unknown = [name for name in named if name not in dims]
        missing = [name for name in dims if name not in named]
        if unknown or missing:
            raise ValueError(
                f"{kernel}: boundary={named!r} names the dimensions {sorted(named)}, but "
                f"{source} {tuple(dims)}; give one mode for each of them (with xarray, pass "
                "dims=...; with arrays, name the core dimensions in signature=)")
        return tuple(named[name] for name in dims)


def normalize_boundary(boundary):
    """Validate a ``boundary=`` option: a mode name or None, a tuple/list of them (one per
    core axis, checked against the kernel by :func:`per_axis`), or a dict of them keyed by
    dimension name (:class:`NamedModes`). Returns canonical names."""
    if isinstance(boundary, NamedModes):     # normalized already
        return boundary
    if isinstance(boundary, dict):
        if not boundary:
            raise ValueError("boundary={} names no mode; give one mode per dimension name")
        for name in boundary:
            if not isinstance(name, str):
                raise TypeError(f"boundary dict keys must be dimension names (str), "
                                f"not {type(name).__name__}")
        named = NamedModes(sorted((name, _normalize_mode(m, f"boundary[{name!r}]"))
                                  for name, m in boundary.items()))
        named.written = tuple(boundary)
        return named
    if isinstance(boundary, (tuple, list)):
        if not boundary:
            raise ValueError("boundary=() names no mode; give one mode, or one per core axis")
        return tuple(_normalize_mode(m, f"boundary[{k}]") for k, m in enumerate(boundary))
    return _normalize_mode(boundary, "boundary")


def _normalize_mode(boundary, where: str) -> str | None:
    if boundary is None:
        return None
    if not isinstance(boundary, str):
        raise TypeError(f"{where} must be a string or None, not {type(boundary).__name__}")
    mode = ALIASES.get(boundary, boundary)
    if mode not in MODES:
        choices = ", ".join(repr(m) for m in MODES)
        if boundary.lower() == "none":
            hint = f"; did you mean {where}=None (numba.stencil's rule)?"
        elif boundary.lower() in LOOKALIKES:
            hint = f"; did you mean {where}={LOOKALIKES[boundary.lower()]!r}? (the rule " \
                   f"other libraries call {boundary!r})"
        elif boundary.lower() in MODES:
            hint = f"; did you mean {where}={boundary.lower()!r}?"
        else:
            hint = ""
        raise ValueError(f"{where}={boundary!r} is not a mode; choose one of {choices}{hint}")
    return mode


def per_axis(boundary, ndim: int) -> tuple[str | None, ...]:
    """The normalized ``boundary`` option as one mode per core axis (not for
    :class:`NamedModes`, which :meth:`NamedModes.resolve` turns into such a tuple)."""
    if isinstance(boundary, NamedModes):
        raise TypeError("a boundary keyed by dimension name needs the call's dimension names")
    if not isinstance(boundary, tuple):
        return (boundary,) * ndim
    if len(boundary) != ndim:
        raise ValueError(f"boundary={boundary!r} gives {len(boundary)} modes, but the kernel "
                         f"has {ndim} core axes; give one mode per axis, or a single mode")
    return boundary


def cast_cval(cval, dtype: np.dtype, where: str = ""):
    """``cval`` as a scalar of ``dtype``: the one rule every mode, target and Dask path uses
    (docs/boundaries.md).

    Floating-point and complex dtypes take the value as NumPy converts it (``float32``
    rounds). Integer dtypes take a finite value truncated toward zero and wrapped modulo
    2**bits, as ``np.array(cval).astype(dtype)`` gives on common hardware for values it
    defines (``300`` and ``300.0`` both give ``44`` in int8, ``-1.5`` gives ``255`` in
    uint8); bool takes ``cval != 0``. NaN, infinity, or a complex value with an imaginary
    part cannot be stored in an integer or bool dtype: ``ValueError``.
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "c":              # both parts kept (complex cval into complex dtypes)
        value = cval if isinstance(cval, complex) else complex(_as_float(cval), 0.0)
        with np.errstate(all="ignore"):
            return dtype.type(value)
    if dtype.kind == "f":
        if isinstance(cval, complex):
            if cval.imag:
                raise _unstorable(cval, dtype, where)
            cval = cval.real
        if isinstance(cval, int) and not isinstance(cval, bool):
            cval = _as_float(cval)     # NumPy refuses ints past float64; they round to inf
        with np.errstate(all="ignore"):
            return dtype.type(cval)
    value = cval
    if isinstance(value, complex):
        if value.imag:
            raise _unstorable(cval, dtype, where)
        value = value.real
    if isinstance(value, float) and not math.isfinite(value):
        raise _unstorable(cval, dtype, where)
    if dtype.kind == "b":
        return np.bool_(value != 0)
    bits = 8 * dtype.itemsize
    wrapped = int(value) & ((1 << bits) - 1)      # int() truncates toward zero
    if dtype.kind == "i" and wrapped >= 1 << (bits - 1):
        wrapped -= 1 << bits
    return dtype.type(wrapped)


def _unstorable(cval, dtype: np.dtype, where: str) -> ValueError:
    kind = {"b": "a bool", "f": "a real floating-point"}.get(dtype.kind, "an integer")
    fix = ("give a real cval, or compute into a complex output (out_dtype=np.complex128)"
           if dtype.kind == "f" else
           "give a finite cval, or compute into a floating-point output (out_dtype=...)")
    return ValueError(f"cval={cval!r} cannot be stored in {kind} dtype {dtype}"
                      f"{' (' + where + ')' if where else ''}; {fix}")


def normalize_cval(cval) -> bool | int | float | complex:
    """``cval`` as a plain Python number: NumPy scalars (``np.longdouble`` included),
    ``Decimal`` and ``Fraction`` become the bool, int, float or complex they equal, so one
    rule (:func:`cast_cval`) and one text in the generated code serve every kind of number.
    A value no Python float holds (``Decimal('1e999')``) becomes an infinity of its sign."""
    if isinstance(cval, (bool, np.bool_)):
        return bool(cval)
    if not isinstance(cval, (numbers.Number, np.number)):
        raise TypeError(f"cval must be a number or a bool, not {type(cval).__name__}")
    if isinstance(cval, (numbers.Integral, np.integer)):
        return int(cval)
    if isinstance(cval, decimal.Decimal):     # registered as a Number only
        return int(cval) if cval.is_finite() and cval == cval.to_integral_value() \
            else _as_float(cval)
    if isinstance(cval, (numbers.Real, np.floating)):
        if isinstance(cval, numbers.Rational) and cval.denominator == 1:
            return int(cval)
        return _as_float(cval)
    if isinstance(cval, (numbers.Complex, np.complexfloating)):
        return complex(_as_float(cval.real), _as_float(cval.imag))
    raise TypeError(f"cval must be a real or complex number, not {type(cval).__name__}")


def _as_float(value) -> float:
    try:
        return float(value)
    except OverflowError:    # Decimal('1e999'), a huge Fraction
        return math.inf if value > 0 else -math.inf

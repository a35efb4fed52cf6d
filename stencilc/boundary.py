"""The boundary modes of docs/design.md 1.4 as index rules: the one source of truth for every
target.

Each rule maps any integer index ``i`` (possibly far outside ``[0, n)``) onto the element of
an array of length ``n >= 1`` that scipy.ndimage reads there. The functions are plain Python
integer arithmetic, so the CPU backend compiles them with ``numba.njit`` and a GPU backend with
``numba.cuda.jit(device=True)``; Python's ``%`` (floor modulo) is what numba gives on both.
Mode ``"constant"`` reads ``cval`` instead of remapping, and ``None`` never reads outside.
"""
from __future__ import annotations

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


def normalize_boundary(boundary: str | None) -> str | None:
    """Validate a ``boundary=`` option and return its canonical name."""
    if boundary is None:
        return None
    if not isinstance(boundary, str):
        raise TypeError(f"boundary must be a string or None, not {type(boundary).__name__}")
    mode = ALIASES.get(boundary, boundary)
    if mode not in MODES:
        choices = ", ".join(repr(m) for m in MODES)
        if boundary.lower() == "none":
            hint = "; did you mean boundary=None (numba.stencil's rule)?"
        elif boundary.lower() in LOOKALIKES:
            hint = f"; did you mean boundary={LOOKALIKES[boundary.lower()]!r}? (the rule " \
                   f"other libraries call {boundary!r})"
        elif boundary.lower() in MODES:
            hint = f"; did you mean boundary={boundary.lower()!r}?"
        else:
            hint = ""
        raise ValueError(f"boundary={boundary!r} is not a mode; choose one of {choices}{hint}")
    return mode


def outside_value(cval, dtype: np.dtype):
    """What mode ``"constant"`` reads outside an array of ``dtype``: ``cval`` cast as C does."""
    with np.errstate(all="ignore"):
        return np.array(cval).astype(dtype)[()]

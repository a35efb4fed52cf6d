"""NumPy gufunc layouts: parsing ``"(n,m),()->(n,m)"`` and writing them back."""
from __future__ import annotations

import re
from dataclasses import dataclass

_DIMS = r"\(\s*(?:\w+(?:\s*,\s*\w+)*)?\s*,?\s*\)"
_ARGS = rf"{_DIMS}(?:\s*,\s*{_DIMS})*"
_LAYOUT = re.compile(rf"^\s*({_ARGS})\s*->\s*({_ARGS})\s*$")

CoreDims = tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    """Core dimensions of each input and output of a gufunc."""

    inputs: tuple[CoreDims, ...]
    outputs: tuple[CoreDims, ...]

    def __str__(self) -> str:
        def side(group):
            return ",".join("(" + ",".join(dims) + ")" for dims in group)
        return f"{side(self.inputs)}->{side(self.outputs)}"


def _split(group: str) -> tuple[CoreDims, ...]:
    return tuple(tuple(d.strip() for d in m.split(",") if d.strip())
                 for m in re.findall(r"\(([^)]*)\)", group))


def parse_layout(text: str) -> Layout:
    """Parse a gufunc layout string; raise ``ValueError`` in NumPy's words when malformed."""
    if not isinstance(text, str):
        raise TypeError(f"signature must be a string like '(n,m)->(n,m)', not {type(text).__name__}")
    match = _LAYOUT.match(text)
    if match is None:
        raise ValueError(f"not a gufunc signature: {text!r} (expected e.g. '(n,m),()->(n,m)')")
    return Layout(_split(match.group(1)), _split(match.group(2)))

"""Frontend fuzzer: generated kernel sources, valid and broken.

A valid kernel must compile and give, bit for bit, what the same Python function computes
when NumPy evaluates it point by point on the array padded by `np.pad` (float64 arithmetic is
IEEE in both). A broken one must raise StencilSyntaxError located on a line of its file.
Anything else (another exception, a wrong number) is a bug. Most examples stop after code
generation (cheap); a drawn fraction is compiled and run against the NumPy oracle.
"""
from __future__ import annotations

import zlib

import numpy as np
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from conftest import load_source
from stencilc import StencilSyntaxError, stencil_ufunc

PAD = 3   # generated offsets stay within [-PAD, PAD]
RUN_PERCENT = 6   # of valid kernels compiled and run (hypothesis draws floats near 0 often)

# --- valid kernels -----------------------------------------------------------------------------


def _read(draw, loop_vars):
    def offset():
        if loop_vars and draw(st.booleans()):
            v = draw(st.sampled_from(loop_vars))
            return draw(st.sampled_from([v, f"-{v}", f"{v} - 1", f"1 - {v}"]))
        return str(draw(st.integers(-2, 2)))
    return f"x[{offset()}, {offset()}]"


def _expr(draw, names, loop_vars, depth=0):
    choice = draw(st.integers(0, 9 if depth < 2 else 2))
    if choice <= 1:
        return _read(draw, loop_vars)
    if choice == 2:
        pool = [str(draw(st.integers(-3, 3))), repr(draw(st.sampled_from([0.5, 1.25, -2.0])))]
        pool += names + loop_vars
        return draw(st.sampled_from(pool))
    sub = lambda: _expr(draw, names, loop_vars, depth + 1)  # noqa: E731
    if choice <= 5:
        return f"({sub()} {draw(st.sampled_from(['+', '-', '*', '/']))} {sub()})"
    if choice == 6:
        return f"-{sub()}"
    if choice == 7:
        return f"{draw(st.sampled_from(['min', 'max']))}({sub()}, {sub()})"
    if choice == 8:
        return f"abs({sub()})"
    return f"({sub()} if {sub()} {draw(st.sampled_from(['<', '>=', '==']))} {sub()} else {sub()})"


def _block(draw, names, loop_vars, indent, depth):
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 4 if depth < 2 else 1))
        pad = "    " * indent
        if kind == 0:
            name = f"t{len(names)}"
            lines.append(f"{pad}{name} = {_expr(draw, names, loop_vars)}")
            names = names + [name]
        elif kind == 1:
            lines.append(f"{pad}acc += {_expr(draw, names, loop_vars)}")
        elif kind == 2:
            var = f"k{draw(st.integers(0, 10**6))}"   # one loop per name: offsets stay bounded
            assume(var not in loop_vars)
            bound = draw(st.integers(0, 1))
            lines.append(f"{pad}for {var} in range(-{bound}, {bound} + 1):")
            lines += _block(draw, names, loop_vars + [var], indent + 1, depth + 1)
        else:
            lines.append(f"{pad}if {_expr(draw, names, loop_vars)} > "
                         f"{_expr(draw, names, loop_vars)}:")
            lines += _block(draw, names, loop_vars, indent + 1, depth + 1)
            lines.append(f"{pad}else:")
            lines += _block(draw, names, loop_vars, indent + 1, depth + 1)
    return lines


@st.composite
def valid_kernels(draw):
    body = ["    acc = 0.0"] + _block(draw, [], [], 1, 0)
    body.append(f"    return acc + x[0, 0] + ({_expr(draw, [], [])})")   # reads x at least once
    return "def kernel(x):\n" + "\n".join(body) + "\n"


# --- broken kernels: one unsupported construct spliced into a valid one ------------------------

BROKEN_STATEMENTS = [
    "while acc < 3:\n        acc += 1",
    "import os",
    "global acc",
    "del acc",
    "with open('f') as h:\n        pass",
    "try:\n        acc = 1\n    except Exception:\n        pass",
    "x[0, 0] = 1.0",
    "acc = [v for v in range(3)]",
    "acc = {1: 2}",
    "acc = lambda v: v",
    "acc = 'text'",
    "acc = f'{acc}'",
    "acc = undefined_name + 1",
    "_sc_reserved = 1",
    "acc = x[0:2:1, 0]",
    "acc = x",
    "acc = x[0]",
    "acc = print(acc)",
    "acc = os.getcwd()",
    "acc = max(*acc)",
    "for v in [1, 2]:\n        acc += v",
    "for v in range(3):\n        acc += v\n    else:\n        acc = 0",
    "assert acc",
    "raise ValueError('no')",
    "acc = x[0, 0] @ x[0, 0]",
    "acc = (yield acc)",
    "return",
    "nonlocal acc",
    "acc = {v for v in range(2)}",
    "class K:\n        pass",
    "def helper():\n        return 1",
    "acc = x[0, 0].real.imag.conjugate.__class__",
]


@st.composite
def broken_kernels(draw):
    source = draw(valid_kernels())
    lines = source.splitlines()
    where = draw(st.integers(2, len(lines) - 1))            # after `acc = 0.0`, before return
    if lines[where - 1].rstrip().endswith(":"):              # keep Python's own syntax valid
        where -= 1
    bad = draw(st.sampled_from(BROKEN_STATEMENTS))
    lines.insert(where, "    " + bad)
    return "\n".join(lines) + "\n", bad


# --- the oracle ---------------------------------------------------------------------------------


class _Around:
    """``x[a, b]`` for the Python function: the padded array's value at point + offset."""

    def __init__(self, padded: np.ndarray, i: int, j: int):
        self.padded, self.i, self.j = padded, i, j

    def __getitem__(self, offsets):
        a, b = offsets
        return self.padded[self.i + PAD + int(a), self.j + PAD + int(b)]


def numpy_reference(kernel, x: np.ndarray) -> np.ndarray:
    padded = np.pad(x, PAD, mode="edge")
    out = np.empty_like(x)
    with np.errstate(all="ignore"):
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                out[i, j] = kernel(_Around(padded, i, j))
    return out


def _parses(source: str) -> bool:
    try:
        compile(source, "<fuzz>", "exec")
        return True
    except SyntaxError:
        return False


# --- the properties ------------------------------------------------------------------------------

# Generating and parsing a kernel is cheap, so the fuzzer runs 12x the profile's examples:
# 300 in CI, 12000 in the long profile.
FUZZ = settings(max_examples=12 * settings().max_examples, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@FUZZ
@given(valid_kernels(), st.integers(0, 2**32 - 1))
def test_valid_kernels_compile_and_match_numpy(source, seed):
    note(source)
    kernel = load_source(source).kernel
    f = stencil_ufunc(boundary="nearest")(kernel)
    compile(f.inspect_source("float64"), "<generated>", "exec")     # codegen is valid Python
    if zlib.crc32(source.encode()) % 100 >= RUN_PERCENT:   # compiling is the slow part
        return
    x = np.random.default_rng(seed).normal(size=(5, 6)).round(2)
    original = x.copy()
    try:
        expected = numpy_reference(kernel, x)
    except ZeroDivisionError:   # Python ints raise where numba (NumPy's rules) gives inf
        assume(False)
    got = f(x)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(x, original)


@FUZZ
@given(broken_kernels())
def test_broken_kernels_raise_located_syntax_errors(case):
    source, bad = case
    note(source)
    assume(_parses(source))
    module = load_source(source)
    try:
        f = stencil_ufunc(boundary="nearest")(module.kernel)
        f(np.zeros((4, 4)))   # an undefined global is reported on first use, not at decoration
    except StencilSyntaxError as error:
        assert error.filename == module.__file__
        first, last = 1, len(source.splitlines())
        assert first <= error.lineno <= last, (error.lineno, source)
        assert error.offset is not None and error.offset >= 1
        assert error.text and error.text.strip() in source
    else:
        raise AssertionError(f"accepted a kernel with `{bad}`")

"""Each frontend pass on its own, and the one constant folder (stencilc/frontend/, folding.py).

The oracle for folding is Python itself: `eval` of the same expression text.
"""
from __future__ import annotations

import ast

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_source
from stencilc import StencilSyntaxError
from stencilc.folding import evaluate, int_value
from stencilc.frontend import parse_kernel
from stencilc.frontend.checks import argument_names, assignment_counts, check_syntax, output_count
from stencilc.frontend.constants import local_constants
from stencilc.frontend.names import resolve_names
from stencilc.frontend.offsets import infer_neighborhood, rewrite_accesses
from stencilc.frontend.roles import argument_roles
from stencilc.frontend.source import read_kernel
from stencilc.ir import UNKNOWN, RelativeRead, Role, constant_node


def kernel_of(source: str, **namespace):
    module = load_source(source, namespace=namespace)
    return read_kernel(module.k)


# --- the constant folder ---------------------------------------------------------------------

_INTS = st.integers(-40, 40).map(str)


@st.composite
def int_expressions(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        return draw(_INTS)
    op = draw(st.sampled_from(["+", "-", "*", "//", "%", "**"]))
    left, right = draw(int_expressions(depth - 1)), draw(int_expressions(depth - 1))
    if op == "**":
        right = str(draw(st.integers(0, 3)))
    return f"({left} {op} {right})" if not draw(st.booleans()) else f"-({left} {op} {right})"


@given(int_expressions())
def test_folding_agrees_with_python(text):
    try:
        expected = eval(text)
    except ZeroDivisionError:
        expected = UNKNOWN
    assert evaluate(ast.parse(text, mode="eval").body) == expected


@pytest.mark.parametrize("value", [np.float32(0.1), np.int16(-3), 2.5, float("inf"),
                                   -float("inf"), complex(1, float("inf")), (1, 2)])
def test_folding_reads_the_constants_the_frontend_inlines(value):
    assert evaluate(constant_node(value)) == value
    assert type(evaluate(constant_node(value))) is type(value)


def test_folding_looks_names_up_and_leaves_unknowns_unknown():
    node = ast.parse("K + 2 * J", mode="eval").body
    assert evaluate(node, {"K": 1, "J": 3}.get) == 7
    assert evaluate(node, lambda name: UNKNOWN) is UNKNOWN
    assert int_value(ast.parse("True + 0", mode="eval").body) == 1
    assert int_value(ast.parse("1 / 1", mode="eval").body) is None   # a float, not folded


# --- statement checks ------------------------------------------------------------------------

def test_argument_names_and_standard_indexing_must_match():
    kernel = kernel_of("def k(x, w):\n    return x[0] * w[1]\n")
    assert argument_names(kernel, ("w",)) == ["x", "w"]
    with pytest.raises(StencilSyntaxError, match="'v', which is not an argument"):
        argument_names(kernel, ("v",))


def test_syntax_whitelist_points_at_the_construct():
    kernel = kernel_of("def k(x):\n    while True:\n        pass\n    return x[0]\n")
    with pytest.raises(StencilSyntaxError) as info:
        check_syntax(kernel, kernel.body)
    assert info.value.lineno == kernel.source.firstlineno + 1 and "range" in info.value.hint


def test_assignments_are_counted_and_arguments_are_read_only():
    kernel = kernel_of("def k(x):\n    a = 1\n    a += x[0]\n    return a\n")
    assert assignment_counts(kernel, kernel.body, ["x"]) == {"a": 2}
    kernel = kernel_of("def k(x, y):\n    y = 2\n    return x[0]\n")
    with pytest.raises(StencilSyntaxError, match="cannot assign to argument 'y'"):
        assignment_counts(kernel, kernel.body, ["x", "y"])


def test_output_count_needs_one_arity_on_every_path():
    kernel = kernel_of("def k(x):\n    if x[0] > 0:\n        return x[0], x[1]\n"
                       "    return x[1], x[0]\n")
    assert output_count(kernel, kernel.body) == 2
    kernel = kernel_of("def k(x):\n    if x[0] > 0:\n        return x[0]\n")
    with pytest.raises(StencilSyntaxError, match="without returning"):
        output_count(kernel, kernel.body)


# --- roles, names, constants, offsets ------------------------------------------------------------

def test_roles_follow_how_each_argument_is_indexed():
    kernel = kernel_of("def k(x, w, s):\n    return x[0, 1] * w[2] + s\n")
    roles = argument_roles(kernel, kernel.body, ["x", "w", "s"], ("w",))
    assert roles.roles == {"x": Role.RELATIVE, "w": Role.STANDARD, "s": Role.SCALAR}
    assert roles.ndim == 2 and roles.index_counts == {"x": 2, "w": 1}


def test_names_pass_inlines_constants_and_collects_the_environment():
    table = np.arange(3.0)
    kernel = kernel_of("import numpy as np\n\ndef k(x):\n    return np.sqrt(x[0]) * R + T[1]\n",
                       R=np.float32(2), T=table)
    body, env = resolve_names(kernel, kernel.body, {"x": Role.RELATIVE}, {}, 1)
    text = ast.unparse(body[0])
    assert "_sc_np.float32(2.0)" in text and "R" not in text
    assert env["T"] is table and env["np"] is np
    assert kernel.body[0] is not body[0]   # the pass works on a copy


def test_names_pass_refuses_what_cannot_be_compiled():
    kernel = kernel_of("def k(x):\n    return print(x[0])\n")
    with pytest.raises(StencilSyntaxError, match="builtin 'print'"):
        resolve_names(kernel, kernel.body, {"x": Role.RELATIVE}, {}, 1)


def test_local_constants_are_top_level_single_assignments():
    body = ast.parse("R = 1 + 1\nS = R * 3\nT = x\nU = 1\nU = 2\n").body
    assert local_constants(body, {"R": 1, "S": 1, "T": 1, "U": 2}) == {"R": 2, "S": 6}


def test_offsets_pass_bounds_loop_variables_and_infers_the_neighbourhood():
    kernel = kernel_of("def k(x):\n    acc = 0\n    for i in range(-2, 3):\n"
                       "        acc += x[i, 1 - i]\n    return acc + x[R, 0]\n", R=3)
    body, _ = resolve_names(kernel, kernel.body, {"x": Role.RELATIVE}, {"acc": 2, "i": 1}, 2)
    body, accesses = rewrite_accesses(kernel, body, {"x": Role.RELATIVE}, {},
                                      {"acc": 2, "i": 1}, None)
    assert [a.spans for a in accesses] == [((-2, 2), (-1, 3)), ((3, 3), (0, 0))]
    assert all(isinstance(a.node, RelativeRead) for a in accesses)
    assert infer_neighborhood(kernel, accesses, 2, None) == ((-2, 3), (-1, 3))
    with pytest.raises(StencilSyntaxError, match="outside the given neighborhood"):
        infer_neighborhood(kernel, accesses, 2, ((-1, 1), (-1, 1)))


def test_the_passes_in_order_give_the_ir():
    module = load_source("def k(x, s):\n    return s * (x[-1, 0] + x[1, 0])\n")
    ir = parse_kernel(module.k)
    assert (ir.name, ir.nout, ir.ndim, ir.neighborhood) == ("k", 1, 2, ((-1, 1), (0, 0)))
    assert str(ir.layout) == "(n,m),()->(n,m)"

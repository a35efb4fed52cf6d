"""Every kind of StencilSyntaxError, with its location, and every call-time error (docs/design.md 1.6)."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import load_source
from stencilc import StencilSyntaxError, stencil_ufunc

# (kernel source, options, line, column (1-based), words the message must hold)
SYNTAX_ERRORS = [
    ("def k(x):\n    acc = 0\n    while acc < 3:\n        acc += x[0]\n    return acc\n",
     {}, 3, 5, "`While` statements are not supported"),
    ("def k(x):\n    x[0] = 1\n    return x[0]\n", {}, 2, 5, "cannot assign into 'x'"),
    ("def k(x):\n    x = 1\n    return x\n", {}, 2, 5, "cannot assign to argument 'x'"),
    ("def k(x):\n    return x[0] + print(1)\n", {}, 2, 19, "builtin 'print' is not supported"),
    ("def k(x):\n    return x[0] + 'a'\n", {}, 2, 19, "constant 'a' is not a number"),
    ("def k(x):\n    f = lambda v: v\n    return f(x[0])\n", {}, 2, 9,
     "`Lambda` expressions are not supported"),
    ("def k(x):\n    def g(v):\n        return v\n    return g(x[0])\n", {}, 2, 5,
     "`FunctionDef` statements are not supported"),
    ("def k(x):\n    return x[0] + x[0, 1]\n", {}, 2, 19, "indexed with 2 indices here but 1"),
    ("def k(x):\n    return x[-1:2:2].sum()\n", {}, 2, 19, "slices with a step"),
    ("def k(x, y):\n    return x[y[0]]\n", {"standard_indexing": ("y",)}, 2, 14,
     "cannot bound the offset"),
    ("def k(x):\n    return x[0] + x\n", {}, 2, 19, "'x' is read relatively and must be indexed"),
    ("def k(x):\n    return x[0] + x.shape[0]\n", {}, 2, 19, "`x.shape` has no meaning"),
    ("def k(x):\n    if x[0] > 0:\n        return x[0], x[1]\n    return x[0]\n", {}, 4, 5,
     "gives 1 value(s) but an earlier one gives 2"),
    ("def k(x):\n    if x[0] > 0:\n        return x[0]\n", {}, 2, 5,
     "can finish without returning"),
    ("def k(x):\n    y = x[0]\n", {}, 1, 1, "never returns a value"),
    ("def k(x):\n    import os\n    return x[0]\n", {}, 2, 5, "`Import` statements"),
    ("def k(x):\n    return x[0] + x[1.5]\n", {}, 2, 21, "is not an integer"),
    ("def k(x):\n    return x[2]\n", {"neighborhood": ((-1, 1),)}, 2, 12,
     "outside the given neighborhood"),
    ("def k(x, *rest):\n    return x[0]\n", {}, 1, 11, "plain positional arguments"),
    ("def k(x, c=1):\n    return x[0]\n", {}, 1, 12, "cannot have defaults"),
    ("def k(x):\n    for i in [1, 2]:\n        x[i]\n    return x[0]\n", {}, 2, 14,
     "loop only over `range"),
    ("def k(x):\n    return x[0] + len(range(3))\n", {}, 2, 23, "range() can only be iterated"),
    ("def k(c):\n    return c + 1\n", {}, 1, 1, "reads no array relatively"),
    ("def k(x):\n    _sc_tmp = 1\n    return x[0]\n", {}, 2, 5, "reserved"),
    ("def k(x):\n    return x[0] + np.nonexistent(1)\n", {}, 2, 19, "has no attribute"),
    ("def k(x):\n    return x[0] + os.getpid()\n", {}, 2, 19, "module 'os' cannot be used"),
    ("def k(x):\n    return plain_python(x[0])\n", {}, 2, 12, "cannot be used in a compiled"),
    ("def k(x, y):\n    return x[0] + y[0, 0]\n", {}, 2, 19, "same number of dimensions"),
    ("def k(x):\n    return np.median(x[-1:2, 0])\n", {}, 2, 22, "a window must slice every"),
    ("def k(x):\n    return x[0]\n", {"signature": "(n),(n)->(n)"}, 1, 1,
     "has 2 input(s) but 'k' takes 1"),
    ("def k(x):\n    return x[0]\n", {"signature": "(n,m)->(n,m)"}, 1, 1,
     "gives 'x' 2 core dimension(s) but the kernel indexes it with 1"),
    ("def k(x):\n    return x[0]\n", {"signature": "(n)->(n),(n)"}, 1, 1,
     "has 2 output(s) but the kernel returns 1"),
    ("def k(x, c):\n    return x[0] * c\n", {"signature": "(n),(n)->(n)"}, 1, 1,
     "never indexes it"),
    ("def k(x):\n    return x[0]\n", {"signature": "(n)->(m)"}, 1, 1,
     "every output has the core dimensions"),
    ("def k(x):\n    return x[0]\n", {"signature": "n->n"}, 1, 1, "not a gufunc signature"),
    ("def k(x):\n    return x[0]\n", {"standard_indexing": ("w",)}, 1, 1,
     "standard_indexing names 'w'"),
]


def plain_python(v):
    return v


@pytest.mark.parametrize("source, options, line, column, words", SYNTAX_ERRORS,
                         ids=[case[4][:40] for case in SYNTAX_ERRORS])
def test_syntax_errors_point_at_the_expression(source, options, line, column, words):
    module = load_source(source, namespace={"np": np, "os": __import__("os"),
                                            "plain_python": plain_python})
    with pytest.raises(StencilSyntaxError) as info:
        stencil_ufunc(**options)(module.k)
    error = info.value
    assert words in error.msg
    assert error.filename == module.__file__
    assert (error.lineno, error.offset) == (line, column)
    assert error.text == source.splitlines()[line - 1]
    assert isinstance(error, SyntaxError)
    assert f"line {line}" in str(error)


def test_syntax_error_location_counts_from_the_files_first_line():
    module = load_source("import numpy as np\n\n\nclass Holder:\n    @staticmethod\n"
                         "    def k(x):\n        while True:\n            pass\n")
    with pytest.raises(StencilSyntaxError) as info:
        stencil_ufunc(module.Holder.k)
    assert (info.value.lineno, info.value.offset) == (7, 9)


def test_errors_carry_a_hint():
    module = load_source("def k(x, k):\n    return x[k]\n")
    with pytest.raises(StencilSyntaxError, match="hint: .*neighborhood"):
        stencil_ufunc(module.k)


@stencil_ufunc
def smooth(x):
    return x[-1, 0] + x[1, 0] + x[0, -1] + x[0, 1]


@stencil_ufunc
def pair(x, y):
    return x[0, 0] + y[0, 1]


@pytest.mark.parametrize("bad", [np.array([["a"]]), np.zeros((2, 2), object),
                                 np.zeros((2, 2), "datetime64[s]"), np.zeros((2, 2), np.float16)])
def test_unsupported_dtypes_raise_type_error_listing_supported(bad):
    with pytest.raises(TypeError, match="supported dtypes: bool, int8.*complex128"):
        smooth(bad)


def test_wrong_number_of_arguments():
    with pytest.raises(TypeError, match=r"smooth\(\) takes 1 positional argument but 2 were"):
        smooth(np.zeros((3, 3)), np.zeros((3, 3)))
    with pytest.raises(TypeError, match="unexpected keyword argument 'mode'"):
        smooth(np.zeros((3, 3)), mode="reflect")


def test_too_few_dimensions():
    with pytest.raises(ValueError, match="Input operand 0 does not have enough dimensions "
                                         r"\(has 1, gufunc core with signature"):
        smooth(np.zeros(5))


def test_core_dimensions_that_disagree():
    with pytest.raises(ValueError, match="core dimension"):
        pair(np.zeros((3, 4)), np.zeros((3, 5)))


def test_out_of_the_wrong_shape_type_and_dtype():
    x = np.zeros((4, 4))
    with pytest.raises(ValueError):
        smooth(x, out=np.zeros((4, 5)))
    with pytest.raises(TypeError, match="must be a numpy array"):
        smooth(x, out=[[0.0] * 4] * 4)
    with pytest.raises(TypeError, match="Cannot cast ufunc 'smooth' output .* 'same_kind'"):
        smooth(x, out=np.zeros((4, 4), np.int32))
    with pytest.raises(TypeError, match=r"out\[0\] has dtype object, which is not supported"):
        smooth(x, out=np.zeros((4, 4), object))
    with pytest.raises(ValueError, match="tuple of 1 arrays"):
        smooth(x, out=(np.zeros((4, 4)), np.zeros((4, 4))))


def test_a_kernel_numba_cannot_type_raises_type_error_pointing_at_the_user_line():
    module = load_source("import math\n\ndef k(x):\n    v = x[0] + x[1]\n"
                         "    return math.floor(v)\n")
    f = stencil_ufunc(module.k)
    assert f(np.arange(4.0)).tolist() == [1.0, 3.0, 5.0, 0.0]
    with pytest.raises(TypeError) as info:
        f(np.arange(4.0) * 1j)
    message = str(info.value)
    assert message.startswith("k: the kernel cannot be compiled for argument dtypes "
                              "(complex128)")
    assert f"{module.__file__}, line 5: return math.floor(v)" in message
    assert info.value.__suppress_context__


def test_complex_value_into_real_output_is_refused():
    @stencil_ufunc(out_dtype=np.float64)
    def f(x):
        return x[0] * 1j

    with pytest.raises(TypeError, match="cannot be stored in a float64 output"):
        f(np.ones(3))


def test_bad_options_raise_at_decoration():
    def k(x):
        return x[0]

    with pytest.raises(ValueError, match="boundary='edge' is not a mode"):
        stencil_ufunc(boundary="edge")(k)
    with pytest.raises(ValueError, match="target='tpu'"):
        stencil_ufunc(target="tpu")(k)
    with pytest.raises(TypeError, match="cval must be a number"):
        stencil_ufunc(cval="0")(k)
    with pytest.raises(TypeError, match="signature must be a string"):
        stencil_ufunc(3)
    with pytest.raises(ValueError, match="neighborhood has 2 axes"):
        stencil_ufunc(neighborhood=((-1, 1), (0, 0)))(k)


@pytest.mark.parametrize("typed, meant", [("edge", "nearest"), ("symmetric", "reflect"),
                                          ("periodic", "wrap"), ("none", "None"),
                                          ("Wrap", "wrap")])
def test_boundary_names_from_other_libraries_get_a_did_you_mean(typed, meant):
    def k(x):
        return x[0]

    with pytest.raises(ValueError, match=f"did you mean boundary={meant if meant == 'None' else repr(meant)}"):
        stencil_ufunc(boundary=typed)(k)


def test_chained_indexing_is_a_located_syntax_error_with_the_one_subscript_form():
    module = load_source("def k(x):\n    return x[0][1] + x[0, 0]\n")
    with pytest.raises(StencilSyntaxError) as info:
        stencil_ufunc(module.k)
    err = info.value
    assert (err.filename, err.lineno, err.offset) == (module.__file__, 2, 12)
    assert "x[0, 1]" in err.hint


def test_signature_and_help_show_the_kernels_own_parameters():
    import inspect
    import pydoc

    module = load_source('def blur(x, k):\n    """Blur x by k."""\n'
                         '    return k * (x[-1] + x[1])\n')
    f = stencil_ufunc(boundary="reflect")(module.blur)
    assert str(inspect.signature(f)) == \
        "(x, k, /, *, out=None, axes=None, axis=None, dims=None, boundary='reflect', cval=0)"
    text = pydoc.render_doc(f, renderer=pydoc.plaintext)
    assert "Blur x by k." in text


def test_a_wrong_out_shape_names_the_kernels_signature():
    """Issue 21 item 9: NumPy named the compiled gufunc's signature, (n,m),(),()->(n,m),
    with stencilc's own band inputs in it."""
    kernel = load_source("def k(x):\n    return x[-1, 0] + x[0, 1]\n").k
    f = stencil_ufunc(boundary="nearest")(kernel)
    for x, out in [(np.ones((4, 5)), np.empty((4, 6))), (np.ones((2, 4, 5)), np.empty((3, 4, 5))),
                   (np.ones((4, 5)), np.empty(5))]:
        with pytest.raises(ValueError, match=r"k: output operand 0 with shape .* does not fit "
                                             r"the result's shape .* \(signature \(n,m\)->\(n,m\)\)"):
            f(x, out=out)
    stacked = np.empty((3, 4, 5))        # extra loop axes broadcast, as NumPy allows
    f(np.ones((4, 5)), out=stacked)
    np.testing.assert_array_equal(stacked, np.broadcast_to(f(np.ones((4, 5))), (3, 4, 5)))

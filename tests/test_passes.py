"""IR simplifications (stencilc/passes.py): unrolled loops, folded constants and weights.

Each rewrite must leave results bit for bit equal to numba.stencil running the kernel as
written, and to scipy.ndimage where a boundary mode is involved.
"""
from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.ndimage as ndi

from stencilc import stencil_ufunc
from stencilc import passes
from stencilc.passes import UNROLL_BUDGET

rng = np.random.default_rng(2026)
BINOMIAL = np.array([1, 4, 6, 4, 1], np.float32) / 16
GAUSS5 = np.outer(BINOMIAL, BINOMIAL).astype(np.float32)


def gauss5(x):
    acc = 0.0
    for a in range(-2, 3):
        for b in range(-2, 3):
            acc += GAUSS5[a + 2, b + 2] * x[a, b]
    return acc


def numba_stencil(kernel, *args, **options):
    reference = numba.stencil(**options)(kernel)
    return numba.njit(lambda *a: reference(*a))(*args)


def test_small_weighted_loops_unroll_to_constant_reads_with_numba_stencils_numbers():
    f = stencil_ufunc(out_dtype="kernel")(gauss5)
    point = f.inspect_source("float32").split("def _sc_point")[1].split("\n\n")[0]
    assert "for " not in point and "GAUSS5" not in point      # unrolled, weights folded
    assert "_sc_np.float32(0.0234375)" in point               # with the table's dtype
    image = rng.normal(size=(3, 23, 19)).astype(np.float32)
    expected = np.stack([numba_stencil(gauss5, im, neighborhood=((-2, 2), (-2, 2)))
                         for im in image])
    got = f(image)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def gauss7(x):
    acc = 0.0
    for a in range(-3, 4):
        for b in range(-3, 4):
            acc += GAUSS7[a + 3, b + 3] * x[a, b]
    return acc


GAUSS7 = np.outer(*[np.array([1, 6, 15, 20, 15, 6, 1], np.float32) / 64] * 2)


def test_larger_weighted_loops_stay_loops_with_numba_stencils_numbers():
    """A 7x7 window passes the unrolling budget: the loops stay (LLVM unrolls them; numba
    compiles the short body faster), the weights are read from the table, the numbers are
    numba.stencil's bit for bit."""
    assert 49 > UNROLL_BUDGET
    f = stencil_ufunc(out_dtype="kernel")(gauss7)
    assert "    for a in range(-3, 4):" in f.inspect_ir().splitlines()
    image = rng.normal(size=(3, 23, 19)).astype(np.float32)
    expected = np.stack([numba_stencil(gauss7, im, neighborhood=((-3, 3), (-3, 3)))
                         for im in image])
    got = f(image)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("mode", ["nearest", "reflect"])
def test_weighted_loops_match_scipy_correlate(mode):
    f = stencil_ufunc(boundary=mode)(gauss5)
    image = rng.normal(size=(31, 17)).astype(np.float32)
    expected = ndi.correlate(image.astype(np.float64), GAUSS5.astype(np.float64), mode=mode)
    np.testing.assert_allclose(f(image), expected, rtol=1e-5, atol=1e-6)


def after_the_loop(x):
    acc = 0
    for a in range(3):
        acc += x[a - 1]
    return acc * a          # Python leaves `a` at its last value


def with_break(x):
    acc = 0
    for a in range(-2, 3):
        if x[a] < 0:
            break
        acc += x[a]
    return acc


def step_and_nested_bounds(x):
    acc = 0
    for a in range(-3, 4, 3):
        for b in range(-abs(a) // 3, abs(a) // 3 + 1):
            acc += (a - b) * x[a, b]
    return acc


@pytest.mark.parametrize("kernel, shape, neighborhood", [
    (after_the_loop, (15,), ((-1, 1),)),
    (with_break, (15,), ((-2, 2),)),
    (step_and_nested_bounds, (12, 9), ((-3, 3), (-1, 1))),
])
def test_loop_semantics_survive_unrolling(kernel, shape, neighborhood):
    f = stencil_ufunc(out_dtype="kernel", neighborhood=neighborhood)(kernel)
    x = rng.integers(-5, 20, shape).astype(np.int32)
    expected = numba_stencil(kernel, x, neighborhood=neighborhood)
    np.testing.assert_array_equal(f(x), expected)


def wide_box(x):
    acc = 0
    for a in range(-8, 9):
        for b in range(-8, 9):
            acc += x[a, b]
    return acc


def test_loops_over_the_unroll_budget_stay_loops_and_agree_with_scipy():
    assert 17 * 17 > UNROLL_BUDGET
    f = stencil_ufunc(boundary="wrap")(wide_box)
    assert "    for a in range(-8, 9):" in f.inspect_ir().splitlines()
    x = rng.integers(-9, 9, (21, 20))
    np.testing.assert_array_equal(f(x), ndi.correlate(x, np.ones((17, 17), int), mode="wrap"))


def window10(x):
    acc = np.float32(0)
    for i in range(-5, 5):
        for j in range(-5, 5):
            acc += W10[i + 5, j + 5] * x[i, j]
    return acc


W10 = rng.random((10, 10)).astype(np.float32)


def test_a_nest_over_the_budget_stays_rolled_inner_loops_included(monkeypatch):
    """Unrolling only the inner loop of a 10x10 window (what a budget check per loop once
    produced) leaves the one shape LLVM does not vectorize; the whole nest stays a loop, and
    its numbers are those of the fully unrolled body and of numba.stencil."""
    assert 10 * 10 > UNROLL_BUDGET
    f = stencil_ufunc(boundary=None, out_dtype="kernel")(window10)
    ir = f.inspect_ir().splitlines()
    assert "    for i in range(-5, 5):" in ir and "        for j in range(-5, 5):" in ir
    x = rng.normal(size=(2, 30, 27)).astype(np.float32)
    expected = np.stack([numba_stencil(window10, im, neighborhood=((-5, 4), (-5, 4)))
                         for im in x])
    inner = (slice(None), slice(5, -4), slice(5, -4))
    np.testing.assert_array_equal(f(x)[inner], expected[inner])
    monkeypatch.setattr(passes, "UNROLL_BUDGET", 1000)
    unrolled = stencil_ufunc(boundary=None, out_dtype="kernel")(window10)
    assert "for i" not in unrolled.inspect_ir()
    np.testing.assert_array_equal(unrolled(x), f(x))


def weighted7(x, w):
    acc = 0.0
    for a in range(-3, 4):
        for b in range(-3, 4):
            acc += w[a + 3, b + 3] * x[a, b]
    return acc


@pytest.mark.parametrize("mode", ["reflect", "wrap"])
def test_a_kept_nest_reads_a_standard_indexing_table_checked_per_read(mode):
    """Over the budget, reads of a weights argument at loop indices stay reads (checked as
    they happen): scipy's numbers, and a table too small raises IndexError naming the read."""
    f = stencil_ufunc(boundary=mode, standard_indexing=["w"])(weighted7)
    assert "for a in range(-3, 4):" in f.inspect_ir()
    x = rng.normal(size=(2, 19, 23))
    w = rng.normal(size=(7, 7))
    expected = np.stack([ndi.correlate(im, w, mode=mode) for im in x])
    np.testing.assert_allclose(f(x, w), expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(IndexError, match=r"w\[a \+ 3, b \+ 3\]"):
        f(x, w[:6])


def life(x):
    n = (x[-1, -1] + x[-1, 0] + x[-1, 1] + x[0, -1] + x[0, 1] +
         x[1, -1] + x[1, 0] + x[1, 1])
    return 1 if n == 3 or (n == 2 and x[0, 0] == 1) else 0


def life_by_slicing(x):
    padded = np.pad(x.astype(np.int64), 1, mode="wrap")
    n = sum(padded[1 + a:1 + a + x.shape[0], 1 + b:1 + b + x.shape[1]]
            for a in (-1, 0, 1) for b in (-1, 0, 1) if (a, b) != (0, 0))
    return ((n == 3) | ((n == 2) & (x == 1))).astype(x.dtype)


def test_and_or_of_plain_comparisons_become_branch_free_with_the_same_numbers():
    f = stencil_ufunc(boundary="wrap")(life)
    ir = f.inspect_ir()
    assert " or " not in ir and " and " not in ir and "|" in ir and "&" in ir
    x = (rng.random((37, 41)) < 0.35).astype(np.uint8)
    np.testing.assert_array_equal(f(x), life_by_slicing(x))
    np.testing.assert_array_equal(f(x)[1:-1, 1:-1], numba_stencil(life, x)[1:-1, 1:-1])


def guarded(x):
    return x[1, 0] if x[0, 0] != 0 and abs(x[0, 1]) > 2 else 0


def test_and_or_stay_short_circuit_around_anything_but_plain_values():
    f = stencil_ufunc(boundary="nearest")(guarded)
    assert " and " in f.inspect_ir()                    # abs(...) is a call: left alone
    x = rng.integers(-5, 5, (9, 8)).astype(np.int64)
    np.testing.assert_array_equal(f(x)[:-1, :-1], numba_stencil(guarded, x)[:-1, :-1])

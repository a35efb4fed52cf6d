"""Hand-written kernels against scipy.ndimage, numba.stencil and NumPy slicing."""
from __future__ import annotations

import math
import time

import numba
import numpy as np
import pytest
import scipy.ndimage as ndi

from conftest import load_source
from stencilc import stencil_ufunc

rng = np.random.default_rng(12345)
MODES = ["constant", "nearest", "reflect", "mirror", "wrap"]


def run_numba_stencil(kernel, *args, **options):
    """numba.stencil's output for ``kernel`` (the semantic reference for boundary=None)."""
    reference = numba.stencil(**options)(kernel)
    return numba.njit(lambda *a: reference(*a))(*args)


def test_seed_smooth_equals_the_seed_code_bit_for_bit():
    @numba.stencil
    def _smooth(x):
        return (x[-1, -1] + x[-1, 0] + x[-1, 1] +
                x[0, -1] + x[0, 0] + x[0, 1] +
                x[1, -1] + x[1, 0] + x[1, 1]) // 9

    @numba.guvectorize([(numba.int8[:, :], numba.int8[:, :])], "(n, m) -> (n, m)")
    def seed(x, out):
        out[:] = _smooth(x)

    @stencil_ufunc("(n,m)->(n,m)")
    def smooth(x):
        return (x[-1, -1] + x[-1, 0] + x[-1, 1] +
                x[0, -1] + x[0, 0] + x[0, 1] +
                x[1, -1] + x[1, 0] + x[1, 1]) // 9

    stack = rng.integers(-128, 128, (4, 37, 53)).astype(np.int8)   # overflows int8 sums
    expected = seed(stack)
    got = smooth(stack)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(smooth(np.ones((2, 5, 5), np.int8)), seed(np.ones((2, 5, 5),
                                                                             np.int8)))


@pytest.mark.parametrize("dtype", [np.float64, np.int32])
def test_sobel_matches_scipy(dtype, target):
    @stencil_ufunc(boundary="reflect", target=target)
    def sobel_x(x):
        return (x[-1, 1] + 2 * x[0, 1] + x[1, 1]) - (x[-1, -1] + 2 * x[0, -1] + x[1, -1])

    image = (rng.normal(size=(23, 31)) * 50).astype(dtype)
    expected = ndi.sobel(image, axis=1, mode="reflect")
    got = sobel_x(image)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.int32])
def test_3d_laplacian_matches_scipy(dtype, target):
    @stencil_ufunc(boundary="nearest", target=target)
    def laplacian(u):
        return (u[-1, 0, 0] + u[1, 0, 0] + u[0, -1, 0] + u[0, 1, 0] + u[0, 0, -1] + u[0, 0, 1]
                - 6 * u[0, 0, 0])

    volume = (rng.normal(size=(9, 11, 13)) * 30).astype(dtype)
    np.testing.assert_allclose(laplacian(volume), ndi.laplace(volume, mode="nearest"),
                               rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("mode", MODES)
def test_max_over_a_footprint_with_loops(mode, target):
    @stencil_ufunc(boundary=mode, cval=-5, target=target)
    def cross_max(x):
        best = x[0, 0]
        for i in range(-2, 3):
            best = max(best, x[i, 0])
        for j in range(-2, 3, 2):
            best = max(best, x[0, j])
        return best

    footprint = np.zeros((5, 5), bool)
    footprint[:, 2] = True
    footprint[2, ::2] = True
    image = rng.integers(-100, 100, (17, 14)).astype(np.int16)
    assert cross_max.neighborhood == ((-2, 2), (-2, 2))
    np.testing.assert_array_equal(
        cross_max(image), ndi.maximum_filter(image, footprint=footprint, mode=mode, cval=-5))


def test_game_of_life_with_if_elif_else(target):
    @stencil_ufunc(boundary="wrap", target=target)
    def life(board):
        alive = 0
        for i in range(-1, 2):
            for j in range(-1, 2):
                alive += board[i, j]
        alive -= board[0, 0]
        if alive == 3:
            return 1
        elif alive == 2:
            return board[0, 0]
        else:
            return 0

    board = rng.integers(0, 2, (3, 20, 24)).astype(np.uint8)
    counts = ndi.convolve(board, np.array([[[1, 1, 1], [1, 0, 1], [1, 1, 1]]]), mode="wrap")
    expected = np.where(counts == 3, 1, np.where(counts == 2, board, 0))
    np.testing.assert_array_equal(life(board), expected)


def test_two_inputs_and_a_scalar(target):
    @stencil_ufunc(boundary="nearest", target=target)
    def mix(x, y, a):
        return a * x[0, -1] + y[1, 0]

    x = rng.integers(-50, 50, (12, 9)).astype(np.int32)
    y = rng.integers(-50, 50, (12, 9)).astype(np.int32)
    assert mix.signature == "(n,m),(n,m),()->(n,m)"
    px, py = np.pad(x, 1, mode="edge"), np.pad(y, 1, mode="edge")
    expected = 3 * px[1:-1, :-2] + py[2:, 1:-1]
    np.testing.assert_array_equal(mix(x, y, 3), expected)


def test_two_outputs_default_border(target):
    @stencil_ufunc(target=target)
    def gradient(x):
        return x[1, 0] - x[-1, 0], x[0, 1] - x[0, -1]

    x = rng.normal(size=(10, 8))
    gy, gx = gradient(x)
    assert gradient.nout == 2 and gradient.signature == "(n,m)->(n,m),(n,m)"
    expected_y = np.zeros_like(x)
    expected_x = np.zeros_like(x)
    expected_y[1:-1, 1:-1] = x[2:, 1:-1] - x[:-2, 1:-1]
    expected_x[1:-1, 1:-1] = x[1:-1, 2:] - x[1:-1, :-2]
    np.testing.assert_array_equal(gy, expected_y)
    np.testing.assert_array_equal(gx, expected_x)


@pytest.mark.parametrize("mode", ["mirror", "constant"])
def test_standard_indexing_weights(mode, target):
    @stencil_ufunc(boundary=mode, standard_indexing=("w",), target=target)
    def weighted(x, w):
        return w[0] * x[-1] + w[1] * x[0] + w[2] * x[1]

    x = rng.normal(size=(4, 40))
    w = np.array([0.25, 0.5, 0.25])
    assert weighted.signature == "(n),(w_0)->(n)"
    # scipy sums in another order: where the sum cancels to near 0, compare absolutely
    np.testing.assert_allclose(weighted(x, w), ndi.correlate1d(x, w, mode=mode), rtol=1e-14,
                               atol=1e-15)


@pytest.mark.parametrize("mode", ["reflect", "nearest", "mirror", "wrap", "constant"])
def test_window_median_matches_scipy(mode, target):
    @stencil_ufunc(boundary=mode, target=target)
    def median3(x):
        return np.median(x[-1:2, -1:2])

    image = rng.normal(size=(13, 10))
    np.testing.assert_array_equal(median3(image),
                                  ndi.median_filter(image, size=3, mode=mode))


def test_window_without_boundary_matches_numba_stencil(target):
    @stencil_ufunc(out_dtype="kernel", target=target)
    def median3(x):
        return np.median(x[-1:2, -1:2])

    def kernel(x):
        return np.median(x[-1:2, -1:2])

    image = rng.normal(size=(9, 12))
    expected = run_numba_stencil(kernel, image, neighborhood=((-1, 1), (-1, 1)))
    np.testing.assert_array_equal(median3(image), expected)


@numba.njit
def _clip(v, lo, hi):
    return min(max(v, lo), hi)


CENTRE_WEIGHT = 4
RADIUS = 2


def test_njit_helpers_and_global_constants_match_numba_stencil(target):
    def kernel(x):
        return _clip(CENTRE_WEIGHT * x[0, 0] - x[-RADIUS, 0] - x[RADIUS, 0] - x[0, 1], -10, 10)

    f = stencil_ufunc(out_dtype="kernel", target=target)(kernel)
    image = rng.integers(-20, 20, (11, 7)).astype(np.int64)
    assert f.neighborhood == ((-2, 2), (0, 1))
    expected = run_numba_stencil(kernel, image, neighborhood=((-2, 2), (0, 1)))  # numba cannot
    assert f(image).dtype == expected.dtype
    np.testing.assert_array_equal(f(image), expected)


def test_local_and_closure_constants_fold_into_offsets(target):
    step = 2

    @stencil_ufunc(out_dtype="kernel", target=target)
    def f(x):
        r = 1
        return x[-r] + x[step + 0] + x[-0]

    x = np.arange(10.0)
    assert f.neighborhood == ((-1, 2),)
    np.testing.assert_array_equal(f(x), run_numba_stencil(lambda_x_kernel, x))


def lambda_x_kernel(x):
    return x[-1] + x[2] + x[0]


def test_dynamic_offsets_with_neighborhood_match_numba_and_are_checked(target):
    def kernel(x, k):
        return x[k] + x[0]

    f = stencil_ufunc(neighborhood=((-2, 2),), out_dtype="kernel", target=target)(kernel)
    x = np.arange(12.0)
    for k in (-2, 1, 2):
        np.testing.assert_array_equal(f(x, k), run_numba_stencil(
            kernel, x, k, neighborhood=((-2, 2),)))
    with pytest.raises(IndexError, match="neighborhood"):
        f(x, 3)


def test_math_and_numpy_functions_and_conditional_expression(target):
    @stencil_ufunc(boundary="reflect", target=target)
    def f(x):
        v = math.sqrt(abs(x[-1])) + np.exp(-x[1] * x[1])
        return v if x[0] > 0 else -v

    x = rng.normal(size=50)
    p = np.pad(x, 1, mode="symmetric")
    v = np.sqrt(np.abs(p[:-2])) + np.exp(-p[2:] * p[2:])
    np.testing.assert_allclose(f(x), np.where(x > 0, v, -v), rtol=1e-15)


def test_out_dtype_options(target):
    def kernel(x):
        return x[-1] + x[1]

    x = np.array([100, 100, 100, 100], np.int8)
    assert stencil_ufunc(kernel, target=target)(x).dtype == np.int8
    assert stencil_ufunc(out_dtype="kernel", target=target)(kernel)(x).dtype == np.int64
    wide = stencil_ufunc(out_dtype=np.int16, target=target)(kernel)(x)
    assert wide.dtype == np.int16
    np.testing.assert_array_equal(wide, [0, 200, 200, 0])
    np.testing.assert_array_equal(stencil_ufunc(kernel)(x), np.array([0, 200, 200, 0]).astype(
        np.int8))


def test_eager_types_compile_at_decoration():
    @stencil_ufunc([(numba.int8[:, :], numba.int8[:, :]), ("float32", "float64")],
                   "(n,m)->(n,m)")
    def smooth(x):
        return x[0, -1] + x[0, 1]

    assert smooth.compile_count == 2
    assert smooth.types == ["b->b", "f->d"]
    smooth(np.ones((3, 3), np.int8))
    assert smooth.compile_count == 2
    assert smooth(np.ones((3, 3), np.float64)).dtype == np.float64
    assert smooth.compile_count == 3


def test_loop_dims_broadcast_like_a_gufunc(target):
    @stencil_ufunc(boundary="wrap", target=target)
    def f(x, y, s):
        return x[0, 1] * s - y[-1, 0]

    x = rng.normal(size=(4, 1, 6, 5))
    y = rng.normal(size=(1, 3, 6, 5))
    s = rng.normal(size=(4, 3))
    got = f(x, y, s)
    assert got.shape == (4, 3, 6, 5)
    for a in range(4):
        for b in range(3):
            expected = np.roll(x[a, 0], -1, axis=1) * s[a, b] - np.roll(y[0, b], 1, axis=0)
            np.testing.assert_allclose(got[a, b], expected, rtol=1e-15)


def test_attributes_and_inspect_source():
    @stencil_ufunc(boundary="mirror")
    def documented(x):
        """Average of the two neighbours."""
        return (x[-1] + x[1]) / 2

    assert documented.__name__ == "documented"
    assert documented.__doc__ == "Average of the two neighbours."
    assert documented.py_func.__code__.co_name == "documented"
    assert documented.__wrapped__ is documented.py_func
    assert (documented.nin, documented.nout) == (1, 1)
    assert documented.target == "cpu" and documented.boundary == "mirror"
    assert documented.neighborhood == ((-1, 1),)
    assert documented.types == []
    source = documented.inspect_source("float32")
    assert "_sc_mirror(" in source and "float32" in source
    compile(source, "<generated>", "exec")
    documented(np.arange(4.0))
    assert documented.types == ["d->d"]


@pytest.mark.parametrize("boundary", [None, "reflect", "constant"])
def test_parallel_target_is_bit_identical_to_cpu(boundary):
    def kernel(x):
        return (x[-1, -1] + x[-1, 1] + 2 * x[0, 0] + x[1, -1] + x[1, 1]) / 6

    serial = stencil_ufunc(boundary=boundary, cval=1)(kernel)
    parallel = stencil_ufunc(boundary=boundary, cval=1, target="parallel")(kernel)
    # one module for both targets: the parallel one runs the same compiled code on threads
    assert parallel.inspect_source("float32") == serial.inspect_source("float32")
    for shape in [(300, 200), (3, 40, 30), (1, 1), (0, 5)]:
        x = rng.normal(size=shape).astype(np.float32)
        np.testing.assert_array_equal(parallel(x), serial(x))


_ASYMMETRIC = {   # per core ndim: a kernel and the same weights for scipy.ndimage.correlate
    1: ("x[-2] - 3 * x[1] + x[0]", {(-2,): 1, (1,): -3, (0,): 1}),
    2: ("x[-1, 2] + 2 * x[1, -1] - x[0, 0]", {(-1, 2): 1, (1, -1): 2, (0, 0): -1}),
    3: ("x[-1, 0, 1] + 2 * x[1, -1, 0] - x[0, 0, 0] + x[0, 0, -1]",
        {(-1, 0, 1): 1, (1, -1, 0): 2, (0, 0, 0): -1, (0, 0, -1): 1}),
}


def _asymmetric(ndim: int) -> tuple[str, np.ndarray]:
    """The kernel body of ``_ASYMMETRIC[ndim]`` and its weights as a 5^ndim table."""
    body, taps = _ASYMMETRIC[ndim]
    weights = np.zeros((5,) * ndim)
    for tap, w in taps.items():
        weights[tuple(t + 2 for t in tap)] = w
    return body, weights


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_parallel_target_matches_scipy_on_both_dispatch_paths(ndim, mode):
    """target="parallel" splits one block's rows (one image) or spreads many blocks over
    threads (a stack); both must give scipy's numbers, the prange index included (numba types
    it uint64, which once turned border index arithmetic into float64)."""
    from conftest import load_source
    body, weights = _asymmetric(ndim)
    kernel = load_source(f"def kernel(x):\n    return {body}\n").kernel
    parallel = stencil_ufunc(boundary=mode, cval=2, target="parallel")(kernel)
    core = {1: (3000,), 2: (120, 90), 3: (20, 16, 12)}[ndim]
    tiny = (1,) * ndim
    for shape in [core, (40,) + tiny, (9,) + core[:-1] + (3,), tiny]:
        x = rng.integers(-50, 50, shape).astype(np.float64)
        original = x.copy()
        expected = ndi.correlate(x, weights.reshape((1,) * (x.ndim - ndim) + weights.shape),
                                 mode=mode, cval=2)
        np.testing.assert_array_equal(parallel(x), expected)
        np.testing.assert_array_equal(x, original)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_parallel_row_bands_match_scipy(ndim, mode, monkeypatch):
    """One image, its rows in bands on several threads (every call split here, however
    small): scipy's numbers, for an output that is the input too (each band must read the
    input as it was), and for two outputs."""
    from conftest import load_source
    from stencilc.targets import bands
    monkeypatch.setattr(bands, "SMALL_CALL", 0)
    body, weights = _asymmetric(ndim)
    kernel = load_source(f"def kernel(x):\n    v = {body}\n    return v, -v\n").kernel
    parallel = stencil_ufunc(boundary=mode, cval=2, target="parallel")(kernel)
    for shape in [{1: (3001,), 2: (97, 41), 3: (23, 9, 11)}[ndim], (2,) * ndim, (1,) * ndim]:
        x = rng.integers(-50, 50, shape).astype(np.float64)
        expected = ndi.correlate(x, weights, mode=mode, cval=2)
        first, second = parallel(x)
        np.testing.assert_array_equal(first, expected)
        np.testing.assert_array_equal(second, -expected)
        spare = np.empty_like(x)
        parallel(x, out=(x, spare))
        np.testing.assert_array_equal(x, expected)


def test_parallel_target_1d_and_concurrent_calls():
    import threading

    def kernel(x):
        return x[-2] - x[2]

    serial = stencil_ufunc(boundary="wrap")(kernel)
    parallel = stencil_ufunc(boundary="wrap", target="parallel")(kernel)
    x = rng.normal(size=5000)
    expected = serial(x)
    results = []
    threads = [threading.Thread(target=lambda: results.append(parallel(x))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_parallel_row_bands_stop_at_the_first_error(monkeypatch):
    """A band that raises stops the others from starting more, and its error reaches the
    caller as the kernel raised it."""
    from stencilc.targets import bands
    started = []

    def task(k):
        def run():
            started.append(k)
            if k == 0:
                raise IndexError("band 0 failed")
            time.sleep(0.002)   # so that the failure is seen long before the last band
        return run

    with pytest.raises(IndexError, match="band 0 failed"):
        bands.run_tasks([task(k) for k in range(64)], threads=1)
    assert started == [0]
    started.clear()
    with pytest.raises(IndexError, match="band 0 failed"):
        bands.run_tasks([task(k) for k in range(64)], threads=2)
    assert 0 in started and len(started) < 64


# --- border rows and row ends read through the rules of the axes they leave ------------------

#: stencilc's mode -> np.pad's name for the same rule
PAD_NAMES = {"nearest": "edge", "reflect": "symmetric", "mirror": "reflect", "wrap": "wrap",
             "constant": "constant"}
#: taps (offsets, weight) reaching unequally far on each side of every axis
TAPS = {1: [((-2,), 1), ((0,), 3), ((1,), -2)],
        2: [((-2, 1), 1), ((0, 0), 3), ((1, -1), -2), ((0, 2), 5), ((-1, 0), 7)],
        3: [((-1, 0, 2), 2), ((0, 0, 0), -3), ((1, -1, 0), 5), ((0, 1, -2), 1)]}


def padded_correlation(x, taps, modes, cval):
    """The taps' weighted sum by NumPy: ``x`` padded axis by axis by each axis' rule, then
    sliced once per tap."""
    d = x.ndim
    lows = [max(0, -min(t[k] for t, _ in taps)) for k in range(d)]
    highs = [max(0, max(t[k] for t, _ in taps)) for k in range(d)]
    p = x.astype(np.int64)
    for axis, mode in enumerate(modes):
        width = [(0, 0)] * d
        width[axis] = (lows[axis], highs[axis])
        extra = {"constant_values": cval} if mode == "constant" else {}
        p = np.pad(p, width, mode=PAD_NAMES[mode], **extra)
    total = np.zeros(x.shape, np.int64)
    for offsets, weight in taps:
        total += weight * p[tuple(slice(lo + o, lo + o + n)
                                  for lo, o, n in zip(lows, offsets, x.shape))]
    return total


@pytest.mark.parametrize("modes, shape, target", [
    (("reflect",), (1,), "cpu"), (("wrap",), (2,), "cpu"), (("constant",), (9,), "parallel"),
    (("nearest", "mirror"), (1, 1), "cpu"), (("wrap", "constant"), (2, 3), "cpu"),
    (("constant", "reflect"), (3, 1), "cpu"), (("mirror", "wrap"), (6, 9), "cpu"),
    (("reflect", "nearest"), (8, 40), "parallel"),
    (("wrap", "constant", "nearest"), (2, 3, 4), "cpu"),
    (("mirror", "reflect", "wrap"), (5, 4, 6), "cpu"),
    (("constant", "nearest", "mirror"), (4, 7, 33), "parallel"),
], ids=str)
def test_border_rows_and_row_ends_match_np_pad(modes, shape, target):
    """Border points of small kernels: a border row's middle reads through the rules of the
    leading axes only, a row's ends through the last axis' rule only, corners through a
    patch; mixed rules per axis and arrays narrower than the reach, against np.pad. (Both
    CPU targets run the same generated module; parallel only splits the rows.)"""
    taps = TAPS[len(shape)]
    body = " + ".join(f"{w} * x[{', '.join(map(str, t))}]" for t, w in taps)
    kernel = load_source(f"def kernel(x):\n    return {body}\n").kernel
    f = stencil_ufunc(boundary=modes, cval=-4, target=target)(kernel)
    x = np.random.default_rng(len(shape)).integers(-60, 60, shape).astype(np.int16)
    np.testing.assert_array_equal(f(x), padded_correlation(x, taps, modes, -4).astype(np.int16))

"""Schedules keep numba's values: window reductions written out, as selection networks and a
row at a time, against numba.stencil computing the same kernel on the array padded as the
boundary mode pads it (NumPy's np.pad), bit for bit (floats compared as bits: signed zeros
and the first NaN of a window must come out as numba's C-order loop leaves them; medians are
compared as values: a median that is zero may carry the other sign than numba's)."""
from __future__ import annotations

import itertools
import os
import zlib

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import load_source
from stencilc import stencil_ufunc
from stencilc.schedules.narrowing import CPU_TYPES as CPU_NARROW_TYPES, NarrowTypes
from stencilc.schedules.windows import MAX_CELLS, MAX_MEDIAN_CELLS
from stencilc.targets.cpu import CpuTarget

#: stencilc's boundary modes as np.pad modes (scipy.ndimage's reflect is NumPy's symmetric)
PAD = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "wrap": "wrap"}


def window_text(bounds) -> str:
    return ", ".join(f"{lo}:{hi}" for lo, hi in bounds)


def kernels(op: str, bounds, method: bool = False):
    """The same reduction as a stencilc kernel and as a numba.stencil (run under njit)."""
    call = f"x[{window_text(bounds)}].{op}()" if method else f"np.{op}(x[{window_text(bounds)}])"
    module = load_source(f"""
        import numpy as np
        def k(x):
            return {call}
    """)
    neighborhood = tuple((lo, hi - 1) for lo, hi in bounds)
    stencil = numba.stencil(neighborhood=neighborhood)(module.k)
    return module.k, numba.njit(lambda x: stencil(x))


def data(dtype, shape):
    """Random values of ``dtype``, the same for the same arguments in every test order."""
    rng = np.random.default_rng(zlib.crc32(f"{dtype} {shape}".encode()))
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -1000), min(info.max, 1000), shape, endpoint=True).astype(dtype)
    x = (rng.standard_normal(shape) * 10).astype(dtype)
    if dtype.kind == "c":
        x = x + 1j * (rng.standard_normal(shape) * 10).astype(dtype)
    flat = x.reshape(-1)
    flat[rng.integers(0, flat.size, max(1, flat.size // 20))] = 0.0     # ties between zeros
    flat[rng.integers(0, flat.size, max(1, flat.size // 20))] = -0.0
    return x


def bits(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.view(f"u{a.dtype.itemsize}") if a.dtype.kind == "f" else \
        (a.view(f"u{a.dtype.itemsize // 2}") if a.dtype.kind == "c" else a)


def check(op, bounds, dtype, mode="reflect", shape=None, method=False, nans=0, fastmath=False):
    ours, theirs = kernels(op, bounds, method)
    f = stencil_ufunc(boundary=mode, out_dtype="kernel", fastmath=fastmath)(ours)
    shape = shape or tuple(11 + 2 * (hi - lo) for lo, hi in bounds)
    x = data(dtype, shape)
    if nans:
        x.reshape(-1)[np.random.default_rng(nans).integers(0, x.size, nans)] = np.nan
    pads = [(max(0, -lo), max(0, hi - 1)) for lo, hi in bounds]
    padded = np.pad(x, pads, mode=PAD[mode])
    inside = tuple(slice(a, a + n) for (a, _), n in zip(pads, shape))
    expected = theirs(padded)[inside]
    got = f(x)
    assert got.dtype == expected.dtype
    if fastmath:
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)
    elif op == "median":   # which of two equal zeros is the median's is not numba's choice
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_array_equal(bits(got), bits(expected))
    return f


SMALL = [((-1, 2), (-1, 2)), ((-2, 3), (-2, 3)), ((0, 2), (-3, 1))]
LARGE = [((-4, 5), (-4, 5)), ((-3, 4), (-6, 7)), ((-7, 8), (-7, 8))]
DTYPES = ["uint8", "int16", "int32", "int64", "uint64", "float32", "float64"]
#: (op, window) pairs, each with the next dtype and mode in turn: every op meets every size
#: class and (over the pairs) every dtype and mode, one compile per pair
PAIRS = list(itertools.product(["sum", "mean", "min", "max"], [SMALL[0], LARGE[1]])) + \
    [("sum", SMALL[2]), ("max", LARGE[0])]
#: compiling a kernel takes seconds: a few random windows, many in the long profile
EXAMPLES = 200 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 2


@pytest.mark.parametrize("case", range(len(PAIRS)))
def test_reductions_equal_numba_bit_for_bit(case):
    op, bounds = PAIRS[case]
    dtype = DTYPES[case % len(DTYPES)]
    mode = list(PAD)[case % len(PAD)]
    check(op, bounds, dtype, mode)


@pytest.mark.parametrize("bounds, dtype, mode", [
    (SMALL[0], "uint8", "reflect"), (SMALL[1], "float32", "nearest"),
    (((-1, 2), (-1, 2), (-1, 2)), "int32", "wrap"), (((-1, 1), (0, 2)), "int16", "mirror")],
    ids=str)
def test_medians_equal_numba(bounds, dtype, mode):
    f = check("median", bounds, dtype, mode)
    assert "selection network" in str(f.schedule(dtype))


@pytest.mark.parametrize("bounds, dtype, mode", [
    (LARGE[2], "uint8", "reflect"), (((-3, 3), (-4, 4)), "int8", "wrap"),
    (((-2, 2), (-2, 3), (-3, 3)), "uint8", "nearest"), (((-20, 21),), "int8", "mirror")],
    ids=str)
def test_8bit_medians_past_the_network_equal_numba(bounds, dtype, mode):
    """The running histogram: odd and even counts (the mean of the two middles), 1-D to 3-D,
    every value of the type met (``data`` draws the whole range of 8-bit types)."""
    ndim = len(bounds)
    shape = {1: (300,), 2: None, 3: (9, 10, 23)}[ndim]
    f = check("median", bounds, dtype, mode, shape=shape)
    assert "running histogram" in str(f.schedule(dtype))


def data16(dtype, shape, seed):
    """16-bit values over the whole range, a third of them at or next to the extremes: the
    medians of neighbouring windows jump across many empty bins."""
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, shape, endpoint=True)
    extremes = np.array([info.min, info.min + 1, info.max - 1, info.max])
    mask = rng.random(shape) < 1 / 3
    x[mask] = rng.choice(extremes, int(mask.sum()))
    return x.astype(dtype)


@pytest.mark.parametrize("bounds, dtype, mode", [
    (LARGE[2], "uint16", "reflect"), (((-3, 3), (-4, 4)), "int16", "wrap"),
    (((-2, 2), (-2, 3), (-3, 3)), "uint16", "nearest"), (((-20, 21),), "int16", "mirror")],
    ids=str)
def test_16bit_medians_past_the_network_equal_numba(bounds, dtype, mode):
    """The two-level running histogram (65536 bins, 256 coarse): odd and even counts, 1-D to
    3-D, the whole range of the type, against numba.stencil on the np.pad'ed array."""
    ours, theirs = kernels("median", bounds)
    f = stencil_ufunc(boundary=mode, out_dtype="kernel")(ours)
    shape = {1: (300,), 2: (40, 61), 3: (9, 10, 23)}[len(bounds)]
    x = data16(dtype, shape, len(bounds))
    pads = [(max(0, -lo), max(0, hi - 1)) for lo, hi in bounds]
    expected = theirs(np.pad(x, pads, mode=PAD[mode]))[
        tuple(slice(a, a + n) for (a, _), n in zip(pads, shape))]
    np.testing.assert_array_equal(f(x), expected)
    assert "65536 bins" in str(f.schedule(dtype))
    for chunks in ([7, 40][:len(shape)] if len(shape) < 3 else (4, 10, 23),):
        da = pytest.importorskip("dask.array")
        np.testing.assert_array_equal(f(da.from_array(x, chunks=tuple(chunks))).compute(),
                                      expected)


@pytest.mark.parametrize("bounds, dtype", [(LARGE[0], "uint16"), (((-3, 3), (-4, 4)), "int16")],
                         ids=str)
def test_16bit_medians_with_an_unchanged_axis_equal_numpy(bounds, dtype):
    """Along a ``None`` axis the border rows keep cval; the other border points count their
    window one point at a time (two passes of 256 bins: odd and even counts)."""
    from numpy.lib.stride_tricks import sliding_window_view

    f = stencil_ufunc(boundary=(None, "reflect"), cval=9, out_dtype="kernel")(
        kernels("median", bounds)[0])
    x = data16(dtype, (30, 41), 5)
    (lo0, hi0), (lo1, hi1) = bounds
    padded = np.pad(x, ((0, 0), (-lo1, hi1 - 1)), mode="symmetric")
    expected = np.median(sliding_window_view(padded, (hi0 - lo0, hi1 - lo1)), axis=(2, 3))
    got = f(x)
    np.testing.assert_array_equal(got[-lo0:len(x) - hi0 + 1], expected)
    assert (got[:-lo0] == 9).all() and (got[len(x) - hi0 + 1:] == 9).all()


@pytest.mark.parametrize("boundary, pad", [
    ("wrap", dict(mode="wrap")), ("constant", dict(mode="constant", constant_values=7)),
    (("nearest", "mirror"), None)], ids=str)
def test_border_strips_of_two_arrays_and_two_outputs_equal_numpy(boundary, pad):
    """Border strips copy every relative argument through the rule: two arrays of two
    dtypes, two outputs, a large window of each; NumPy's sliding windows as the oracle."""
    from numpy.lib.stride_tricks import sliding_window_view

    module = load_source("""
        import numpy as np
        def k(x, y):
            return np.max(x[-4:5, -3:4]) + y[0, 0], np.sum(y[-4:5, -5:6])
    """)
    f = stencil_ufunc("(n,m),(n,m)->(n,m),(n,m)", boundary=boundary, cval=7,
                      out_dtype="kernel")(module.k)
    x, y = data("uint8", (23, 30)), data("int32", (23, 30))

    def padded(a):
        if pad is not None:
            return np.pad(a, 5, **pad)
        return np.pad(np.pad(a, ((5, 5), (0, 0)), mode="edge"), ((0, 0), (5, 5)),
                      mode="reflect")

    px, py = padded(x), padded(y)
    high, total = f(x, y)
    expected_high = sliding_window_view(px[1:-1, 2:-2], (9, 7)).max(axis=(2, 3)) \
        .astype(np.int64) + y
    expected_total = sliding_window_view(py, (9, 11))[1:-1].sum(axis=(2, 3), dtype=np.int64)
    np.testing.assert_array_equal(high, expected_high)
    np.testing.assert_array_equal(total, expected_total)
    assert "_sc_pad_x" in f.inspect_source("uint8", "int32") and \
        "_sc_pad_y" in f.inspect_source("uint8", "int32")


@pytest.mark.parametrize("op, dtype, mode", [("min", "float32", "reflect"),
                                              ("median", "uint8", "wrap")], ids=str)
def test_arrays_narrower_than_the_window(op, dtype, mode):
    """A 15x15 window over arrays with fewer rows or columns than it reaches: the row passes
    read and wrote the window's reach around an empty row of interior points past the array
    (silently, without bounds checks); every point is a border point, in padded strips."""
    for shape in [(20, 2), (2, 40), (1, 1), (3, 4)]:
        check(op, LARGE[2], dtype, mode, shape=shape)


def test_8bit_medians_on_dask_xarray_and_parallel_equal_numpy():
    """NumPy's median of each sliding window of the mirrored array as the oracle, for the cpu
    and parallel targets, Dask chunkings (narrower than the window included) and xarray."""
    from numpy.lib.stride_tricks import sliding_window_view

    da = pytest.importorskip("dask.array")
    k = kernels("median", LARGE[2])[0]
    f = stencil_ufunc(boundary="mirror")(k)
    x = data("uint8", (90, 301))
    windows = sliding_window_view(np.pad(x, 7, mode=PAD["mirror"]), (15, 15))
    expected = np.median(windows, axis=(2, 3)).astype(np.uint8)   # odd count: exact
    np.testing.assert_array_equal(f(x), expected)
    np.testing.assert_array_equal(stencil_ufunc(target="parallel", boundary="mirror")(k)(x),
                                  expected)
    for chunks in ((30, 100), (90, 17)):
        np.testing.assert_array_equal(f(da.from_array(x, chunks=chunks)).compute(), expected)
    xr = pytest.importorskip("xarray")
    got = f(xr.DataArray(x, dims=("row", "col")), dims=("row", "col"))
    assert got.dims == ("row", "col")
    np.testing.assert_array_equal(got.values, expected)


@pytest.mark.parametrize("op, bounds, dtype", [
    ("min", SMALL[0], "float32"), ("min", LARGE[0], "float64"), ("max", LARGE[1], "float32")],
    ids=str)
def test_the_first_nan_of_a_window_wins_as_in_numba(op, bounds, dtype):
    check(op, bounds, dtype, "nearest", nans=40)


def test_a_median_over_nan_is_nan():
    f = stencil_ufunc(boundary="nearest")(kernels("median", SMALL[1])[0])
    x = data("float32", (30, 31))
    x[10, 12] = np.nan
    got = f(x)
    expected = np.array([[np.median(np.pad(x, 2, mode="edge")[i:i + 5, j:j + 5])
                          for j in range(31)] for i in range(30)])
    np.testing.assert_array_equal(got, expected)
    assert np.isnan(got[8:13, 10:15]).all()


@pytest.mark.parametrize("op, bounds, dtype", [
    ("mean", LARGE[0], "bool"), ("min", LARGE[0], "bool"), ("sum", LARGE[0], "complex64"),
    ("max", LARGE[0], "complex128")], ids=str)
def test_bool_and_complex_windows(op, bounds, dtype):
    check(op, bounds, dtype, "mirror")


def test_methods_and_amin_amax_are_reductions_too():
    check("min", SMALL[0], "int16", method=True)
    f = check("amax", LARGE[0], "uint8")
    assert "separable" in str(f.schedule("uint8"))


def test_fastmath_makes_float_window_sums_separable():
    f = check("mean", LARGE[2], "float32", fastmath=True)
    assert "separable" in str(f.schedule("float32"))
    exact = stencil_ufunc()(kernels("mean", LARGE[2])[0])
    assert "C order" in str(exact.schedule("float32"))


@pytest.mark.parametrize("op, bounds, dtype, shape, nans", [
    ("min", ((-25, 26),), "float64", (120,), 3),
    ("max", ((-2, 3), (-2, 3), (-2, 3)), "float32", (9, 10, 11), 5)], ids=str)
def test_one_and_three_dimensional_windows(op, bounds, dtype, shape, nans):
    check(op, bounds, dtype, "wrap", shape=shape, nans=nans)
def test_constant_and_none_borders_and_other_expressions():
    """A reduction inside a larger expression, with cval and unchanged-border settings."""
    module = load_source("""
        import numpy as np
        def k(x):
            if x[0, 0] > 0:
                return x[0, 0] - np.mean(x[-5:6, -5:6])
            return np.max(x[-1:2, -1:2]) + np.median(x[-1:2, -2:3])
    """)
    x = data("float64", (40, 37))
    for boundary, pad in (("constant", dict(mode="constant", constant_values=2.5)),):
        f = stencil_ufunc(boundary=boundary, cval=2.5)(module.k)
        padded = np.pad(x, 5, **pad)
        expected = np.empty_like(x)
        for i, j in itertools.product(range(40), range(37)):
            w = padded[i:i + 11, j:j + 11]
            if w[5, 5] > 0:
                acc = 0.0
                for v in w.reshape(-1):
                    acc += v
                expected[i, j] = w[5, 5] - acc / 121
            else:
                expected[i, j] = w[4:7, 4:7].max() + np.median(w[4:7, 3:8])
        np.testing.assert_array_equal(f(x), expected)   # a median's zero may be -0.0


def test_a_large_reduction_on_dask_equals_numpy():
    da = pytest.importorskip("dask.array")
    f = stencil_ufunc(boundary="reflect", out_dtype="kernel")(kernels("mean", LARGE[2])[0])
    x = data("float32", (90, 77))
    for chunks in ((30, 40), (17, 77), (90, 11)):
        np.testing.assert_array_equal(bits(f(da.from_array(x, chunks=chunks)).compute()),
                                      bits(f(x)))


def test_parallel_rows_equal_cpu():
    k = kernels("max", LARGE[1])[0]
    x = data("float32", (300, 257))
    x[5, 5] = np.nan
    np.testing.assert_array_equal(bits(stencil_ufunc(target="parallel")(k)(x)),
                                  bits(stencil_ufunc()(k)(x)))


def test_schedule_lists_every_choice():
    module = load_source("""
        import numpy as np
        def k(x):
            return np.median(x[-1:2, -1:2]) + np.mean(x[-5:6, -5:6]) + np.median(x[-7:8, -7:8])
    """)
    f = stencil_ufunc()(module.k)
    text = str(f.schedule("float32"))
    assert "selection network" in text and "C order" in text
    assert f"more than the {MAX_MEDIAN_CELLS}" in text
    assert text.splitlines()[1] in f.inspect_source("float32")
    assert 9 <= MAX_MEDIAN_CELLS < 225 and 25 <= MAX_CELLS < 81


@settings(max_examples=EXAMPLES)
@given(op=st.sampled_from(["sum", "mean", "min", "max", "median"]),
       lo=st.tuples(st.integers(-4, 0), st.integers(-9, 0)),
       size=st.tuples(st.integers(1, 9), st.integers(1, 19)),
       dtype=st.sampled_from(["uint8", "int32", "float32", "float64"]),
       mode=st.sampled_from(sorted(PAD)))
def test_random_windows_equal_numba(op, lo, size, dtype, mode):
    bounds = tuple((a, a + n) for a, n in zip(lo, size))
    check(op, bounds, dtype, mode, nans=0)


# --- integer narrowing -----------------------------------------------------------------------

#: every type narrowing knows (the CPU narrows expressions to int8 only, where it pays)
EVERY_NARROW_TYPE = NarrowTypes(tuple(np.dtype(t) for t in ("int8", "int16", "int32")),
                                CPU_NARROW_TYPES.compared)
NARROWED = ["x[-1] + x[0] + x[1]", "x[-1] - 2 * x[0] + x[1]", "x[-1] * x[1] - x[0]",
            "-x[-1] + x[1] * 3 + 7", "(x[-1] + x[1]) * (x[0] - 1)"]


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int16", "uint16", "int32"])
def test_narrowed_expressions_keep_numbas_values_at_every_extreme(dtype, monkeypatch):
    """Every combination of extreme and small values in the three taps, through each
    expression, against numba computing the same expression on the same scalars: the same
    type, the same bits; and the schedule says which were narrowed. With every narrow type
    allowed (only int8 is by default, where it pays)."""
    monkeypatch.setattr(CpuTarget, "narrowing", EVERY_NARROW_TYPE)
    info = np.iinfo(dtype) if dtype != "bool" else None
    values = [False, True] if info is None else sorted(
        v for v in {int(info.min), int(info.min) + 1, -1, 0, 1, 2, int(info.max) - 1,
                    int(info.max)} if info.min <= v <= info.max)
    rows = np.array(list(itertools.product(values, repeat=3)), dtype=dtype)
    body = "\n".join(f"    v{k} = {e}" for k, e in enumerate(NARROWED))
    module = load_source(f"def k(x):\n{body}\n    return {', '.join(f'v{k}' for k in range(len(NARROWED)))}\n")
    f = stencil_ufunc("(n)->" + ",".join(["(n)"] * len(NARROWED)), out_dtype="kernel")(module.k)
    got = f(rows)
    for k, expression in enumerate(NARROWED):
        scalar = numba.njit(eval("lambda a, b, c: " + expression.replace("x[-1]", "a")
                                 .replace("x[0]", "b").replace("x[1]", "c")))
        values = [scalar(*row) for row in rows]
        returned = scalar.nopython_signatures[0].return_type
        expected = np.array(values, numba.np.numpy_support.as_dtype(returned))
        assert got[k].dtype == expected.dtype, expression
        np.testing.assert_array_equal(got[k][:, 1], expected, err_msg=expression)
    narrowed = str(f.schedule(dtype))
    assert ("narrowed" in narrowed) == (dtype != "int32"), narrowed   # int32 sums need int64


#: locals compared with constants only (kept narrow), and locals that must not be
COMPARED = """
def k(x):
    n = x[-1] + x[0] + x[1]
    d = x[-1] - 2 * x[0] + x[1]
    m = x[-1] * x[1] + x[0]
    w = x[-1] + x[1] + x[0]
    big = x[-1] + x[1] + x[0]
    a = (n == 3) | (2 > n) | (n != 1) & (n >= 0)
    b = (-1 <= d < 2) | (d == -3)
    c = (m > 4) & (m < 100)
    return a, b, c, w + 1, w > 2, big == 1099511627776
"""


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int16", "uint16"])
def test_locals_compared_with_constants_stay_narrow_with_numbas_results(dtype):
    """Game of Life's count kept narrow: comparisons (chained, either side, every operator)
    of locals holding narrowed sums, differences and products, at every combination of
    extreme and small values of three taps, against numba computing the same function on the
    same scalars; a local also used in arithmetic, or compared with a constant its narrow
    type cannot hold, is converted back as before."""
    info = np.iinfo(dtype) if dtype != "bool" else None
    values = [False, True] if info is None else sorted(
        v for v in {int(info.min), int(info.min) + 1, -1, 0, 1, 2, 3, int(info.max) - 1,
                    int(info.max)} if info.min <= v <= info.max)
    rows = np.array(list(itertools.product(values, repeat=3)), dtype=dtype)
    module = load_source(COMPARED)
    f = stencil_ufunc("(n)->" + ",".join(["(n)"] * 6), out_dtype="kernel")(module.k)
    got = f(rows)
    scalar = numba.njit(load_source(COMPARED.replace("x[-1]", "p").replace("x[0]", "q")
                                    .replace("x[1]", "r").replace("def k(x)", "def k(p, q, r)")).k)
    expected = [scalar(*row) for row in rows]
    for k in range(6):
        np.testing.assert_array_equal(got[k][:, 1], [e[k] for e in expected], err_msg=str(k))
    kept = {line.split("kept in it as ")[1].split(":")[0] for line in
            str(f.schedule(dtype)).splitlines() if "kept in it as" in line}
    expected_kept = {"'n'"}                       # int32 holds every sum of three
    if not dtype.startswith("u"):                 # numba computes unsigned differences in
        expected_kept.add("'d'")                  # uint64, where they wrap: left alone
    if dtype != "uint16":                         # 65535 * 65535 needs more than int32
        expected_kept.add("'m'")
    assert kept == expected_kept, kept


def test_unsigned_differences_are_left_to_numba(monkeypatch):
    """numba computes uint8 - uint8 in uint64, where it wraps: never narrowed."""
    monkeypatch.setattr(CpuTarget, "narrowing", EVERY_NARROW_TYPE)
    module = load_source("def k(x):\n    return x[-1] - x[1] + x[0]\n")
    f = stencil_ufunc("(n)->(n)", out_dtype="kernel")(module.k)
    assert "narrowed" not in str(f.schedule("uint8"))
    assert "narrowed" in str(f.schedule("int8"))
    x = np.array([0, 5, 200, 3, 255, 0], np.uint8)
    reference = numba.njit(lambda a, b, c: a - c + b)
    np.testing.assert_array_equal(f(x)[1:-1], [reference(*x[i - 1:i + 2]) for i in range(1, 5)])


def test_game_of_life_on_bools_is_narrowed_and_equals_numpy():
    module = load_source("""
        def life(x):
            n = (x[-1, -1] + x[-1, 0] + x[-1, 1] + x[0, -1] + x[0, 1] + x[1, -1] + x[1, 0]
                 + x[1, 1])
            return n == 3 or (n == 2 and x[0, 0])
    """)
    f = stencil_ufunc(boundary="wrap")(module.life)
    assert "computed in int8 (values in [0, 8])" in str(f.schedule("bool"))
    x = data("bool", (40, 45))
    n = sum(np.roll(x, (a, b), (0, 1)).astype(int) for a in (-1, 0, 1) for b in (-1, 0, 1)
            if (a, b) != (0, 0))
    np.testing.assert_array_equal(f(x), (n == 3) | ((n == 2) & x))


def test_two_large_reductions_two_outputs_and_a_none_border():
    """Row buffers for two reductions of different windows; points whose (union)
    neighbourhood leaves the array get cval; NumPy's sliding windows as the oracle."""
    from numpy.lib.stride_tricks import sliding_window_view

    module = load_source("""
        import numpy as np
        def k(x):
            return np.max(x[-4:5, -3:4]), np.mean(x[-4:5, -4:5])
    """)
    f = stencil_ufunc("(n,m)->(n,m),(n,m)", boundary=None, cval=-1, out_dtype="kernel")(module.k)
    x = data("float32", (30, 33))
    high, mean = f(x)
    np.testing.assert_array_equal(high[4:-4, 4:-4], sliding_window_view(x, (9, 7)).max(axis=(2, 3))[:, 1:-1])
    total = np.zeros((22, 25), np.float32)
    for i, j in itertools.product(range(9), range(9)):   # numba's order: C order, float32
        total = total + x[i:i + 22, j:j + 25]
    np.testing.assert_array_equal(mean[4:-4, 4:-4], (total / np.int64(81)).astype(np.float32))
    for result in (high, mean):
        assert (result[:4] == -1).all() and (result[:, -4:] == -1).all()


# --- large accumulating loop nests ------------------------------------------------------------

TABLE = np.random.default_rng(5).random((9, 9)).astype(np.float32)


@pytest.mark.parametrize("dtype, mode", [("float32", "reflect"), ("int16", "wrap")])
def test_a_large_weights_table_equals_numba_bit_for_bit(dtype, mode):
    """A 15x15 standard_indexing weights table: a row at a time on the CPU, each point's
    additions in the order written; numba.stencil on the padded array as the oracle."""
    module = load_source("""
        def blur(x, w):
            acc = 0.0
            for i in range(-7, 8):
                for j in range(-7, 8):
                    acc += w[i + 7, j + 7] * x[i, j]
            return acc
    """)
    f = stencil_ufunc("(n,m),(p,q)->(n,m)", boundary=mode, standard_indexing=["w"],
                      out_dtype="kernel")(module.blur)
    assert "accumulation line" in str(f.schedule(dtype, "float32"))
    stencil = numba.stencil(neighborhood=((-7, 7), (-7, 7)), standard_indexing=("w",))(module.blur)
    oracle = numba.njit(lambda x, w: stencil(x, w))
    x = data(dtype, (40, 53))
    w = (np.random.default_rng(2).random((15, 15)) - 0.5).astype(np.float32)
    expected = oracle(np.pad(x, 7, mode=PAD[mode]), w)[7:-7, 7:-7]
    np.testing.assert_array_equal(bits(f(x, w)), bits(expected))
    # a table too small: the read as written is named, also where the row pass (the only
    # code a border left alone runs) writes out each tap
    inner = stencil_ufunc("(n,m),(p,q)->(n,m)", boundary=None, standard_indexing=["w"],
                          out_dtype="kernel")(module.blur)
    with pytest.raises(IndexError, match=r"w\[i \+ 7, j \+ 7\] \(line \d+\) indexes 'w'"):
        inner(x, w[:14])


def test_a_global_table_nest_with_step_and_an_accumulation_of_its_own_form():
    module = load_source("""
        import numpy as np
        def k(x):
            total = np.float32(0)
            for a in range(-4, 5):
                for b in range(-8, 9, 2):
                    total = total + TABLE[a + 4, b // 2 + 4] * x[a, b]
            return total * 2
    """, namespace={"TABLE": TABLE})
    f = stencil_ufunc(boundary="nearest")(module.k)
    assert "accumulation line" in str(f.schedule("float32"))
    x = data("float32", (30, 47))
    padded = np.pad(x, ((4, 4), (8, 8)), mode="edge")
    expected = np.empty_like(x)
    for i, j in itertools.product(range(30), range(47)):   # the order written, in float32
        total = np.float32(0)
        for a, b in itertools.product(range(-4, 5), range(-8, 9, 2)):
            total = np.float32(total + TABLE[a + 4, b // 2 + 4] * padded[i + 4 + a, j + 8 + b])
        expected[i, j] = total * 2
    np.testing.assert_array_equal(bits(f(x)), bits(expected))


@pytest.mark.parametrize("layout, body, shape, dtype", [
    ("(n)->(n)", "for a in range(-40, 41):\n        acc += x[a] * (a + 1)", (300,), "float32"),
    ("(n,m,p)->(n,m,p)", "for a in range(-2, 3):\n        for b in range(-2, 3):\n"
     "            for c in range(-2, 3):\n                acc = acc + (x[a, b, c] * (a - b) + c)",
     (9, 10, 11), "int16")], ids=["1-d", "3-d"])
def test_accumulations_equal_the_nest_as_written(layout, body, shape, dtype, monkeypatch):
    """1-D and 3-D nests (81 and 125 taps): the row schedule against the same nest compiled
    as written (the schedule's threshold raised), bit for bit."""
    module = load_source(f"def k(x):\n    acc = 0\n    {body}\n    return acc\n")
    scheduled = stencil_ufunc(layout, boundary="mirror", out_dtype="kernel")(module.k)
    assert "accumulation" in str(scheduled.schedule(dtype))
    got = scheduled(data(dtype, shape))
    monkeypatch.setattr("stencilc.schedules.accumulate.MIN_TAPS", 10**6)
    written = stencil_ufunc(layout, boundary="mirror", out_dtype="kernel")(module.k)
    assert "accumulation" not in str(written.schedule(dtype))
    np.testing.assert_array_equal(bits(got), bits(written(data(dtype, shape))))


def test_two_nests_accumulating_into_one_local():
    module = load_source("""
        def k(x):
            acc = 0.0
            for a in range(-4, 5):
                for b in range(-4, 5):
                    acc += x[a, b]
            first = acc
            acc = 0.0
            for c in range(-4, 5):
                for d in range(-4, 5):
                    acc += x[c, d] * x[c, d]
            return first, acc
    """)
    f = stencil_ufunc("(n,m)->(n,m),(n,m)", boundary="wrap")(module.k)
    assert str(f.schedule("float64")).count("accumulation line") == 2
    x = data("float64", (20, 23))
    first = second = np.zeros_like(x)
    for a, b in itertools.product(range(-4, 5), range(-4, 5)):   # the order written
        shifted = np.roll(x, (-a, -b), (0, 1))
        first, second = first + shifted, second + shifted * shifted
    got = f(x)
    np.testing.assert_array_equal(bits(got[0]), bits(first))
    np.testing.assert_array_equal(bits(got[1]), bits(second))


def test_which_nests_take_the_row_path():
    """Run-time weights (standard_indexing) from 6x6 on; compile-time tables only past 64
    taps, where LLVM stops unrolling them (the measurements beside MIN_TAPS)."""
    def nest(k: int, table: str) -> str:
        r = k // 2
        return (f"def k(x, w):\n    acc = 0.0\n    for i in range({-r}, {k - r}):\n"
                f"        for j in range({-r}, {k - r}):\n"
                f"            acc += {table}[i + {r}, j + {r}] * x[i, j]\n    return acc\n")

    def scheduled(k: int, table: str) -> bool:
        module = load_source(nest(k, table), namespace={"W": np.ones((k, k), np.float32)})
        f = stencil_ufunc("(n,m),(p,q)->(n,m)", standard_indexing=["w"])(module.k)
        return "accumulation line" in str(f.schedule("float32", "float32"))

    assert scheduled(6, "w") and scheduled(8, "w")
    assert not scheduled(6, "W") and not scheduled(8, "W") and scheduled(9, "W")


def test_window_reductions_on_xarray_keep_coordinates_and_values():
    xr = pytest.importorskip("xarray")
    f = stencil_ufunc(boundary={"lon": "wrap", "lat": "nearest"})(kernels("median", SMALL[0])[0])
    x = data("float32", (12, 15))
    array = xr.DataArray(x, dims=("lat", "lon"), coords={"lon": np.arange(15)})
    got = f(array, dims=("lat", "lon"))
    padded = np.pad(np.pad(x, ((0, 0), (1, 1)), mode="wrap"), ((1, 1), (0, 0)), mode="edge")
    expected = np.median(np.lib.stride_tricks.sliding_window_view(padded, (3, 3)), axis=(2, 3))
    assert got.dims == ("lat", "lon") and (got.lon == array.lon).all()
    np.testing.assert_array_equal(got.values, expected)

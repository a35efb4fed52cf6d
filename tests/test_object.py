"""The returned object: thread-safe lazy compilation, pickling, broadcasting of scalars."""
from __future__ import annotations

import pickle
import subprocess
import sys
import threading

import numpy as np
import scipy.ndimage as ndi

from conftest import load_source
from stencilc import stencil_ufunc

SMOOTH = """
def smooth(x):
    return (x[-1, -1] + x[-1, 0] + x[-1, 1] +
            x[0, -1] + x[0, 0] + x[0, 1] +
            x[1, -1] + x[1, 0] + x[1, 1]) // 9
"""


def _hammer(f, inputs, threads=16):
    """Call ``f`` from many threads released at the same instant; return the results."""
    barrier = threading.Barrier(threads)
    results, errors = [None] * threads, []

    def work(k):
        barrier.wait()
        try:
            results[k] = f(inputs[k % len(inputs)])
        except Exception as exc:   # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors
    return results


def _expected_smooth(x):
    total = ndi.correlate(x.astype(np.int64), np.ones((3, 3), np.int64), mode="constant")
    expected = np.zeros(x.shape, np.int64)
    expected[1:-1, 1:-1] = (total // 9)[1:-1, 1:-1]
    return expected.astype(x.dtype)


def test_sixteen_threads_compile_one_specialization_once():
    f = stencil_ufunc(load_source(SMOOTH).smooth)
    x = np.random.default_rng(1).integers(-100, 100, (40, 30)).astype(np.int8)
    results = _hammer(f, [x])
    assert f.compile_count == 1
    for r in results:
        np.testing.assert_array_equal(r, _expected_smooth(x))


def test_sixteen_threads_with_mixed_dtypes_compile_each_once():
    f = stencil_ufunc(load_source(SMOOTH).smooth)
    rng = np.random.default_rng(2)
    inputs = [rng.integers(0, 100, (20, 25)).astype(dt)
              for dt in (np.int8, np.uint16, np.int32, np.float64)]
    results = _hammer(f, inputs)
    assert f.compile_count == 4
    assert f.types == ["H->H", "b->b", "d->d", "i->i"]
    for k, r in enumerate(results):
        np.testing.assert_array_equal(r, _expected_smooth(inputs[k % 4]))


def test_pickle_round_trip_recompiles_and_agrees():
    f = stencil_ufunc(boundary="reflect")(load_source(SMOOTH).smooth)
    x = np.random.default_rng(3).integers(0, 100, (12, 9)).astype(np.int16)
    clone = pickle.loads(pickle.dumps(f))
    assert clone.signature == f.signature and clone.boundary == "reflect"
    np.testing.assert_array_equal(clone(x), f(x))


def test_pickle_loads_in_a_fresh_process_without_the_kernel_file():
    f = stencil_ufunc(boundary="wrap")(load_source(SMOOTH).smooth)
    x = np.arange(30, dtype=np.int32).reshape(5, 6)
    payload = pickle.dumps((f, x))
    script = ("import pickle, sys, numpy as np\n"
              "f, x = pickle.loads(sys.stdin.buffer.read())\n"
              "sys.stdout.buffer.write(pickle.dumps(f(x)))\n")
    done = subprocess.run([sys.executable, "-c", script], input=payload, capture_output=True,
                          check=True, cwd="/")
    np.testing.assert_array_equal(pickle.loads(done.stdout), f(x))


def test_scalar_arguments_broadcast_over_loop_dims():
    @stencil_ufunc(boundary="nearest")
    def scaled(x, s):
        return s * (x[1] - x[-1])

    x = np.arange(24.0).reshape(3, 8) ** 2
    s = np.array([1.0, -2.0, 0.5])
    padded = np.pad(x, ((0, 0), (1, 1)), mode="edge")
    expected = s[:, None] * (padded[:, 2:] - padded[:, :-2])
    np.testing.assert_array_equal(scaled(x, s), expected)
    np.testing.assert_array_equal(scaled(x.tolist(), 1.0), expected / s[:, None])


def test_inputs_are_never_modified_and_out_is_filled_in_place():
    f = stencil_ufunc(boundary="mirror")(load_source(SMOOTH).smooth)
    x = np.random.default_rng(4).normal(size=(6, 7))
    before = x.copy()
    out = np.full(x.shape, np.nan)
    assert f(x, out=out) is out
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(out, ndi.correlate(x, np.ones((3, 3)), mode="mirror") // 9)


def test_byte_swapped_and_non_contiguous_inputs():
    f = stencil_ufunc(boundary="reflect")(load_source(SMOOTH).smooth)
    x = np.random.default_rng(5).integers(0, 1000, (9, 12)).astype(">i4")
    expected = ndi.correlate(x.astype(np.int64), np.ones((3, 3), np.int64), mode="reflect") // 9
    np.testing.assert_array_equal(f(x), expected)
    view = np.asarray(x, "<i4")[::-1, ::2]
    expected = ndi.correlate(view.astype(np.int64), np.ones((3, 3), np.int64),
                             mode="reflect") // 9
    np.testing.assert_array_equal(f(view), expected)


def test_a_call_with_out_compiles_only_the_specialization_it_uses():
    f = stencil_ufunc(boundary="nearest")(load_source(SMOOTH).smooth)
    x = np.random.default_rng(6).normal(size=(8, 9))
    into = np.empty(x.shape, np.float32)
    f(x, out=into)
    assert f.compile_count == 1 and f.types == ["d->f"]
    expected = ndi.correlate(x, np.ones((3, 3)), mode="nearest") // 9
    np.testing.assert_allclose(into, expected, rtol=1e-6)

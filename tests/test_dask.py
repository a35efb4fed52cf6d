"""Dask inputs give the NumPy result, bit for bit, for any chunking (docs/design.md 1.5)."""
from __future__ import annotations

import threading

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import example, given, note
from hypothesis import strategies as st

from conftest import load_source
from stencilc import stencil_ufunc

BOUNDARIES = [None, "constant", "nearest", "reflect", "mirror", "wrap"]

KERNEL = load_source("""
def kernel(x):
    return x[-1, -2] + 2 * x[0, 1] - 3 * x[2, 0] + x[0, 0] // 2
""").kernel


def _chunks(draw, n):
    """A random chunking of length n: one-element, uneven and single chunks included."""
    if n == 0 or draw(st.booleans()):
        return (n,)
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=4))) if n > 1 else []
    edges = [0, *cuts, n]
    return tuple(b - a for a, b in zip(edges, edges[1:]))


@st.composite
def chunked_arrays(draw):
    shape = (draw(st.integers(1, 3)), draw(st.integers(0, 12)), draw(st.integers(0, 12)))
    chunks = tuple(_chunks(draw, n) for n in shape)
    dtype = draw(st.sampled_from([np.int8, np.uint16, np.int64, np.float32, np.float64]))
    seed = draw(st.integers(0, 2**32 - 1))
    x = (np.random.default_rng(seed).normal(size=shape) * 40).astype(dtype)
    return x, chunks


@given(chunked_arrays(), st.sampled_from(BOUNDARIES))
# found by hypothesis: a one-chunk core axis shorter than the halo (dask refused the overlap)
@example((np.array([[[5, -5]]], np.int8), ((1,), (1,), (1, 1))), None)
def test_any_chunking_gives_the_numpy_result(case, boundary):
    x, chunks = case
    note(f"chunks={chunks}")
    f = stencil_ufunc(boundary=boundary, cval=3)(KERNEL)
    expected = f(x)
    lazy = f(da.from_array(x, chunks=chunks))
    assert isinstance(lazy, da.Array)
    assert lazy.dtype == expected.dtype and lazy.shape == expected.shape
    got = lazy.compute(scheduler="sync")
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("chunks", [(2, 5, 4), (1, 17, 13)], ids=["chunked core", "one chunk"])
def test_parallel_target_inside_dask_tasks(chunks, monkeypatch):
    """The parallel target inside Dask's threads: blocks of two images spread over numba's
    threads, one-image blocks cut into row bands on stencilc's pool (every call split here,
    however small). The cpu target's numbers, which the other tests check against NumPy
    slicing."""
    from stencilc.targets import bands
    monkeypatch.setattr(bands, "SMALL_CALL", 0)
    x = np.random.default_rng(7).integers(-50, 50, (3, 17, 13)).astype(np.int64)
    serial = stencil_ufunc(boundary="reflect")(KERNEL)
    parallel = stencil_ufunc(boundary="reflect", target="parallel")(KERNEL)
    expected = serial(x)
    np.testing.assert_array_equal(parallel(da.from_array(x, chunks=chunks)).compute(), expected)
    np.testing.assert_array_equal(parallel(x[0]), expected[0])


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_several_inputs_scalars_weights_and_outputs(boundary):
    @stencil_ufunc(boundary=boundary, standard_indexing=("w",))
    def f(x, y, s, w):
        return w[0] * x[-1, 0] + s * y[0, 1], x[0, 0] - y[1, -1] * w[1]

    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, 10, 9))
    y = rng.normal(size=(1, 10, 9))
    s = rng.normal(size=(4, 1))[:, 0]
    w = np.array([0.5, -2.0])
    expected = f(x, y, s, w)
    lazy = f(da.from_array(x, chunks=(2, 3, 4)), da.from_array(y, chunks=(1, 5, 2)),
             da.from_array(s, chunks=1), da.from_array(w, chunks=1))
    assert isinstance(lazy, tuple) and len(lazy) == 2
    for got, want in zip(dask.compute(*lazy), expected):
        np.testing.assert_array_equal(got, want)


def test_a_dask_array_is_returned_without_computing_anything():
    computed = []

    def load(block_id=None):
        computed.append(block_id)
        return np.ones((4, 4))

    source = da.map_blocks(load, chunks=((4, 4), (4, 4)), dtype=np.float64,
                           meta=np.empty((0, 0)))
    f = stencil_ufunc(boundary="reflect")(KERNEL)
    computed.clear()
    lazy = f(source)
    assert computed == [] and lazy.dtype == np.float64 and lazy.chunks == ((4, 4), (4, 4))
    np.testing.assert_array_equal(lazy.compute(), f(np.ones((8, 8))))


def test_one_chunk_core_dims_use_apply_gufunc_and_never_probe():
    f = stencil_ufunc("(n,m)->(n,m)")(KERNEL)
    x = np.arange(3 * 6 * 7, dtype=np.int8).reshape(3, 6, 7)
    lazy = f(da.from_array(x, chunks=(1, -1, -1)))
    assert lazy.chunks == ((1, 1, 1), (6,), (7,))
    assert f.types == ["b->b"]   # only the client-side specialization, no dummy-array probe
    np.testing.assert_array_equal(lazy.compute(), f(x))


def test_dask_apply_gufunc_and_xarray_accept_the_object():
    xr = pytest.importorskip("xarray")
    f = stencil_ufunc(boundary="wrap")(KERNEL)
    x = np.random.default_rng(8).normal(size=(2, 8, 9))
    expected = f(x)
    got = da.apply_gufunc(f, f.signature, da.from_array(x, chunks=(1, -1, -1)))
    np.testing.assert_array_equal(got.compute(), expected)
    image = xr.DataArray(da.from_array(x, chunks=(1, 4, 3)), dims=("time", "y", "x"))
    out = xr.apply_ufunc(f, image, input_core_dims=[["y", "x"]],
                         output_core_dims=[["y", "x"]], dask="allowed")
    assert isinstance(out.data, da.Array) and out.dims == ("time", "y", "x")
    np.testing.assert_array_equal(out.compute().values, expected)


def test_threaded_scheduler_compiles_each_specialization_once():
    f = stencil_ufunc(load_source("def k(x):\n    return x[-1, 0] + x[1, 1]\n").k)
    x = np.random.default_rng(9).integers(0, 9, (16, 20, 20)).astype(np.int16)
    lazy = f(da.from_array(x, chunks=(1, -1, -1)))
    assert f.compile_count == 1
    with dask.config.set(scheduler="threads", num_workers=8):
        results = []
        threads = [threading.Thread(target=lambda: results.append(lazy.compute()))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert f.compile_count == 1 and len(results) == 4
    for r in results:
        np.testing.assert_array_equal(r, f(x))


def test_out_is_refused_for_dask_inputs():
    f = stencil_ufunc(KERNEL)
    with pytest.raises(TypeError, match="out= is not supported with Dask"):
        f(da.zeros((4, 4), chunks=2), out=np.zeros((4, 4)))


def test_distributed_cluster_with_two_worker_processes():
    distributed = pytest.importorskip("distributed")
    f = stencil_ufunc(boundary="mirror")(load_source(
        "def k(x):\n    return x[-1, 0] + 2 * x[1, 1] - x[0, -1]\n").k)
    x = np.random.default_rng(10).integers(-9, 9, (4, 30, 20)).astype(np.int32)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        lazy = f(da.from_array(x, chunks=(2, 7, 6)))
        got = client.compute(lazy).result()
        pids = client.run(lambda: __import__("os").getpid())
    assert len(set(pids.values())) == 2
    np.testing.assert_array_equal(got, f(x))


def test_processes_scheduler_gives_the_numpy_result():
    f = stencil_ufunc(boundary="wrap")(KERNEL)
    x = np.random.default_rng(11).integers(-50, 50, (4, 20, 18)).astype(np.int16)
    lazy = f(da.from_array(x, chunks=(2, 7, 9)))
    np.testing.assert_array_equal(lazy.compute(scheduler="processes", num_workers=2), f(x))


def test_a_keyboard_interrupt_mid_computation_leaves_the_object_usable():
    """Ctrl-C while Dask runs the kernel's tasks: the interrupt reaches the caller, and the
    same object (its locks, its compiled specializations) then computes normally."""
    f = stencil_ufunc(boundary="reflect")(KERNEL)
    x = np.random.default_rng(12).normal(size=(6, 30, 20)).astype(np.float32)
    original = x.copy()
    calls = []

    def interrupt_third_block(block):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return block

    stack = da.from_array(x, chunks=(1, 15, 20))
    doomed = f(stack.map_blocks(interrupt_third_block, dtype=x.dtype))
    with dask.config.set(scheduler="threads", num_workers=2):
        with pytest.raises(KeyboardInterrupt):
            doomed.compute()
        np.testing.assert_array_equal(f(stack).compute(), f(x))
    np.testing.assert_array_equal(x, original)
    assert f.compile_count == 1
    assert not f._lock.locked()

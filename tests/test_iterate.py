"""``f.iterate`` and ``f.trajectory``: many steps equal the plain loop bit for bit.

Oracles: each step computed with NumPy slicing on ``np.pad`` (the boundary rules as NumPy
names them) for integer kernels, where every order of arithmetic gives the same numbers; and
the loop of single stencilc calls (itself checked against scipy.ndimage elsewhere), which
``iterate`` must equal exactly, floats included. Small tile budgets force many tiles, ghost
zones and rounds onto small arrays.
"""
from __future__ import annotations

from unittest import mock

import dask.array as da
import numpy as np
import pytest
from hypothesis import example, given, note
from hypothesis import strategies as st

from conftest import load_source
from stencilc.stepping import plan

NP_PAD = {"nearest": "edge", "reflect": "symmetric", "mirror": "reflect", "wrap": "wrap",
          "constant": "constant"}
CVAL = 7

# Reach: 1 below and 2 above along axis 0, 1 on each side along axis 1 (asymmetric on
# purpose: ghost zones grow differently on each side).
STEP_SOURCE = """
from stencilc import stencil_ufunc

@stencil_ufunc(boundary={boundary!r}, cval={cval})
def step(x):
    return (x[-1, 0] + 2 * x[0, 0] + 3 * x[2, 0] + x[0, -1] - x[0, 1]) % 1000
"""
_steps: dict = {}


def step_kernel(boundary, target="cpu"):
    key = (boundary, target)
    if key not in _steps:
        source = STEP_SOURCE.replace("stencil_ufunc(", f"stencil_ufunc(target={target!r}, ")
        _steps[key] = load_source(source.format(boundary=boundary, cval=CVAL)).step
    return _steps[key]


def numpy_step(x: np.ndarray, boundary) -> np.ndarray:
    """One step of STEP_SOURCE by NumPy slicing (the last two axes are the core)."""
    modes = boundary if isinstance(boundary, tuple) else (boundary, boundary)
    reach = ((1, 2), (1, 1))
    padded = x.astype(np.int64)
    for axis, (mode, width) in enumerate(zip(modes, reach)):
        pad = [(0, 0)] * x.ndim
        pad[x.ndim - 2 + axis] = width
        if mode is None:
            padded = np.pad(padded, pad, mode="constant", constant_values=0)
        elif mode == "constant":
            padded = np.pad(padded, pad, mode="constant", constant_values=CVAL)
        else:
            padded = np.pad(padded, pad, mode=NP_PAD[mode])
    n0, n1 = x.shape[-2:]

    def at(d0, d1):
        return padded[..., 1 + d0:1 + d0 + n0, 1 + d1:1 + d1 + n1]

    result = (at(-1, 0) + 2 * at(0, 0) + 3 * at(2, 0) + at(0, -1) - at(0, 1)) % 1000
    result = result.astype(x.dtype)
    if None in modes:   # numba.stencil's rule: no value where the neighbourhood leaves
        inside = np.zeros((n0, n1), bool)
        rows = slice(1, n0 - 2) if modes[0] is None else slice(None)
        cols = slice(1, n1 - 1) if modes[1] is None else slice(None)
        inside[rows, cols] = True
        result[..., ~inside] = CVAL
    return result


def numpy_steps(x, boundary, steps):
    for _ in range(steps):
        x = numpy_step(x, boundary)
    return x


def small_cache():
    """Tiles of a few hundred bytes, so small arrays split into many tiles and rounds."""
    return mock.patch.object(plan, "cache_bytes", lambda: 1600)


@pytest.fixture
def tiny_tiles():
    with small_cache():
        yield


MODES = [None, "nearest", "reflect", "mirror", "wrap", "constant", ("wrap", "nearest"),
         ("nearest", None)]


@given(mode=st.sampled_from(MODES),
       shape=st.tuples(st.integers(0, 3), st.integers(1, 40), st.integers(1, 40)),
       steps=st.integers(0, 12), block_steps=st.one_of(st.none(), st.integers(1, 5)),
       seed=st.integers(0, 2**16))
# found by this test: a mirror read past the last row (offset +2) came back three rows, past
# a ghost zone one row deep (the neighbourhood reaches 1 below, 2 above)
@example(mode="mirror", shape=(1, 3, 17), steps=1, block_steps=3, seed=0)
@example(mode="reflect", shape=(2, 7, 5), steps=5, block_steps=4, seed=1)
def test_numpy_iterate_equals_numpy_slicing_step_by_step(mode, shape, steps, block_steps,
                                                         seed):
    x = np.random.default_rng(seed).integers(0, 1000, shape).astype(np.int64)
    before = x.copy()
    f = step_kernel(mode)
    with small_cache():
        result = f.iterate(x, steps=steps, block_steps=block_steps)
    tiles = plan.plan_tiles(shape[1:], shape[0], plan.Reach.of(f.neighborhood), 16,
                            max(steps, 1), block_steps, budget=800)
    note(f"plan: {tiles}")
    np.testing.assert_array_equal(result, numpy_steps(x, mode, steps))
    np.testing.assert_array_equal(x, before)          # the input is never modified
    assert result is not x and not np.shares_memory(result, x)


@given(mode=st.sampled_from(MODES), shape=st.tuples(st.integers(1, 45), st.integers(1, 45)),
       chunk=st.tuples(st.integers(1, 20), st.integers(1, 20)), steps=st.integers(0, 9),
       seed=st.integers(0, 2**16))
def test_dask_iterate_equals_numpy_slicing_for_any_chunking(mode, shape, chunk, steps, seed):
    x = np.random.default_rng(seed).integers(0, 1000, shape).astype(np.int64)
    f = step_kernel(mode)
    lazy = f.iterate(da.from_array(x, chunks=chunk), steps=steps)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), numpy_steps(x, mode, steps))


def test_dask_graph_has_one_layer_per_round_not_per_step():
    f = step_kernel("nearest")
    x = np.random.default_rng(0).integers(0, 1000, (256, 256)).astype(np.int64)
    state = da.from_array(x, chunks=128)
    looped = state
    for _ in range(10):
        looped = f(looped)
    iterated = f.iterate(state, steps=10)
    assert len(iterated.__dask_graph__()) * 3 <= len(looped.__dask_graph__())
    np.testing.assert_array_equal(iterated.compute(), looped.compute())


# --- floats, several outputs, fixed arguments: the loop of single calls, exactly ----------

WAVE = load_source("""
from stencilc import stencil_ufunc

def wave(u, u_prev, c, k):
    lap = u[-1, 0] + u[1, 0] + u[0, -1] + u[0, 1] - 4 * u[0, 0]
    return 2 * u[0, 0] - u_prev[0, 0] + c[0, 0] * k * lap, u[0, 0]

def heat(u, alpha):
    return u[0, 0] + alpha * (u[-1, 0] + u[1, 0] + u[0, -1] + u[0, 2] - 4 * u[0, 0])
""")


def make(name, **options):
    from stencilc import stencil_ufunc
    return stencil_ufunc(getattr(WAVE, name), **options)


def loop(f, state, fixed, steps):
    state = tuple(state)
    for _ in range(steps):
        result = f(*state, *fixed)
        state = result if isinstance(result, tuple) else (result,)
    return state


@pytest.mark.parametrize("target", ["cpu", "parallel"])
@pytest.mark.parametrize("boundary", ["wrap", ("nearest", "reflect"), None])
def test_two_outputs_fixed_field_and_per_image_scalar_equal_the_loop(tiny_tiles, target,
                                                                      boundary):
    f = make("wave", boundary=boundary, target=target)
    rng = np.random.default_rng(3)
    u, u_prev = rng.random((2, 3, 30, 23)), rng.random((2, 3, 30, 23))
    c, k = rng.random((30, 23)), np.array([[0.1], [0.2]])   # k: one per row of images
    expected = loop(f, (u, u_prev), (c, k), 13)
    for block_steps in (None, 1, 4):
        result = f.iterate(u, u_prev, c, k, steps=13, block_steps=block_steps)
        assert isinstance(result, tuple) and len(result) == 2
        for got, want in zip(result, expected):
            np.testing.assert_array_equal(got, want)


def test_float_heat_on_a_large_image_equals_the_loop_on_both_cpu_targets():
    """Default plans (cache-sized tiles) on an image larger than one tile."""
    u = np.random.default_rng(4).random((700, 900), dtype=np.float32)
    for target in ("cpu", "parallel"):
        f = make("heat", boundary="mirror", target=target)
        expected, = loop(f, (u,), (np.float32(0.2),), 40)
        np.testing.assert_array_equal(f.iterate(u, np.float32(0.2), steps=40), expected)


def test_parallel_tiles_use_threads_and_equal_cpu(tiny_tiles, monkeypatch):
    from stencilc.stepping import tiles
    from stencilc.targets import cpu as cpu_targets
    from stencilc.targets import bands
    monkeypatch.setattr(tiles, "SMALL_STATE", 0)     # small states run on one thread
    monkeypatch.setattr(bands, "SMALL_CALL", 0)      # ... and small calls too
    used = []
    original = bands.run_tasks

    def spy(tasks, threads):
        used.append((len(tasks), threads))
        return original(tasks, threads)

    monkeypatch.setattr(cpu_targets, "run_tasks", spy)      # the rounds' tiles
    monkeypatch.setattr(bands, "run_tasks", spy)            # a plain step's row bands
    u = np.random.default_rng(5).random((60, 50))
    parallel = make("heat", boundary="nearest", target="parallel")
    cpu = make("heat", boundary="nearest")
    np.testing.assert_array_equal(parallel.iterate(u, 0.1, steps=9),
                                  cpu.iterate(u, 0.1, steps=9))
    import numba
    if numba.get_num_threads() > 1:
        assert used and all(n > 1 for n, _ in used)


def test_dask_two_outputs_and_fixed_arguments_equal_the_numpy_loop():
    f = make("wave", boundary=("nearest", "wrap"))
    rng = np.random.default_rng(6)
    u, u_prev, c = rng.random((2, 41, 37)), rng.random((2, 41, 37)), rng.random((41, 37))
    k = np.array([0.1, 0.3])
    expected = loop(f, (u, u_prev), (c, k), 11)
    lazy = f.iterate(da.from_array(u, chunks=(1, 10, 12)), da.from_array(u_prev, chunks=20),
                     da.from_array(c, chunks=15), k, steps=11)
    for got, want in zip(lazy, expected):
        np.testing.assert_array_equal(got.compute(), want)


# --- every k-th state -----------------------------------------------------------------------

def test_trajectory_yields_every_kth_state_and_the_last():
    f = step_kernel("wrap")
    x = np.random.default_rng(7).integers(0, 1000, (2, 33, 17)).astype(np.int64)
    seen = list(f.trajectory(x, steps=10, every=4))
    assert [step for step, _ in seen] == [4, 8, 10]
    for step, state in seen:
        np.testing.assert_array_equal(state, numpy_steps(x, "wrap", step))
    assert not np.shares_memory(seen[0][1], seen[1][1])   # states are safe to keep
    lazy = [s for _, s in f.trajectory(da.from_array(x, chunks=(1, 11, 9)), steps=6, every=3)]
    np.testing.assert_array_equal(da.stack(lazy).compute(),
                                  np.stack([numpy_steps(x, "wrap", 3), numpy_steps(x, "wrap", 6)]))


# --- errors: worded, raised before any work, nothing modified -------------------------------

ERRORS = load_source("""
from stencilc import stencil_ufunc

@stencil_ufunc(boundary="nearest", out_dtype="kernel")
def halve(x):
    return x[0, 0] * 0.5 + x[1, 0]

@stencil_ufunc(boundary="nearest")
def scaled(s, x):
    return s * x[0, 0] + x[1, 0]

@stencil_ufunc(boundary="nearest")
def add(x, y):
    return x[0, 0] + y[1, 0]
""")


@pytest.mark.parametrize("steps, error, words", [
    (-1, ValueError, "steps must be at least 0, got -1"),
    (2.5, TypeError, "steps must be an integer, not float"),
    (True, TypeError, "steps must be an integer, not bool"),
])
def test_bad_step_counts(steps, error, words):
    with pytest.raises(error, match=words):
        step_kernel("nearest").iterate(np.zeros((4, 4), np.int64), steps=steps)


def test_bad_every_and_block_steps():
    f = step_kernel("nearest")
    x = np.zeros((4, 4), np.int64)
    with pytest.raises(ValueError, match=r"step\.trajectory: every must be at least 1, got 0"):
        f.trajectory(x, steps=3, every=0)
    with pytest.raises(ValueError, match="block_steps must be at least 1"):
        f.iterate(x, steps=3, block_steps=0)


def test_output_dtype_must_be_the_states():
    x = np.arange(16, dtype=np.uint8).reshape(4, 4)
    with pytest.raises(TypeError, match=r"output 0 is float64 but argument 'x' is uint8; "
                                        r"each step's output becomes the next step's argument"):
        ERRORS.halve.iterate(x, steps=2)
    with pytest.raises(TypeError, match="output 0 is float64"):
        ERRORS.halve.iterate(da.from_array(x), steps=2)


def test_state_must_be_relatively_indexed_and_full_shape():
    with pytest.raises(TypeError, match="output 0 feeds back into argument 0, but argument "
                                        "'s' is a scalar"):
        ERRORS.scaled.iterate(2.0, np.zeros((4, 4)), steps=1)
    x, y = np.zeros((4, 4)), np.zeros((3, 4, 4))
    with pytest.raises(ValueError, match=r"output 0 has shape \(3, 4, 4\) but argument 'x' "
                                         r"has shape \(4, 4\)"):
        ERRORS.add.iterate(x, y, steps=1)
    with pytest.raises(TypeError, match=r"takes 2 positional arguments but 1 were given"):
        ERRORS.add.iterate(x, steps=1)


def test_zero_steps_return_a_copy():
    x = np.arange(12.0).reshape(3, 4)
    result = make("heat", boundary="nearest").iterate(x, 0.5, steps=0)
    np.testing.assert_array_equal(result, x)
    assert not np.shares_memory(result, x)


# --- the tile plan ----------------------------------------------------------------------------

@pytest.mark.parametrize("core, bytes_per_point", [((4096, 4096), 8), ((4096, 4096), 2),
                                                   ((256, 256, 256), 16), ((100, 30000), 8)])
def test_plan_fits_the_budget_and_bounds_recomputation(core, bytes_per_point):
    budget = 8 << 20
    reach = plan.Reach((1,) * len(core), (1,) * len(core))
    chosen = plan.plan_tiles(core, 1, reach, bytes_per_point, 100, budget=budget)
    ghost = [chosen.block_steps * w for w in reach.width]
    region = [min(n, e + g) for n, e, g in zip(core, chosen.extents, ghost)]
    assert np.prod(region) * bytes_per_point <= budget
    if chosen.block_steps > 1:
        assert plan._recompute(core, chosen.extents, ghost) <= plan.MAX_RECOMPUTE


@pytest.mark.parametrize("core", [(8192, 8192), (4096, 4096), (2048, 1024), (64, 1024, 2048)])
@pytest.mark.parametrize("itemsize, steps", [(4, 14), (8, 100), (1, 100)])
def test_plan_rows_are_not_a_multiple_of_4k(core, itemsize, steps):
    """Power-of-two widths put a region's rows in the same cache sets (2-D heat rounds ran
    1.8x slower per point at 8192 wide than at 8000): no region row, inside or at an edge, is
    a multiple of 4096 bytes long, and the budget still holds."""
    reach = plan.Reach((1,) * len(core), (1,) * len(core))
    budget = 8 << 20
    chosen = plan.plan_tiles(core, 1, reach, 2 * itemsize, steps, budget=budget,
                             itemsize=itemsize)
    e, n, g = chosen.extents[-1], core[-1], chosen.block_steps * 2
    widths = [n] if e >= n else [min(n, e + g), min(n, e + g // 2)]
    if n * itemsize >= plan.MIN_CUT_ROW_BYTES:
        assert all(w * itemsize % plan.ALIASING_BYTES for w in widths), (chosen, widths)
    else:   # short rows stay whole (cutting them cost more than it gained)
        assert chosen == plan.plan_tiles(core, 1, reach, 2 * itemsize, steps, budget=budget)
    region = [min(n, e + g) for n, e in zip(core, chosen.extents)]
    assert np.prod(region) * 2 * itemsize <= budget


def test_tiles_cut_for_unaliased_rows_equal_the_loop(monkeypatch):
    """A state 4096 float32 wide whose whole rows would alias: its rows are cut in two tiles
    with ghost zones, and the numbers stay the loop's."""
    monkeypatch.setattr(plan, "cache_bytes", lambda: 4 << 20)
    heat = make("heat", boundary="nearest")
    u = np.random.default_rng(5).random((300, 4096)).astype(np.float32)
    alpha = np.float32(0.2)
    expected, = loop(heat, (u,), (alpha,), 12)
    np.testing.assert_array_equal(heat.iterate(u, alpha, steps=12, block_steps=4), expected)
    chosen = plan.plan_tiles((300, 4096), 1, plan.Reach((1, 1), (1, 1)), 8, 12, 4,
                             itemsize=4)
    assert chosen.extents[-1] < 4096 and chosen.extents[0] < 300


@pytest.mark.parametrize("core, images", [((4096, 4096), 1), ((1024, 1024), 1), ((64, 64), 3),
                                          ((64, 64), 100)])
def test_plan_gives_every_thread_tiles(core, images):
    reach = plan.Reach((1, 1), (1, 1))
    chosen = plan.plan_tiles(core, images, reach, 8, 100, budget=8 << 20, tiles=8)
    count = -(-images // chosen.slab) * np.prod([-(-n // e) for n, e in
                                                 zip(core, chosen.extents)])
    assert count >= min(8, images * core[0])


def test_sysfs_cpu_lists_are_counted():
    assert plan._count_cpus("0") == 1
    assert plan._count_cpus("0-3,8,10-11") == 7


def test_strided_byte_swapped_read_only_and_empty_states():
    f = step_kernel("reflect")
    base = np.random.default_rng(8).integers(0, 1000, (40, 60)).astype(np.int64)
    strided = base[::2, ::3]
    swapped = strided.astype(">i8")
    frozen = strided.copy()
    frozen.flags.writeable = False
    expected = numpy_steps(strided, "reflect", 6)
    for x in (strided, swapped, frozen, np.asfortranarray(strided)):
        np.testing.assert_array_equal(f.iterate(x, steps=6, block_steps=2), expected)
    for shape in [(0, 5), (3, 0), (2, 0, 4)]:
        empty = np.zeros(shape, np.int64)
        assert f.iterate(empty, steps=3).shape == shape


def test_axes_pick_the_core_axes_as_for_a_call():
    """Channels last: core axes (0, 1) of an (H, W, C) state, NumPy and Dask; equal to the
    loop of calls with the same axes= and to NumPy slicing per channel."""
    f = step_kernel("mirror")
    x = np.random.default_rng(9).integers(0, 1000, (25, 19, 3)).astype(np.int64)
    expected = np.stack([numpy_steps(x[..., c], "mirror", 5) for c in range(3)], axis=-1)
    axes = [(0, 1), (0, 1)]
    np.testing.assert_array_equal(f.iterate(x, steps=5, axes=axes), expected)
    lazy = f.iterate(da.from_array(x, chunks=(10, 10, 1)), steps=5, axes=axes)
    np.testing.assert_array_equal(lazy.compute(), expected)
    states = [s for _, s in f.trajectory(x, steps=5, every=2, axes=axes)]
    np.testing.assert_array_equal(states[-1], expected)
    with pytest.raises(ValueError, match="axes= puts output 0's core axes at"):
        f.iterate(x, steps=1, axes=[(0, 1), (1, 2)])
    with pytest.raises(TypeError, match="dims= names xarray dimensions"):
        f.iterate(x, steps=1, dims=("a", "b"))


@pytest.mark.parametrize("target", ["cpu", "parallel"])
@pytest.mark.parametrize("loop_wins, probe", [(True, 1), (False, 1), (True, 2)])
def test_the_timed_choice_between_tiles_and_the_loop_equals_the_loop(monkeypatch, target,
                                                                     loop_wins, probe):
    """Issue 24: with many steps iterate times a tiled round against looped steps and runs
    the rest the faster way; either way (forced here), after an odd or even number of looped
    steps (which leaves the state in one buffer or the other), the loop's numbers, for one
    image and a stack, two outputs and fixed arguments included."""
    from stencilc.stepping import tiles
    monkeypatch.setattr(tiles, "PROBE_STEPS", probe)
    chosen = []

    def forced(tiled, looped):
        chosen.append((tiled, looped))
        return loop_wins

    monkeypatch.setattr(tiles, "prefer_loop", forced)
    monkeypatch.setattr(plan, "cache_bytes", lambda: 800000)   # rounds of 4 to 8 steps
    monkeypatch.setattr(tiles, "SMALL_STATE", 0)               # threads even for these
    from stencilc.targets import bands
    monkeypatch.setattr(bands, "SMALL_CALL", 0)
    rng = np.random.default_rng(24)
    heat = make("heat", boundary="reflect", target=target)
    for u in (rng.random((300, 200)).astype(np.float32), rng.random((2, 150, 160))):
        alpha = u.dtype.type(0.2)
        expected, = loop(heat, (u,), (alpha,), 37)
        np.testing.assert_array_equal(heat.iterate(u, alpha, steps=37), expected)
    wave = make("wave", boundary=("nearest", "wrap"), target=target)
    u, u_prev, c = rng.random((2, 200, 150)), rng.random((2, 200, 150)), rng.random((200, 150))
    k = np.array([0.1, 0.3])
    for got, want in zip(wave.iterate(u, u_prev, c, k, steps=29), loop(wave, (u, u_prev),
                                                                        (c, k), 29)):
        np.testing.assert_array_equal(got, want)
    assert len(chosen) == 3 and all(t > 0 and l > 0 for t, l in chosen)


def test_rounds_of_two_steps_run_the_plain_loop(monkeypatch):
    """A round copies its regions in and tiles out (about one pass over the state) and saves
    k - 1 of k passes: at k = 2 tiles cannot pay (the 3-D Laplacian from 128³ ran 0.76-0.85x
    the loop), so the plain loop runs, with the loop's numbers."""
    from stencilc.stepping import tiles
    rounds = []
    real = tiles._rounds
    monkeypatch.setattr(tiles, "_rounds", lambda *a, **k: (rounds.append(1), real(*a, **k))[1])
    monkeypatch.setattr(tiles, "plan_tiles",
                        lambda core, *a, **k: plan.TilePlan(2, 1, (8,) * len(core)))
    heat = make("heat", boundary="nearest")
    u = np.random.default_rng(3).random((20, 30, 40))
    expected, = loop(heat, (u,), (0.1,), 9)
    np.testing.assert_array_equal(heat.iterate(u, 0.1, steps=9), expected)
    assert rounds == []


def test_parallel_tiles_follow_the_calls_thread_choice(monkeypatch):
    """Issue 24: where calls of a state's size have settled on one thread (a busy host), the
    parallel target's tiled rounds run in turn on the calling thread too; otherwise on
    threads. The loop's numbers either way."""
    from stencilc.stepping import tiles
    from stencilc.targets import cpu as cpu_targets
    monkeypatch.setattr(plan, "cache_bytes", lambda: 800000)
    monkeypatch.setattr(tiles, "SMALL_STATE", 0)
    threaded = []
    real = cpu_targets.run_tasks
    monkeypatch.setattr(cpu_targets, "run_tasks",
                        lambda tasks, threads: (threaded.append(len(tasks)),
                                                real(tasks, threads)))
    heat = make("heat", boundary="reflect", target="parallel")
    u = np.random.default_rng(3).random((300, 200)).astype(np.float32)
    alpha = np.float32(0.2)
    expected, = loop(heat, (u,), (alpha,), 12)
    kernel = heat.compile(u.dtype, alpha.dtype).kernel
    choice = kernel.choices[("rows", u.size.bit_length())]
    for settled in (False, True):
        choice.best = {True: 2.0, False: 1.0} if settled else {True: 1.0, False: 2.0}
        choice.trials = 2 * choice.TRIALS
        threaded.clear()
        np.testing.assert_array_equal(heat.iterate(u, alpha, steps=12, block_steps=4),
                                      expected)
        assert choice.settled_on_one_thread is settled
        assert bool(threaded) is not settled


def test_tile_buffers_are_reused_and_never_shared_while_held():
    """Regions come from one pool per run (fresh pages per tile cost a 7-step round of 8192²
    heat as much as its arithmetic): two held at once never overlap, and a buffer given back
    serves the next tile, of another dtype too."""
    from stencilc.stepping.tiles import Scratch
    scratch, held = Scratch(), []
    a = scratch.take((3, 50, 70), np.float32, held)
    b = scratch.take((3, 50, 70), np.float32, held)
    assert a.flags.c_contiguous and a.shape == (3, 50, 70) and a.dtype == np.float32
    assert not np.shares_memory(a, b)
    scratch.give(held)
    assert held == []
    again = []
    c = scratch.take((2, 30, 70), np.float64, again)   # 33600 bytes of 42000
    assert np.shares_memory(c, a) or np.shares_memory(c, b)
    d = scratch.take((1, 1, 1), np.int8, again)
    assert not np.shares_memory(c, d)
    scratch.give(again)
    for size in range(6000, 20000, 1000):   # ever larger requests, one at a time: the
        held = []                            # pool keeps no more buffers than held at once
        scratch.take((size,), np.float64, held)
        scratch.give(held)
        assert len(scratch) <= 2

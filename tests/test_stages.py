"""Each pipeline stage is inspectable and right: the IR after simplification, the generated
source, LLVM IR and assembly; typing errors point at the user's line; targets and array kinds
are plug-ins (a new one is a registry entry, nothing else)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi

from conftest import load_source
from stencilc import StencilTypingError, arrays, stencil_ufunc, targets
from stencilc.targets.cpu import CpuTarget

GOLDEN = Path(__file__).parent / "golden"

WEIGHTED = load_source("""
import numpy as np

W = np.array([0.25, 0.5, 0.25], np.float32)


def blur(x):
    acc = 0.0
    for j in range(-1, 2):
        acc += W[j + 1] * x[0, j]
    return acc
""")


def test_inspect_ir_shows_the_simplified_body():
    f = stencil_ufunc(boundary="nearest")(WEIGHTED.blur)
    assert f.inspect_ir() == "\n".join([
        f"kernel blur ({WEIGHTED.__file__}:7)",
        "  layout       (n,m)->(n,m)",
        "  neighborhood ((0, 0), (-1, 1))",
        "  arg x          relative core dims ('n', 'm')",
        "  body:",
        "    acc = 0.0",
        "    acc += _sc_np.float32(0.25) * x@[0, -1]",   # loop unrolled, weights folded,
        "    acc += _sc_np.float32(0.5) * x@[0, 0]",     # no dead `j = 1` left behind
        "    acc += _sc_np.float32(0.25) * x@[0, 1]",
        "    return acc"])
    x = np.random.default_rng(0).normal(size=(6, 9)).astype(np.float32)
    expected = ndi.correlate1d(x.astype(np.float64), [0.25, 0.5, 0.25], axis=1, mode="nearest")
    np.testing.assert_allclose(f(x), expected, rtol=1e-6)


def check_golden(name: str, text: str) -> None:
    """``text`` equals tests/golden/``name``; STENCILC_UPDATE_GOLDEN=1 rewrites the file
    (then review its diff: it is the generated code users read)."""
    path = GOLDEN / name
    if os.environ.get("STENCILC_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"generated text differs from {path}"


def test_generated_source_reads_as_a_person_would_write_it(target):
    """The whole module, against a reviewed copy: one unsigned index per axis and offset,
    hoisted; folded weights; no dead stores; this target's runtime module and no other. The
    cpu and parallel targets generate the same module (and so share its disk cache entry)."""
    f = stencil_ufunc(boundary="nearest", target=target)(WEIGHTED.blur)
    source = f.inspect_source("float32")
    compile(source, "<generated>", "exec")
    module = "cpu" if target == "parallel" else target
    check_golden(f"blur_nearest_float32_{module}.py",
                 source.replace(WEIGHTED.__file__, "<kernel file>"))


def test_inspect_llvm_and_asm_show_a_vectorized_inner_loop():
    smooth = load_source("""
def smooth(x):
    return (x[-1, -1] + x[-1, 0] + x[-1, 1] + x[0, -1] + x[0, 0] + x[0, 1] +
            x[1, -1] + x[1, 0] + x[1, 1]) // 9
""").smooth
    f = stencil_ufunc(smooth)
    llvm = f.inspect_llvm("int8")
    assert "define" in llvm and re.search(r"<\d+ x i(8|16|32|64)>", llvm), \
        "the interior loop did not vectorize"
    assert re.search(r"\b(v?pmov|vpadd|paddw|vpmul|pmul)\w*", f.inspect_asm("int8"))
    assert f.types == ["b->b"]


def test_a_typing_error_points_at_the_users_line_without_generated_code():
    kernel = load_source("import numpy as np\n\n\ndef k(x):\n    a = x[0] * 2\n"
                         "    return np.sort(a)\n").k
    f = stencil_ufunc(kernel)
    with pytest.raises(StencilTypingError) as info:
        f(np.arange(5.0))
    err = info.value
    assert isinstance(err, TypeError)
    assert err.lineno == 6 and err.offset == 5 and err.text.strip() == "return np.sort(a)"
    message = str(err)
    assert message.startswith("k: the kernel cannot be compiled for argument dtypes (float64)")
    assert "_sc_" not in message and "def " not in message
    assert f"at {err.filename}, line 6: return np.sort(a)" in message


def test_an_unknown_target_lists_the_registry_and_quotes_what_was_typed():
    def k(x):
        return x[0]

    with pytest.raises(ValueError) as info:
        stencil_ufunc(target="tpu")(k)
    message = str(info.value)
    assert "target='tpu'" in message
    for name in targets.names():
        assert repr(name) in message


def test_a_target_that_cannot_run_here_says_so_at_the_call():
    def k(x):
        return x[0]

    if targets.REGISTRY["cuda"].available():
        pytest.skip("the cuda target runs here")
    f = stencil_ufunc(target="gpu")(k)    # decorating, compiling and inspecting work
    assert f.target == "cuda"
    with pytest.raises(RuntimeError, match="no CUDA GPU here to run a target='cuda' kernel"):
        f(np.ones(4))
    for stepping in (f.iterate, lambda x, steps: list(f.trajectory(x, steps=steps, every=1))):
        # issue 21 bug 3: iterate raised numba's raw CudaSupportError ("Error at driver init")
        with pytest.raises(RuntimeError, match="no CUDA GPU here to run a target='cuda' kernel"):
            stepping(np.ones(4), steps=3)


@dataclass
class _RecordingTarget(CpuTarget):
    """A 'new target' made of one class and one registry entry: the CPU code under another
    name, counting its runs."""

    name: str = "recording"
    runs: int = 0

    def run(self, kernel, arrays, out):
        self.runs += 1
        return super().run(kernel, arrays, out)


def test_a_new_target_is_one_registry_entry():
    plugin = _RecordingTarget()
    targets.register(plugin)
    try:
        f = stencil_ufunc(boundary="wrap", target="recording")(WEIGHTED.blur)
        x = np.random.default_rng(1).normal(size=(5, 7)).astype(np.float32)
        expected = ndi.correlate1d(x, [0.25, 0.5, 0.25], axis=1, mode="wrap")
        np.testing.assert_allclose(f(x), expected, rtol=1e-6)
        assert plugin.runs == 1 and f.target == "recording"
    finally:
        del targets.REGISTRY["recording"]


class _Boxed:
    """A foreign array kind: a NumPy array in a box."""

    def __init__(self, data):
        self.data = np.asarray(data)


class _BoxedAdapter(arrays.PositionalAdapter):   # axes= comes with the base class
    name = "boxed"

    def owns(self, args):
        return any(isinstance(a, _Boxed) for a in args)

    def call(self, f, args, out):
        plain = [a.data if isinstance(a, _Boxed) else a for a in args]
        return _Boxed(f(*plain))


def test_a_new_array_kind_is_one_adapter_entry():
    arrays.register(_BoxedAdapter())
    try:
        f = stencil_ufunc(boundary="reflect")(WEIGHTED.blur)
        x = np.random.default_rng(2).normal(size=(4, 6)).astype(np.float32)
        result = f(_Boxed(x))
        assert isinstance(result, _Boxed)
        np.testing.assert_array_equal(result.data, f(x))
        assert [a.name for a in arrays.ADAPTERS][-1] == "numpy"   # the fallback stays last
        stepped = f.iterate(_Boxed(x), steps=3)      # the base class's loop of calls
        assert isinstance(stepped, _Boxed)
        np.testing.assert_array_equal(stepped.data, f(f(f(x))))
    finally:
        arrays.ADAPTERS[:] = [a for a in arrays.ADAPTERS if a.name != "boxed"]


@pytest.mark.parametrize("boundary", [None, "mirror"])
def test_every_array_kind_on_every_target_gives_scipys_numbers(target, xp, boundary):
    f = stencil_ufunc(boundary=boundary, target=target)(WEIGHTED.blur)
    x = np.random.default_rng(3).normal(size=(3, 8, 10)).astype(np.float32)
    result = np.asarray(f(xp(x)))
    expected = ndi.correlate1d(x, [0.25, 0.5, 0.25], axis=2, mode=boundary or "constant")
    if boundary is None:   # numba.stencil's rule: border outputs are cval
        expected[..., [0, -1]] = 0
    np.testing.assert_allclose(result, expected, rtol=1e-6)


@pytest.mark.parametrize("boundary", ["wrap", "mirror", ("nearest", None)], ids=str)
def test_chunked_dask_runs_the_kernel_already_compiled(boundary):
    """No second kernel for Dask: padded blocks run the specialization the NumPy call built
    (what its boundary rule makes of the blocks' own edges is trimmed away). Axes padded with
    cval are the exception (tests/test_semantics.py checks they raise no stray warnings)."""
    import dask.array as da

    f = stencil_ufunc(boundary=boundary, cval=3)(WEIGHTED.blur)
    x = np.random.default_rng(4).random((12, 13)).astype(np.float32)
    expected = f(x)
    assert f.compile_count == 1
    np.testing.assert_array_equal(f(da.from_array(x, chunks=(5, 4))).compute(), expected)
    assert f.compile_count == 1


def test_each_compiled_function_of_a_kernel_is_compiled_once():
    """The kernel's body is typed three times per specialization here, no more: the point
    function on its own (value types, corner points), inlined in the interior rows, which
    every gufunc shares - the parallel target's two included -, and reading through the last
    axis' rule for the rows' ends (this kernel reaches along the last axis only, so no border
    row needs ``_sc_point_leading``). No function is compiled a second time for other
    argument types (numba specializes on literal integers passed between compiled
    functions, which once compiled the edge function five times)."""
    import numba
    from stencilc.targets.cpu import ParallelTarget

    f = stencil_ufunc(boundary="reflect", target="parallel")(WEIGHTED.blur)
    x = np.random.default_rng(5).random((40, 30, 20)).astype(np.float32)
    kernel = f.compile(x.dtype).kernel
    assert ParallelTarget().run(kernel, [x], None).shape == x.shape            # blocks
    assert ParallelTarget().run(kernel, [x[0]], None).shape == x[0].shape      # rows
    module = kernel.get("rows").builder.py_func.__globals__
    compiled = {name: len(value.signatures) for name, value in module.items()
                if isinstance(value, numba.core.registry.CPUDispatcher)
                and value.py_func.__module__ == module["__name__"] and value.signatures}
    assert compiled == {"_sc_point": 1, "_sc_interior": 1, "_sc_point_last": 1}


SKEWED = load_source("""
def skewed(x):
    return x[-1, 2] + 2 * x[1, -1] - x[0, 0]
""")


@pytest.mark.parametrize("boundary", ["reflect", "constant"])
def test_a_band_of_rows_computes_those_rows_and_nothing_else(boundary):
    """The CPU gufunc's band inputs, which the parallel target's threads use: rows
    ``[start, stop)`` of axis 0 equal scipy's (border rows at either end included), every
    other row keeps what the output held."""
    f = stencil_ufunc(boundary=boundary, cval=3)(SKEWED.skewed)
    x = np.random.default_rng(6).integers(-9, 9, (2, 9, 7)).astype(np.float64)
    weights = np.zeros((1, 3, 5))
    weights[0, 0, 4], weights[0, 2, 1], weights[0, 1, 2] = 1, 2, -1
    expected = ndi.correlate(x, weights, mode=boundary, cval=3)
    specialization = f.compile(x.dtype)
    for start, stop in [(0, 1), (0, 3), (3, 7), (7, 9), (8, 9), (5, 5), (-4, 100)]:
        out = np.full_like(x, -77.0)
        specialization.kernel([x], (out,), band=(start, stop))
        rows = slice(max(start, 0), min(stop, 9))
        np.testing.assert_array_equal(out[:, rows], expected[:, rows])
        untouched = np.ones(9, bool)
        untouched[rows] = False
        assert (out[:, untouched] == -77.0).all()


BOOLEAN = load_source("""
def spread(x):
    return x[-1, 0] | x[1, 0] | x[0, -1] | x[0, 1]
""")


@pytest.mark.parametrize("boundary", [None, "constant"])
@pytest.mark.parametrize("cval", [True, False])
def test_boolean_cval_for_boolean_images(xp, boundary, cval):
    """cval=True/False with bool arrays, against NumPy slicing of the padded array."""
    f = stencil_ufunc(boundary=boundary, cval=cval)(BOOLEAN.spread)
    x = np.random.default_rng(4).random((2, 7, 9)) < 0.2
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)), constant_values=cval)
    expected = p[:, :-2, 1:-1] | p[:, 2:, 1:-1] | p[:, 1:-1, :-2] | p[:, 1:-1, 2:]
    if boundary is None:   # numba.stencil's rule: border outputs are cval
        expected[:, [0, -1], :] = cval
        expected[:, :, [0, -1]] = cval
    result = np.asarray(f(xp(x)))
    assert result.dtype == np.bool_
    np.testing.assert_array_equal(result, expected)


def test_a_long_compile_says_what_it_is_compiling(monkeypatch, caplog):
    """One line on the stencilc logger once a compile passes the threshold (2 s by default;
    0 here), naming the kernel, the dtypes and the target."""
    from stencilc import progress

    monkeypatch.setattr(progress, "SLOW_COMPILE_SECONDS", 0.0)
    kernel = load_source("def slow(x):\n    return x[-1] + x[1]\n").slow
    f = stencil_ufunc(boundary="wrap", cache=False)(kernel)
    with caplog.at_level("WARNING", logger="stencilc"):
        np.testing.assert_array_equal(f(np.arange(4.0)), [4.0, 2.0, 4.0, 2.0])
    lines = [r.getMessage() for r in caplog.records if r.name == "stencilc"]
    assert len(lines) == 1
    assert lines[0].startswith("stencilc: compiling kernel 'slow' for (float64) on target 'cpu'")


def test_parallel_uses_threads_only_where_the_clock_says_they_pay(monkeypatch):
    """Issue 24: `parallel` must not lose to `cpu` (small work, busy cores). Per size class
    it times both ways on its first calls, keeps the faster, and times again after RECHECK
    calls, then ever more rarely while the trials confirm the choice. A fake clock makes the
    times; the values are the cpu target's either way."""
    from stencilc.targets import cpu as cpu_targets
    clock = [0.0]
    cost = {True: 5.0, False: 1.0}           # threads slower: a busy host
    monkeypatch.setattr(cpu_targets.time, "perf_counter", lambda: clock[0])
    choice = cpu_targets.ThreadsOrNot()
    ran = []

    def call(threaded):
        ran.append(threaded)
        clock[0] += cost[threaded]
        return threaded

    for _ in range(10):
        choice.run(call)
    assert ran[:4] == [True, False, True, False] and set(ran[4:]) == {False}
    cost[True], cost[False] = 0.5, 1.0       # the host is idle again
    for _ in range(choice.RECHECK):
        choice.run(call)
    assert ran[-1] is True and choice.threaded
    cost[True] = 2.0                         # threads got 4x slower: three slow calls
    before = len(ran)                        # in a row start the trials again
    for _ in range(8):
        choice.run(call)
    assert ran[before:] == [True, True, True, True, False, True, False, False]
    assert not choice.threaded
    # one slow call is noise (a preempted thread): no trials
    before = len(ran)
    for slow in (False, True, False, False, True, False):
        choice.run(lambda threaded, slow=slow: (ran.append(threaded), clock.__setitem__(
            0, clock[0] + cost[threaded] * (3 if slow else 1))))
    assert ran[before:] == [False] * 6
    # trials that confirm the choice come twice as rarely each time, up to RECHECK_MAX
    before = len(ran)
    for _ in range(4000):
        choice.run(call)
    trial_calls = ran[before:].count(True)
    assert 2 * 4 <= trial_calls <= 2 * 8, trial_calls      # 64, 128, ..., 1024, 1024, ...
    assert choice.interval == choice.RECHECK_MAX
    # a call twice as large in the same size class is not "slower": times count per element
    before = len(ran)
    for work in (1, 2, 1, 2, 2):
        choice.run(lambda threaded: (ran.append(threaded),
                                     clock.__setitem__(0, clock[0] + cost[threaded] * work)),
                   work)
    assert ran[before:] == [False] * 5

    kernel = load_source("def k(x):\n    return x[-1, 0] + 2 * x[0, 1]\n").k
    parallel = stencil_ufunc(boundary="nearest", target="parallel")(kernel)
    serial = stencil_ufunc(boundary="nearest")(kernel)
    for x in (np.random.default_rng(1).random((1100, 1000)),
              np.random.default_rng(2).random((40, 60, 70))):
        for _ in range(5):                   # trials both ways, then the choice
            np.testing.assert_array_equal(parallel(x), serial(x))
    # the dispatch path is kept per (threads, shapes): the same as derived afresh, for any
    # thread count and shape, after the calls above filled the table
    compiled = parallel.compile(np.dtype(np.float64)).kernel
    for x in (np.zeros((1100, 1000)), np.zeros((40, 60, 70)), np.zeros((3, 5, 6))):
        for threads in (1, 2, 8):
            fresh = ("blocks" if cpu_targets._spread_blocks(compiled.ir, [x], threads)
                     else "rows", x.size)
            assert compiled.dispatch([x], threads) == fresh
            assert compiled.dispatch([x], threads) == fresh

"""cache=True: generated modules on disk, reused by numba's cache in a new process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import load_source
from stencilc import stencil_ufunc

# A fresh process: build the stencil, call it, report which numba functions of the generated
# module came from numba's disk cache, and the result.
SCRIPT = r"""
import json, sys
import numpy as np
from stencilc import stencil_ufunc

def smooth(x):
    return (x[-1, 0] + x[1, 0] + x[0, -1] + x[0, 1]) // 4

f = stencil_ufunc(boundary="reflect", cache=CACHE)(smooth)
y = f(np.arange(42, dtype=np.int16).reshape(6, 7))
hits = {}
for name, module in sys.modules.items():
    if name.startswith("stencilc_gen_"):
        for k, v in vars(module).items():
            if hasattr(v, "stats") and v.py_func.__module__ == name:
                hits[k] = [len(v.stats.cache_hits), len(v.stats.cache_misses)]
print(json.dumps({"hits": hits, "result": y.tolist()}))
"""


def _run(cache_dir, cache=True):
    script = SCRIPT.replace("CACHE", str(cache))
    path = cache_dir.parent / "kernel_script.py"      # the kernel needs a real source file
    path.write_text(script)
    env = dict(os.environ, STENCILC_CACHE_DIR=str(cache_dir))
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env,
                          check=True)
    return {**json.loads(done.stdout.splitlines()[-1]), "stderr": done.stderr}


def test_a_new_process_loads_compiled_code_from_the_disk_cache(tmp_path):
    cache_dir = tmp_path / "cache"
    first = _run(cache_dir)
    assert any(cache_dir.glob("stencilc_gen_*.py"))
    assert any((cache_dir / "__pycache__").glob("*.nbi"))
    assert first["hits"]["_sc_point"] == [0, 1]          # compiled, and written to the cache
    second = _run(cache_dir)
    assert second["hits"]["_sc_point"] == [1, 0]         # typed from the cache
    # nothing compiled: the border function is not even loaded, the cached gufunc has its code
    assert all(misses == 0 for _, misses in second["hits"].values())
    assert second["result"] == first["result"]
    x = np.arange(42, dtype=np.int16).reshape(6, 7)
    p = np.pad(x, 1, mode="symmetric").astype(np.int64)
    expected = (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]) // 4
    assert first["result"] == expected.tolist()


def test_cache_false_writes_nothing(tmp_path):
    cache_dir = tmp_path / "cache"
    result = _run(cache_dir, cache=False)
    assert not cache_dir.exists()
    assert result["hits"] == {}


def test_an_unusable_cache_folder_falls_back_to_compiling(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("STENCILC_CACHE_DIR", str(blocker))
    f = stencil_ufunc(load_source("def k(x):\n    return x[-1] * 3 + x[1]\n").k)
    with pytest.warns(RuntimeWarning, match="unusable"):
        got = f(np.arange(6.0))
    np.testing.assert_array_equal(got, [0, 2, 6, 10, 14, 0])


def test_processes_sharing_a_cache_compile_one_at_a_time(tmp_path, monkeypatch):
    """Guard against numba issue #10128: concurrent compiles of one gufunc into a shared cache
    can leave files that segfault every later load. A second process must wait for the lock."""
    import fcntl
    import time

    from stencilc import cache

    cache_dir = tmp_path / "cache"
    kernel_file = tmp_path / "locked_kernel.py"
    kernel_file.write_text("def k(x):\n    return x[-1] + 2 * x[1]\n")
    monkeypatch.setenv("STENCILC_CACHE_DIR", str(cache_dir))
    monkeypatch.syspath_prepend(str(tmp_path))
    f = stencil_ufunc(boundary="mirror")(__import__("locked_kernel").k)
    source = f.inspect_source("float64")
    name = cache.module_name(source)
    script = ("import numpy as np, sys\nsys.path.insert(0, sys.argv[1])\n"
              "from stencilc import stencil_ufunc\nimport locked_kernel\n"
              "f = stencil_ufunc(boundary='mirror')(locked_kernel.k)\n"
              "print(f(np.arange(5.0)).tolist())\n")
    with cache.compile_lock(name):
        child = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], text=True,
                                 stdout=subprocess.PIPE, env=dict(os.environ))
        time.sleep(3)
        assert child.poll() is None, "the second process compiled without waiting for the lock"
        lock_file = cache_dir / f"{name}.lock"
        assert lock_file.exists()
        with open(lock_file) as probe, pytest.raises(BlockingIOError):
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)   # still ours
    out, _ = child.communicate(timeout=120)
    assert child.returncode == 0
    x = np.arange(5.0)
    padded = np.pad(x, 1, mode="reflect")   # NumPy's "reflect" is scipy's "mirror"
    assert json.loads(out) == (padded[:-2] + 2 * padded[2:]).tolist()


def _expected_smooth() -> list:
    x = np.arange(42, dtype=np.int16).reshape(6, 7)
    p = np.pad(x, 1, mode="symmetric").astype(np.int64)
    return ((p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]) // 4).tolist()


def _damage(path, how: str, seed: int = 0) -> None:
    data = path.read_bytes()
    if how == "deleted":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "bit-flipped":      # one bit, somewhere past the first quarter of the file
        data = bytearray(data)
        position = len(data) // 4 + (seed * 7919) % max(1, 3 * len(data) // 4)
        data[position] ^= 1 << (seed % 8)
        path.write_bytes(bytes(data))
    else:   # empty
        path.write_bytes(b"")


def _entry(cache_dir):
    from stencilc import cache
    os.environ["STENCILC_CACHE_DIR"] = str(cache_dir)
    try:
        (name,) = {p.stem for p in cache_dir.glob("stencilc_gen_*.py")}
        return name, [p.relative_to(cache_dir) for p in cache.entry_files(name)], \
            cache.check_entry(name)
    finally:
        del os.environ["STENCILC_CACHE_DIR"]


DAMAGE = ["deleted", "truncated", "bit-flipped"]


#: every file meets one kind of damage per run (each recovery is a compile in a child, ~5 s):
#: the kinds rotate over the files; the long profile runs every kind on every file
@pytest.mark.parametrize("rotation", range(
    len(DAMAGE) if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 1))
def test_a_damaged_cache_entry_is_removed_and_compiled_again(tmp_path, rotation):
    """Issue 25: each file of a warm entry deleted, cut short, bit-flipped or emptied in turn
    (a full disk, a killed process, a bad sector). numba loads its files unchecked, and such
    damage crashed every later process (SIGSEGV); now the entry's manifest is checked before
    anything of it is loaded: the next process (a child: a crash would not take pytest down)
    warns, computes the right numbers and leaves a whole entry behind."""
    cache_dir = tmp_path / "cache"
    assert _run(cache_dir)["result"] == _expected_smooth()
    name, files, problem = _entry(cache_dir)
    assert problem is None and any(f.suffix == ".nbc" for f in files) and \
        any(f.name.startswith("guf-") for f in files)
    assert len(files) >= len(DAMAGE)
    for seed, relative in enumerate(files):
        _damage(cache_dir / relative, DAMAGE[(seed + rotation) % len(DAMAGE)], seed)
        recovered = _run(cache_dir)          # check=True: a crash fails the test here
        assert recovered["result"] == _expected_smooth(), relative
        assert "was damaged or incomplete" in recovered["stderr"], relative
        assert _entry(cache_dir)[2] is None, relative      # sealed again, whole


def test_a_compile_killed_before_the_manifest_is_written_is_not_loaded(tmp_path):
    cache_dir = tmp_path / "cache"
    _run(cache_dir)
    name, _, _ = _entry(cache_dir)
    (cache_dir / f"{name}.manifest").unlink()
    recovered = _run(cache_dir)
    assert recovered["result"] == _expected_smooth()
    assert "has no manifest" in recovered["stderr"]
    assert all(misses == 0 for _, misses in _run(cache_dir)["hits"].values())


def test_an_entry_numba_cannot_use_is_compiled_in_memory_whatever_it_raises(monkeypatch):
    """Issue 25 item 5: damage that passes the manifest (or an entry written by another
    numba) raised TypeError/UnicodeDecodeError as if the kernel were wrong; any failure of the
    on-disk compile that compiling in memory does not repeat is the cache's."""
    from stencilc import pipeline

    real = pipeline._compile
    calls = []

    def failing_on_disk(*args, on_disk):
        calls.append(on_disk)
        if on_disk:
            raise TypeError("argument list must be a tuple (simulated damaged entry)")
        return real(*args, on_disk=on_disk)

    monkeypatch.setattr(pipeline, "_compile", failing_on_disk)
    f = stencil_ufunc(load_source("def k(x):\n    return x[-1] - x[1]\n").k)
    with pytest.warns(RuntimeWarning, match="could not be used.*argument list"):
        got = f(np.arange(5.0))
    np.testing.assert_array_equal(got, [0, -2, -2, -2, 0])
    assert calls == [True, False]


def test_a_read_only_cache_folder_is_used_without_writing(tmp_path):
    cache_dir = tmp_path / "cache"
    _run(cache_dir)
    for path in [cache_dir, *cache_dir.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        if os.access(cache_dir, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        assert _run(cache_dir)["result"] == _expected_smooth()
    finally:
        for path in [cache_dir, *cache_dir.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_a_parallel_gufunc_that_cannot_load_from_the_cache_compiles_in_memory(monkeypatch):
    """The parallel target compiles each of its gufuncs on first use, after the pipeline's own
    damaged-cache retry has run: a failure to load from the disk cache there must still give
    the right numbers, with a warning, not numba's traceback."""
    import scipy.ndimage as ndi

    from stencilc.targets import cpu as cpu_target

    real = cpu_target._guvectorize
    attempts = []

    def failing_from_disk(module, generated, ir, arg_dtypes, out_dtypes, cache, target="cpu"):
        attempts.append(cache)
        if cache:
            raise EOFError("damaged cache index (simulated)")
        return real(module, generated, ir, arg_dtypes, out_dtypes, cache, target)

    monkeypatch.setattr(cpu_target, "_guvectorize", failing_from_disk)
    kernel = load_source("def k(x):\n    return x[-1, 0] - 2 * x[0, 1]\n").k
    f = stencil_ufunc(boundary="wrap", target="parallel")(kernel)
    x = np.random.default_rng(5).normal(size=(300, 200))
    with pytest.warns(RuntimeWarning, match="could not be used"):
        result = f(x)
    weights = np.zeros((3, 3))
    weights[0, 1], weights[1, 2] = 1, -2
    np.testing.assert_array_equal(result, ndi.correlate(x, weights, mode="wrap"))
    assert attempts == [True, False]


READ_ONLY_SCRIPT = r"""
import os, sys
import numpy as np
from numba.core import caching

# What numba finds for a package installed where this user cannot write, with a HOME that
# does not exist (a container's user nobody): no cache folder beside the package's files, and
# no user-wide one. (Run as root, the test cannot take the write bit away; this is the
# effect.) The writable STENCILC_CACHE_DIR stays usable, as it is for that user.
import stencilc
package = os.path.dirname(stencilc.__file__)
def locator(name):     # numba 0.61+ dropped the underscore
    return getattr(caching, name, None) or getattr(caching, "_" + name)

InTree, UserWide = locator("InTreeCacheLocator"), locator("UserWideCacheLocator")
in_tree = InTree.from_function.__func__

def read_only_install(cls, py_func, py_file):
    if os.path.realpath(py_file).startswith(os.path.realpath(package)):
        return None
    return in_tree(cls, py_func, py_file)

InTree.from_function = classmethod(read_only_install)
UserWide.from_function = classmethod(lambda cls, f, p: None)

sys.path.insert(0, sys.argv[1])
from stencilc import stencil_ufunc
import nobody_kernel
for cache in (False, True):
    f = stencil_ufunc(boundary="nearest", cache=cache)(nobody_kernel.k)
    print(f(np.arange(6.0)).tolist())
"""


def test_a_read_only_install_with_an_unwritable_home_compiles(tmp_path):
    """Issue 25 item 4: installed where the user cannot write, with a HOME that does not
    exist, every kernel failed ("cannot cache function 'nearest_index': no locator
    available"), even with cache=False. Now cache=False compiles in memory and cache=True
    uses the writable STENCILC_CACHE_DIR, without a warning."""
    (tmp_path / "nobody_kernel.py").write_text("def k(x):\n    return x[-1] + x[1]\n")
    cache_dir = tmp_path / "cache"
    env = dict(os.environ, HOME="/nonexistent", STENCILC_CACHE_DIR=str(cache_dir),
               XDG_CACHE_HOME="/nonexistent/.cache")
    env.pop("NUMBA_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", READ_ONLY_SCRIPT, str(tmp_path)], env=env,
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr
    padded = np.pad(np.arange(6.0), 1, mode="edge")
    expected = (padded[:-2] + padded[2:]).tolist()
    assert [json.loads(line) for line in done.stdout.splitlines()] == [expected, expected]
    assert any(cache_dir.glob("stencilc_gen_*.manifest"))


def test_a_change_to_the_runtime_code_names_new_modules(tmp_path, monkeypatch):
    """Generated kernels link in stencilc.runtime's compiled helpers without naming their
    code in their text: an edit there (a developer's, or a patched install with the same
    version) must not reuse kernels cached against the old helpers."""
    from stencilc import cache
    assert cache.RUNTIME_FILES and all(p.exists() for p in cache.RUNTIME_FILES)
    helper = tmp_path / "helper.py"
    helper.write_text("def twice(x):\n    return 2 * x\n")
    monkeypatch.setattr(cache, "RUNTIME_FILES", [helper])
    cache.runtime_digest.cache_clear()
    before = cache.module_name("kernel text")
    assert cache.module_name("kernel text") == before
    helper.write_text("def twice(x):\n    return x + x\n")
    cache.runtime_digest.cache_clear()
    assert cache.module_name("kernel text") != before
    monkeypatch.undo()
    cache.runtime_digest.cache_clear()

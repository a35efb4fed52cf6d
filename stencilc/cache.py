"""Generated modules on disk, so numba's ``cache=True`` can cache what stencilc compiles.

numba cannot cache functions created by ``exec``: its cache is keyed on a source file. So each
generated module is written to ``<cache dir>/<name>.py`` (the name is a hash of its text, which
holds every option, dtype and the versions involved), imported from there and registered in
``sys.modules``. Any failure to write or import falls back to an in-memory module: a broken or
read-only cache costs compile time, never correctness.

Compiling a specialization into the cache holds an exclusive lock file for its module, so
processes sharing a cache folder (Dask workers) compile it one at a time: numba's own cache
can write mismatched files for a gufunc compiled by two processes at once, after which every
load of it segfaults (numba issue #10128, open in numba 0.68).
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import linecache
import os
import sys
import tempfile
import threading
import types
import warnings
from pathlib import Path

import numba
import numpy as np

from ._version import __version__

_lock = threading.Lock()


def cache_dir() -> Path:
    """``$STENCILC_CACHE_DIR``, else ``$XDG_CACHE_HOME/stencilc``, else ``~/.cache/stencilc``."""
    explicit = os.environ.get("STENCILC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "stencilc"


def module_name(source: str) -> str:
    key = "\0".join([source, __version__, numba.__version__, np.__version__, sys.version])
    return "stencilc_gen_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def load_module(source: str, env: dict[str, object], *, on_disk: bool) -> types.ModuleType:
    """Import ``source`` as a module, with ``env`` as extra globals.

    With ``on_disk`` the module lives in the cache folder (shared by every kernel with the same
    text); otherwise it is a fresh in-memory module.
    """
    name = module_name(source)
    module = None
    if on_disk:
        with _lock:
            module = sys.modules.get(name)
            if module is None:
                module = _import_from_disk(name, source)
    if module is None:
        module = _import_in_memory(name, source)
    module.__dict__.update(env)
    return module


def _import_from_disk(name: str, source: str) -> types.ModuleType | None:
    folder = cache_dir()
    path = folder / f"{name}.py"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != source:
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "w") as handle:
                handle.write(source)
            os.replace(tmp, path)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    except Exception as exc:   # noqa: BLE001 - any cache fault falls back to compiling
        sys.modules.pop(name, None)
        warnings.warn(f"stencilc: cache folder {folder} unusable ({exc}); compiling in memory",
                      RuntimeWarning, stacklevel=4)
        return None


def _import_in_memory(name: str, source: str) -> types.ModuleType:
    filename = f"<stencilc:{name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def remove_entry(name: str) -> None:
    """Forget generated module ``name``: its source and numba's files for it (best effort)."""
    with _lock:
        sys.modules.pop(name, None)
    folder = cache_dir()
    for path in [folder / f"{name}.py", *(folder / "__pycache__").glob(f"{name}.*"),
                 *(folder / "__pycache__").glob(f"guf-{name}.*")]:
        try:
            path.unlink()
        except OSError:
            pass


@contextlib.contextmanager
def compile_lock(name: str):
    """Hold ``<cache dir>/<name>.lock`` exclusively (POSIX ``flock``; released by the OS if the
    process dies). Where no lock can be taken, go on without one."""
    try:
        import fcntl
    except ImportError:   # pragma: no cover - Windows: no flock
        yield
        return
    try:
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / f"{name}.lock", "a")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

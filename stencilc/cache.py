"""Generated modules on disk, so numba's ``cache=True`` can cache what stencilc compiles.

numba cannot cache functions created by ``exec``: its cache is keyed on a source file. So each
generated module is written to ``<cache dir>/<name>.py`` (the name is a hash of its text, which
holds every option, dtype and the versions involved, and of the runtime code kernels link
in), imported from there and registered in
``sys.modules``. Any failure to write or import falls back to an in-memory module: a broken or
read-only cache costs compile time, never correctness.

Compiling a specialization into the cache holds an exclusive lock file for its module, so
processes sharing a cache folder (Dask workers) compile it one at a time: numba's own cache
can write mismatched files for a gufunc compiled by two processes at once, after which every
load of it segfaults (numba issue #10128, open in numba 0.68).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
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
    key = "\0".join([source, __version__, numba.__version__, np.__version__, sys.version,
                     runtime_digest()])
    return "stencilc_gen_" + hashlib.sha256(key.encode()).hexdigest()[:24]


#: the code generated kernels link in without naming it in their text: compiled helpers
#: (boundary rules, narrowing intrinsics, generic_filter's values and their reductions)
RUNTIME_FILES = sorted((Path(__file__).parent / "runtime").glob("*.py")) + \
    [Path(__file__).parent / "boundary.py"]


@functools.lru_cache(maxsize=None)
def runtime_digest() -> str:
    """A hash of :data:`RUNTIME_FILES`, part of every module's name: a kernel cached against
    other runtime code is not reused (the version number alone missed a developer's edits:
    kernels kept calling numba's max after stencilc.runtime.values changed)."""
    digest = hashlib.sha256()
    for path in RUNTIME_FILES:
        digest.update(path.name.encode() + b"\0")
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
    return digest.hexdigest()


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
        # compiled from the text in hand, not through the import system: no bytecode file is
        # written (the entry is numba's files and the source), and numba reads this file
        exec(compile(source, str(path), "exec"), module.__dict__)
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


def entry_files(name: str) -> list[Path]:
    """The files of generated module ``name`` in the cache folder: its source and numba's
    index (``.nbi``) and code (``.nbc``) files for each of its functions and gufuncs (and a
    ``.pyc`` an older stencilc wrote). Not its lock file or its manifest."""
    folder = cache_dir()
    pycache = folder / "__pycache__"
    found = [folder / f"{name}.py", *pycache.glob(f"{name}.*"), *pycache.glob(f"guf-{name}.*")]
    return sorted(path for path in found if path.is_file())


def _manifest_path(name: str) -> Path:
    return cache_dir() / f"{name}.manifest"


def _digest(path: Path) -> list:
    data = path.read_bytes()
    return [len(data), hashlib.sha256(data).hexdigest()]


def check_entry(name: str) -> str | None:
    """Why the cache entry of ``name`` must not be loaded, or None when it is whole (or holds
    nothing compiled yet). Whole means: every file the entry holds is listed in its manifest
    with the size and SHA-256 it had when the manifest was written, and every listed file is
    there. numba loads its files without such a check, and a damaged one can crash the process
    (a segfault, not an exception), so nothing of an entry is loaded before this passes."""
    files = entry_files(name)
    compiled = [p for p in files if p.suffix in (".nbi", ".nbc")]
    try:
        text = _manifest_path(name).read_text()
    except FileNotFoundError:
        return f"{compiled[0].name} has no manifest (a compile that never finished)" \
            if compiled else None
    except OSError as exc:
        return f"its manifest cannot be read ({exc})"
    try:
        listed = json.loads(text)
        listed = {str(k): list(v) for k, v in listed.items()}
    except (ValueError, TypeError, AttributeError):
        return "its manifest is damaged"
    root = cache_dir()
    present = {str(p.relative_to(root)): p for p in files}
    for relative, path in present.items():
        if relative not in listed:
            return f"{relative} is not in its manifest"
        try:
            if _digest(path) != listed[relative]:
                return f"{relative} changed since it was written"
        except OSError as exc:
            return f"{relative} cannot be read ({exc})"
    missing = sorted(set(listed) - set(present))
    return f"{missing[0]} is missing" if missing else None


def seal_entry(name: str) -> None:
    """Write the manifest of ``name``'s entry as it is now (after a compile, under the entry's
    lock): written last, replaced atomically, so an entry is whole only once every file is."""
    root = cache_dir()
    try:
        listed = {str(p.relative_to(root)): _digest(p) for p in entry_files(name)}
        fd, tmp = tempfile.mkstemp(dir=root, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(listed, handle)
        os.replace(tmp, _manifest_path(name))
    except OSError:
        pass   # a read-only cache: the entry stays unsealed and is compiled in memory


def validate_entry(name: str, kernel: str) -> None:
    """Remove the entry of ``name`` if :func:`check_entry` finds it damaged or partial, with
    a ``RuntimeWarning`` where numba's files were involved (the caller then compiles it
    again). Hold :func:`compile_lock` while calling this and until the entry is sealed."""
    reason = check_entry(name)
    if reason is None:
        return
    if any(p.suffix in (".nbi", ".nbc") for p in entry_files(name)):
        warnings.warn(f"stencilc: the cache entry for {kernel} was damaged or incomplete "
                      f"({reason}); removed it and compiling again", RuntimeWarning,
                      stacklevel=5)
    remove_entry(name)


def remove_entry(name: str) -> None:
    """Forget generated module ``name``: its source, numba's files for it and its manifest
    (best effort)."""
    with _lock:
        sys.modules.pop(name, None)
    for path in [*entry_files(name), _manifest_path(name)]:
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

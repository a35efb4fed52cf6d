"""Shared test helpers: hypothesis profiles and kernels built from source text."""
from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import tempfile
import textwrap
from pathlib import Path

from hypothesis import HealthCheck, settings

# Compiling a kernel takes ~0.3 s, so examples are few in CI and many in the long profile.
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

_SOURCE_DIR = Path(tempfile.mkdtemp(prefix="stencilc-test-kernels-"))
_counter = itertools.count()


def load_source(source: str, name: str | None = None, namespace: dict | None = None):
    """Write ``source`` to a fresh module file, import it, and return the module.

    Kernels must live in real files: stencilc reads a kernel's source text, and errors must
    point at real file names and line numbers.
    """
    module_name = f"stencilc_test_kernels_{next(_counter)}"
    path = _SOURCE_DIR / f"{module_name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(namespace or {})
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


# --- fixtures over what the registries hold -------------------------------------------------

import pytest  # noqa: E402

from stencilc import targets as _targets  # noqa: E402

#: every registered target that can run here; each kernel test runs on each of them
TARGETS = [name for name, target in _targets.REGISTRY.items() if target.available()]


@pytest.fixture(params=TARGETS)
def target(request) -> str:
    """The name of each registered target in turn."""
    return request.param


def _to_numpy(x):
    return x


def _to_dask(x):
    import dask.array as da
    import numpy as np
    x = np.asarray(x)
    return da.from_array(x, chunks=tuple(max(1, (n + 1) // 2) for n in x.shape))


#: array kinds with an adapter, as (name, make an array of that kind from a NumPy one)
ARRAY_KINDS = {"numpy": _to_numpy, "dask": _to_dask}


@pytest.fixture(params=list(ARRAY_KINDS))
def xp(request):
    """Turns a NumPy array into each supported array kind in turn (``xp(x)``); results come
    back to NumPy with ``np.asarray``."""
    return ARRAY_KINDS[request.param]

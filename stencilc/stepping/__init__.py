"""Time stepping's building blocks (docs/iterate.md): what a target needs to advance a state
many steps (:class:`Stepping`), the checks ``f.iterate`` adds to a call's, the cache-tile
plan, and the CPU's temporal blocking (:mod:`.tiles`). ``f.iterate`` and ``f.trajectory``
(:mod:`stencilc.ufunc`) hand each call to its array adapter's ``iterate_with``; the Dask
rounds live with the Dask adapter (:mod:`stencilc.arrays.dask_iterate`).
"""
from __future__ import annotations

from .checks import check_count, check_roles, check_state
from .loop import iterate_by_calls
from .plan import Reach
from .problem import Stepping, advance

__all__ = ["Reach", "Stepping", "advance", "check_count", "check_roles", "check_state",
           "iterate_by_calls"]

"""Selection networks: the compare-exchanges that put chosen ranks of n values in place.

A network is a fixed sequence of compare-exchanges ``(i, j)``, ``i < j``, each leaving the
smaller value at ``i`` and the larger at ``j``. It has no branches, so a compiler computes it
for many output points at once (SIMD lanes on a CPU, threads on a GPU), where a quickselect
per point (numba's ``np.median``) branches on the data and vectorizes nothing.

Batcher's odd-even merge sort on the next power of two, with the compare-exchanges that touch
a padding position dropped (the padding holds +infinity, which no compare-exchange moves
down), then only those a wanted rank depends on kept.
"""
from __future__ import annotations

Exchange = tuple[int, int]


def _batcher(size: int) -> list[Exchange]:
    """Batcher's odd-even merge sort of ``size`` (a power of two) positions."""
    exchanges: list[Exchange] = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        exchanges.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return exchanges


def sorting_network(n: int) -> list[Exchange]:
    """The compare-exchanges that sort ``n`` positions."""
    size = 1
    while size < n:
        size *= 2
    return [(i, j) for i, j in _batcher(size) if j < n]


def selection_network(n: int, ranks: tuple[int, ...]) -> list[Exchange]:
    """The compare-exchanges of :func:`sorting_network` that the values at ``ranks`` (0 the
    smallest) depend on, in order."""
    needed = set(ranks)
    kept: list[Exchange] = []
    for i, j in reversed(sorting_network(n)):
        if i in needed or j in needed:
            kept.append((i, j))
            needed.update((i, j))
    return kept[::-1]


def median_ranks(n: int) -> tuple[int, ...]:
    """The ranks whose values make the median of ``n`` values (NumPy's definition: the middle
    one, or the mean of the two middle ones)."""
    return (n // 2,) if n % 2 else (n // 2 - 1, n // 2)

"""``stencil_ufunc``: the decorator, its call forms and options (docs/design.md 1.1)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from .options import Options
from .ufunc import StencilUFunc


def stencil_ufunc(*args: Any, signature: str | None = None, target: str = "cpu",
                  boundary: str | None | Sequence[str | None] | dict[str, str | None] = None,
                  cval: complex = 0, neighborhood: Sequence[tuple[int, int]] | None = None,
                  standard_indexing: Sequence[str] = (), out_dtype: Any = None,
                  cache: bool = True, fastmath: bool = False):
    """Compile a stencil kernel into a dtype-generic generalized ufunc.

    Call forms::

        @stencil_ufunc                                   # everything inferred
        @stencil_ufunc("(n,m)->(n,m)", boundary="reflect")
        @stencil_ufunc([(numba.int8[:, :], numba.int8[:, :])], "(n,m)->(n,m)")  # eager types

    The kernel reads its inputs relative to the output point (``x[-1, 0]``) and returns the
    output value (a tuple for several outputs). See ``docs/kernel-language.md`` for the
    language, ``docs/boundaries.md`` for ``boundary``/``cval`` and ``docs/dtypes.md`` for
    ``out_dtype``.

    Parameters
    ----------
    signature : str, optional
        gufunc layout such as ``"(n,m),()->(n,m)"``; inferred from the body when omitted.
    types : list, optional
        numba-style specializations compiled at decoration time; other dtypes still compile
        lazily on first use.
    target : {"cpu", "parallel", "cuda"}
        ``"cpu"`` runs single-threaded per call; ``"parallel"`` uses every core; ``"cuda"``
        (alias ``"gpu"``) runs on an NVIDIA GPU. ``stencilc targets`` lists them.
    boundary : {None, "constant", "nearest", "reflect", "mirror", "wrap"}, a tuple, or a dict
        What the kernel reads outside the array. ``None`` (numba.stencil's rule) does not
        evaluate the kernel where the neighbourhood does not fit, and sets those outputs to
        ``cval``; the other modes are scipy.ndimage's. A tuple gives one mode per core axis,
        e.g. ``("nearest", "wrap")`` for latitude clamped and longitude periodic; a dict gives
        them by dimension name, e.g. ``{"lat": "nearest", "lon": "wrap"}`` (xarray's names,
        or the signature's).
    cval : number
        The border value for ``boundary=None`` and the outside value for ``"constant"``,
        converted to the dtype it is stored in by one rule (``docs/boundaries.md``); NaN or
        infinity into an integer dtype is a ``ValueError``.
    neighborhood : ((lo, hi), ...), optional
        Per-axis offset bounds, needed only for offsets stencilc cannot infer.
    standard_indexing : sequence of str
        Array arguments read with absolute indices (weights, lookup tables).
    out_dtype : None, "kernel", dtype or sequence of dtypes
        ``None``: ``np.result_type`` of the array inputs; ``"kernel"``: the type the return
        expression computes (what numba.stencil returns); or an explicit dtype.
    cache : bool
        Keep compiled code on disk (``$STENCILC_CACHE_DIR``), so new processes start fast.
    fastmath : bool
        Let LLVM reassociate floating point arithmetic (results may change in the last bits).
    """
    options = dict(target=target, boundary=boundary, cval=cval, neighborhood=neighborhood,
                   standard_indexing=standard_indexing, out_dtype=out_dtype, cache=cache,
                   fastmath=fastmath)
    if len(args) == 1 and callable(args[0]) and not isinstance(args[0], str):
        return StencilUFunc(args[0], Options(**options))
    eager = ()
    if args and signature is not None:
        raise TypeError("stencil_ufunc() got the signature both by position and by keyword")
    if len(args) == 1:
        signature = args[0]
    elif len(args) == 2:
        eager, signature = args
        if not isinstance(eager, (list, tuple)):
            raise TypeError("types must be a list of specializations, e.g. "
                            "[(numba.int8[:, :], numba.int8[:, :])]")
    elif len(args) > 2:
        raise TypeError(f"stencil_ufunc() takes at most 2 positional arguments "
                        f"({len(args)} given)")
    if signature is not None and not isinstance(signature, str):
        raise TypeError(f"signature must be a string like '(n,m)->(n,m)', "
                        f"not {type(signature).__name__}")

    def decorate(func: Callable) -> StencilUFunc:
        return StencilUFunc(func, Options(signature=signature, **options), eager)

    return decorate

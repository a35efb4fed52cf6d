"""Linear filters: correlations with run-time weights, and the filters scipy.ndimage builds
from them (uniform, Gaussian, Sobel, Prewitt, Laplace), pass by pass as scipy runs them, so
every intermediate is stored in the output's dtype as there and results are scipy's."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import _params
from ._dask import one_overlap
from ._arrays import Prepared, elementwise, prepare
from ._kernels import all_modes, kernel, offsets, read, spread, variant

#: scipy's threshold for "the same weight" and for "a zero weight"
EPSILON = np.finfo(np.float64).eps


def _weights(weights: Any, what: str = "weights") -> np.ndarray:
    found = np.asarray(weights)
    if found.dtype.kind == "c":
        raise TypeError(f"complex {what} are not supported (complex inputs are)")
    found = np.ascontiguousarray(found, dtype=np.float64)
    if found.size == 0:
        raise ValueError(f"no filter {what} given")
    return found


def _symmetry(w: np.ndarray) -> int:
    """+1 for symmetric, -1 for antisymmetric odd-length weights, else 0: scipy's test, which
    picks the order of its additions."""
    size = len(w)
    if size % 2 == 0:
        return 0
    c = size // 2
    if all(abs(w[c + i] - w[c - i]) <= EPSILON for i in range(1, c + 1)):
        return 1
    if all(abs(w[c + i] + w[c - i]) <= EPSILON for i in range(1, c + 1)):
        return -1
    return 0


def _as_float(kind: str) -> str:
    return "np.complex128" if kind == "c" else "np.float64"


def _stored(value: str, out_dtype: np.dtype) -> str:
    """The kernel's return expression for a float64 ``value`` stored in ``out_dtype`` as
    scipy's C cast stores it on x86-64: truncated toward zero into a 32-bit integer (64-bit
    for uint32 and 64-bit outputs), then wrapped to the output's width (a negative value into
    an unsigned output wraps, as there). 32 bits where they do keep the conversion
    vectorized on AVX2, which has no float64 -> int64 instruction. A bool output is the byte
    that cast leaves, read as a bool (0.5 and 256.0 are False there)."""
    if out_dtype.kind == "b":
        return f"(np.int32({value}) & 255) != 0"
    if out_dtype.kind not in "iu":
        return value
    if out_dtype.itemsize < 4 or out_dtype == np.int32:
        return f"np.int32({value})"
    if out_dtype == np.uint64:       # past 2**63 the int64 step alone would overflow
        high = "9223372036854775808"
        low = f"({value} if {value} < {high}.0 else {value} - {high}.0)"
        return f"np.uint64(np.int64({low})) + " \
               f"(np.uint64({high}) if {value} >= {high}.0 else np.uint64(0))"
    return f"np.int64({value})"


def _correlate1d_text(size: int, origin: int, symmetry: int, kind: str, axis: int,
                      ndim: int, out_dtype: np.dtype) -> str:
    """A 1-D correlation along ``axis`` whose additions are scipy's: the centre tap, then
    pairs of taps from the outside in (symmetric weights), or the last tap, then the others
    in order."""
    at = [read("x", spread((o,), (axis,), ndim)) for o in offsets(size, origin)]
    f = _as_float(kind)
    c = size // 2
    lines = [f"def correlate1d_{size}_axis{axis}of{ndim}(x, w):"]
    if symmetry:
        op = "+" if symmetry > 0 else "-"
        lines.append(f"    acc = {f}({at[c]}) * w[{c}]")
        lines += [f"    acc += ({f}({at[c + j]}) {op} {f}({at[c - j]})) * w[{c + j}]"
                  for j in range(-c, 0)]
    else:
        lines.append(f"    acc = {f}({at[-1]}) * w[{size - 1}]")
        lines += [f"    acc += {f}({at[k]}) * w[{k}]" for k in range(size - 1)]
    lines.append(f"    return {_stored('acc', out_dtype)}")
    return "\n".join(lines) + "\n"


def _correlate_text(shape: tuple[int, ...], origins: list[int], kind: str,
                    axes: tuple[int, ...], ndim: int, out_dtype: np.dtype) -> str:
    """An N-D correlation: every weight in C order, each product added to a float64 sum
    started at zero, as scipy does."""
    names = [f"i{d}" for d in range(len(shape))]
    shift = [size // 2 + o for size, o in zip(shape, origins)]
    lines = [f"def correlate_{'x'.join(map(str, shape))}_of{ndim}(x, w):",
             f"    acc = {'0j' if kind == 'c' else '0.0'}"]
    indent = "    "
    for name, size in zip(names, shape):
        lines.append(f"{indent}for {name} in range({size}):")
        indent += "    "
    reads = ["0"] * ndim
    for axis, name, s in zip(axes, names, shift):
        reads[axis] = f"{name} - {s}"
    lines.append(f"{indent}acc += w[{', '.join(names)}] * x[{', '.join(reads)}]")
    lines.append(f"    return {_stored('acc', out_dtype)}")
    return "\n".join(lines) + "\n"


def _uniform1d_text(size: int, origin: int, kind: str, axis: int, ndim: int,
                    out_dtype: np.dtype) -> str:
    """The mean of ``size`` taps along ``axis``: a float64 sum from zero in order, divided by
    the size."""
    adds = "".join(f"    acc += {read('x', spread((o,), (axis,), ndim))}\n"
                   for o in offsets(size, origin))
    return (f"def uniform1d_{size}_axis{axis}of{ndim}(x):\n"
            f"    acc = {'0j' if kind == 'c' else '0.0'}\n{adds}"
            f"    mean = acc / {size}\n    return {_stored('mean', out_dtype)}\n")


def _float_input(p: Prepared, modes: list[str], cval: Any) -> Prepared:
    """scipy's linear filters read ``cval`` as a float64; where the input's dtype cannot hold
    it, the input is read as float64 too (same values, and ``cval`` then fits)."""
    if "constant" in modes and not _params.cval_fits(cval, p.dtype):
        return p.as_float64()
    return p


def _pass1d(p: Prepared, make_text: Callable[[str], str], args: tuple, axis: int,
            mode: str, cval: Any, out_dtype: np.dtype, standard=()) -> Any:
    """One 1-D pass along ``axis``: the data filtered, as an array of ``out_dtype``;
    ``make_text`` gives the kernel's text for the (possibly widened) input's dtype kind."""
    p = _float_input(p, [mode], cval)
    base = kernel(make_text(p.dtype.kind), p.target, standard)
    f = variant(base, all_modes((mode,), (axis,), p.ndim), cval, out_dtype)
    return f(p.data, *args)


def correlate1d_data(p: Prepared, weights: np.ndarray, axis: int, mode: str, cval: Any,
                     origin: int, out_dtype: np.dtype) -> Any:
    symmetry = _symmetry(weights)
    return _pass1d(p, lambda kind: _correlate1d_text(len(weights), origin, symmetry, kind,
                                                     axis, p.ndim, out_dtype),
                   (weights,), axis, mode, cval, out_dtype, ("w",))


def correlate1d(input: Any, weights: Any, axis: int = -1, output: Any = None,
                mode: str = "reflect", cval: float = 0.0, origin: int = 0, *,
                target: str | None = None) -> Any:
    """1-D correlation along ``axis``: ``scipy.ndimage.correlate1d``'s values."""
    p = prepare(input, target)
    w = _weights(weights)
    if w.ndim != 1:
        raise ValueError(f"weights must be 1-D, not {w.ndim}-D")
    axis = p.axes(axis)[0]
    origin = _params.origins(origin, [len(w)])[0]
    out_dtype = _params.output_dtype(output, p.dtype)
    result = correlate1d_data(p, w, axis, _params.mode(mode), cval, origin, out_dtype)
    return p.finish(result, output)


def convolve1d(input: Any, weights: Any, axis: int = -1, output: Any = None,
               mode: str = "reflect", cval: float = 0.0, origin: int = 0, *,
               target: str | None = None) -> Any:
    """1-D convolution along ``axis``: ``scipy.ndimage.convolve1d``'s values."""
    w = _weights(weights)[::-1]
    origin = -_params.integer(origin, "origin")
    if not len(w) & 1:
        origin -= 1
    return correlate1d(input, w, axis, output, mode, cval, origin, target=target)


def _correlate_or_convolve(input, weights, output, mode, cval, origin, axes, target,
                           convolution: bool) -> Any:
    p = prepare(input, target)
    axes = p.axes(axes)
    w = _weights(weights)
    if w.ndim != len(axes):
        raise ValueError(f"weights has {w.ndim} dimension(s), but {len(axes)} axes are "
                         "filtered; give weights with one dimension per filtered axis")
    origins = _params.origins(origin, w.shape) if not convolution else \
        [-o - (0 if size & 1 else 1) for o, size in
         zip(_params.sequence(origin, w.ndim, "origin"), w.shape)]
    if convolution:
        w = w[(slice(None, None, -1),) * w.ndim]
        _params.origins(origins, w.shape)
    w = np.where(np.abs(w) > EPSILON, w, 0.0)    # scipy skips these weights (a new array)
    modes = _params.modes(mode, len(axes))
    out_dtype = _params.output_dtype(output, p.dtype)
    p = _float_input(p, modes, cval)
    text = _correlate_text(w.shape, origins, p.dtype.kind, axes, p.ndim, out_dtype)
    base = kernel(text, p.target, ("w",))
    result = variant(base, all_modes(modes, axes, p.ndim), cval, out_dtype)(p.data, w)
    return p.finish(result, output)


def correlate(input: Any, weights: Any, output: Any = None, mode: str = "reflect",
              cval: float = 0.0, origin: Any = 0, *, axes: Any = None,
              target: str | None = None) -> Any:
    """N-D correlation: ``scipy.ndimage.correlate``'s values (``mode`` may also be one per
    axis). A new weights array of the same shape compiles nothing new."""
    return _correlate_or_convolve(input, weights, output, mode, cval, origin, axes, target,
                                  convolution=False)


def convolve(input: Any, weights: Any, output: Any = None, mode: str = "reflect",
             cval: float = 0.0, origin: Any = 0, *, axes: Any = None,
             target: str | None = None) -> Any:
    """N-D convolution: ``scipy.ndimage.convolve``'s values."""
    return _correlate_or_convolve(input, weights, output, mode, cval, origin, axes, target,
                                  convolution=True)


def uniform_filter1d(input: Any, size: int, axis: int = -1, output: Any = None,
                     mode: str = "reflect", cval: float = 0.0, origin: int = 0, *,
                     target: str | None = None) -> Any:
    """Moving mean along ``axis``: ``scipy.ndimage.uniform_filter1d``'s values."""
    p = prepare(input, target)
    size = _params.sizes(size, 1)[0]
    axis = p.axes(axis)[0]
    origin = _params.origins(origin, [size])[0]
    out_dtype = _params.output_dtype(output, p.dtype)
    return p.finish(_pass1d(p, lambda kind: _uniform1d_text(size, origin, kind, axis, p.ndim,
                                                          out_dtype),
                            (), axis, _params.mode(mode), cval, out_dtype), output)


def _separable(p: Prepared, passes: list[tuple], output: Any,
               run: Callable[[Prepared, tuple, np.dtype], Any]) -> Any:
    """scipy's multi-axis filters: one 1-D pass per entry of ``passes``, each reading the
    previous pass's result (stored in the output dtype); no pass copies the input."""
    out_dtype = _params.output_dtype(output, p.dtype)
    current = p
    for entry in passes:
        current = current.with_data(run(current, entry, out_dtype))
    data = current.data if passes else elementwise("cast", (p.data,), out_dtype, p.target)
    return p.finish(data, output)


@one_overlap
def uniform_filter(input: Any, size: Any = 3, output: Any = None, mode: Any = "reflect",
                   cval: float = 0.0, origin: Any = 0, *, axes: Any = None,
                   target: str | None = None) -> Any:
    """Moving mean over a box: ``scipy.ndimage.uniform_filter``'s values."""
    p = prepare(input, target)
    axes = p.axes(axes)
    sizes = _params.sizes(size, len(axes))
    origins = _params.origins(origin, sizes)
    modes = _params.modes(mode, len(axes))
    passes = [entry for entry in zip(axes, sizes, origins, modes) if entry[1] > 1]

    def run(q: Prepared, entry: tuple, out_dtype: np.dtype) -> Any:
        axis, size, origin, mode = entry
        return _pass1d(q, lambda kind: _uniform1d_text(size, origin, kind, axis, q.ndim,
                                                       out_dtype), (),
                       axis, mode, cval, out_dtype)
    return _separable(p, passes, output, run)


def gaussian_weights(sigma: float, order: int, radius: int) -> np.ndarray:
    """The 1-D Gaussian (``order`` 0) or its ``order``-th derivative, sampled at
    ``-radius..radius`` and normalized as scipy.ndimage does, in correlation order."""
    if order < 0:
        raise ValueError(f"order={order}: the derivative order must be 0 or more")
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x ** 2)
    phi = phi / phi.sum()
    if order:
        # the n-th derivative of exp(-x^2 / 2s^2) is poly_n(x) times it, with
        # poly_{n+1} = poly_n' - x poly_n / s^2 (coefficients by increasing power)
        poly = np.zeros(order + 1)
        poly[0] = 1.0
        for _ in range(order):
            derivative = np.append(poly[1:] * np.arange(1, order + 1), 0.0)
            poly = derivative - np.append(0.0, poly[:-1]) / (sigma * sigma)
        phi = (x[:, None] ** np.arange(order + 1)).dot(poly) * phi
    return phi[::-1]


def _gaussian_radius(sigma: float, truncate: float, radius: Any) -> int:
    if radius is not None:
        radius = _params.integer(radius, "radius")
        if radius < 0:
            raise ValueError(f"radius={radius} must be 0 or more")
        return radius
    return int(truncate * float(sigma) + 0.5)


def gaussian_filter1d(input: Any, sigma: float, axis: int = -1, order: int = 0,
                      output: Any = None, mode: str = "reflect", cval: float = 0.0,
                      truncate: float = 4.0, *, radius: int | None = None,
                      target: str | None = None) -> Any:
    """1-D Gaussian filter (or derivative): ``scipy.ndimage.gaussian_filter1d``'s values."""
    p = prepare(input, target)
    axis = p.axes(axis)[0]
    w = gaussian_weights(float(sigma), _params.integer(order, "order"),
                         _gaussian_radius(sigma, truncate, radius))
    out_dtype = _params.output_dtype(output, p.dtype)
    return p.finish(correlate1d_data(p, w, axis, _params.mode(mode), cval, 0, out_dtype),
                    output)


def _gaussian_data(p: Prepared, sigma, order, mode, cval, truncate, radius, axes,
                   out_dtype: np.dtype) -> Any:
    sigmas = _params.sequence(sigma, len(axes), "sigma")
    orders = [_params.integer(o, "order") for o in _params.sequence(order, len(axes), "order")]
    modes = _params.modes(mode, len(axes))
    radii = _params.sequence(radius, len(axes), "radius")
    current = p
    for axis, s, o, m, r in zip(axes, sigmas, orders, modes, radii):
        if float(s) > 1e-15:
            w = gaussian_weights(float(s), o, _gaussian_radius(s, truncate, r))
            current = current.with_data(correlate1d_data(current, w, axis, m, cval, 0,
                                                         out_dtype))
    return current.data if current is not p else \
        elementwise("cast", (p.data,), out_dtype, p.target)


@one_overlap
def gaussian_filter(input: Any, sigma: Any, order: Any = 0, output: Any = None,
                    mode: Any = "reflect", cval: float = 0.0, truncate: float = 4.0, *,
                    radius: Any = None, axes: Any = None, target: str | None = None) -> Any:
    """Gaussian filter (or derivatives), one 1-D pass per axis:
    ``scipy.ndimage.gaussian_filter``'s values."""
    p = prepare(input, target)
    axes = p.axes(axes)
    out_dtype = _params.output_dtype(output, p.dtype)
    return p.finish(_gaussian_data(p, sigma, order, mode, cval, truncate, radius, axes,
                                   out_dtype), output)


def _derivative_filter(input, axis, output, mode, cval, target, smooth: list[float]) -> Any:
    p = prepare(input, target)
    axis = p.axes(axis)[0]
    modes = _params.modes(mode, p.ndim)
    out_dtype = _params.output_dtype(output, p.dtype)
    current = p.with_data(correlate1d_data(p, np.array([-1.0, 0.0, 1.0]), axis, modes[axis],
                                           cval, 0, out_dtype))
    for other in range(p.ndim):
        if other != axis:
            current = current.with_data(correlate1d_data(current, np.array(smooth), other,
                                                         modes[other], cval, 0, out_dtype))
    return p.finish(current.data, output)


@one_overlap
def sobel(input: Any, axis: int = -1, output: Any = None, mode: Any = "reflect",
          cval: float = 0.0, *, target: str | None = None) -> Any:
    """Sobel derivative along ``axis``: ``scipy.ndimage.sobel``'s values."""
    return _derivative_filter(input, axis, output, mode, cval, target, [1.0, 2.0, 1.0])


@one_overlap
def prewitt(input: Any, axis: int = -1, output: Any = None, mode: Any = "reflect",
            cval: float = 0.0, *, target: str | None = None) -> Any:
    """Prewitt derivative along ``axis``: ``scipy.ndimage.prewitt``'s values."""
    return _derivative_filter(input, axis, output, mode, cval, target, [1.0, 1.0, 1.0])


def _sum_over_axes(p: Prepared, axes, mode, output, derivative, square: bool) -> Any:
    """scipy's generic Laplace (``square`` False) and gradient magnitude (``square`` True):
    the derivative along each axis, in the output dtype, summed in place order."""
    out_dtype = _params.output_dtype(output, p.dtype)
    if not axes:
        return p.finish(elementwise("cast", (p.data,), out_dtype, p.target), output)
    modes = _params.modes(mode, len(axes))
    total = None
    for axis, m in zip(axes, modes):
        term = derivative(p, axis, m, out_dtype)
        if square:
            term = elementwise("square", (term,), out_dtype, p.target)
        total = term if total is None else elementwise("add", (total, term), out_dtype,
                                                       p.target)
    if square:
        total = elementwise("sqrt", (total,), out_dtype, p.target)
    return p.finish(total, output)


@one_overlap
def laplace(input: Any, output: Any = None, mode: Any = "reflect", cval: float = 0.0, *,
            axes: Any = None, target: str | None = None) -> Any:
    """Laplace filter from second differences: ``scipy.ndimage.laplace``'s values."""
    p = prepare(input, target)
    second = np.array([1.0, -2.0, 1.0])
    return _sum_over_axes(p, p.axes(axes), mode, output,
                          lambda q, axis, m, dt: correlate1d_data(q, second, axis, m, cval, 0,
                                                                  dt), square=False)


def _full_sigma(p: Prepared, sigma, axes) -> list:
    """``sigma`` per filtered axis as one per axis of the input (0: not smoothed)."""
    given = _params.sequence(sigma, len(axes), "sigma")
    full = [0.0] * p.ndim
    for axis, s in zip(axes, given):
        full[axis] = s
    return full


def _gaussian_derivative(p: Prepared, sigma, axes, cval, kwargs, order: int, square: bool,
                         output, mode) -> Any:
    # scipy's gaussian_laplace smooths only the filtered axes; its gradient magnitude passes
    # sigma to gaussian_filter as given, which smooths every axis of the input
    smoothing = _full_sigma(p, sigma, axes) if not square else sigma
    truncate = kwargs.pop("truncate", 4.0)
    radius = kwargs.pop("radius", None)
    if kwargs:
        raise TypeError(f"unexpected keyword argument {next(iter(kwargs))!r}")

    def derivative(q, axis, m, dt):
        orders = [0] * q.ndim
        orders[axis] = order
        return _gaussian_data(q, smoothing, orders, m, cval, truncate, radius,
                              tuple(range(q.ndim)), dt)
    return _sum_over_axes(p, axes, mode, output, derivative, square)


@one_overlap
def gaussian_laplace(input: Any, sigma: Any, output: Any = None, mode: Any = "reflect",
                     cval: float = 0.0, *, axes: Any = None, target: str | None = None,
                     **kwargs: Any) -> Any:
    """Laplace of Gaussian: ``scipy.ndimage.gaussian_laplace``'s values (``truncate``,
    ``radius`` as for :func:`gaussian_filter`)."""
    p = prepare(input, target)
    return _gaussian_derivative(p, sigma, p.axes(axes), cval, dict(kwargs), 2, False,
                                output, mode)


@one_overlap
def gaussian_gradient_magnitude(input: Any, sigma: Any, output: Any = None,
                                mode: Any = "reflect", cval: float = 0.0, *, axes: Any = None,
                                target: str | None = None, **kwargs: Any) -> Any:
    """Gradient magnitude of Gaussian derivatives:
    ``scipy.ndimage.gaussian_gradient_magnitude``'s values."""
    p = prepare(input, target)
    return _gaussian_derivative(p, sigma, p.axes(axes), cval, dict(kwargs), 1, True,
                                output, mode)

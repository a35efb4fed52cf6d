"""scipy.ndimage's filters as compiled stencil kernels: the same signatures and values, on
NumPy, Dask, xarray and GPU arrays (docs/ndimage.md).

Each call builds (once per process, then from the disk cache) a stencil kernel whose text
depends only on the filter's shape, footprint and origin; weights are run-time arguments, and
``mode``, ``cval`` and the output dtype are variants of the same kernel.
"""
from ._linear import (convolve, convolve1d, correlate, correlate1d, gaussian_filter,
                      gaussian_filter1d, gaussian_gradient_magnitude, gaussian_laplace,
                      laplace, prewitt, sobel, uniform_filter, uniform_filter1d)
from ._rank import (generic_filter, maximum_filter, maximum_filter1d, median_filter,
                    minimum_filter, minimum_filter1d, percentile_filter, rank_filter)

__all__ = ["correlate", "convolve", "correlate1d", "convolve1d", "uniform_filter",
           "uniform_filter1d", "gaussian_filter", "gaussian_filter1d", "sobel", "prewitt",
           "laplace", "gaussian_laplace", "gaussian_gradient_magnitude", "minimum_filter",
           "minimum_filter1d", "maximum_filter", "maximum_filter1d", "median_filter",
           "rank_filter", "percentile_filter", "generic_filter"]

for _name in __all__:          # documented, and shown in tracebacks, as stencilc.ndimage.*
    globals()[_name].__module__ = __name__
del _name

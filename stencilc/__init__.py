"""stencilc: plain stencil functions compiled into fast, dtype-generic generalized ufuncs."""
from ._version import __version__
from .api import stencil_ufunc
from .errors import (StencilError, StencilInternalError, StencilNameError, StencilSyntaxError,
                     StencilTypingError, TargetUnavailableError)
from .ufunc import StencilUFunc

__all__ = ["stencil_ufunc", "StencilUFunc", "StencilError", "StencilSyntaxError",
           "StencilNameError", "StencilTypingError", "StencilInternalError",
           "TargetUnavailableError", "__version__"]

"""Python source -> StencilIR, as small passes run in order.

The frontend only *understands* a kernel: it never imports numba and never emits code. Each
pass is a module of its own with one job (as GT4Py's gtscript frontend runs ``ValueInliner``,
``CallInliner``, ... in sequence); every rejection is a located
:class:`~stencilc.errors.StencilSyntaxError`.
"""
from __future__ import annotations

import ast
from typing import Callable, Sequence

from ..ir import Argument, Interval, StencilIR
from .checks import argument_names, assignment_counts, check_syntax, output_count
from .constants import local_constants
from .deep import split_deep_expressions
from .layout import kernel_layout
from .names import resolve_names
from .offsets import check_neighborhood, infer_neighborhood, rewrite_accesses
from .roles import argument_roles
from .source import read_kernel

__all__ = ["parse_kernel"]


def parse_kernel(func: Callable, *, signature: str | None = None,
                 neighborhood: Sequence[Interval] | None = None,
                 standard_indexing: Sequence[str] = ()) -> StencilIR:
    """Understand ``func`` as a stencil kernel (docs/design.md 1.3) and return its IR."""
    kernel = read_kernel(func)                                          # 1. source
    try:
        return _parse(kernel, signature, neighborhood, tuple(standard_indexing))
    except RecursionError:   # nesting that splitting cannot flatten (a 500-deep index)
        raise kernel.error(kernel.fdef, "the kernel nests expressions too deeply to compile",
                           hint="split the deepest expression into statements (t = ...)") \
            from None


def _parse(kernel, signature, neighborhood, standard_indexing) -> StencilIR:
    arg_names = argument_names(kernel, standard_indexing)               # 2. statement checks
    body = kernel.body
    check_syntax(kernel, body)
    body = split_deep_expressions(kernel, body)                         # 2b. deep expressions
    assigned = assignment_counts(kernel, body, arg_names)
    roles = argument_roles(kernel, body, arg_names, standard_indexing)  # 3. argument roles
    nout = output_count(kernel, body)
    given = None if neighborhood is None else check_neighborhood(neighborhood, roles.ndim)
    body, env = resolve_names(kernel, body, roles.roles, assigned, roles.ndim)  # 4. names
    constants = local_constants(body, assigned)                         # 5. constants
    body, accesses = rewrite_accesses(kernel, body, roles.roles, constants,  # 6. offsets
                                      assigned, given)
    extent = infer_neighborhood(kernel, accesses, roles.ndim, given)
    layout = kernel_layout(kernel, signature, arg_names, roles, nout)   # 7. layout
    arguments = tuple(Argument(name, roles.roles[name], dims)
                      for name, dims in zip(arg_names, layout.inputs))
    return StencilIR(name=kernel.fdef.name, filename=kernel.source.filename,
                     firstlineno=kernel.source.firstlineno, arguments=arguments,
                     body=[ast.fix_missing_locations(s) for s in body], nout=nout,
                     ndim=roles.ndim, neighborhood=extent, layout=layout, env=env,
                     source=kernel.source.text, array_locals=roles.array_locals)

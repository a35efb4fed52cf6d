"""Pass 7, layout: the gufunc signature, inferred from the roles or checked against them."""
from __future__ import annotations

from ..ir import Role
from ..signature import Layout, parse_layout
from .roles import Roles
from .source import Kernel

_LETTERS = ["n", "m", "p", "q"]


def kernel_layout(kernel: Kernel, signature: str | None, arg_names: list[str], roles: Roles,
                  nout: int) -> Layout:
    """The ``signature`` option (docs/design.md 1.1): inferred when None, else parsed and
    checked against the body."""
    ndim = roles.ndim
    core = tuple((_LETTERS + [f"d{k}" for k in range(4, ndim)])[:ndim])
    if signature is None:
        inputs = []
        for name in arg_names:
            role = roles.roles[name]
            if role is Role.RELATIVE:
                inputs.append(core)
            elif role is Role.STANDARD:
                inputs.append(tuple(f"{name}_{k}" for k in range(roles.ranks[name])))
            else:
                inputs.append(())
        return Layout(tuple(inputs), (core,) * nout)
    fdef = kernel.fdef
    try:
        layout = parse_layout(signature)
    except (TypeError, ValueError) as exc:
        raise kernel.error(fdef, str(exc)) from None
    where = f"signature {signature!r}"
    if len(layout.inputs) != len(arg_names):
        raise kernel.error(fdef, f"{where} has {len(layout.inputs)} input(s) but "
                           f"{fdef.name!r} takes {len(arg_names)} argument(s)")
    if len(layout.outputs) != nout:
        raise kernel.error(fdef, f"{where} has {len(layout.outputs)} output(s) but the kernel "
                           f"returns {nout} value(s)")
    first_relative = None
    for name, dims in zip(arg_names, layout.inputs):
        role = roles.roles[name]
        if role is Role.RELATIVE:
            if len(dims) != ndim:
                raise kernel.error(fdef, f"{where} gives {name!r} {len(dims)} core dimension(s) "
                                   f"but the kernel indexes it with {ndim}")
            if first_relative is not None and dims != first_relative:
                raise kernel.error(fdef, f"{where}: relatively indexed arrays must share core "
                                   f"dimensions, but {name!r} has {dims}")
            first_relative = first_relative or dims
        elif role is Role.SCALAR and dims:
            raise kernel.error(fdef, f"{where} gives {name!r} core dimensions {dims} but the "
                               "kernel never indexes it",
                               hint="index it relatively, or list it in standard_indexing")
        elif role is Role.STANDARD and len(dims) < roles.ranks[name]:
            raise kernel.error(fdef, f"{where} gives {name!r} {len(dims)} core dimension(s) but "
                               f"the kernel indexes {roles.ranks[name]} of them")
    for dims in layout.outputs:
        if dims != first_relative:
            raise kernel.error(fdef, f"{where}: every output has the core dimensions of the "
                               f"stencil inputs {first_relative}, not {dims}")
    return layout

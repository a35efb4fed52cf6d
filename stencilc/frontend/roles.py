"""Pass 3, argument roles: which arguments are read relatively, absolutely or as scalars."""
from __future__ import annotations

import ast
from dataclasses import dataclass

from ..ir import Role
from .source import Kernel


@dataclass(frozen=True)
class Roles:
    roles: dict[str, Role]
    index_counts: dict[str, int]   # how many indices each subscripted argument gets
    ndim: int                      # core ndim shared by every relatively read array


def argument_roles(kernel: Kernel, body: list[ast.stmt], arg_names: list[str],
                   standard_indexing: tuple[str, ...]) -> Roles:
    """Subscripted arguments are relative unless in ``standard_indexing``; the others are
    scalars. Relatively read arrays share one rank, used with the same index count."""
    relative = set(arg_names) - set(standard_indexing)
    _refuse_chained_indexing(kernel, body, relative)
    counts: dict[str, int] = {}
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                    and node.value.id in arg_names:
                name = node.value.id
                n = len(node.slice.elts) if isinstance(node.slice, ast.Tuple) else 1
                if name in counts and counts[name] != n and name not in standard_indexing:
                    raise kernel.error(node, f"{name!r} is indexed with {n} indices here but "
                                       f"{counts[name]} elsewhere",
                                       hint="a relatively indexed array gets one offset per "
                                            "dimension everywhere")
                counts.setdefault(name, n)
    roles = {}
    for name in arg_names:
        if name in standard_indexing:
            roles[name] = Role.STANDARD
        elif name in counts:
            roles[name] = Role.RELATIVE
        else:
            roles[name] = Role.SCALAR
    if Role.RELATIVE not in roles.values():
        raise kernel.error(kernel.fdef, f"kernel {kernel.fdef.name!r} reads no array relatively",
                           hint="index an argument with offsets from the output point, "
                                "e.g. x[-1] + x[1]")
    ranks = {counts[n] for n, r in roles.items() if r is Role.RELATIVE}
    if len(ranks) > 1:
        name = next(n for n, r in roles.items() if r is Role.RELATIVE and counts[n] != min(ranks))
        node = next(node for s in body for node in ast.walk(s)
                    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                    and node.value.id == name)
        raise kernel.error(node, "relatively indexed arrays must all have the same number of "
                           f"dimensions; found {sorted(ranks)}",
                           hint="pass lower-dimensional arrays through standard_indexing")
    return Roles(roles, counts, ranks.pop())


def _refuse_chained_indexing(kernel: Kernel, body: list[ast.stmt], relative: set[str]) -> None:
    """``x[0][1]`` on a relatively read array: numba.stencil reads ``x[0]`` as a whole row
    there, which has no meaning relative to the output point."""
    for stmt in body:
        for node in ast.walk(stmt):
            inner = node.value if isinstance(node, ast.Subscript) else None
            if isinstance(inner, ast.Subscript) and isinstance(inner.value, ast.Name) \
                    and inner.value.id in relative:
                items = [inner.slice, node.slice]
                offsets = ", ".join(ast.unparse(i.elts if isinstance(i, ast.Tuple) else i)
                                    .strip("()") for i in items)
                raise kernel.error(node, f"chained indexing `{ast.unparse(node)}` of the "
                                   f"relatively read array {inner.value.id!r}",
                                   hint=f"give every offset in one subscript: "
                                        f"{inner.value.id}[{offsets}]")

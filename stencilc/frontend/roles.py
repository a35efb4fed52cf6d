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
    ranks: dict[str, int]          # least core ndim of each standard_indexing argument
    array_locals: dict[str, str]   # local holding part of a standard array -> that argument


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
    standard_ranks, array_locals = _standard_ranks(kernel, body, set(standard_indexing))
    return Roles(roles, counts, ranks.pop(), standard_ranks, array_locals)


def _standard_ranks(kernel: Kernel, body: list[ast.stmt], standard: set[str]):
    """How many core dimensions each standard_indexing argument has at least, from how the
    body indexes it, directly or through locals holding part of it (``c = b[0]; c[1]``, ``for
    row in b``), as numba.stencil reads them; and those locals. An argument the body never
    indexes is a scalar (rank 0)."""
    ranks = {name: 0 for name in standard}
    sources: dict[str, tuple[str, int]] = {}   # local -> (argument, axes taken off it)
    indexed: set[str] = set()

    def source(expr: ast.expr) -> tuple[str, int] | None:
        if isinstance(expr, ast.Name):
            return (expr.id, 0) if expr.id in standard else sources.get(expr.id)
        if isinstance(expr, ast.Subscript):
            found = source(expr.value)
            if found is not None:
                items = _items(expr)
                return found[0], found[1] + sum(not isinstance(i, ast.Slice) for i in items)
        if isinstance(expr, ast.BinOp):
            return source(expr.left) or source(expr.right)
        if isinstance(expr, ast.UnaryOp):
            return source(expr.operand)
        return None

    for last in (False, False, True):   # locals taken from locals: c = b[0]; d = c[1]
        for stmt in body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Subscript):
                    found = source(node.value)
                    if found is not None:
                        ranks[found[0]] = max(ranks[found[0]], found[1] + len(_items(node)))
                        if isinstance(node.value, ast.Name):
                            indexed.add(node.value.id)
                elif isinstance(node, ast.For) and not _is_range(node.iter):
                    found = source(node.iter)
                    if found is None and not last:
                        continue
                    if found is None:
                        raise kernel.error(node.iter, "kernels loop only over `range(...)` "
                                           "or over a standard_indexing array",
                                           hint="write `for v in range(a, b)`, or list the "
                                                "array in standard_indexing")
                    ranks[found[0]] = max(ranks[found[0]], found[1] + 1)
                    if isinstance(node.iter, ast.Name):
                        indexed.add(node.iter.id)
                    sources[node.target.id] = (found[0], found[1] + 1)
                elif isinstance(node, ast.Assign) and len(node.targets) == 1 \
                        and isinstance(node.targets[0], ast.Name):
                    found = source(node.value)
                    if found is not None:
                        sources[node.targets[0].id] = found
    return ranks, {name: found[0] for name, found in sources.items() if name in indexed}


def _items(node: ast.Subscript) -> list[ast.expr]:
    return list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]


def _is_range(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) \
        and expr.func.id == "range"


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

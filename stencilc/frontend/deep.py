"""Pass 2b, deep expressions: long chains (a sum of 1000 taps) split into statements.

Python's AST is a tree, so ``x[0] + x[1] + ... + x[999]`` nests 1000 levels deep, and every
recursive walk over it (``copy.deepcopy``, ``ast.NodeTransformer``, ``ast.unparse``, numba's
own passes) overflows the interpreter's stack: a bare ``RecursionError`` at decoration. This
pass runs right after the syntax checks, over the source as written, without recursion: any
subexpression whose subtree reaches :data:`CHUNK` levels is computed into a temporary
(``_sc_deep0 = ...``) just before its statement, and read from it. Evaluation order and every
operation stay the same (``((a + b) + c) + d`` becomes ``t = (a + b) + c; t + d``), so the
values are identical, and the statements numba sees grow linearly with the terms.

Only subexpressions that Python evaluates unconditionally are hoisted: none inside a branch
of ``a if c else b``, after the first operand of ``and``/``or``, or inside an index (offsets
stay analysable).
"""
from __future__ import annotations

import ast
import itertools

from ..ir import RESERVED_PREFIX as P
from .source import Kernel

#: the height at which a subexpression is hoisted: a few frames per level keep every
#: recursive walk far below Python's default limit of 1000 frames
CHUNK = 32

_HOISTABLE = (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Call)


def split_deep_expressions(kernel: Kernel, body: list[ast.stmt]) -> list[ast.stmt]:
    """``body`` with every deep subexpression computed into a temporary first (the same
    statements, unchanged, where nothing is deep)."""
    counter = itertools.count()
    return _block(kernel, body, counter)


def _block(kernel: Kernel, stmts: list[ast.stmt], counter) -> list[ast.stmt]:
    result: list[ast.stmt] = []
    for stmt in stmts:
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                setattr(stmt, field, _block(kernel, inner, counter))
        result += _split(stmt, counter)
    return result


def _split(stmt: ast.stmt, counter) -> list[ast.stmt]:
    """The temporaries ``stmt``'s own expressions need, then ``stmt``."""
    roots = [value for field, value in ast.iter_fields(stmt)
             if isinstance(value, ast.expr) and field not in ("target", "targets")]
    if isinstance(stmt, ast.Assign):
        roots = [stmt.value]
    order, parents, blocked = _walk(roots)
    if not order:
        return [stmt]
    heights: dict[int, int] = {}
    hoisted: list[ast.stmt] = []
    for node in reversed(order):          # children before their parents
        height = 1 + max((heights.get(id(c), 0) for c in ast.iter_child_nodes(node)),
                         default=0)
        if height >= CHUNK and isinstance(node, _HOISTABLE) and id(node) not in blocked \
                and id(node) in parents:
            temp = f"{P}deep{next(counter)}"
            hoisted.append(ast.copy_location(
                ast.Assign(targets=[ast.Name(id=temp, ctx=ast.Store())], value=node), node))
            _replace(parents[id(node)], node, ast.copy_location(
                ast.Name(id=temp, ctx=ast.Load()), node))
            height = 1
        heights[id(node)] = height
    return hoisted + [stmt]


def _walk(roots: list[ast.expr]):
    """Every node under ``roots`` parents first (breadth first: no recursion), each node's
    parent, and the nodes that must not be hoisted (evaluated conditionally or indices)."""
    order: list[ast.AST] = []
    parents: dict[int, ast.AST] = {}
    blocked: set[int] = set()
    queue = list(roots)
    for root in roots:
        if isinstance(root, ast.expr):
            blocked.add(id(root))     # a statement's whole expression stays where it is
    head = 0
    while head < len(queue):
        node = queue[head]
        head += 1
        order.append(node)
        conditional = _conditional_children(node)
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
            if id(child) in conditional:
                _block_subtree(child, blocked)
            queue.append(child)
    return order, parents, blocked


def _conditional_children(node: ast.AST) -> set[int]:
    if isinstance(node, ast.IfExp):
        return {id(node.body), id(node.orelse)}
    if isinstance(node, ast.BoolOp):
        return {id(v) for v in node.values[1:]}
    if isinstance(node, ast.Subscript):
        return {id(node.slice)}
    if isinstance(node, (ast.Lambda, ast.ListComp, ast.GeneratorExp, ast.SetComp,
                         ast.DictComp)):
        return {id(c) for c in ast.iter_child_nodes(node)}
    return set()


def _block_subtree(node: ast.AST, blocked: set[int]) -> None:
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in blocked:
            continue
        blocked.add(id(current))
        stack.extend(ast.iter_child_nodes(current))


def _replace(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for field, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, field, new)
            return
        if isinstance(value, list):
            for k, item in enumerate(value):
                if item is old:
                    value[k] = new
                    return

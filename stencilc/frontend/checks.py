"""Pass 2, statement checks: the arguments, the syntax whitelist, assignments and returns.

Each function checks one thing about the parsed kernel and raises a located
:class:`~stencilc.errors.StencilSyntaxError` at the first problem.
"""
from __future__ import annotations

import ast

from ..ir import RESERVED_PREFIX
from .source import Kernel

_ALLOWED_STATEMENTS = (ast.Assign, ast.AugAssign, ast.If, ast.For, ast.Return, ast.Pass,
                       ast.Break, ast.Continue)
_ALLOWED_EXPRESSIONS = (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call,
                        ast.Name, ast.Constant, ast.Subscript, ast.Attribute, ast.Tuple,
                        ast.Slice, ast.keyword)

_HINTS = {
    ast.While: "use `for v in range(a, b)` with constant bounds",
    ast.FunctionDef: "define helpers at module level and decorate them with @numba.njit",
    ast.Lambda: "define helpers at module level and decorate them with @numba.njit",
    ast.Import: "import modules at module level; the kernel may use numpy, math and cmath",
    ast.ImportFrom: "import modules at module level; the kernel may use numpy, math and cmath",
    ast.ListComp: "accumulate in a `for` loop, or take a window such as x[-1:2, -1:2]",
    ast.List: "accumulate in a `for` loop, or take a window such as x[-1:2, -1:2]",
    ast.Expr: "a bare expression has no effect; assign it or return it",
    ast.Raise: "a stencil computes a value at every point; it cannot raise",
}


def argument_names(kernel: Kernel, standard_indexing: tuple[str, ...]) -> list[str]:
    """The kernel's positional parameters; every ``standard_indexing`` name must be one."""
    args = kernel.fdef.args
    extra = args.vararg or args.kwarg or (args.kwonlyargs[0] if args.kwonlyargs else None)
    if extra:
        raise kernel.error(extra, "a kernel takes plain positional arguments only",
                           hint="name every array and scalar the kernel reads")
    if args.defaults:
        raise kernel.error(args.defaults[0], "kernel arguments cannot have defaults",
                           hint="pass every argument when calling the stencil")
    names = [a.arg for a in args.posonlyargs + args.args]
    if not names:
        raise kernel.error(kernel.fdef, "a kernel needs at least one array argument")
    for name in standard_indexing:
        if name not in names:
            raise kernel.error(kernel.fdef, f"standard_indexing names {name!r}, which is not "
                               f"an argument of {kernel.fdef.name!r}",
                               hint=f"arguments are {', '.join(names)}")
    return names


def check_syntax(kernel: Kernel, body: list[ast.stmt]) -> None:
    """Every statement and expression is in the stencil language (docs/design.md 1.3)."""
    if not body:
        raise kernel.error(kernel.fdef, "kernel has no body", hint="return a value")
    for stmt in body:
        for node in ast.walk(stmt):
            _check_node(kernel, node)
    check_integer_constants(kernel, body)


#: what numba's integer types hold: int64 below, uint64 above
INTEGER_RANGE = (-2**63, 2**64 - 1)


def check_integer_constants(kernel: Kernel, body: list[ast.stmt]) -> None:
    """Every integer the kernel writes or computes from literals (``10**20``, ``2**64 - 1``)
    fits an integer dtype: numba refuses some (``10**20``) and silently wraps others modulo
    2**64 (``10**400`` added 0), so both are one located error here."""
    for stmt in body:
        values: dict[int, int] = {}
        order = list(ast.walk(stmt))
        for node in reversed(order):          # children before parents, no recursion
            value = _integer_value(node, values)
            if value is None:
                continue
            if not INTEGER_RANGE[0] <= value <= INTEGER_RANGE[1]:
                shown = ast.unparse(node) if len(ast.unparse(node)) < 60 else "this integer"
                raise kernel.error(node, f"{shown} does not fit any integer dtype (int64 "
                                   "holds -2**63 .. 2**63 - 1, uint64 up to 2**64 - 1)",
                                   hint="write a float (1e20) if a float is meant")
            values[id(node)] = value


def _integer_value(node: ast.AST, values: dict[int, int]) -> int | None:
    """The integer ``node`` computes from integer literals alone (its children's values are
    in ``values``); a power too large to compute counts as out of range."""
    if isinstance(node, ast.Constant):
        return node.value if type(node.value) is int else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
        operand = values.get(id(node.operand))
        if operand is None:
            return None
        return {ast.USub: -operand, ast.UAdd: operand}.get(type(node.op), ~operand)
    if isinstance(node, ast.BinOp):
        a, b = values.get(id(node.left)), values.get(id(node.right))
        if a is None or b is None:
            return None
        if isinstance(node.op, ast.Pow):
            if b < 0:
                return None                   # a float
            if abs(a) > 1 and a.bit_length() * b > 256:
                return INTEGER_RANGE[1] + 1   # past every dtype, without computing it
        operation = {ast.Add: int.__add__, ast.Sub: int.__sub__, ast.Mult: int.__mul__,
                     ast.FloorDiv: int.__floordiv__, ast.Mod: int.__mod__,
                     ast.Pow: int.__pow__, ast.LShift: int.__lshift__,
                     ast.RShift: int.__rshift__, ast.BitAnd: int.__and__,
                     ast.BitOr: int.__or__, ast.BitXor: int.__xor__}.get(type(node.op))
        if operation is None or (isinstance(node.op, ast.LShift) and b > 256):
            return None if operation is None else INTEGER_RANGE[1] + 1
        try:
            return operation(a, b)
        except (ArithmeticError, ValueError):
            return None
    return None


def _check_node(kernel: Kernel, node: ast.AST) -> None:
    if isinstance(node, ast.stmt) and not isinstance(node, _ALLOWED_STATEMENTS):
        raise kernel.error(node, f"`{type(node).__name__}` statements are not supported in a "
                           "stencil kernel", hint=_HINTS.get(type(node)))
    if isinstance(node, ast.expr) and not isinstance(node, _ALLOWED_EXPRESSIONS):
        raise kernel.error(node, f"`{type(node).__name__}` expressions are not supported in a "
                           "stencil kernel", hint=_HINTS.get(type(node)))
    if isinstance(node, ast.Constant) and not isinstance(node.value, (bool, int, float, complex)):
        raise kernel.error(node, f"constant {node.value!r} is not a number",
                           hint="kernels compute numbers; strings, bytes and None are not "
                                "supported")
    if isinstance(node, ast.Name) and node.id.startswith(RESERVED_PREFIX):
        raise kernel.error(node, f"names starting with {RESERVED_PREFIX!r} are reserved for "
                           "generated code", hint="rename the variable")
    if isinstance(node, ast.For):
        _check_for(kernel, node)
    if isinstance(node, ast.Assign):
        for target in node.targets:
            _check_target(kernel, target)
    if isinstance(node, ast.AugAssign):
        _check_target(kernel, node.target, augmented=True)
    if isinstance(node, ast.Return) and node.value is None:
        raise kernel.error(node, "`return` needs a value", hint="return the output value")
    if isinstance(node, ast.Call) and any(isinstance(a, ast.Starred) for a in node.args):
        raise kernel.error(node, "star-arguments are not supported")
    if isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.MatMult):
        raise kernel.error(node, "`@` (matrix product) is not supported in a stencil kernel",
                           hint="kernel values are numbers; use `*`")
    if isinstance(node, ast.Slice) and node.step is not None:
        raise kernel.error(node.step, "slices with a step are not supported",
                           hint="write x[-1:2] and index the window")


def _check_target(kernel: Kernel, target: ast.expr, augmented: bool = False) -> None:
    if isinstance(target, ast.Name):
        return
    if isinstance(target, ast.Tuple) and not augmented \
            and all(isinstance(e, ast.Name) for e in target.elts):
        return
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        raise kernel.error(target, f"cannot assign into {target.value.id!r}: stencil inputs are "
                           "read-only and locals cannot be arrays",
                           hint="compute into a local name and return it")
    raise kernel.error(target, "only plain names can be assigned to",
                       hint="assign to a local name such as `acc = ...`")


def _check_for(kernel: Kernel, node: ast.For) -> None:
    if node.orelse:
        raise kernel.error(node.orelse[0], "`for ... else` is not supported")
    if not isinstance(node.target, ast.Name):
        raise kernel.error(node.target, "the loop variable must be a single name")
    it = node.iter
    if isinstance(it, (ast.Name, ast.Subscript)):
        return   # over an array: the roles pass checks it is a standard_indexing one
    if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
            and 1 <= len(it.args) <= 3 and not it.keywords):
        raise kernel.error(it, "kernels loop only over `range(...)`",
                           hint="write `for v in range(a, b)` or `range(a, b, step)`")


def assignment_counts(kernel: Kernel, body: list[ast.stmt], arg_names: list[str]) -> dict[str, int]:
    """How often each local is assigned; assigning to an argument is refused."""
    counts: dict[str, int] = {}
    first: dict[str, ast.AST] = {}
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                counts[node.id] = counts.get(node.id, 0) + 1
                first.setdefault(node.id, node)
    for arg in arg_names:
        if arg in counts:
            raise kernel.error(first[arg], f"cannot assign to argument {arg!r}: inputs are "
                               "read-only", hint="store the value in a new local name")
    return counts


def output_count(kernel: Kernel, body: list[ast.stmt]) -> int:
    """How many values every ``return`` gives; every path must end in one."""
    first = None
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Return):
                n = len(node.value.elts) if isinstance(node.value, ast.Tuple) else 1
                if first is not None and n != first:
                    raise kernel.error(node, f"this `return` gives {n} value(s) but an earlier "
                                       f"one gives {first}",
                                       hint="every return gives the same number of outputs")
                first = n if first is None else first
    if first is None:
        raise kernel.error(kernel.fdef, f"kernel {kernel.fdef.name!r} never returns a value",
                           hint="end the kernel with `return <value>`")
    if not _always_returns(body):
        raise kernel.error(body[-1], "the kernel can finish without returning a value",
                           hint="end every path through the kernel with `return`")
    return first


def _always_returns(stmts: list[ast.stmt]) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return):
        return True
    if isinstance(last, ast.If):
        return _always_returns(last.body) and _always_returns(last.orelse)
    return False

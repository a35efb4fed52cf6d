"""Every numeric conversion of a rendered kernel body made explicit, as numba's CPU typing makes it.

numba compiles a body under its own promotion rules (``int8 * int8`` is int64, ``float32 *
2.5`` is float64, integer arithmetic happens in the result type). Code that runs as Python on
NumPy scalars instead (numba's CUDA simulator) follows NumPy's rules, where ``int8 * int8``
overflows in int8. :func:`explicit_conversions` rewrites a body so that every operation's
operands are converted, in the text, to the types numba's typing context chooses for it, and
every call's result to the type numba gives it: the Python run then computes exactly what the
compiled code computes, and for the compiler each conversion is one it makes anyway.

Types come from numba's CPU typing context (``resolve_function_type``, the call numba's type
inference makes for each operation), bottom-up, with locals typed in statement order (as
numba types them after its SSA pass). Index arithmetic (inside subscripts) is left alone.
"""
from __future__ import annotations

import ast
import builtins
import math
import operator
import types as pytypes
from typing import Any

import numba
import numpy as np
from numba.core import types
from numba.core.registry import cpu_target

from ..ir import RESERVED_PREFIX as P
from .common import NARROW_HELPERS

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow, ast.LShift: operator.lshift, ast.RShift: operator.rshift,
           ast.BitOr: operator.or_, ast.BitXor: operator.xor, ast.BitAnd: operator.and_}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert,
          ast.Not: operator.not_}
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
            ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne}
#: the narrow helpers' wrapping operations: computed in their operands' (one) type
_NARROW_OPERATIONS = {NARROW_HELPERS[name] for name in ("narrow_add", "narrow_sub", "narrow_mul")}
_MODULES = {f"{P}np": np, f"{P}math": math, "np": np, "numpy": np, "math": math}


def explicit_conversions(body: list[ast.stmt], arg_types: dict[str, types.Type],
                         env: dict[str, Any]) -> tuple[list[ast.stmt], types.Type | None]:
    """``body`` with numba's conversions written out, and the type it returns."""
    typer = _Typer(dict(arg_types), env)
    body = typer.statements(body)
    return body, typer.returned


def cast(node: ast.expr, to: types.Type) -> ast.expr:
    """``_sc_np.<dtype>(node)``."""
    name = "bool_" if to == types.boolean else str(to)
    func = ast.Attribute(value=ast.Name(id=f"{P}np", ctx=ast.Load()), attr=name, ctx=ast.Load())
    return ast.Call(func=func, args=[node], keywords=[])


def _conversion_type(node: ast.Call) -> types.Type | None:
    """The type a ``_sc_np.<dtype>(...)`` conversion gives, else None."""
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
            and func.value.id == f"{P}np" and isinstance(getattr(np, func.attr, None), type):
        try:
            dtype = np.dtype(getattr(np, func.attr))
        except TypeError:            # a NumPy class that is no scalar type (np.ndarray)
            return None
        return numba.from_dtype(dtype) if dtype.kind in "biufc" else None
    return None


class _Typer:
    def __init__(self, names: dict[str, types.Type], env: dict[str, Any]):
        self.ctx = cpu_target.typing_context
        self.ctx.refresh()
        self.names = names
        self.env = env
        self.returned: types.Type | None = None

    # --- statements -------------------------------------------------------------------------

    def statements(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        return [self.statement(s) for s in stmts]

    def statement(self, stmt: ast.stmt) -> ast.stmt:
        if isinstance(stmt, ast.Assign):
            value, ty = self.expr(stmt.value)
            for target in stmt.targets:
                self.bind(target, ty)
            return ast.copy_location(ast.Assign(targets=stmt.targets, value=value), stmt)
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            load = ast.Name(id=stmt.target.id, ctx=ast.Load())
            value, ty = self.expr(ast.BinOp(left=load, op=stmt.op, right=stmt.value))
            self.bind(stmt.target, ty)
            return ast.copy_location(ast.Assign(targets=[stmt.target], value=value), stmt)
        if isinstance(stmt, ast.Return):
            value, ty = self.expr(stmt.value)
            self.returned = ty if self.returned is None else self.unify(self.returned, ty)
            return ast.copy_location(ast.Return(value=value), stmt)
        if isinstance(stmt, ast.If):
            test, _ = self.expr(stmt.test)
            before = dict(self.names)
            body = self.statements(stmt.body)
            after_body, self.names = self.names, dict(before)
            orelse = self.statements(stmt.orelse)
            self.merge(after_body)
            return ast.copy_location(ast.If(test=test, body=body, orelse=orelse), stmt)
        if isinstance(stmt, ast.For):
            iterable, ity = self.expr(stmt.iter)
            self.bind(stmt.target, self.element(stmt.iter, ity))
            before = dict(self.names)
            self.statements(stmt.body)              # a first pass settles the locals' types
            self.merge(before)
            body = self.statements(stmt.body)
            self.merge(before)
            return ast.copy_location(ast.For(target=stmt.target, iter=iterable, body=body,
                                             orelse=[], type_comment=None), stmt)
        return stmt   # pass, break, continue

    def bind(self, target: ast.expr, ty: types.Type | None) -> None:
        if isinstance(target, ast.Name):
            self.names[target.id] = ty
        elif isinstance(target, ast.Tuple):
            items = list(ty) if isinstance(ty, types.BaseTuple) else [None] * len(target.elts)
            for element, item in zip(target.elts, items):
                self.bind(element, item)

    def merge(self, other: dict[str, types.Type]) -> None:
        for name, ty in other.items():
            mine = self.names.get(name)
            if mine is not None and ty is not None and mine != ty:
                self.names[name] = self.unify(mine, ty)
            elif name not in self.names:
                self.names[name] = ty

    def unify(self, a, b):
        if a is None or b is None:
            return None
        return self.ctx.unify_types(types.unliteral(a), types.unliteral(b))

    def element(self, iterable: ast.expr, ty) -> types.Type | None:
        if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) \
                and iterable.func.id == "range":
            return types.intp
        if isinstance(ty, types.Array):
            return ty.dtype if ty.ndim == 1 else types.Array(ty.dtype, ty.ndim - 1, "A")
        return None

    # --- expressions: (rewritten node, numba type or None when unknown) ----------------------

    def expr(self, node: ast.expr) -> tuple[ast.expr, types.Type | None]:
        method = getattr(self, f"expr_{type(node).__name__}", None)
        if method is None:
            return node, None
        return method(node)

    def expr_Constant(self, node: ast.Constant):
        value = node.value
        if isinstance(value, bool):
            return node, types.boolean
        if isinstance(value, int):
            return node, types.literal(value)
        return node, numba.typeof(value)

    def expr_Name(self, node: ast.Name):
        if node.id in self.names:
            return node, self.names[node.id]
        if node.id.startswith(f"{P}i") or node.id.startswith(f"{P}n"):
            return node, types.intp
        value = self.env.get(node.id, _MODULES.get(node.id, getattr(builtins, node.id, None)))
        return node, self.value_type(value)

    def expr_Attribute(self, node: ast.Attribute):
        base = node.value
        if isinstance(base, ast.Name) and base.id in _MODULES:
            return node, self.value_type(getattr(_MODULES[base.id], node.attr, None))
        if isinstance(base, ast.Name) and isinstance(self.env.get(base.id), pytypes.ModuleType):
            return node, self.value_type(getattr(self.env[base.id], node.attr, None))
        value, ty = self.expr(base)
        node = ast.Attribute(value=value, attr=node.attr, ctx=ast.Load())
        if ty is None:
            return node, None
        try:
            return node, self.ctx.resolve_getattr(types.unliteral(ty), node.attr)
        except Exception:   # noqa: BLE001 - numba raises several kinds; unknown then
            return node, None

    def value_type(self, value) -> types.Type | None:
        if value is None:
            return None
        try:
            return self.ctx.resolve_value_type(value)
        except Exception:   # noqa: BLE001
            return None

    def expr_Subscript(self, node: ast.Subscript):
        value, ty = self.expr(node.value)
        node = ast.Subscript(value=value, slice=node.slice, ctx=ast.Load())   # indices as written
        if not isinstance(ty, types.Array):
            return node, None
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        kept = sum(isinstance(i, ast.Slice) for i in items) + ty.ndim - len(items)
        return node, ty.dtype if kept == 0 else types.Array(ty.dtype, kept, "A")

    def expr_BinOp(self, node: ast.BinOp):
        left, lt = self.expr(node.left)
        right, rt = self.expr(node.right)
        signature = self.resolve(_BINOPS[type(node.op)], (lt, rt))
        if signature is not None:
            result = types.unliteral(signature.return_type)
            # numba computes arithmetic in the result type; a power keeps its exponent's type
            # (an integer exponent is a loop of multiplications, not pow())
            wanted = signature.args if isinstance(node.op, ast.Pow) or \
                not isinstance(result, types.Number) else (result, result)
            left, right = self.convert(left, lt, wanted[0]), self.convert(right, rt, wanted[1])
            return ast.BinOp(left=left, op=node.op, right=right), result
        return ast.BinOp(left=left, op=node.op, right=right), None

    def expr_UnaryOp(self, node: ast.UnaryOp):
        operand, ty = self.expr(node.operand)
        signature = self.resolve(_UNARY[type(node.op)], (ty,))
        if signature is None:
            return ast.UnaryOp(op=node.op, operand=operand), None
        # numba negates (and inverts) in the operand's type, then converts the result; a
        # boolean it negates as an integer (-True is -1), which NumPy's bool_ refuses
        result = types.unliteral(signature.return_type)
        inner = result if isinstance(node.op, (ast.USub, ast.UAdd)) and \
            signature.args[0] == types.boolean else signature.args[0]
        unary = ast.UnaryOp(op=node.op, operand=self.convert(operand, ty, inner))
        return self.convert(unary, inner, result), result

    def expr_Compare(self, node: ast.Compare):
        left, lt = self.expr(node.left)
        rest = [self.expr(c) for c in node.comparators]
        if len(rest) == 1:
            (right, rt), = rest
            signature = self.resolve(_COMPARE.get(type(node.ops[0])), (lt, rt))
            if signature is not None:
                left = self.convert(left, lt, signature.args[0])
                right = self.convert(right, rt, signature.args[1])
            return ast.Compare(left=left, ops=node.ops, comparators=[right]), types.boolean
        return ast.Compare(left=left, ops=node.ops, comparators=[r for r, _ in rest]), \
            types.boolean

    def expr_BoolOp(self, node: ast.BoolOp):
        values = [self.expr(v) for v in node.values]
        ty = values[0][1]
        for _, other in values[1:]:
            ty = self.unify(ty, other)
        return ast.BoolOp(op=node.op, values=[v for v, _ in values]), ty

    def expr_IfExp(self, node: ast.IfExp):
        test, _ = self.expr(node.test)
        body, bt = self.expr(node.body)
        orelse, ot = self.expr(node.orelse)
        ty = self.unify(bt, ot)
        return ast.IfExp(test=test, body=self.convert(body, bt, ty),
                         orelse=self.convert(orelse, ot, ty)), ty

    def expr_Tuple(self, node: ast.Tuple):
        items = [self.expr(e) for e in node.elts]
        tys = [t for _, t in items]
        ty = None if any(t is None for t in tys) else types.BaseTuple.from_types(
            [types.unliteral(t) for t in tys])
        return ast.Tuple(elts=[e for e, _ in items], ctx=ast.Load()), ty

    def expr_Call(self, node: ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id.startswith(P) \
                and node.func.id[len(P):] in ("nearest", "reflect", "mirror", "wrap", "checked") \
                or isinstance(node.func, ast.Name) and node.func.id.startswith(f"{P}index"):
            return node, types.intp                         # index helpers
        conversion = _conversion_type(node)
        if conversion is not None:            # _sc_np.float32(...): already explicit
            return node, conversion
        if isinstance(node.func, ast.Name) and node.func.id in _NARROW_OPERATIONS:
            args = [self.expr(a) for a in node.args]   # both of the narrow type already
            return ast.Call(func=node.func, args=[a for a, _ in args], keywords=[]), \
                types.unliteral(args[0][1]) if args[0][1] is not None else None
        if isinstance(node.func, ast.Name) and node.func.id == NARROW_HELPERS["as_type_of"]:
            value, have = self.expr(node.args[0])
            _, like = self.expr(node.args[1])   # only its type: the computation is dropped
            return self.convert(value, have, like), \
                types.unliteral(like) if like is not None else None
        func, fty = self.expr(node.func)
        args = [self.expr(a) for a in node.args]
        call = ast.Call(func=func, args=[a for a, _ in args], keywords=node.keywords)
        if isinstance(node.func, ast.Name) and node.func.id.startswith(f"{P}window"):
            array = self.names.get(node.args[0].id) if isinstance(node.args[0], ast.Name) \
                else None
            ndim = (len(node.args) - 1) // 2
            return call, None if array is None else types.Array(array.dtype, ndim, "C")
        if fty is None or node.keywords:
            return call, None
        signature = self.resolve(fty, tuple(t for _, t in args))
        if signature is None:
            return call, None
        result = types.unliteral(signature.return_type)
        if len(signature.args) == len(args) and all(
                isinstance(s, types.Number) for s in signature.args):
            call.args = [self.convert(a, t, s) for (a, t), s in zip(args, signature.args)]
        if isinstance(result, (types.Number, types.Boolean)):
            return cast(call, result), result    # Python builtins may return another type
        return call, result

    # --- helpers ----------------------------------------------------------------------------

    def resolve(self, func, arg_types):
        if func is None or any(t is None for t in arg_types):
            return None
        try:
            return self.ctx.resolve_function_type(func, tuple(arg_types), {})
        except Exception:   # noqa: BLE001 - numba's typing errors: leave the operation as is
            return None

    @staticmethod
    def convert(node: ast.expr, have, want) -> ast.expr:
        """``node`` converted to ``want`` unless it already has that type."""
        if want is None or have is None:
            return node
        want = types.unliteral(want)
        if not isinstance(want, (types.Number, types.Boolean)):
            return node
        if types.unliteral(have) == want and not isinstance(have, types.Literal):
            return node
        return cast(node, want)

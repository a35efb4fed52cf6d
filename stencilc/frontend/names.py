"""Pass 4, name resolution: every free name the body reads, checked and bound.

Numeric constants from globals and closures are inlined (as GT4Py's ``ValueInliner`` does);
allowed modules, builtins, NumPy ufuncs, arrays and ``@njit`` functions are collected into the
environment the generated module gets; anything else is a located error.
"""
from __future__ import annotations

import ast
import builtins
import cmath
import copy
import math
import types

import numpy as np

from ..ir import Role, constant_node
from .source import Kernel

#: builtins a kernel may call (``range`` only as a ``for`` iterator).
ALLOWED_BUILTINS = frozenset({"abs", "min", "max", "int", "float", "bool", "complex", "round",
                              "len", "range"})
ALLOWED_MODULES = (np, math, cmath)


def resolve_names(kernel: Kernel, body: list[ast.stmt], roles: dict[str, Role],
                  assigned: dict[str, int], ndim: int) -> tuple[list[ast.stmt], dict[str, object]]:
    """A copy of ``body`` with global constants inlined, and the globals it still reads."""
    body = copy.deepcopy(body)
    loop_iters = {id(n.iter) for s in body for n in ast.walk(s) if isinstance(n, ast.For)}
    resolver = _Resolver(kernel, roles, assigned, ndim, loop_iters)
    resolved = [resolver.visit(s) for s in body]
    return [ast.fix_missing_locations(s) for s in resolved], resolver.env


def is_constant(value) -> bool:
    """A value the kernel may read as a compile-time constant."""
    if isinstance(value, (bool, int, float, complex, np.number, np.bool_)):
        return True
    return isinstance(value, tuple) and all(is_constant(v) for v in value)


class _Resolver(ast.NodeTransformer):
    def __init__(self, kernel: Kernel, roles: dict[str, Role], assigned: dict[str, int],
                 ndim: int, loop_iters: set[int]):
        self.kernel = kernel
        self.roles = roles
        self.assigned = assigned
        self.ndim = ndim
        self.loop_iters = loop_iters
        self.env: dict[str, object] = {}

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        if isinstance(node.value, ast.Name) and node.value.id in self.roles:
            node.slice = self.visit(node.slice)   # the array itself is an argument
            return node
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if not isinstance(node.ctx, ast.Load):
            return node
        name = node.id
        role = self.roles.get(name)
        if role is Role.RELATIVE:
            more = self.ndim - 1
            raise self.kernel.error(
                node, f"{name!r} is read relatively and must be indexed",
                hint=f"write {name}[0{', 0' * more}] for the centre value, or a window "
                     f"such as {name}[-1:2{', -1:2' * more}]")
        if role is not None or name in self.assigned:
            return node
        found, value = self.kernel.resolve_global(name)
        if not found:
            raise self.kernel.undefined(node)
        if is_constant(value):
            return ast.copy_location(constant_node(value), node)
        if value is getattr(builtins, name, None):
            if name not in ALLOWED_BUILTINS:
                raise self.kernel.error(
                    node, f"builtin {name!r} is not supported in a stencil kernel",
                    hint=f"supported builtins: {', '.join(sorted(ALLOWED_BUILTINS))}")
            return node
        if isinstance(value, types.ModuleType):
            if not any(value is m for m in ALLOWED_MODULES):
                raise self.kernel.error(node, f"module {value.__name__!r} cannot be used in a "
                                        "kernel", hint="kernels may use numpy, math, cmath and "
                                                       "@numba.njit functions")
        elif not (_is_jitted(value) or isinstance(value, (np.ufunc, np.ndarray))
                  or _is_module_function(value)):
            raise self.kernel.error(node, f"{name!r} ({type(value).__name__}) cannot be used "
                                    "in a compiled kernel",
                                    hint="call only numba @njit functions, math/numpy "
                                         "functions, or read numeric constants")
        self.env[name] = value
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        base = node.value
        if node.attr.startswith("_"):
            raise self.kernel.error(node, f"attribute {node.attr!r} is not supported in a "
                                    "stencil kernel", hint="kernels may read .real, .imag and "
                                    "the public functions of numpy and math")
        if isinstance(base, ast.Name) and self.roles.get(base.id) is Role.RELATIVE:
            raise self.kernel.error(node, f"{base.id!r} is read relatively; "
                                    f"`{ast.unparse(node)}` has no meaning there",
                                    hint=f"pass {base.id!r} in standard_indexing to read it whole")
        if isinstance(base, ast.Name) and base.id not in self.roles \
                and base.id not in self.assigned:
            found, value = self.kernel.resolve_global(base.id)
            if found and isinstance(value, types.ModuleType) and not hasattr(value, node.attr):
                raise self.kernel.error(node, f"module {value.__name__!r} has no attribute "
                                        f"{node.attr!r}")
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.expr:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "range" and id(node) not in self.loop_iters:
            raise self.kernel.error(node, "range() can only be iterated by a `for` loop")
        return self.generic_visit(node)


def _is_jitted(value) -> bool:
    return hasattr(value, "py_func") and hasattr(value, "overloads")


def _is_module_function(value) -> bool:
    module = getattr(value, "__module__", None) or ""
    return isinstance(value, types.BuiltinFunctionType) and module in ("math", "cmath", "numpy")

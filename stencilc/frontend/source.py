"""Pass 1, source reading: the kernel's text, where it lives, and its ``def`` statement."""
from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
from dataclasses import dataclass
from typing import Callable

from ..errors import StencilNameError, StencilSyntaxError


@dataclass(frozen=True)
class KernelSource:
    """Where a kernel's text came from, so errors can point into the user's file."""

    text: str            # dedented source of the function
    filename: str
    firstlineno: int     # line of the ``def`` (or first decorator) in the file
    indent: int          # columns removed by dedenting
    lines: tuple[str, ...]

    def locate(self, node: ast.AST) -> dict:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else None
        if text is not None:   # ast counts UTF-8 bytes; a column counts characters
            col = len(text[self.indent:].encode()[:col].decode("utf-8", errors="ignore"))
        return dict(filename=self.filename, lineno=line + self.firstlineno - 1,
                    offset=col + self.indent + 1, text=text)


@dataclass
class Kernel:
    """What every frontend pass reads: the function, its source and its ``def``."""

    func: Callable
    source: KernelSource
    fdef: ast.FunctionDef

    def error(self, node: ast.AST, message: str, hint: str | None = None) -> StencilSyntaxError:
        """A :class:`StencilSyntaxError` located at ``node`` (raise it)."""
        return StencilSyntaxError(message, hint=hint, **self.source.locate(node))

    def undefined(self, node: ast.Name) -> StencilNameError:
        """The located error for a name that is neither a local nor a global (yet)."""
        return StencilNameError(f"name {node.id!r} is not defined", name=node.id,
                                hint="define it before the kernel's first call; its value "
                                     "is read then and kept", **self.source.locate(node))

    @property
    def body(self) -> list[ast.stmt]:
        """The statements, without the docstring."""
        body = list(self.fdef.body)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]
        return body

    def resolve_global(self, name: str) -> tuple[bool, object]:
        """Look a free name up as Python would: closure, then globals, then builtins."""
        code = self.func.__code__
        if name in code.co_freevars and self.func.__closure__:
            cell = self.func.__closure__[code.co_freevars.index(name)]
            try:
                return True, cell.cell_contents
            except ValueError:
                return False, None
        if name in self.func.__globals__:
            return True, self.func.__globals__[name]
        if hasattr(builtins, name):
            return True, getattr(builtins, name)
        return False, None


def read_kernel(func: Callable) -> Kernel:
    """The source of ``func`` (from its file or an IPython cell), parsed."""
    source = read_source(func)
    return Kernel(func, source, find_function(source, func))


def read_source(func: Callable) -> KernelSource:
    filename = inspect.getsourcefile(func) or func.__code__.co_filename
    try:
        source_lines, firstlineno = inspect.getsourcelines(func)
    except (OSError, TypeError) as exc:
        raise StencilSyntaxError(
            f"cannot read the source of kernel {func.__name__!r}",
            filename=filename, lineno=func.__code__.co_firstlineno, offset=1,
            hint="define the kernel in a file, a notebook cell or an IPython session "
                 "(stencilc compiles from the source text)") from exc
    text = "".join(source_lines)
    raw_lines = text.splitlines()
    first = next((line for line in raw_lines if line.strip()), "")
    indent = len(first) - len(first.lstrip())
    return KernelSource(textwrap.dedent(text), filename, max(firstlineno, 1), indent,
                        tuple(raw_lines))


def find_function(source: KernelSource, func: Callable) -> ast.FunctionDef:
    try:
        module = ast.parse(source.text)
    except SyntaxError as exc:  # pragma: no cover - Python already compiled this function
        raise StencilSyntaxError(f"cannot parse kernel: {exc.msg}", filename=source.filename,
                                 lineno=exc.lineno, offset=exc.offset) from None
    for node in module.body:
        if isinstance(node, ast.AsyncFunctionDef):
            raise StencilSyntaxError("a kernel cannot be async", **source.locate(node),
                                     hint="remove `async`")
        if isinstance(node, ast.FunctionDef):
            return node
    raise StencilSyntaxError(
        f"kernel {func.__name__!r} is not a `def` statement", **source.locate(module),
        hint="write the kernel with `def name(x): return ...`; lambdas are not supported")

"""The exceptions stencilc raises for kernels it cannot compile."""
from __future__ import annotations


class StencilError(Exception):
    """Base class of every error stencilc raises about a kernel."""


class StencilSyntaxError(StencilError, SyntaxError):
    """A kernel uses something outside the stencil language (docs/design.md 1.3).

    Carries ``filename``, ``lineno``, ``offset`` (1-based column) and ``text`` (the source
    line) like :class:`SyntaxError`, so tracebacks and IDEs point at the offending expression.
    """

    def __init__(self, message: str, *, filename: str | None = None, lineno: int | None = None,
                 offset: int | None = None, text: str | None = None, hint: str | None = None):
        self.hint = hint
        self.bare_message = message
        full = message if hint is None else f"{message}\nhint: {hint}"
        super().__init__(full, (filename, lineno, offset, text))

    def __str__(self) -> str:
        where = f"{self.filename}, line {self.lineno}, column {self.offset}"
        text = f"\n    {self.text.strip()}" if self.text else ""
        return f"{self.msg} ({where}){text}"


class StencilNameError(StencilSyntaxError):
    """A kernel reads a name that is not defined (yet). Raised at decoration only for names
    that are not globals: an undefined global may still be bound before the first call, so
    the kernel is understood then (as numba resolves globals at compile time)."""

    def __init__(self, message: str, *, name: str, **location):
        self.name = name
        super().__init__(message, **location)


class StencilTypingError(StencilError, TypeError):
    """A kernel that is valid stencil syntax but cannot be typed for the dtypes it met (a
    string added to a number, a function numba has no implementation of).

    ``filename``, ``lineno``, ``offset`` and ``text`` name the user's line the compiler stopped at, when
    it can be found; the generated code never appears in the message.
    """

    def __init__(self, message: str, *, filename: str | None = None, lineno: int | None = None,
                 text: str | None = None):
        self.bare_message = message
        self.filename = filename
        self.lineno = lineno
        self.text = text
        # numba locates typing errors by line only: point at the statement's first character
        self.offset = None if text is None else len(text) - len(text.lstrip()) + 1
        where = "" if lineno is None else f"\n  at {filename}, line {lineno}"
        code = f": {text.strip()}" if text and lineno is not None else ""
        super().__init__(message + where + code)


class StencilInternalError(StencilError, RuntimeError):
    """stencilc itself failed on a valid kernel: a bug to report, not a user mistake."""


class TargetUnavailableError(RuntimeError):
    """A kernel's target cannot run on this machine (``target="cuda"`` without a GPU): the
    machine's limits, not a mistake in the kernel or the data."""

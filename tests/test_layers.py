"""The package reads top-down: a module imports only modules of its own layer or below, and
no import cycle exists (docs/architecture.md). Checked on the source, so a stray import
fails here before it becomes a cycle at run time."""
from __future__ import annotations

import ast
from pathlib import Path

import stencilc

PACKAGE = Path(stencilc.__file__).parent

#: layer of each top-level module or subpackage, from the top (0) down
LAYERS = {
    "cli": 0, "demo": 0,
    "__init__": 1, "api": 1, "ndimage": 1,
    "ufunc": 2,
    "options": 3, "pipeline": 3,
    "arrays": 4, "targets": 4,
    "axes": 5, "cache": 5, "codegen": 5, "stepping": 5,
    "runtime": 6, "passes": 6, "frontend": 6, "schedules": 6,
    "ir": 7, "folding": 7, "dtypes": 7, "signature": 7,
    "boundary": 8, "errors": 8, "progress": 8, "_version": 8, "image": 8,
}


def _unit(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _runtime_imports(path: Path) -> set[str]:
    """Top-level stencilc units that ``path`` imports outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text())
    package = path.relative_to(PACKAGE).parent.parts
    found = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.ImportFrom) and node.level:
                base = list(package[:len(package) - (node.level - 1)])
                parts = base + (node.module.split(".") if node.module else [])
                targets = [parts] if node.module else [base + [a.name] for a in node.names]
                for target in targets:
                    if target:
                        found.add(target[0])
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.stmt,)):
                    visit([child])

    visit(tree.body)
    return found - {_unit(path)}


def test_every_module_has_a_layer():
    units = {_unit(p) for p in PACKAGE.rglob("*.py")}
    assert units <= set(LAYERS), units - set(LAYERS)


def test_imports_only_go_down():
    for path in PACKAGE.rglob("*.py"):
        unit = _unit(path)
        for imported in _runtime_imports(path):
            assert LAYERS[imported] >= LAYERS[unit], \
                f"{path.relative_to(PACKAGE)} ({unit}, layer {LAYERS[unit]}) imports " \
                f"{imported} (layer {LAYERS[imported]})"


def test_no_import_cycles():
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        graph.setdefault(_unit(path), set()).update(_runtime_imports(path))
    state: dict[str, str] = {}

    def walk(unit, trail):
        if state.get(unit) == "open":
            raise AssertionError("import cycle: " + " -> ".join(trail + [unit]))
        if state.get(unit) == "done":
            return
        state[unit] = "open"
        for imported in graph.get(unit, ()):
            walk(imported, trail + [unit])
        state[unit] = "done"

    for unit in graph:
        walk(unit, [])

"""Writes docs/api.md, the API reference, from the public objects' docstrings and signatures.

Run ``.venv/bin/python docs/make_api.py``; tests/test_docs.py fails when docs/api.md is out of
date, so the reference cannot drift from the code.
"""
from __future__ import annotations

import inspect
from pathlib import Path

import stencilc
from stencilc import cli, image, ndimage
from stencilc.schedules import Schedule
from stencilc.ufunc import StencilUFunc

SECTIONS = [
    ("The decorator", [stencilc.stencil_ufunc]),
    ("The stencil ufunc", [StencilUFunc, StencilUFunc.__call__, StencilUFunc.iterate,
                           StencilUFunc.trajectory, StencilUFunc.with_options,
                           StencilUFunc.compile,
                           StencilUFunc.for_dims, StencilUFunc.without_boundary,
                           StencilUFunc.inspect_ir, StencilUFunc.schedule,
                           StencilUFunc.inspect_source,
                           StencilUFunc.inspect_llvm, StencilUFunc.inspect_asm,
                           StencilUFunc.ir, Schedule, Schedule.describe]),
    ("Images (`stencilc.image`)", [image.imread, image.imsave, image.ImageFileError,
                                   image.list_files, image.default_extension,
                                   image.output_format, image.natural_sorted,
                                   image.is_name_pattern]),
    ("scipy.ndimage's filters (`stencilc.ndimage`)",
     [getattr(ndimage, name) for name in ndimage.__all__]),
    ("Errors", [stencilc.StencilError, stencilc.StencilSyntaxError, stencilc.StencilNameError,
                stencilc.StencilTypingError, stencilc.StencilInternalError,
                stencilc.TargetUnavailableError]),
    ("The command (`stencilc.cli`)", [cli.main]),
]


def _name(obj) -> str:
    if isinstance(obj, property):
        return f"StencilUFunc.{obj.fget.__name__}"
    qualname = getattr(obj, "__qualname__", obj.__name__)
    module = obj.__module__.replace("stencilc.ufunc", "stencilc").replace("stencilc.api",
                                                                           "stencilc")
    module = module.replace("stencilc.errors", "stencilc")
    return f"{module}.{qualname}" if not qualname.startswith("StencilUFunc") else qualname


def _signature(obj) -> str:
    if isinstance(obj, property) or inspect.isclass(obj):
        return ""
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"
    return text.replace("'", "")


def render() -> str:
    lines = ["# API reference", "",
             "Made from the docstrings by `docs/make_api.py` (do not edit by hand). "
             "Guides: [index](index.md).", ""]
    for title, objects in SECTIONS:
        lines += [f"## {title}", ""]
        for obj in objects:
            doc = inspect.getdoc(obj.fget if isinstance(obj, property) else obj) or ""
            lines += [f"### `{_name(obj)}{_signature(obj)}`", "", "```text", doc, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(path: Path = Path(__file__).with_name("api.md")) -> Path:
    path.write_text(render())
    return path


if __name__ == "__main__":
    print(main())

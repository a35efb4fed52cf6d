"""The generated docs are current, and every page the index links to exists."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_is_made_from_the_current_docstrings():
    assert (DOCS / "api.md").read_text() == _load("make_api").render(), \
        "docs/api.md is out of date: run .venv/bin/python docs/make_api.py"


def test_boundary_pictures_script_runs(tmp_path):
    module = _load("make_boundary_pictures")
    assert module.main(tmp_path / "b.png").stat().st_size > 1000
    # the picture's rows are what stencilc reads: check two against np.pad
    import numpy as np
    for mode, pad_mode in [("reflect", "symmetric"), ("wrap", "wrap"), ("mirror", "reflect")]:
        np.testing.assert_array_equal(module.extended_row(mode),
                                      np.pad(module.VALUES, module.REACH, mode=pad_mode))


def test_every_linked_page_exists():
    for page in [DOCS / "index.md", DOCS.parent / "README.md"]:
        for target in re.findall(r"\]\(([^)#]+\.md)\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"

"""Docs from code: docs/design.md's module map is the tree's (every module of pytest_irp/
and pytest_irp_lab/ named there, every module named there existing, in the generated map
and in the prose), docs/settings.md's table is settings.toml's, and the README stays the
short entry it is (at most 150 lines, a link to every document, no measured figure: those
are in docs/benchmarks.md)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
DESIGN = REPO / "docs" / "design.md"
README = REPO / "README.md"


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"irp_script_{name}", REPO / "scripts" / name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MODULE_MAP = _script("module_map.py")


def test_the_module_map_is_the_trees() -> None:
    text = DESIGN.read_text(encoding="utf-8")
    assert MODULE_MAP.updated(text) == text, "run python scripts/module_map.py"
    assert MODULE_MAP.main(["--check"]) == 0


def test_every_module_is_named_in_design_and_every_named_module_exists() -> None:
    text = DESIGN.read_text(encoding="utf-8")
    named = set(re.findall(r"^\| `(pytest_irp[\w/]*\.py)` \|", text, re.M))
    tree = {path.as_posix() for path in MODULE_MAP.modules()}
    assert tree, "no modules found"
    assert sorted(tree - named) == [], "modules design.md does not name"
    assert sorted(named - tree) == [], "modules design.md names that do not exist"


def test_every_python_file_the_design_prose_names_exists() -> None:
    """`orchestrator.py`, `stages/NAME.py`, `testing/test_house.py`: each resolves to a file
    of the repository (by its path, or its name under the packages, testing/ or scripts/);
    placeholders in capitals (NAME) stand for any."""
    files = [p.relative_to(REPO).as_posix() for p in REPO.rglob("*.py") if ".git" not in p.parts]
    missing = []
    for name in sorted(set(re.findall(r"`([\w./-]+\.py)`", DESIGN.read_text(encoding="utf-8")))):
        pattern = re.escape(name).replace("NAME", r"\w+")
        if not any(re.fullmatch(rf"(.*/)?{pattern}", f) for f in files):
            missing.append(name)
    assert missing == []


def test_the_check_of_the_module_map_fails_when_a_module_is_added(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = DESIGN.read_text(encoding="utf-8")
    real = MODULE_MAP.modules
    monkeypatch.setattr(MODULE_MAP, "modules", lambda: [*real(), Path("pytest_irp/fileio.py")])
    assert MODULE_MAP.updated(text) != text


def test_the_settings_table_is_settings_tomls() -> None:
    table = _script("settings_table.py")
    text = table.DOC.read_text(encoding="utf-8")
    assert table.updated(text) == text, "run python scripts/settings_table.py"


def test_the_readme_is_short_and_links_every_document() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    linked = set(re.findall(r"\]\((docs/[\w.-]+\.md)\)", text))
    docs = {p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md")}
    assert sorted(docs - linked) == [], "documents the README does not link"
    assert sorted(linked - docs) == [], "links of the README to no document"
    assert text.index("## The two commands") < text.index("```"), "the two commands come first"


def test_measured_figures_are_only_in_the_benchmarks() -> None:
    text = README.read_text(encoding="utf-8")
    figures = re.findall(r"\b\d+(?:\.\d+)? ?(?:ms|s|min|minutes|seconds|%)(?!\w)", text)
    assert figures == [], "measured figures belong in docs/benchmarks.md"

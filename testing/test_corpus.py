"""The app-check corpus (testing/corpus/): small IHP app trees, one per routing style,
schema form and spec style, and one per planted defect. Every correct tree passes the
static checks of T02-T05; every defect fails exactly its check, with a message naming the
file and line. docs/app-checks.md holds the table of verdicts, generated from here:
``python3 testing/test_corpus.py`` rewrites it, and a test fails when it drifts."""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pytest_irp.appcode import Verdict  # noqa: E402
from pytest_irp.appcode.checks import STATIC, t05_test_choice  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "corpus"
DOC = REPO / "docs" / "app-checks.md"
BEGIN, END = "<!-- corpus table: begin -->", "<!-- corpus table: end -->"
CASES = ["base", *sorted(p.name for p in (CORPUS / "cases").iterdir() if p.is_dir())]


def case_meta(name: str) -> dict[str, Any]:
    if name == "base":
        return {
            "about": "hand-written CanRoute + HasPath with attoparsec `string`; "
            "table-constraint primary key; IHP.Hspec spec (callAction)"
        }
    return tomllib.loads((CORPUS / "cases" / name / "case.toml").read_text())


def build_tree(name: str, dest: Path) -> Path:
    """The base tree with the case's files laid over it (and its `delete` list removed)."""
    shutil.copytree(CORPUS / "base", dest)
    if name != "base":
        overlay = CORPUS / "cases" / name / "tree"
        if overlay.is_dir():
            shutil.copytree(overlay, dest, dirs_exist_ok=True)
        for relative in case_meta(name).get("delete", []):
            if not (overlay / relative).exists():
                (dest / relative).unlink()
    return dest


def verdicts(app: Path) -> dict[str, Verdict]:
    return {check: judge(app) for check, judge in STATIC.items()}


@pytest.mark.parametrize("name", CASES)
def test_case_verdicts(name: str, tmp_path: Path) -> None:
    meta = case_meta(name)
    got = verdicts(build_tree(name, tmp_path / name))
    fails: dict[str, str] = meta.get("fails", {})
    assert set(fails) <= set(STATIC), f"{name}: unknown check in case.toml"
    for check, verdict in got.items():
        if check in fails:
            assert not verdict.ok, f"{name}: {check} passed, expected it to fail"
            assert fails[check] in verdict.cause(), f"{name}: {check}: {verdict.cause()}"
        else:
            assert verdict.ok, f"{name}: {check} failed: {verdict.cause()}"
    if "t05_command" in meta:
        assert t05_test_choice(tmp_path / name).where == meta["t05_command"], name
    for expected in meta.get("findings", []):
        check, _, text = expected.partition(": ")
        assert any(text in f for f in got[check].findings), (
            f"{name}: no {check} finding with {text!r}: {got[check].findings}"
        )


def test_every_failure_names_file_and_line(tmp_path: Path) -> None:
    for name in CASES:
        for check, verdict in verdicts(build_tree(name, tmp_path / name)).items():
            for problem in verdict.problems:
                assert problem.path, f"{name} {check}: {problem}"
                if (
                    check not in ("T02 scaffold", "T03 migration")
                    and "no table probes" not in problem.message
                    and "no route of" not in problem.message
                    and not problem.message.startswith("missing")
                ):
                    assert problem.line > 0, f"{name} {check}: {problem} has no line"


def table(tmp: Path) -> str:
    checks = list(STATIC)
    rows = [
        "| case | what | " + " | ".join(checks) + " | T05 command |",
        "|---|---|" + "---|" * (len(checks) + 1),
    ]
    for name in CASES:
        got = verdicts(build_tree(name, tmp / name))
        cells = []
        for check in checks:
            verdict = got[check]
            cell = "pass" if verdict.ok else "**FAIL**"
            count = len(verdict.findings)
            if count:
                cell += f" ({count} finding{'s' if count > 1 else ''})"
            cells.append(cell)
        choice = t05_test_choice(tmp / name)
        cells.append(choice.where + (" (cannot pass)" if choice.problem else ""))
        about = case_meta(name)["about"].replace("|", "\\|")
        rows.append(f"| `{name}` | {about} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def render_doc(text: str, tmp: Path) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table(tmp)}\n{END}{tail}"


def test_docs_table_matches_the_corpus(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text
    assert END in text
    assert render_doc(text, tmp_path) == text, (
        "docs/app-checks.md is out of date: run `python3 testing/test_corpus.py`"
    )


def test_the_drift_test_notices_a_changed_verdict(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    stale = text.replace("| **FAIL** |", "| pass |", 1)
    assert stale != text
    assert render_doc(stale, tmp_path) != stale


if __name__ == "__main__":
    import tempfile

    from pytest_irp.fileio import write_atomic

    with tempfile.TemporaryDirectory() as tmp:
        write_atomic(DOC, render_doc(DOC.read_text(encoding="utf-8"), Path(tmp)))
    print(f"wrote {DOC}")

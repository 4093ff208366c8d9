"""One formatter, one linter, strict types: what ``ruff format``, ``ruff check`` and
``mypy`` (strict, pyproject.toml) say of the repository, as tests, so that .ci/run (the
README's test command) enforces them. Each fails with the tool's own report."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def tool(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), cwd=REPO, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def ruff() -> str:
    found = shutil.which("ruff")
    if found is None:  # the dev extra installs it: a missing ruff is a broken set-up
        pytest.fail("ruff is not installed (pip install -e '.[dev]')")
    return found


def test_code_is_formatted_by_ruff(ruff: str) -> None:
    done = tool(ruff, "format", "--check", "--diff", ".")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_code_passes_ruff_check(ruff: str) -> None:
    done = tool(ruff, "check", "--output-format", "concise", ".")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_packages_pass_mypy_strict() -> None:
    done = tool(sys.executable, "-m", "mypy")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]

"""PIPELINE_LOG.md in the app repository: one row per green SHA, in the workplan's format."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from . import judge
from .facts import Facts
from .fileio import locked, write_atomic


def append_pipeline_log(s: Any, facts: Facts) -> str:
    """One row in the app repo's PIPELINE_LOG.md, in the workplan's format: written
    atomically, once per SHA (called at the end of a fully green run). Parallel runs
    read and rewrite it one at a time, under an exclusive lock on the app repository's
    directory, so none loses another's row."""
    sha = facts.sha()
    path = facts.app_repo / "PIPELINE_LOG.md"
    with locked(facts.app_repo):
        text = path.read_text(encoding="utf-8") if path.exists() else judge.PIPELINE_LOG_HEADER
        if judge.pipeline_log_has(text, sha):
            return "already logged"
        registry = str(s.get("registry", "")).split("/")[0]
        row = judge.pipeline_log_row(
            time.strftime("%Y-%m-%d"), sha[:7], s["host"], registry, s["kube_context"]
        )
        write_atomic(path, text.rstrip("\n") + "\n" + row + "\n")
    return row


LOG_FILE = "PIPELINE_LOG.md"


def commit_argv(message: str) -> list[list[str]]:
    """The commands that commit PIPELINE_LOG.md alone: ``git add`` of that one path, then
    ``git commit --only`` of it (other staged changes stay staged, uncommitted); values
    after ``--``. Never a push."""
    return [
        ["git", "add", "--", LOG_FILE],
        ["git", "commit", "--quiet", "--only", "--no-verify", "-m", message, "--", LOG_FILE],
    ]


def commit_pipeline_log(runner: Any, repo: Path, sha: str) -> None:
    """Commit the row of ``sha`` (pipeline_log_commit): only PIPELINE_LOG.md."""
    for argv in commit_argv(f"PIPELINE_LOG: {sha[:7]} green (pytest-irp)"):
        result = runner.run(["git", "-C", str(repo), *argv[1:]], timeout=30)
        if not result.ok:
            raise RuntimeError(f"`{' '.join(argv)}` failed: {result.describe_failure()}")


def committed_state(runner: Any, repo: Path, sha: str) -> str:
    """Whether the row of ``sha`` is in PIPELINE_LOG.md as HEAD holds it: "committed",
    "written, not committed" (in the file only) or "not written"."""
    head = runner.run(["git", "-C", str(repo), "show", f"HEAD:{LOG_FILE}"], timeout=30)
    if head.ok and judge.pipeline_log_has(head.stdout, sha):
        return "committed"
    path = repo / LOG_FILE
    if path.exists() and judge.pipeline_log_has(path.read_text(encoding="utf-8"), sha):
        return "written, not committed"
    return "not written"

"""PIPELINE_LOG.md in the app repository: one row per green SHA, in the workplan's format."""

from __future__ import annotations

import time
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

"""What the user reviews: per-check records, the exit-criteria summary and summary.json.
Pure functions over plain data (the HTML page: :mod:`pytest_irp.html`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from .fileio import write_atomic
from .outcomes import (
    STATUS_PASS,
    worst,
)
from .stage import StageResult
from .values import BuiltImage, DeployedRelease, PulledImage, PushedImage


@dataclass
class CheckRecord:
    nodeid: str
    criterion: str
    check: str
    status: str
    duration: float
    cause: str = ""


def check_name(name: str, criterion: str) -> str:
    """``test_T06_result_is_a_store_path`` -> ``result is a store path``."""
    base = name.split("[")[0]
    for prefix in (f"test_{criterion}_", f"test_{criterion.lower()}_", "test_"):
        if base.startswith(prefix):
            base = base[len(prefix) :]
            break
    return base.replace("_", " ")


def criteria_table(
    records: Iterable[CheckRecord], titles: Mapping[str, str]
) -> list[dict[str, Any]]:
    """One row per criterion: task, check, status, duration, causes."""
    by: dict[str, list[CheckRecord]] = {}
    for rec in records:
        by.setdefault(rec.criterion, []).append(rec)
    rows = []
    for criterion in sorted(by, key=lambda c: (list(titles).index(c) if c in titles else 99, c)):
        recs = by[criterion]
        status = worst([r.status for r in recs])
        causes = [
            r.cause
            for r in sorted(recs, key=lambda r: r.status != status)
            if r.status != STATUS_PASS and r.cause
        ]
        rows.append(
            {
                "task": criterion,
                "check": titles.get(criterion, ""),
                "status": status,
                "duration": round(sum(r.duration for r in recs), 3),
                "checks": {r.check: r.status for r in recs},
                "cause": causes[0] if causes else "",
            }
        )
    return rows


def ok_value(results: Mapping[str, StageResult], stage: str) -> dict[str, Any]:
    """The value of a stage that succeeded ({} otherwise): cast it to the stage's type in
    :mod:`pytest_irp.values` and read it by its typed keys."""
    result = results.get(stage)
    return result.value if result is not None and result.ok else {}


def digest_chain(results: Mapping[str, StageResult]) -> list[tuple[str, str]]:
    """nix out path -> pushed digest -> pulled digest -> running digest (what is known)."""
    build = cast(BuiltImage, ok_value(results, "build"))
    push = cast(PushedImage, ok_value(results, "push"))
    pull = cast(PulledImage, ok_value(results, "pull"))
    release = cast(DeployedRelease, ok_value(results, "release"))
    return [
        ("nix out path", build.get("out_path", "")),
        ("pushed digest", push.get("digest", "")),
        ("pulled digest", pull.get("digest", "")),
        ("running digest", release.get("running_digest", "")),
    ]


def summary_json(
    run_id: str,
    settings_line: str,
    rows: list[dict[str, Any]],
    records: list[CheckRecord],
    results: Mapping[str, StageResult],
    exit_code: int | None,
    problems: list[dict[str, Any]] | None = None,
    times: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "target": settings_line,
        "exit_code": exit_code,
        **(times or {}),
        # every independent problem, once, in pipeline order, with its next step
        "problems": problems or [],
        "criteria": {
            row["task"]: {k: row[k] for k in ("check", "status", "duration", "cause", "checks")}
            for row in rows
        },
        "checks": [asdict(r) for r in records],
        "stages": {
            name: {
                "status": r.status,
                "criterion": r.criterion,
                "cause": r.cause,
                "duration": round(r.duration, 3),
                "reused_from": r.reused_from,
                "findings": [asdict(f) for f in r.findings],
                "logs": r.logs,
            }
            for name, r in results.items()
        },
        "digests": dict(digest_chain(results)),
    }


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")

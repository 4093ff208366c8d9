"""What the user reviews: per-check records, the exit-criteria summary, summary.json and
the pieces added to the pytest-html report. Pure functions over plain data."""

from __future__ import annotations

import html
import json
import os
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .fileio import write_atomic
from .outcomes import (
    STATUS_BLOCKED,
    STATUS_FAIL,
    STATUS_NOT_RUN,
    STATUS_PASS,
    STATUS_SKIPPED,
    worst,
)
from .stage import StageResult

EXCERPT_LINES = 40


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
            base = base[len(prefix):]
            break
    return base.replace("_", " ")


def criteria_table(records: Iterable[CheckRecord], titles: Mapping[str, str]
                   ) -> list[dict[str, Any]]:
    """One row per criterion: task, check, status, duration, causes."""
    by: dict[str, list[CheckRecord]] = {}
    for rec in records:
        by.setdefault(rec.criterion, []).append(rec)
    rows = []
    for criterion in sorted(by, key=lambda c: (list(titles).index(c) if c in titles else 99, c)):
        recs = by[criterion]
        status = worst([r.status for r in recs])
        causes = [r.cause for r in sorted(recs, key=lambda r: r.status != status)
                  if r.status != STATUS_PASS and r.cause]
        rows.append({"task": criterion, "check": titles.get(criterion, ""), "status": status,
                     "duration": round(sum(r.duration for r in recs), 3),
                     "checks": {r.check: r.status for r in recs},
                     "cause": causes[0] if causes else ""})
    return rows


def digest_chain(results: Mapping[str, StageResult]) -> list[tuple[str, str]]:
    """nix out path -> pushed digest -> pulled digest -> running digest (what is known)."""
    def value(stage: str, key: str) -> str:
        r = results.get(stage)
        return str(r.value.get(key, "")) if r is not None and r.ok else ""

    return [("nix out path", value("build", "out_path")),
            ("pushed digest", value("push", "digest")),
            ("pulled digest", value("pull", "digest")),
            ("running digest", value("release", "running_digest"))]


def summary_json(run_id: str, settings_line: str, rows: list[dict[str, Any]],
                 records: list[CheckRecord], results: Mapping[str, StageResult],
                 exit_code: int | None) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "target": settings_line,
        "exit_code": exit_code,
        "criteria": {row["task"]: {k: row[k] for k in ("check", "status", "duration",
                                                       "cause", "checks")} for row in rows},
        "checks": [asdict(r) for r in records],
        "stages": {name: {"status": r.status, "criterion": r.criterion, "cause": r.cause,
                          "duration": round(r.duration, 3), "reused_from": r.reused_from,
                          "findings": [asdict(f) for f in r.findings], "logs": r.logs}
                   for name, r in results.items()},
        "digests": dict(digest_chain(results)),
    }


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


# --------------------------------------------------------------------------- HTML pieces

_COLORS = {STATUS_PASS: "#2e7d32", STATUS_FAIL: "#c62828", STATUS_BLOCKED: "#ef6c00",
           STATUS_NOT_RUN: "#6a1b9a", STATUS_SKIPPED: "#757575"}


def html_criteria_table(rows: list[dict[str, Any]]) -> str:
    cells = []
    for row in rows:
        color = _COLORS.get(row["status"], "#000")
        cause = f"<br><small>{html.escape(row['cause'][:300])}</small>" if row["cause"] else ""
        cells.append(f"<tr><td>{row['task']}</td><td>{html.escape(row['check'])}{cause}</td>"
                     f"<td style='color:{color};font-weight:bold'>{row['status']}</td>"
                     f"<td>{row['duration']:.1f}s</td></tr>")
    return ("<h2>Exit Criteria Summary</h2><table class='irp-criteria' border='1' "
            "cellpadding='4' style='border-collapse:collapse'><tr><th>Task</th><th>Check</th>"
            "<th>Status</th><th>Duration</th></tr>" + "".join(cells) + "</table>")


def html_kv_table(title: str, pairs: Iterable[tuple[str, str]]) -> str:
    body = "".join(f"<tr><td>{html.escape(k)}</td><td><code>{html.escape(v or '-')}</code>"
                   f"</td></tr>" for k, v in pairs)
    return (f"<h3>{html.escape(title)}</h3><table border='1' cellpadding='4' "
            f"style='border-collapse:collapse'>{body}</table>")


def html_findings(results: Mapping[str, StageResult]) -> str:
    items = []
    for result in results.values():
        for f in result.findings:
            fix = f"<br><b>Fix:</b> {html.escape(f.fix)}" if f.fix else ""
            items.append(f"<li><b>[{f.severity}] {html.escape(f.title)}</b> "
                         f"({html.escape(f.stage)}): {html.escape(f.detail)}{fix}</li>")
    return "<h3>Findings</h3><ul>" + "".join(items) + "</ul>" if items else ""


def stage_text(result: StageResult, max_lines: int = EXCERPT_LINES) -> str:
    """A stage's record as text for a report extra (commands, outputs, findings), capped."""
    lines = [f"stage {result.stage} ({result.criterion}): {result.status} in "
             f"{result.duration:.1f}s"]
    if result.reused_from:
        lines.append(f"reused from run {result.reused_from.get('run_id')} at "
                     f"{result.reused_from.get('time')}")
    if result.cause:
        lines.append(f"cause: {result.cause}")
    for cmd in result.commands:
        lines.append(f"\n[{cmd['host']}] $ {shlex.join(cmd['argv'])}   # rc={cmd['rc']} "
                     f"{cmd['duration']}s")
        output = (cmd.get("stdout") or "") + (cmd.get("stderr") or "")
        out_lines = output.rstrip().splitlines()
        if len(out_lines) > max_lines:
            lines.append(f"  [... {len(out_lines) - max_lines} lines cut ...]")
        lines.extend("  " + line for line in out_lines[-max_lines:])
    if result.details:
        lines.append(f"\nlast lines:\n{result.details}")
    for f in result.findings:
        lines.append(f"\nfinding [{f.severity}] {f.title}: {f.detail}"
                     + (f"\n  fix: {f.fix}" if f.fix else ""))
    return "\n".join(lines)


def relative_link(path: str, report_dir: Path) -> str:
    try:
        return os.path.relpath(path, report_dir)
    except ValueError:
        return path

"""What a validation run shows in pytest's reports and terminal: BLOCKED outcomes,
redacted failure texts, the exit-criteria table, plan and preflight output."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import pytest

from .outcomes import (
    STATUS_BLOCKED,
    STATUS_FAIL,
    STATUS_NOT_CHECKED,
    STATUS_NOT_RUN,
    STATUS_PASS,
    STATUS_SKIPPED,
    STATUS_XFAIL,
    Blocked,
    CriterionFailed,
    NotChecked,
    xfail_cause,
)
from .redact import SESSION_SECRET_NAME, Redactor
from .report import ok_value
from .run import IrpRun, deselected_checks
from .values import LiveApp


def mark_outcome(
    report: pytest.TestReport, call: pytest.CallInfo[None], criterion: bool = True
) -> None:
    """A check that could not be proven (Blocked, CriterionFailed) fails in its call phase
    with its one-line cause, not as a fixture error; a Blocked one is marked for the
    BLOCKED status. A check marked xfail (xfailed or xpassed) fails too: an expected failure
    proves nothing. A check stopped by ``not_checked`` stays a skip, marked NOT CHECKED."""
    excinfo = call.excinfo
    if criterion and hasattr(report, "wasxfail") and (report.skipped or report.passed):
        message = xfail_cause(report)
        del report.wasxfail  # pytest's terminal and JUnit would call it a benign xfail
        report.outcome = "failed"
        report.when = "call"
        report.longrepr = message
        report.irp_xfail = message  # type: ignore[attr-defined]
        return
    if excinfo is not None and isinstance(excinfo.value, NotChecked):
        report.irp_not_checked = True  # type: ignore[attr-defined]
        if isinstance(report.longrepr, tuple):  # the reason without the exception's name
            report.longrepr = (*report.longrepr[:2], str(excinfo.value.msg))
    if excinfo is not None and isinstance(excinfo.value, Blocked | CriterionFailed):
        message = str(excinfo.value)
        report.outcome = "failed"
        report.when = "call"
        report.longrepr = message
        if isinstance(excinfo.value, Blocked):
            report.irp_blocked = message  # type: ignore[attr-defined]


@dataclasses.dataclass(frozen=True)
class _Crash:
    path: str
    lineno: int
    message: str


class RedactedLongrepr:
    """A failure's text after redaction, keeping its crash line (``reprcrash``): the one-line
    cause in the exit-criteria table, pytest's short summary and JUnit's message read it.
    A plain string would lose it and show the traceback's first line (a fixture's repr)."""

    def __init__(self, text: str, crash: Any, redactor: Redactor) -> None:
        self.text = text
        self.reprcrash = (
            None
            if crash is None
            else _Crash(
                str(getattr(crash, "path", "")),
                int(getattr(crash, "lineno", 0) or 0),
                redactor.redact(str(getattr(crash, "message", ""))),
            )
        )

    def toterminal(self, tw: Any) -> None:
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self) -> str:
        return self.text


def redact_report(report: pytest.TestReport, redactor: Redactor) -> None:
    if (
        redactor.count == 0
        and SESSION_SECRET_NAME not in (report.longreprtext or "")
        and not any(SESSION_SECRET_NAME in c for _, c in report.sections)
    ):
        return
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        # a skip's (path, line, reason): pytest's -rs and JUnit unpack it, so it stays a
        # tuple; its reason masked and on one line
        path, lineno, reason = report.longrepr
        cleaned_reason = " ".join(redactor.redact(str(reason)).split())
        report.longrepr = (str(path), lineno, cleaned_reason)
        report.sections = [(k, redactor.redact(v)) for k, v in report.sections]
        return
    text = report.longreprtext
    if text:
        cleaned = redactor.redact(text)
        if cleaned != text:
            crash = getattr(report.longrepr, "reprcrash", None)
            report.longrepr = RedactedLongrepr(cleaned, crash, redactor)  # type: ignore[assignment]
    report.sections = [(k, redactor.redact(v)) for k, v in report.sections]


def blocked_status(
    report: pytest.TestReport,
) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    """BLOCKED, XFAIL (not proven) and NOT CHECKED as pytest's terminal shows them."""
    if getattr(report, "irp_blocked", None):
        return "blocked", "B", ("BLOCKED", {"yellow": True, "bold": True})
    if getattr(report, "irp_xfail", None):
        return "failed", "X", ("XFAIL (not proven)", {"red": True, "bold": True})
    if getattr(report, "irp_not_checked", None):
        return "not checked", "n", ("NOT CHECKED", {"yellow": True, "bold": True})
    return None


_COLORS: dict[str, dict[str, bool]] = {
    STATUS_PASS: {"green": True},
    STATUS_FAIL: {"red": True},
    STATUS_BLOCKED: {"yellow": True},
    STATUS_NOT_RUN: {"yellow": True},
    STATUS_XFAIL: {"red": True},
    STATUS_NOT_CHECKED: {"yellow": True},
    STATUS_SKIPPED: {},
}


def write_summary(tr: Any, run: IrpRun) -> None:
    """BLOCKED lines, the exit-criteria table, NOT RUN, findings and where the report is."""
    from .html.text import plain_cause
    from .htmlreport import is_full

    if run.blocked_lines:
        tr.write_sep("=", "BLOCKED (not proven)", yellow=True)
        for line in run.blocked_lines:
            tr.write_line(run.redactor.redact(line))
    tr.write_sep("=", "exit criteria")
    for row in run.rows():
        color = _COLORS.get(row["status"], {"yellow": True})
        cause = (
            f"  ({plain_cause(row['cause'])[:200]})"
            if row["cause"] and row["status"] != STATUS_PASS
            else ""
        )
        tr.write_line(f"{row['task']:4} {row['status']:8} {row['check']}{cause}", **color)
    missing = run.not_run()
    if missing:
        tr.write_line(
            f"{len(missing)} selected check(s) NOT RUN (not proven): "
            f"{missing[0].cause.removeprefix('not run: ')}",
            yellow=True,
            bold=True,
        )
        tr.stats.setdefault("not run", []).extend(_NotRun(r.nodeid) for r in missing)
        getattr(tr, "_set_main_color", lambda: None)()  # the final line: never green
    for result in run.pipeline.results.values():
        for f in result.findings:
            if f.severity != "info":
                tr.write_line(f"finding [{f.severity}] {f.title}: {f.fix or f.detail}", yellow=True)
    live = cast(LiveApp, ok_value(run.pipeline.results, "live"))
    if live.get("pipeline_log"):
        tr.write_line(f"PIPELINE_LOG.md: {live.get('pipeline_log')} (commit it with the app)")
    summary = run.report_dir / "summary.json"
    for problem in run.publish_problem.splitlines():
        tr.write_line(run.redactor.redact(problem), yellow=True, bold=True)
    if "not published" in run.publish_problem:
        summary = run.report_dir / f"irp-{run.run_id}" / "summary.json"
    tr.write_line(f"irp report: {run.html_path}; summary: {summary}")
    if not is_full(run, deselected_checks(run.config)):
        tr.write_line("irp: partial run: latest.html still shows the last full run")


@dataclasses.dataclass(frozen=True)
class _NotRun:
    """An entry of the terminal's "N not run" count."""

    nodeid: str
    count_towards_summary: bool = True


def run_instead_of_tests(session: pytest.Session, run: IrpRun) -> bool | None:
    """Plan mode prints the plan; preflight mode runs only the preflight (each failed
    precondition counts as a failed test, printed as one paragraph). None: run the tests."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")

    def write(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)

    if run.settings["plan"]:
        from .plan import plan_text

        write(run.redactor.redact(plan_text(run.pipeline, session.items)))
        return True
    if session.config.option.collectonly:
        return None
    from .plan import needed_stages
    from .preflight_run import run_only

    try:
        session.testsfailed = run_only(
            run.pipeline, needed_stages(run.pipeline, session.items), write
        )
    finally:
        run.pipeline.close()
    return True

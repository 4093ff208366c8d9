"""What a validation run shows in pytest's reports and terminal: BLOCKED outcomes,
redacted failure texts, the exit-criteria table, plan and preflight output."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import pytest

from .outcomes import (
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
        report.irp_decided = message  # type: ignore[attr-defined]
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


def write_summary(tr: Any, run: IrpRun) -> None:
    """The problems to fix, the exit-criteria table pointing at them, NOT RUN, findings
    and where the report is (:mod:`pytest_irp.console`)."""
    from . import console
    from .htmlreport import is_full
    from .pipeline import CRITERIA
    from .problems import of_run

    redact = run.redactor.redact
    width = console.width_of(tr)
    verbose = tr.config.get_verbosity() > 0
    problems = of_run(run.records.values(), run.pipeline, list(CRITERIA))
    if problems:
        tr.write_sep(
            "=",
            f"{len(problems)} problem{'s' if len(problems) > 1 else ''} to fix, in pipeline order",
            red=True,
        )
        for line in console.problem_lines(problems, width):
            tr.write_line(redact(line))
    if verbose and run.blocked_lines:
        tr.write_sep("=", "BLOCKED (not proven)", yellow=True)
        for line in run.blocked_lines:
            tr.write_line(redact(line))
    tr.write_sep("=", "exit criteria")
    for row in run.rows():
        tr.write_line(
            redact(console.criterion_line(row, problems, width, _note(run, row["task"]))),
            **console.color(row["status"]),
        )
    missing = run.not_run()
    if missing:
        tr.write_line(
            console.fit(
                f"{len(missing)} selected check(s) NOT RUN (not proven): "
                f"{missing[0].cause.removeprefix('not run: ')}",
                width,
            ),
            yellow=True,
            bold=True,
        )
        tr.stats.setdefault("not run", []).extend(_NotRun(r.nodeid) for r in missing)
        getattr(tr, "_set_main_color", lambda: None)()  # the final line: never green
    for line in console.finding_lines(run.pipeline.results, width, 3 if verbose else 1):
        tr.write_line(redact(line), yellow=True)
    live = cast(LiveApp, ok_value(run.pipeline.results, "live"))
    if live.get("pipeline_log") or run.pipeline_log_state:
        state = run.pipeline_log_state or "written"
        if live.get("pipeline_log") == "already logged":  # a rerun of a logged SHA
            state = f"already logged ({state})"
        advice = "" if state == "committed" else " (commit it with the app, or pipeline_log_commit)"
        tr.write_line(console.fit(f"T11 log entry (PIPELINE_LOG.md): {state}{advice}", width))
    for problem in run.publish_problem.splitlines():
        tr.write_line(redact(problem), yellow=True, bold=True)
    where = "summary.json and summary.md beside it"
    if "not published" in run.publish_problem:
        where = f"summary: {run.report_dir / f'irp-{run.run_id}' / 'summary.json'}"
    tr.write_line(f"irp report: {run.html_path} ({where})")
    if not is_full(run, deselected_checks(run.config)):
        tr.write_line("irp: partial run: latest.html still shows the last full run")
    if console.asked_for_short_summary(tr.config):
        console.show_decided(tr)


def _note(run: IrpRun, task: str) -> str:
    """T11's row says whether the PIPELINE_LOG.md row of this SHA is committed."""
    if task == "T11" and run.pipeline_log_state:
        return f"log entry {run.pipeline_log_state}"
    return ""


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

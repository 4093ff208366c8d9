"""The state of one validation run: the record of each selected check (NOT RUN until a
report says otherwise), the checks a selection left out, and the end of the run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

import pytest

from .outcomes import (
    PROVEN,
    STATUS_BLOCKED,
    STATUS_FAIL,
    STATUS_NOT_CHECKED,
    STATUS_NOT_RUN,
    STATUS_PASS,
    STATUS_SKIPPED,
    STATUS_XFAIL,
    criterion_of,
)
from .pipeline import CRITERIA
from .redact import Redactor
from .report import CheckRecord, check_name, criteria_table
from .settings import Resolved
from .stage import Pipeline
from .values import LiveApp

RUN_KEY = pytest.StashKey["IrpRun"]()
DESELECTED_KEY = pytest.StashKey[list[tuple[str, str]]]()


class IrpRun:
    """State of one validation run (only when criteria are selected)."""

    def __init__(
        self,
        config: pytest.Config,
        settings: Resolved,
        redactor: Redactor,
        pipeline: Pipeline,
        run_id: str,
        report_dir: Path,
    ) -> None:
        self.config = config
        self.settings = settings
        self.redactor = redactor
        self.pipeline = pipeline
        self.run_id = run_id
        self.report_dir = report_dir
        self.records: dict[str, CheckRecord] = {}
        self.locations: dict[str, tuple[str, int | None, str]] = {}
        self.blocked_lines: list[str] = []
        self.html_path: Path | None = None
        self.own_html = False
        self.started = time.time()  # the report's start time (the stages start after it)
        self.pipeline_log_state = ""  # T11's log entry: "committed", "written, not committed"
        # why reports/summary.json or PIPELINE_LOG.md was not updated (a lock held too long)
        self.publish_problem = ""

    # registered as a plugin for the run: these are hooks

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            crit = criterion_of(item)
            if crit:
                # NOT RUN until a report says otherwise: a check the session never reached
                # (-x, --maxfail, --sw, Ctrl-C) must never read as PASS
                self.records[item.nodeid] = CheckRecord(
                    item.nodeid, crit, check_name(item.name, crit), STATUS_NOT_RUN, 0.0
                )
                self.locations[item.nodeid] = item.location

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """One record per check: the first phase that did not pass decides; a check is PASS
        only once its call phase passed."""
        rec = self.records.get(report.nodeid)
        if rec is None:
            return
        rec.duration += report.duration
        if rec.status not in (STATUS_NOT_RUN, STATUS_PASS):
            return
        blocked = getattr(report, "irp_blocked", None)
        xfail = getattr(report, "irp_xfail", None)
        if blocked:
            rec.status, rec.cause = STATUS_BLOCKED, str(blocked)
            self.blocked_lines.append(f"BLOCKED {report.nodeid} - {blocked}")
        elif xfail:  # the cause as redacted in the report (the reason may hold a secret)
            rec.status, rec.cause = STATUS_XFAIL, first_line(report)
        elif report.skipped and getattr(report, "irp_not_checked", None):
            rec.status, rec.cause = STATUS_NOT_CHECKED, skip_reason(report)
        elif report.failed:
            rec.status, rec.cause = STATUS_FAIL, first_line(report)
        elif report.skipped:
            rec.status, rec.cause = STATUS_SKIPPED, skip_reason(report)
        elif report.when == "call":
            rec.status, rec.cause = STATUS_PASS, ""

    def not_run(self) -> list[CheckRecord]:
        return [r for r in self.records.values() if r.status == STATUS_NOT_RUN]

    @property
    def runs_nothing(self) -> bool:
        return runs_nothing(self.settings)

    def close_records(self, session: pytest.Session, exitstatus: int) -> None:
        """At the session's end: give the checks that never ran their cause, list them in
        JUnit XML, and make the exit code non-zero when a selected criterion is not
        proven (pytest exits 0 after ``pytest.exit(returncode=0)`` with checks left)."""
        missing = self.not_run()
        if missing:
            cause = (
                f"not run: the session stopped before this check "
                f"({stop_reason(session, exitstatus)})"
            )
            for rec in missing:
                rec.cause = rec.cause or cause
            junit_not_run(self.config, missing, self.locations)
        if int(session.exitstatus) == int(pytest.ExitCode.OK) and any(
            row["status"] not in PROVEN for row in self.rows()
        ):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def rows(self) -> list[dict[str, Any]]:
        return criteria_table(self.records.values(), CRITERIA)

    def record_pipeline_log(self, exitstatus: int) -> None:
        """A green run with ``pipeline_log`` set appends its entry to PIPELINE_LOG.md (and
        with ``pipeline_log_commit`` commits that one file); the state of the row of this
        SHA (committed or not) is kept for the table, the report and summary.json."""
        live = self.pipeline.results.get("live")
        if live is None or not live.ok:
            return
        from . import pipeline_log as plog
        from .fileio import LockTimeout

        facts, local = self.pipeline.facts, self.pipeline.runner("local")
        if self.settings["pipeline_log"] and exitstatus == 0:
            value = cast(LiveApp, live.value)
            try:
                value["pipeline_log"] = plog.append_pipeline_log(self.settings, facts)
            except LockTimeout as exc:
                self.publish_problem += (
                    f"irp: PIPELINE_LOG.md not written: {exc}. Wait for that process to end "
                    f"(or stop it if it hangs), then rerun to log this SHA.\n"
                )
                return
            if self.settings["pipeline_log_commit"]:
                try:
                    plog.commit_pipeline_log(local, facts.app_repo, facts.sha())
                except RuntimeError as exc:
                    self.pipeline_log_state = f"not committed: {exc}"
                    return
        self.pipeline_log_state = plog.committed_state(local, facts.app_repo, facts.sha())


def current_run(config: pytest.Config) -> IrpRun | None:
    return config.stash.get(RUN_KEY, None)


def runs_nothing(settings: Resolved) -> bool:
    """Plan mode and preflight mode run no stage: no report, no summary of criteria."""
    return bool(settings["plan"] or settings["preflight"])


def record_deselected(items: list[pytest.Item]) -> None:
    """Remember the criteria checks a selection (-k, -m) left out, for the report."""
    for item in items:
        crit = criterion_of(item)
        if crit:
            item.config.stash.setdefault(DESELECTED_KEY, []).append(
                (crit, check_name(item.name, crit))
            )


def deselected_checks(config: pytest.Config) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = config.stash.get(DESELECTED_KEY, [])
    return list(found)


def stop_reason(session: pytest.Session, exitstatus: int) -> str:
    if session.shouldfail:
        return str(session.shouldfail)  # -x / --maxfail: "stopping after 1 failures"
    if session.shouldstop:
        return str(session.shouldstop)  # --sw, or a plugin that stopped the session
    if int(exitstatus) == int(pytest.ExitCode.INTERRUPTED):
        from .signals import received

        how = f"{received()} received" if received() else "Ctrl-C or KeyboardInterrupt"
        return f"the session was interrupted: {how}"
    return f"the session ended early, pytest exit status {int(exitstatus)}"


def junit_not_run(
    config: pytest.Config,
    records: list[CheckRecord],
    locations: dict[str, tuple[str, int | None, str]],
) -> None:
    """A ``<failure message="NOT RUN: ...">`` test case per check that never ran, so that a
    JUnit reader does not count it as absent (absent reads as fine)."""
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    for rec in records:
        location = locations.get(rec.nodeid, (rec.nodeid.split("::")[0], None, rec.nodeid))
        report = pytest.TestReport(
            rec.nodeid,
            location,
            {},
            "failed",
            f"NOT RUN: {rec.cause.removeprefix('not run: ')}",
            "call",
        )
        xml.pytest_runtest_logreport(report)


def first_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else report.longreprtext
    return (text or "").strip().splitlines()[0][:500] if (text or "").strip() else "failed"


def skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return "skipped"

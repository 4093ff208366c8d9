"""The run's HTML report, summary.json and latest.html (rendering: ``pytest_irp.html``).

Registered only in a validation run. The report is written by this plugin itself to
``reports/irp-<run id>/index.html`` beside the run's logs and summary.json; a full run
also publishes ``reports/latest/`` and ``reports/latest.html``. pytest-html is used only
when the user gives ``--html``: its public hooks then carry the same sections (title and
``pytest_html_results_summary``), and none of its private objects is touched.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from . import report as rep
from .fileio import LockTimeout, locked, write_atomic
from .pipeline import CRITERIA, STAGES
from .run import deselected_checks
from .settings import TARGET_SETTINGS, describe
from .stage import StageResult
from .values import DeployedRelease, NodeMirror, PrebuildFacts, PushedImage, SourceCheckout

if TYPE_CHECKING:
    from .html.model import Report
    from .run import IrpRun


def setup_html(run: IrpRun) -> None:
    """Our own report always; pytest-html's sections only when the user chose --html."""
    run.html_path = run.report_dir / f"irp-{run.run_id}" / "index.html"
    run.own_html = True
    if run.config.getoption("htmlpath", None):
        run.config.pluginmanager.register(HtmlHooks(run), "irp-html")


def criteria_rows(run: IrpRun) -> list[dict[str, Any]]:
    return rep.criteria_table(run.records.values(), CRITERIA)


# --------------------------------------------------------------------------- the model


def selection(config: pytest.Config) -> list[str]:
    """How the run narrowed or cut short what it checks, as the options said it."""
    parts = []
    if config.getoption("keyword", ""):
        parts.append(f"-k {config.getoption('keyword')}")
    if config.getoption("markexpr", ""):
        parts.append(f"-m {config.getoption('markexpr')}")
    testpaths = [str(p) for p in config.getini("testpaths")]
    args = [a for a in config.args if a not in testpaths]
    if args and [str(Path(a)) for a in config.args] != [
        str(config.rootpath / p) for p in testpaths
    ]:
        parts.append("paths: " + " ".join(args))
    if config.getoption("lf", False):
        parts.append("--last-failed")
    maxfail = config.getoption("maxfail", 0)
    if maxfail:
        parts.append(f"stop after {maxfail} failure(s) (-x/--maxfail)")
    return parts


def _value(results: dict[str, StageResult], stage: str) -> dict[str, Any]:
    """A stage's value, also of a stage that failed (a reused one's, or {})."""
    result = results.get(stage)
    return result.value if result is not None else {}


def _environment(run: IrpRun) -> list[tuple[str, str]]:
    import platform

    results = run.pipeline.results
    env = [(name, str(run.settings.get(name) or "")) for name in TARGET_SETTINGS]
    source = cast(SourceCheckout, rep.ok_value(results, "source"))
    env.append(("SHA under test", source.get("sha") or run.pipeline.facts.sha_or("-")))
    prebuild = cast(PrebuildFacts, _value(results, "prebuild"))
    push = cast(PushedImage, _value(results, "push"))
    release = cast(DeployedRelease, _value(results, "release"))
    mirror = cast(NodeMirror, _value(results, "mirror"))
    env += [
        ("nix", str(prebuild.get("nix") or "")),
        ("skopeo", push.get("skopeo_version") or ""),
        ("helm", release.get("helm_version") or ""),
        ("k3s", mirror.get("k3s_version") or ""),
    ]
    if run.pipeline_log_state:
        env.append(("T11 log entry (PIPELINE_LOG.md)", run.pipeline_log_state))
    env.append(("run id", run.run_id))
    for name, result in results.items():
        if result.reused_from:
            env.append(
                (
                    f"stage {name}",
                    f"reused from run {result.reused_from.get('run_id')}"
                    f" at {result.reused_from.get('time')}",
                )
            )
    from . import __version__ as irp_version

    env.append(
        (
            "versions",
            f"pytest-irp {irp_version}, pytest {pytest.__version__}, "
            f"Python {platform.python_version()}",
        )
    )
    return env


def is_full(run: IrpRun, deselected: list[tuple[str, str]]) -> bool:
    selected = {r.criterion for r in run.records.values()}
    return not deselected and selected >= set(CRITERIA)


def build_model(run: IrpRun, exit_code: int | None) -> Report:
    """The report's content (the page modules load only now, at the end of the run)."""
    from .html import model
    from .problems import of_run

    config = run.config
    deselected = deselected_checks(config)
    folder = run.report_dir / f"irp-{run.run_id}"
    info = model.RunInfo(
        run_id=run.run_id,
        command_line=shlex.join(["pytest", *config.invocation_params.args]),
        selection=selection(config),
        not_selected=deselected,
        full=is_full(run, deselected),
        exit_code=exit_code,
        environment=_environment(run),
        host=str(run.settings.get("host") or ""),
        ssh_config=str(run.settings.get("ssh_config") or ""),
        links=[("summary.json", "summary.json"), ("log folder", "./")],
        **first_screen_facts(run),
    )
    return model.build(
        records=list(run.records.values()),
        results=run.pipeline.results,
        titles=CRITERIA,
        stage_titles={s.name: s.title for s in STAGES},
        run=info,
        base=str(folder),
        title=f"pytest-irp pipeline validation {run.run_id}",
        problems=of_run(run.records.values(), run.pipeline, list(CRITERIA)),
    )


def first_screen_facts(run: IrpRun) -> dict[str, Any]:
    """Start, end, duration and the SHA under test, for the report's first screen."""
    times = run_times(run)
    source = cast(SourceCheckout, rep.ok_value(run.pipeline.results, "source"))
    return {
        "started": times["started"],
        "finished": times["finished"],
        "duration": times["duration"],
        "sha": source.get("sha") or run.pipeline.facts.sha_or(""),
    }


# --------------------------------------------------------------------------- pytest-html hooks


# pytest-html's own counts (its "N tests took ..." line and its outcome filters) count a
# BLOCKED check as failed and know no NOT RUN: hidden, so that the page holds one count
HIDE_PYTEST_HTML_COUNTS = (
    ".summary__data>.run-count,.summary__data>.filter,.summary__data .controls .filters"
    "{display:none}"
)
PYTEST_HTML_NOTE = (
    '<p class="muted" id="irp-pytest-html-note">pytest-html\'s own counts are hidden: '
    "they count a BLOCKED check as failed. The counts below are the run's.</p>"
)


class HtmlHooks:
    """pytest-html's public hooks, when the user asked for its report with --html."""

    def __init__(self, run: IrpRun) -> None:
        self.run = run

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = f"Pipeline validation (pytest-irp) - {self.run.run_id}"

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
    ) -> None:
        from .html import render

        run = self.run
        report = build_model(run, int(session.exitstatus))
        html_dir = Path(str(run.config.getoption("htmlpath"))).resolve().parent
        folder = run.report_dir / f"irp-{run.run_id}"
        report.link_prefix = Path(_relpath(folder, html_dir)).as_posix() + "/"
        prefix.append(
            run.redactor.redact(
                f"<style>{render.styles(report)}{HIDE_PYTEST_HTML_COUNTS}</style>"
                + PYTEST_HTML_NOTE
                + render.body(report, run.redactor.redact)
            )
        )


def _relpath(path: Path, start: Path) -> str:
    import os

    try:
        return os.path.relpath(path, start)
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- files


def redact_data(data: Any, redact: Any) -> Any:
    """Every string of JSON-able data redacted (keys too) before it is serialised: a secret
    holding a quote or a backslash is no longer found once JSON has escaped it."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, list):
        return [redact_data(v, redact) for v in data]
    if isinstance(data, dict):
        return {redact(str(k)): redact_data(v, redact) for k, v in data.items()}
    return data


def write_summary(run: IrpRun, exit_code: int) -> None:
    from .problems import of_run

    rows = criteria_rows(run)
    problems = of_run(run.records.values(), run.pipeline, list(CRITERIA))
    data = rep.summary_json(
        run.run_id,
        describe(run.settings, TARGET_SETTINGS),
        rows,
        list(run.records.values()),
        run.pipeline.results,
        exit_code,
        [p.to_json() for p in problems],
        run_times(run),
    )
    data["pipeline_log"] = run.pipeline_log_state  # T11: is this SHA's row committed?
    data["preflight"] = [
        {"check": v.name, "stage": v.stage, "ok": v.ok, "cause": v.cause, "fix": v.fix}
        for v in run.pipeline.preflight
    ]
    data = redact_data(json.loads(json.dumps(data, default=str)), run.redactor.redact)
    log_dir = run.report_dir / f"irp-{run.run_id}"
    rep.write_json(log_dir / "summary.json", data)  # reports/summary.json: finish_html


def run_times(run: IrpRun) -> dict[str, Any]:
    """When the run started and ended (local time, ISO 8601) and how long it took."""
    import time

    started = run.started
    ended = time.time()
    fmt = "%Y-%m-%dT%H:%M:%S%z"
    return {
        "started": time.strftime(fmt, time.localtime(started)),
        "finished": time.strftime(fmt, time.localtime(ended)),
        "duration": round(ended - started, 3),
    }


def write_report(run: IrpRun, exit_code: int) -> None:
    """index.html in the run's folder, then :func:`publish_run`."""
    if not run.own_html or run.html_path is None:
        publish_run(run, None)
        return
    from .html import bundle, render
    from .html.firstscreen import markdown

    report = build_model(run, exit_code)
    folder = run.html_path.parent
    redact = run.redactor.redact
    bundle.write_page(folder, redact(render.page(report, redact)))
    write_markdown(folder, redact(markdown(report, str(run.html_path))))
    latest_page = None
    if report.run.full:
        report.link_prefix = bundle.LATEST_DIR + "/"
        latest_page = redact(render.page(report, redact))
    publish_run(run, latest_page)


def write_markdown(folder: Path, text: str) -> None:
    """``summary.md`` beside the report (the report's first screen as Markdown), and the
    same appended to ``$GITHUB_STEP_SUMMARY`` when it is set (GitHub and Gitea Actions
    show that file on the run's page)."""
    import os

    write_atomic(folder / "summary.md", text)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        try:
            with open(step_summary, "a", encoding="utf-8") as out:
                out.write(text)
        except OSError:
            pass  # the run's own files are written; a CI file we cannot open is CI's


def publish_run(run: IrpRun, latest_page: str | None) -> None:
    """Under one exclusive flock of the reports directory (parallel runs may share it):
    ``reports/summary.json`` becomes this run's, and a full run (``latest_page`` given)
    also swaps in ``latest/`` (its folder, with its own summary.json) and ``latest.html``.
    A reader that wants latest.html with the summary of the same run takes a shared flock
    on the directory and reads ``latest/summary.json``."""
    from .html import bundle

    folder = run.report_dir / f"irp-{run.run_id}"
    summary = folder / "summary.json"
    try:
        with locked(run.report_dir):
            if latest_page is not None:
                bundle.publish_latest(run.report_dir, folder, latest_page)
            if summary.exists():
                write_atomic(run.report_dir / "summary.json", summary.read_bytes())
    except LockTimeout as exc:
        shared = "reports/summary.json" + (", latest/ and latest.html" if latest_page else "")
        run.publish_problem += (
            f"irp: not published: {exc}. This run's report is complete in {folder} "
            f"(index.html, summary.json), but {shared} still show an earlier run. "
            f"Another run (or a process reading the reports) holds the lock: wait for it to "
            f"end, or stop it if it hangs; then copy {summary} over "
            f"{run.report_dir / 'summary.json'}, or rerun.\n"
        )

"""pytest entry point: the hooks of pytest-irp, each calling the module of its concern.

The plugin is inert unless the collected items include an exit criterion (a test marked
``irp_criterion("T..")``): no header line, no report, no refusals in other test runs.

- options, refusals, settings, the run's pipeline: :mod:`pytest_irp.activation`
- the run's records (NOT RUN until reported) and its end: :mod:`pytest_irp.run`
- outcomes, redaction and the terminal: :mod:`pytest_irp.terminal`
- the HTML report and summary.json: :mod:`pytest_irp.htmlreport`
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from . import activation, hooks, terminal
from . import fixtures as fixtures_module
from .fixtures import PIPELINE_KEY
from .outcomes import MARKER, criterion_of
from .run import RUN_KEY, current_run, record_deselected
from .settings import TARGET_SETTINGS, SettingError, describe


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    activation.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(task_id): the exit criterion (T01..T12) this check proves (pytest-irp)",
    )
    config.pluginmanager.register(fixtures_module, "irp-fixtures")
    activation.refuse_xdist_early(config)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if not activation.explicitly_configured(config):
        return None
    try:
        settings = activation.resolve_settings(config, [])
    except SettingError:
        return ["irp: settings incomplete (details after collection)"]
    return [f"irp target: {describe(settings, TARGET_SETTINGS) or '(none set)'}"]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    criteria = activation.sort_criteria(config, items)
    if not criteria:
        return
    run = activation.activate(config, frozenset(str(criterion_of(i)) for i in criteria), criteria)
    config.pluginmanager.register(run, "irp-run")
    config.stash[RUN_KEY] = run
    config.stash[PIPELINE_KEY] = run.pipeline
    if run.runs_nothing or config.option.collectonly:
        return
    from .htmlreport import setup_html
    from .preflight_run import start

    setup_html(run)
    stages = activation.stages_requested(criteria)
    loading = run.pipeline.prefetch(stages)
    start(run.pipeline, stages, loading)  # beside the source stage


def pytest_deselected(items: list[pytest.Item]) -> None:
    record_deselected(items)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    run = current_run(session.config)
    if run is None or not run.runs_nothing:
        return None
    return terminal.run_instead_of_tests(session, run)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    run = current_run(item.config)
    if run is None:
        return
    terminal.mark_outcome(report, call, criterion_of(item) is not None)
    terminal.redact_report(report, run.redactor)


def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    return terminal.blocked_status(report)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = current_run(config)
    if run is None or run.runs_nothing or config.option.collectonly:
        return
    terminal.write_summary(terminalreporter, run)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Before JUnit XML and the HTML report are written: the checks that never ran."""
    run = current_run(session.config)
    if run is None or run.runs_nothing or session.config.option.collectonly:
        return
    run.close_records(session, exitstatus)


@pytest.hookimpl(trylast=True, specname="pytest_sessionfinish")
def pytest_sessionfinish_last(session: pytest.Session, exitstatus: int) -> None:
    run = current_run(session.config)
    if run is None or run.runs_nothing or session.config.option.collectonly:
        return
    from .htmlreport import write_report, write_summary

    status = int(session.exitstatus)
    run.record_pipeline_log(status)
    write_summary(run, status)
    write_report(run, status)
    run.pipeline.close()

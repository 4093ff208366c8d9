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

from . import activation, hooks, hygiene, options, signals, terminal
from . import fixtures as fixtures_module
from .fixtures import PIPELINE_KEY
from .outcomes import MARKER, criterion_of
from .run import RUN_KEY, current_run, record_deselected
from .settings import TARGET_SETTINGS, SettingError, describe


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(task_id): the exit criterion (T01..T12) this check proves (pytest-irp)",
    )
    config.pluginmanager.register(fixtures_module, "irp-fixtures")
    activation.refuse_xdist_early(config)
    activation.check_given_options(config)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Before any plugin's pytest_configure: a validation run masks what the session
    prints (--debug, pytest-metadata, log records, warnings) from here on."""
    try:
        validation = activation.explicitly_configured(config) or activation.targets_criteria(config)
    except Exception:  # a broken pyproject.toml: activation reports it in one paragraph
        validation = True
    if validation:
        hygiene.start(config)


@pytest.hookimpl(optionalhook=True, trylast=True)
def pytest_metadata(metadata: dict[str, Any], config: pytest.Config) -> None:
    """pytest-metadata's table, once its plugins filled it (CI variables, --metadata)."""
    if hygiene.SESSION.redactor is not None:
        hygiene.mask_metadata(config)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    if hygiene.SESSION.redactor is not None:  # before the -v header shows the table
        hygiene.mask_metadata(session.config)


@pytest.hookimpl(tryfirst=True)
def pytest_warning_recorded(warning_message: Any) -> None:
    hygiene.mask_warning(warning_message)


def pytest_unconfigure(config: pytest.Config) -> None:
    hygiene.stop()
    signals.uninstall()


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if not activation.explicitly_configured(config):
        return None
    try:
        settings = activation.resolve_settings(config, [])
    except SettingError as exc:
        return [f"irp: bad setting: {exc}"]
    from .console import width_of, wrap

    reporter = config.pluginmanager.get_plugin("terminalreporter")
    target = describe(settings, TARGET_SETTINGS) or "(none set)"
    return wrap(target, width_of(reporter), "irp target: ", "  ", lines=1)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    criteria = activation.sort_criteria(config, items)
    if not criteria:
        return
    run = activation.activate(config, frozenset(str(criterion_of(i)) for i in criteria), criteria)
    config.pluginmanager.register(run, "irp-run")
    hygiene.start(config, run.redactor)
    signals.install()  # SIGTERM and SIGHUP: as Ctrl-C
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


@pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_terminal_summary")
def pytest_terminal_summary_outer(
    terminalreporter: Any, exitstatus: int, config: pytest.Config
) -> Generator[None, None, None]:
    """Without -v, pytest's FAILURES leave out the checks a stage decided: their cause is
    in the problems list (pytest_irp.console)."""
    run = current_run(config)
    if run is None or run.runs_nothing or config.get_verbosity() > 0:
        return (yield)
    from .console import hide_decided

    with hide_decided(terminalreporter):
        return (yield)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = current_run(config)
    if run is None or run.runs_nothing or config.option.collectonly:
        return
    terminal.write_summary(terminalreporter, run)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Before JUnit XML and the HTML report are written: the checks that never ran."""
    run = current_run(session.config)
    if run is None:
        return
    signals.stop_all()  # what still runs (the preflight's, after Ctrl-C or SIGTERM)
    if run.runs_nothing or session.config.option.collectonly:
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

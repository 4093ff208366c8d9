"""pytest entry point: options, activation, ordering, BLOCKED outcome, plan, reports.

The plugin is inert unless the collected items include an exit criterion (a test marked
``irp_criterion("T..")``): no header line, no report, no refusals in other test runs.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import shlex
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from . import fixtures as fixtures_module
from . import hooks
from .fileio import directory_problem
from .fixtures import PIPELINE_KEY
from .outcomes import (
    MARKER,
    PROVEN,
    STATUS_BLOCKED,
    STATUS_FAIL,
    STATUS_NOT_RUN,
    STATUS_PASS,
    STATUS_SKIPPED,
    Blocked,
    CriterionFailed,
    criterion_of,
)
from .pipeline import CRITERIA, CRITERION_ORDER, STAGES
from .redact import Redactor
from .report import CheckRecord, check_name
from .runners import LocalRunner, Runner, SshRunner
from .settings import (
    BOOL_FLAGS,
    SETTINGS,
    TARGET_SETTINGS,
    Resolved,
    SettingError,
    describe,
    load_file,
    resolve,
)
from .stage import Pipeline

RUN_KEY = pytest.StashKey["IrpRun"]()
DESELECTED_KEY = pytest.StashKey[list[tuple[str, str]]]()


# --------------------------------------------------------------------------- options


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("irp", "pytest-irp (pipeline validation; see README for all "
                            "settings)")
    group.addoption("--irp-config", dest="irp_config", metavar="FILE", default=None,
                    help="TOML file with a [tool.irp] table (or bare keys); env IRP_CONFIG.")
    for s in SETTINGS:
        if not s.cli:
            continue
        text = (f"{s.help} [{s.type_name}; env {s.env}; "
                f"default {_show_default(s.default)}; e.g. {s.example}]")
        dest = "irp_" + s.name
        if s.name in BOOL_FLAGS:
            group.addoption(s.option, dest=dest, action="store_const", const=True,
                            default=None, help=text)
        elif s.multiple:
            group.addoption(s.option, dest=dest, action="append", default=None,
                            metavar=s.name.upper(), help=text)
        else:
            group.addoption(s.option, dest=dest, default=None, metavar=s.name.upper(),
                            help=text)


def _show_default(value: Any) -> str:
    if isinstance(value, tuple):
        return shlex.join(value) if value else "none"
    return "none" if value is None else str(value)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(task_id): the exit criterion (T01..T12) "
                            "this check proves (pytest-irp)")
    config.pluginmanager.register(fixtures_module, "irp-fixtures")
    if (config.getoption("numprocesses", None) not in (None, 0, "0")
            and getattr(config, "workerinput", None) is None and _targets_criteria(config)):
        raise pytest.UsageError(XDIST_REFUSAL)


XDIST_REFUSAL = ("pytest-irp: the criteria run one ordered pipeline; pytest-xdist workers (-n) "
                 "would split it. Run without -n (or with -p no:xdist).")


def _targets_criteria(config: pytest.Config) -> bool:
    """Whether the paths this run collects hold criteria (a cheap text scan, used only to
    refuse -n before xdist starts workers: collection happens on the workers)."""
    args = [a.split("::")[0] for a in config.args] or [
        str(config.rootpath / p) for p in config.getini("testpaths")]
    scanned = 0
    for arg in args:
        path = Path(arg)
        files = [path] if path.is_file() else sorted(path.rglob("test_*.py")) \
            if path.is_dir() else []
        for file in files:
            scanned += 1
            if scanned > 500:
                return False
            try:
                if MARKER in file.read_text(encoding="utf-8", errors="replace"):
                    return True
            except OSError:
                continue
    return False


def _explicitly_configured(config: pytest.Config) -> bool:
    if any(config.getoption("irp_" + s.name, None) not in (None, []) for s in SETTINGS
           if s.cli) or config.getoption("irp_config", None):
        return True
    if any(k.startswith("IRP_") for k in os.environ):
        return True
    inipath = config.inipath
    return bool(inipath and inipath.name == "pyproject.toml"
                and load_file(inipath, section_required=True))


def resolve_settings(config: pytest.Config, extra_files: list[tuple[str, dict[str, Any]]]
                     ) -> Resolved:
    """CLI > env > --irp-config > lab > pyproject [tool.irp] > default."""
    cli = {s.name: config.getoption("irp_" + s.name, None) for s in SETTINGS if s.cli}
    files: list[tuple[str, dict[str, Any]]] = []
    given = config.getoption("irp_config", None) or os.environ.get("IRP_CONFIG")
    if given:
        files.append((f"--irp-config file {given}", load_file(Path(given))))
    files.extend(extra_files)
    inipath = config.inipath
    if inipath and inipath.name == "pyproject.toml":
        files.append((f"{inipath} [tool.irp]", load_file(inipath, section_required=True)))
    return resolve(cli, os.environ, files)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if not _explicitly_configured(config):
        return None
    try:
        settings = resolve_settings(config, [])
    except SettingError:
        return ["irp: settings incomplete (details after collection)"]
    return [f"irp target: {describe(settings, TARGET_SETTINGS) or '(none set)'}"]


# --------------------------------------------------------------------------- activation


class IrpRun:
    """State of one validation run (only when criteria are selected)."""

    def __init__(self, config: pytest.Config, settings: Resolved, redactor: Redactor,
                 pipeline: Pipeline, run_id: str, report_dir: Path) -> None:
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
        self.lab: Any = None

    # registered as a plugin for the run: these are hooks

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            crit = criterion_of(item)
            if crit:
                # NOT RUN until a report says otherwise: a check the session never reached
                # (-x, --maxfail, --sw, Ctrl-C) must never read as PASS
                self.records[item.nodeid] = CheckRecord(item.nodeid, crit,
                                                        check_name(item.name, crit),
                                                        STATUS_NOT_RUN, 0.0)
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
        if blocked:
            rec.status, rec.cause = STATUS_BLOCKED, str(blocked)
            self.blocked_lines.append(f"BLOCKED {report.nodeid} - {blocked}")
        elif report.failed:
            rec.status, rec.cause = STATUS_FAIL, _first_line(report)
        elif report.skipped:
            rec.status, rec.cause = STATUS_SKIPPED, _skip_reason(report)
        elif report.when == "call":
            rec.status, rec.cause = STATUS_PASS, ""

    def not_run(self) -> list[CheckRecord]:
        return [r for r in self.records.values() if r.status == STATUS_NOT_RUN]

    def close_records(self, session: pytest.Session, exitstatus: int) -> None:
        """At the session's end: give the checks that never ran their cause, list them in
        JUnit XML, and make the exit code non-zero when a selected criterion is not
        proven (pytest exits 0 after ``pytest.exit(returncode=0)`` with checks left)."""
        missing = self.not_run()
        if missing:
            cause = (f"not run: the session stopped before this check "
                     f"({_stop_reason(session, exitstatus)})")
            for rec in missing:
                rec.cause = rec.cause or cause
            _junit_not_run(self.config, missing, self.locations)
        if int(session.exitstatus) == int(pytest.ExitCode.OK) and any(
                row["status"] not in PROVEN for row in self.rows()):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def rows(self) -> list[dict[str, Any]]:
        from .report import criteria_table

        return criteria_table(self.records.values(), CRITERIA)


def _stop_reason(session: pytest.Session, exitstatus: int) -> str:
    if session.shouldfail:
        return str(session.shouldfail)  # -x / --maxfail: "stopping after 1 failures"
    if session.shouldstop:
        return str(session.shouldstop)  # --sw, or a plugin that stopped the session
    if int(exitstatus) == int(pytest.ExitCode.INTERRUPTED):
        return "the session was interrupted: Ctrl-C or KeyboardInterrupt"
    return f"the session ended early, pytest exit status {int(exitstatus)}"


def _junit_not_run(config: pytest.Config, records: list[CheckRecord],
                   locations: dict[str, tuple[str, int | None, str]]) -> None:
    """A ``<failure message="NOT RUN: ...">`` test case per check that never ran, so that a
    JUnit reader does not count it as absent (absent reads as fine)."""
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    for rec in records:
        location = locations.get(rec.nodeid, (rec.nodeid.split("::")[0], None, rec.nodeid))
        report = pytest.TestReport(rec.nodeid, location, {}, "failed",
                                   f"NOT RUN: {rec.cause.removeprefix('not run: ')}", "call")
        xml.pytest_runtest_logreport(report)


def _refuse_parallel_and_random(config: pytest.Config) -> None:
    if getattr(config, "workerinput", None) is not None or (
            config.getoption("numprocesses", None) not in (None, 0, "0")):
        raise pytest.UsageError(XDIST_REFUSAL)
    pm = config.pluginmanager
    for name, hint in (("randomly", "-p no:randomly"), ("random_order", "-p no:random_order")):
        plugin = pm.get_plugin(name)
        if plugin is not None and not pm.is_blocked(name):
            if name == "random_order" and not config.getoption("random_order", False):
                continue
            raise pytest.UsageError(
                f"pytest-irp: the random-order plugin '{name}' would shuffle the ordered "
                f"pipeline. Disable it with {hint}.")


def _make_runner(config: pytest.Config, settings: Resolved, redactor: Redactor
                 ) -> Any:
    def make(host: str) -> Runner:
        runner: Runner | None = config.hook.pytest_irp_make_runner(
            config=config, host=host, settings=settings, redactor=redactor)
        if runner is not None:
            return runner
        if host == "local":
            return LocalRunner(redactor)
        return SshRunner(host, redactor, ssh_config=settings.get("ssh_config"),
                         connect_timeout=settings["connect_timeout"])
    return make


def _progress(config: pytest.Config, redactor: Redactor) -> Any:
    def say(stage: str, message: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        capman = config.pluginmanager.get_plugin("capturemanager")
        line = redactor.redact(f"irp [{stage}] {message}")
        if capman is not None:
            with capman.global_and_fixture_disabled():
                reporter.ensure_newline()
                reporter.write_line(line)
        else:
            reporter.write_line(line)
    return say


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    criteria = [item for item in items if criterion_of(item)]
    if not criteria:
        return
    _refuse_parallel_and_random(config)
    for item in criteria:
        crit = criterion_of(item)
        if crit not in CRITERIA:
            raise pytest.UsageError(f"pytest-irp: {item.nodeid} is marked "
                                    f"irp_criterion({crit!r}); known: {', '.join(CRITERIA)}")
    # pipeline order whatever the file order (stable inside a criterion)
    position = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda it: (CRITERION_ORDER.get(criterion_of(it) or "", 99),
                               position[id(it)]))
    _activate(config, frozenset(str(criterion_of(item)) for item in criteria), criteria)
    run = _run(config)
    if run is not None and not _runs_nothing(run.settings) and not config.option.collectonly:
        loading = run.pipeline.prefetch(stages_requested(criteria))
        from .preflight_run import start

        start(run.pipeline, stages_requested(criteria), loading)  # beside the source stage


def _runs_nothing(settings: Resolved) -> bool:
    """Plan mode and preflight mode run no stage: no report, no summary of criteria."""
    return bool(settings["plan"] or settings["preflight"])


def stages_requested(items: list[pytest.Item]) -> list[str]:
    """The stages the selected checks ask for (their ``stage_*`` fixtures), in order."""
    names = (n for item in items for n in getattr(item, "fixturenames", ()))
    return list(dict.fromkeys(n[len("stage_"):] for n in names if n.startswith("stage_")))


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Remember the criteria checks a selection (-k, -m) left out, for the report."""
    for item in items:
        crit = criterion_of(item)
        if crit:
            item.config.stash.setdefault(DESELECTED_KEY, []).append(
                (crit, check_name(item.name, crit)))


def deselected_checks(config: pytest.Config) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = config.stash.get(DESELECTED_KEY, [])
    return list(found)


def _check_rootdir(config: pytest.Config) -> None:
    """pytest chooses its rootdir before plugin options are known, so the value of
    ``--irp-config /abs/path`` is taken for a test path and can move the rootdir away.
    Only a value naming an existing path can (pytest ignores the others when it chooses),
    and only when the rootdir chosen from the real test paths is another one:
    ``pytest /abs/tests --irp-host NAME`` run from elsewhere is fine."""
    args = list(config.invocation_params.args)
    cwd = config.invocation_params.dir
    if config.rootpath == cwd or config.rootpath in cwd.parents:
        return
    suspects = [(option, value) for option, value in itertools.pairwise(args)
                if option.startswith("--irp-") and "=" not in option
                and not value.startswith("-") and (cwd / value).exists()]
    if not suspects or _rootdir_of_test_paths(config) == config.rootpath:
        return
    option, value = suspects[0]
    raise pytest.UsageError(
        f"pytest-irp: pytest took the value of {option} ({value}) for a test path and "
        f"chose rootdir {config.rootpath}. Write {option}={value} (with '=').")


def _rootdir_of_test_paths(config: pytest.Config) -> Path | None:
    """The rootdir pytest would choose from the test paths alone (None: unknown)."""
    try:
        from _pytest.config.findpaths import determine_setup

        return determine_setup(inifile=config.option.inifilename,
                               override_ini=config.option.override_ini,
                               args=[str(a) for a in config.args],
                               rootdir_cmd_arg=config.option.rootdir or None,
                               invocation_dir=config.invocation_params.dir)[0]
    except Exception:  # a pytest whose private API differs: refuse, as before
        return None


CLUSTER_CRITERIA = frozenset({"T10", "T11"})  # the criteria that talk to the cluster


def kube_context_problem(context: str, kubeconfigs: list[tuple[str, str]]) -> str | None:
    """Why ``context`` is not in the kubeconfig files ((path, text) of those that exist), or
    None (also when there is nothing to judge: no file, unreadable YAML)."""
    import yaml

    if not kubeconfigs:
        return None
    known: list[str] = []
    for _, text in kubeconfigs:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            return None  # the Kubernetes client reports a broken file with its own words
        for entry in (data.get("contexts") or []) if isinstance(data, dict) else []:
            if isinstance(entry, dict) and entry.get("name") not in (None, *known):
                known.append(str(entry["name"]))
    if context in known:
        return None
    paths = ", ".join(path for path, _ in kubeconfigs)
    return (f"no context {context!r} in the kubeconfig {paths} (its contexts: "
            f"{', '.join(known) or 'none'})")


def _kubeconfig_files(settings: Resolved) -> list[tuple[str, str]]:
    if settings.get("kubeconfig"):
        paths = [str(settings["kubeconfig"])]
    elif os.environ.get("KUBECONFIG"):
        paths = [p for p in os.environ["KUBECONFIG"].split(os.pathsep) if p]
    else:
        paths = [str(Path.home() / ".kube" / "config")]
    found = []
    for path in paths:
        file = Path(path).expanduser()
        if file.is_file():
            found.append((str(file), file.read_text(encoding="utf-8", errors="replace")))
    return found


def _check_kube_context(settings: Resolved, selected: frozenset[str]) -> None:
    if not selected & CLUSTER_CRITERIA:
        return
    problem = kube_context_problem(str(settings["kube_context"]), _kubeconfig_files(settings))
    if problem:
        raise pytest.UsageError(f"pytest-irp: setting 'kube_context' "
                                f"({settings['kube_context']!r}, from "
                                f"{settings.sources['kube_context']}): {problem}.")


HOST_FIXTURES = {"build_host": "host", "cluster_node": "node_host"}


def required_hosts(pipeline: Pipeline, items: list[pytest.Item]) -> dict[str, list[str]]:
    """host setting -> the criteria of the selected checks whose stages (or testinfra host
    fixtures) run commands on that host."""
    needed: dict[str, list[str]] = {}
    for item in items:
        crit = str(criterion_of(item))
        names = getattr(item, "fixturenames", ())
        settings = [HOST_FIXTURES[n] for n in names if n in HOST_FIXTURES]
        for stage in pipeline.closure([n for n in stages_requested([item])
                                       if n in pipeline.stages]):
            settings.extend(pipeline.stages[stage].hosts)
        for setting in settings:
            if crit not in needed.setdefault(setting, []):
                needed[setting].append(crit)
    return needed


def _check_hosts(pipeline: Pipeline, items: list[pytest.Item]) -> None:
    for setting, criteria in required_hosts(pipeline, items).items():
        try:
            pipeline.settings.require(setting, f"by the selected criteria "
                                               f"({', '.join(sorted(criteria))})")
        except SettingError as exc:
            raise pytest.UsageError(f"pytest-irp: {exc}") from None


def _activate(config: pytest.Config, selected: frozenset[str] = frozenset(),
              items: list[pytest.Item] | None = None) -> None:
    _check_rootdir(config)
    extra: list[tuple[str, dict[str, Any]]] = []
    lab = None
    try:
        if config.getoption("irp_lab", None) or os.environ.get("IRP_LAB", "").lower() in (
                "1", "true", "yes"):
            from .labplug import lab_layer
            lab, table = lab_layer(config)
            extra.append(("the embedded lab's settings", table))
        settings = resolve_settings(config, extra)
    except SettingError as exc:
        raise pytest.UsageError(f"pytest-irp: {exc}") from None
    _check_kube_context(settings, selected)
    redactor = Redactor()
    for user, secret in settings.credentials():
        if user:
            redactor.add_basic_auth(user, secret)
        else:
            redactor.add(secret)
    redactor.add_from_environ(os.environ)
    _redact_debug_log(config, redactor)
    run_id = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
    report_dir = Path(settings["reports_dir"]).resolve()
    try:
        pipeline = Pipeline(STAGES, settings, redactor,
                            make_runner=_make_runner(config, settings, redactor),
                            log_dir=report_dir / f"irp-{run_id}",
                            cache=getattr(config, "cache", None),
                            run_id=run_id, reuse=bool(settings["reuse"]),
                            force=settings["force"], progress=_progress(config, redactor))
    except SettingError as exc:
        raise pytest.UsageError(f"pytest-irp: {exc}") from None
    if not config.option.collectonly:
        _check_hosts(pipeline, items or [])
        problem = None if _runs_nothing(settings) else directory_problem(report_dir)
        if problem:
            raise pytest.UsageError(f"pytest-irp: setting 'reports_dir' "
                                    f"({settings['reports_dir']!r}, from "
                                    f"{settings.sources['reports_dir']}): {problem}.")
    run = IrpRun(config, settings, redactor, pipeline, run_id, report_dir)
    run.lab = lab
    config.pluginmanager.register(run, "irp-run")
    config.stash[RUN_KEY] = run
    config.stash[PIPELINE_KEY] = pipeline
    if not _runs_nothing(settings) and not config.option.collectonly:
        from .htmlreport import setup_html
        setup_html(run)


def _redact_debug_log(config: pytest.Config, redactor: Redactor) -> None:
    """--debug writes every hook call's arguments to pytestdebug.log (0644 by the umask):
    from here on through the redactor, and the file is made private to its owner."""
    root = config.trace.root
    writer = getattr(root, "_writer", None)
    if writer is None:
        return
    root.setwriter(lambda text: writer(redactor.redact(text)))
    path = config.getoption("debug", None)
    if isinstance(path, str):
        try:
            os.chmod(Path(config.invocation_params.dir, path), 0o600)
        except OSError:
            pass


def _run(config: pytest.Config) -> IrpRun | None:
    return config.stash.get(RUN_KEY, None)


# --------------------------------------------------------------------------- plan mode


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    run = _run(session.config)
    if run is None or not _runs_nothing(run.settings):
        return None
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not run.settings["plan"]:
        if session.config.option.collectonly:
            return None
        return _preflight_only(session, run, reporter)
    from .plan import render_plan

    text = render_plan(run.pipeline, session.items)
    if reporter is not None:
        reporter.write_line(run.redactor.redact(text))
    return True


def _preflight_only(session: pytest.Session, run: IrpRun, reporter: Any) -> bool:
    """``--irp-preflight``: only the preflight; each failed precondition counts as a failed
    test (exit code 1) and is printed as one paragraph."""
    from .plan import needed_stages
    from .preflight_run import run_only

    def write(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)

    try:
        session.testsfailed = run_only(run.pipeline, needed_stages(run.pipeline,
                                                                   session.items), write)
    finally:
        run.pipeline.close()
    return True


# --------------------------------------------------------------------------- outcomes


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    run = _run(item.config)
    if run is None:
        return
    excinfo = call.excinfo
    if excinfo is not None and isinstance(excinfo.value, Blocked | CriterionFailed):
        message = str(excinfo.value)
        report.outcome = "failed"
        report.when = "call"  # a check that could not be proven: not a fixture "error"
        report.longrepr = message
        if isinstance(excinfo.value, Blocked):
            report.irp_blocked = message  # type: ignore[attr-defined]
    _redact_report(report, run.redactor)


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
        self.reprcrash = None if crash is None else _Crash(
            str(getattr(crash, "path", "")), int(getattr(crash, "lineno", 0) or 0),
            redactor.redact(str(getattr(crash, "message", ""))))

    def toterminal(self, tw: Any) -> None:
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self) -> str:
        return self.text


def _redact_report(report: pytest.TestReport, redactor: Redactor) -> None:
    if redactor.count == 0 and "IHP_SESSION_SECRET" not in (report.longreprtext or "") and \
            not any("IHP_SESSION_SECRET" in c for _, c in report.sections):
        return
    text = report.longreprtext
    if text:
        cleaned = redactor.redact(text)
        if cleaned != text:
            crash = getattr(report.longrepr, "reprcrash", None)
            report.longrepr = RedactedLongrepr(cleaned, crash, redactor)  # type: ignore[assignment]
    report.sections = [(k, redactor.redact(v)) for k, v in report.sections]


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config
                             ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    if getattr(report, "irp_blocked", None):
        return "blocked", "B", ("BLOCKED", {"yellow": True, "bold": True})
    return None


def _first_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else report.longreprtext
    return (text or "").strip().splitlines()[0][:500] if (text or "").strip() else "failed"


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return "skipped"


# --------------------------------------------------------------------------- summaries


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config
                            ) -> None:
    run = _run(config)
    if run is None or _runs_nothing(run.settings) or config.option.collectonly:
        return
    from .html.text import plain_cause
    from .htmlreport import criteria_rows, is_full

    tr = terminalreporter
    if run.blocked_lines:
        tr.write_sep("=", "BLOCKED (not proven)", yellow=True)
        for line in run.blocked_lines:
            tr.write_line(run.redactor.redact(line))
    tr.write_sep("=", "exit criteria")
    for row in criteria_rows(run):
        color = {STATUS_PASS: {"green": True}, STATUS_FAIL: {"red": True},
                 STATUS_BLOCKED: {"yellow": True}, STATUS_NOT_RUN: {"yellow": True},
                 STATUS_SKIPPED: {}}.get(row["status"], {"yellow": True})
        cause = f"  ({plain_cause(row['cause'])[:200]})" if row["cause"] and \
            row["status"] != STATUS_PASS else ""
        tr.write_line(f"{row['task']:4} {row['status']:8} {row['check']}{cause}", **color)
    missing = run.not_run()
    if missing:
        tr.write_line(f"{len(missing)} selected check(s) NOT RUN (not proven): "
                      f"{missing[0].cause.removeprefix('not run: ')}", yellow=True, bold=True)
        tr.stats.setdefault("not run", []).extend(_NotRun(r.nodeid) for r in missing)
        getattr(tr, "_set_main_color", lambda: None)()  # the final line: never green
    for result in run.pipeline.results.values():
        for f in result.findings:
            if f.severity != "info":
                tr.write_line(f"finding [{f.severity}] {f.title}: {f.fix or f.detail}",
                              yellow=True)
    live = run.pipeline.results.get("live")
    if live is not None and live.value.get("pipeline_log"):
        tr.write_line(f"PIPELINE_LOG.md: {live.value['pipeline_log']} (commit it with the "
                      f"app)")
    tr.write_line(f"irp report: {run.html_path}; summary: {run.report_dir / 'summary.json'}")
    if not is_full(run, deselected_checks(config)):
        tr.write_line("irp: partial run: latest.html still shows the last full run")


@dataclasses.dataclass(frozen=True)
class _NotRun:
    """An entry of the terminal's "N not run" count."""

    nodeid: str
    count_towards_summary: bool = True


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Before JUnit XML and the HTML report are written: the checks that never ran."""
    run = _run(session.config)
    if run is None or _runs_nothing(run.settings) or session.config.option.collectonly:
        return
    run.close_records(session, exitstatus)


@pytest.hookimpl(trylast=True, specname="pytest_sessionfinish")
def pytest_sessionfinish_last(session: pytest.Session, exitstatus: int) -> None:
    run = _run(session.config)
    if run is None or _runs_nothing(run.settings) or session.config.option.collectonly:
        return
    from .htmlreport import write_report, write_summary

    exitstatus = int(session.exitstatus)
    live = run.pipeline.results.get("live")
    if (run.settings["pipeline_log"] and exitstatus == 0 and live is not None
            and live.ok):
        from .deploy import append_pipeline_log

        live.value["pipeline_log"] = append_pipeline_log(run.settings, run.pipeline.facts)
    write_summary(run, exitstatus)
    write_report(run, exitstatus)
    run.pipeline.close()

"""Activation of a validation run: the refusals (xdist, random order, a moved rootdir, an
unknown kube context, a missing host), the settings assembled from their layers, the
redactor, the pipeline and its runners."""

from __future__ import annotations

import importlib
import itertools
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .fileio import directory_problem
from .kubeconfig import kube_context_refusal
from .outcomes import MARKER, criterion_of
from .pipeline import STAGES
from .redact import Redactor
from .run import IrpRun, runs_nothing
from .runners import LocalRunner, Runner, SshRunner
from .settings import SETTINGS, Resolved, SettingError, load_file, resolve
from .stage import Pipeline, Progress

XDIST_REFUSAL = (
    "pytest-irp: the criteria run one ordered pipeline; pytest-xdist workers (-n) "
    "would split it. Run without -n (or with -p no:xdist)."
)
HOST_FIXTURES = {"build_host": "host", "cluster_node": "node_host"}


# --------------------------------------------------------------------------- refusals


def refuse_xdist_early(config: pytest.Config) -> None:
    """At configure time, before xdist starts workers (collection happens on them)."""
    if (
        config.getoption("numprocesses", None) not in (None, 0, "0")
        and getattr(config, "workerinput", None) is None
        and targets_criteria(config)
    ):
        raise pytest.UsageError(XDIST_REFUSAL)


def targets_criteria(config: pytest.Config) -> bool:
    """Whether the paths this run collects hold criteria (a cheap text scan, used only to
    refuse -n before xdist starts workers: collection happens on the workers)."""
    args = [a.split("::")[0] for a in config.args] or [
        str(config.rootpath / p) for p in config.getini("testpaths")
    ]
    scanned = 0
    for arg in args:
        path = Path(arg)
        files = (
            [path] if path.is_file() else sorted(path.rglob("test_*.py")) if path.is_dir() else []
        )
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


def refuse_parallel_and_random(config: pytest.Config) -> None:
    if getattr(config, "workerinput", None) is not None or (
        config.getoption("numprocesses", None) not in (None, 0, "0")
    ):
        raise pytest.UsageError(XDIST_REFUSAL)
    pm = config.pluginmanager
    for name, hint in (("randomly", "-p no:randomly"), ("random_order", "-p no:random_order")):
        plugin = pm.get_plugin(name)
        if plugin is not None and not pm.is_blocked(name):
            if name == "random_order" and not config.getoption("random_order", False):
                continue
            raise pytest.UsageError(
                f"pytest-irp: the random-order plugin '{name}' would shuffle the ordered "
                f"pipeline. Disable it with {hint}."
            )


def check_rootdir(config: pytest.Config) -> None:
    """pytest chooses its rootdir before plugin options are known, so the value of
    ``--irp-config /abs/path`` is taken for a test path and can move the rootdir away.
    Only a value naming an existing path can (pytest ignores the others when it chooses),
    and only when the rootdir chosen from the real test paths is another one:
    ``pytest /abs/tests --irp-host NAME`` run from elsewhere is fine."""
    args = list(config.invocation_params.args)
    cwd = config.invocation_params.dir
    if config.rootpath == cwd or config.rootpath in cwd.parents:
        return
    suspects = [
        (option, value)
        for option, value in itertools.pairwise(args)
        if option.startswith("--irp-")
        and "=" not in option
        and not value.startswith("-")
        and (cwd / value).exists()
    ]
    if not suspects or _rootdir_of_test_paths(config) == config.rootpath:
        return
    option, value = suspects[0]
    raise pytest.UsageError(
        f"pytest-irp: pytest took the value of {option} ({value}) for a test path and "
        f"chose rootdir {config.rootpath}. Write {option}={value} (with '=')."
    )


def _rootdir_of_test_paths(config: pytest.Config) -> Path | None:
    """The rootdir pytest would choose from the test paths alone (None: unknown)."""
    try:
        from _pytest.config.findpaths import determine_setup

        return determine_setup(
            inifile=config.option.inifilename,
            override_ini=config.option.override_ini,
            args=[str(a) for a in config.args],
            rootdir_cmd_arg=config.option.rootdir or None,
            invocation_dir=config.invocation_params.dir,
        )[0]
    except Exception:  # a pytest whose private API differs: refuse, as before
        return None


# --------------------------------------------------------------------------- settings


def explicitly_configured(config: pytest.Config) -> bool:
    if any(
        config.getoption("irp_" + s.name, None) not in (None, []) for s in SETTINGS if s.cli
    ) or config.getoption("irp_config", None):
        return True
    if any(k.startswith("IRP_") for k in os.environ):
        return True
    inipath = config.inipath
    return bool(
        inipath and inipath.name == "pyproject.toml" and load_file(inipath, section_required=True)
    )


def check_given_options(config: pytest.Config) -> None:
    """At configure time, when --irp-* options were given on the command line: a bad value
    (a duration, a boolean, an app repository that is none) is a usage error at once, not
    after collection. Runs without such options stay inert until criteria are collected."""
    if getattr(config, "workerinput", None) is not None or not any(
        config.getoption("irp_" + s.name, None) not in (None, []) for s in SETTINGS if s.cli
    ):
        return
    try:
        settings = resolve_settings(config, [])
    except SettingError as exc:
        raise pytest.UsageError(f"pytest-irp: {exc}") from None
    if settings.sources.get("app_repo", "default").startswith("command line"):
        from . import apprepo

        refusal = apprepo.refusal(settings)
        if refusal:
            raise pytest.UsageError(refusal)


def resolve_settings(
    config: pytest.Config, extra_files: list[tuple[str, dict[str, Any]]]
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


LAB_MODULE = "pytest_irp_lab.plugin_layer"
LAB_MISSING = (
    "--irp-lab needs the embedded lab, which is a separate package (pytest_irp_lab) and is "
    "not installed: install it with `pip install 'pytest-irp[lab]'`, or from a checkout of "
    "pytest-irp with `pip install -e '.[lab]' -e ./lab` (scripts/dev.sh does this); or leave "
    "--irp-lab out and name your own hosts (--irp-config)"
)


def lab_layer_module() -> Any:
    """The lab's settings layer, imported only when --irp-lab asks for it: the plugin never
    imports the lab otherwise. A SettingError (one paragraph) when the lab is not installed."""
    try:
        return importlib.import_module(LAB_MODULE)
    except ImportError as exc:
        if exc.name is not None and LAB_MODULE.startswith(exc.name):
            raise SettingError(LAB_MISSING) from None
        raise SettingError(f"the embedded lab cannot be imported: {exc}") from None


def _lab_wanted(config: pytest.Config) -> bool:
    return bool(config.getoption("irp_lab", None)) or os.environ.get("IRP_LAB", "").lower() in (
        "1",
        "true",
        "yes",
    )


# --------------------------------------------------------------------------- the run


def sort_criteria(config: pytest.Config, items: list[pytest.Item]) -> list[pytest.Item]:
    """The selected criteria checks (refusing an unknown criterion), with ``items`` put in
    pipeline order whatever the file order (stable inside a criterion)."""
    from .pipeline import CRITERIA, CRITERION_ORDER

    criteria = [item for item in items if criterion_of(item)]
    if not criteria:
        return criteria
    refuse_parallel_and_random(config)
    for item in criteria:
        crit = criterion_of(item)
        if crit not in CRITERIA:
            raise pytest.UsageError(
                f"pytest-irp: {item.nodeid} is marked "
                f"irp_criterion({crit!r}); known: {', '.join(CRITERIA)}"
            )
    position = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda it: (CRITERION_ORDER.get(criterion_of(it) or "", 99), position[id(it)]))
    return criteria


def stages_requested(items: list[pytest.Item]) -> list[str]:
    """The stages the selected checks ask for (their ``stage_*`` fixtures), in order."""
    names = (n for item in items for n in getattr(item, "fixturenames", ()))
    return list(dict.fromkeys(n[len("stage_") :] for n in names if n.startswith("stage_")))


def required_hosts(pipeline: Pipeline, items: list[pytest.Item]) -> dict[str, list[str]]:
    """host setting -> the criteria of the selected checks whose stages (or testinfra host
    fixtures) run commands on that host."""
    needed: dict[str, list[str]] = {}
    for item in items:
        crit = str(criterion_of(item))
        names = getattr(item, "fixturenames", ())
        settings = [HOST_FIXTURES[n] for n in names if n in HOST_FIXTURES]
        for stage in pipeline.closure(
            [n for n in stages_requested([item]) if n in pipeline.stages]
        ):
            settings.extend(pipeline.stages[stage].hosts)
        for setting in settings:
            if crit not in needed.setdefault(setting, []):
                needed[setting].append(crit)
    return needed


def _check_hosts(pipeline: Pipeline, items: list[pytest.Item]) -> None:
    for setting, criteria in required_hosts(pipeline, items).items():
        try:
            pipeline.settings.require(
                setting, f"by the selected criteria ({', '.join(sorted(criteria))})"
            )
        except SettingError as exc:
            raise pytest.UsageError(f"pytest-irp: {exc}") from None


def _check_app_repo(pipeline: Pipeline, items: list[pytest.Item]) -> None:
    """An IHP app's git repository, or one paragraph naming the setting, before any stage."""
    from . import apprepo

    stages = pipeline.closure([n for n in stages_requested(items) if n in pipeline.stages])
    fixtures = {n for item in items for n in getattr(item, "fixturenames", ())}
    if apprepo.needed(stages, fixtures):
        refusal = apprepo.refusal(pipeline.settings)
        if refusal:
            raise pytest.UsageError(refusal)


def make_runner(
    config: pytest.Config, settings: Resolved, redactor: Redactor
) -> Callable[[str], Runner]:
    def make(host: str) -> Runner:
        runner: Runner | None = config.hook.pytest_irp_make_runner(
            config=config, host=host, settings=settings, redactor=redactor
        )
        if runner is not None:
            return runner
        if host == "local":
            return LocalRunner(redactor)
        return SshRunner(
            host,
            redactor,
            ssh_config=settings.get("ssh_config"),
            connect_timeout=settings["connect_timeout"],
        )

    return make


def progress(config: pytest.Config, redactor: Redactor) -> Progress:
    def say(stage: str, message: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        capman = config.pluginmanager.get_plugin("capturemanager")
        line = redactor.redact(f"irp [{stage}] {message}")
        if config.get_verbosity() <= 0:  # one line each; the whole cause is in the summary
            from .console import fit, width_of
            from .html.text import plain_cause

            line = fit(plain_cause(line), width_of(reporter))
        if capman is not None:
            with capman.global_and_fixture_disabled():
                reporter.ensure_newline()
                reporter.write_line(line)
        else:
            reporter.write_line(line)

    return say


def make_redactor(settings: Resolved) -> Redactor:
    redactor = Redactor()
    for user, secret in settings.credentials():
        if user:
            redactor.add_basic_auth(user, secret)
        else:
            redactor.add(secret)
    redactor.add_from_environ(os.environ)
    return redactor


def activate(
    config: pytest.Config,
    selected: frozenset[str] = frozenset(),
    items: list[pytest.Item] | None = None,
) -> IrpRun:
    """Settings, redactor and pipeline of the run, refused with a usage error (one
    paragraph) when they cannot be had."""
    check_rootdir(config)
    extra: list[tuple[str, dict[str, Any]]] = []
    try:
        if _lab_wanted(config):
            # the lab object is dropped: its processes outlive the run
            _, table = lab_layer_module().lab_layer(config)
            extra.append(("the embedded lab's settings", table))
        settings = resolve_settings(config, extra)
    except SettingError as exc:
        raise pytest.UsageError(f"pytest-irp: {exc}") from None
    refusal = kube_context_refusal(settings, selected)
    if refusal:
        raise pytest.UsageError(refusal)
    redactor = make_redactor(settings)
    redact_debug_log(config, redactor)
    run_id = new_run_id()
    report_dir = Path(settings["reports_dir"]).resolve()
    try:
        pipeline = Pipeline(
            STAGES,
            settings,
            redactor,
            make_runner=make_runner(config, settings, redactor),
            log_dir=report_dir / f"irp-{run_id}",
            cache=getattr(config, "cache", None),
            run_id=run_id,
            reuse=bool(settings["reuse"]),
            force=settings["force"],
            progress=progress(config, redactor),
        )
    except SettingError as exc:
        raise pytest.UsageError(f"pytest-irp: {exc}") from None
    pipeline.verbose = config.get_verbosity() > 0
    if not config.option.collectonly:
        _check_app_repo(pipeline, items or [])
        _check_hosts(pipeline, items or [])
        problem = None if runs_nothing(settings) else directory_problem(report_dir)
        if problem:
            raise pytest.UsageError(
                f"pytest-irp: setting 'reports_dir' ({settings['reports_dir']!r}, from "
                f"{settings.sources['reports_dir']}): {problem}."
            )
        if not runs_nothing(settings):
            run_id = claim_run_folder(report_dir, run_id)
            pipeline.run_id, pipeline.log_dir = run_id, report_dir / f"irp-{run_id}"
    return IrpRun(config, settings, redactor, pipeline, run_id, report_dir)


def new_run_id() -> str:
    """Time, pid and a random part: two runs with the same pid (PID 1 in containers)
    started in the same second still get two ids."""
    return time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}-{secrets.token_hex(3)}"


def claim_run_folder(report_dir: Path, run_id: str) -> str:
    """Create ``irp-<run id>/`` with an atomic mkdir; on a clash (another run took the
    same id) take a new id, so that no run writes into another's folder."""
    for _ in range(100):
        try:
            (report_dir / f"irp-{run_id}").mkdir()
        except FileExistsError:
            run_id = new_run_id()
            continue
        except OSError as exc:
            raise pytest.UsageError(
                f"pytest-irp: cannot create the run's folder in {report_dir}: "
                f"{exc.strerror or exc}."
            ) from None
        return run_id
    raise pytest.UsageError(f"pytest-irp: no free run folder name in {report_dir}.")


def redact_debug_log(config: pytest.Config, redactor: Redactor) -> None:
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

"""The pipeline as ordered session fixtures, and the values tests ask for.

``stage_*`` fixtures (session scope) return a :class:`~pytest_irp.stage.StageResult` and
never raise; each asks for the stages it needs, so pytest's fixture graph is the
pipeline: source -> prebuild -> build -> push -> (chart -> render) -> release -> live.
The value fixtures (``built_image``, ``pushed_image``, ``deployed_release`` ...) return
the stage's value or make the test FAIL or BLOCKED (see :mod:`pytest_irp.outcomes`).
Both are made from the stage list (:data:`pytest_irp.stages.SPECS`), their documentation
from the value types (:mod:`pytest_irp.docgen`).
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from .docgen import fixture_doc, stage_fixture_doc
from .outcomes import require
from .settings import Resolved
from .stage import Pipeline, StageResult
from .stages import SPECS, StageSpec

PIPELINE_KEY = pytest.StashKey["Pipeline"]()


@pytest.fixture(scope="session")
def irp_pipeline(pytestconfig: pytest.Config) -> Pipeline:
    """The session's pipeline (settings, runners, stage results)."""
    pipeline = pytestconfig.stash.get(PIPELINE_KEY, None)
    if pipeline is None:
        pytest.fail("pytest-irp fixtures need a test marked with irp_criterion(...)", pytrace=False)
    return pipeline


@pytest.fixture(scope="session")
def irp_settings(irp_pipeline: Pipeline) -> Resolved:
    """The settings in force."""
    return irp_pipeline.settings


def _testinfra_host(pipeline: Pipeline, host: str) -> Any:
    import testinfra.host

    settings = pipeline.settings
    kwargs: dict[str, Any] = {"timeout": int(settings["connect_timeout"])}
    if settings.get("ssh_config"):
        kwargs["ssh_config"] = settings["ssh_config"]
    control_path = getattr(pipeline.runner(host), "control_path", None)
    if callable(control_path):
        # the stages' connection to the host (one handshake per run, not one per command);
        # testinfra %-formats its command line
        kwargs["controlpath"] = str(control_path()).replace("%", "%%")
    return testinfra.host.Host(ssh_backend(host, **kwargs))


def _ssh_backend_class() -> Any:
    """testinfra's ssh backend whose local ssh client gets :func:`child_env` instead of
    this process's whole environment (testinfra's ``run_local`` inherits it: secrets in
    IRP_* variables would reach every ssh it starts)."""
    import subprocess

    from testinfra.backend.ssh import SshBackend

    from .childenv import child_env

    class Backend(SshBackend):  # type: ignore[misc]
        def run_local(self, command: str, *args: str) -> Any:
            cmd = self.encode(self.quote(command, *args))
            # testinfra builds one quoted shell command line (its own design)
            proc = subprocess.Popen(  # noqa: S602
                cmd,
                shell=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=child_env(),
            )
            stdout, stderr = proc.communicate()
            return self.result(proc.returncode, cmd, stdout, stderr)

    return Backend


def ssh_backend(host: str, **kwargs: Any) -> Any:
    return _ssh_backend_class()(host, **kwargs)


@pytest.fixture(scope="session")
def build_host(irp_pipeline: Pipeline, irp_settings: Resolved) -> Any:
    """The build host as a testinfra Host (same ssh config and connection as the stages),
    for checks of files, packages and processes: ``build_host.file(path).is_symlink``."""
    return _testinfra_host(irp_pipeline, irp_settings.require("host"))


@pytest.fixture(scope="session")
def cluster_node(irp_pipeline: Pipeline, irp_settings: Resolved) -> Any:
    """The cluster node (``node_host``) as a testinfra Host."""
    return _testinfra_host(irp_pipeline, irp_settings["node_host"])


# ---- the stages and their values, from the stage list -----------------------------------


def _stage_fixture(spec: StageSpec) -> Any:
    """``stage_NAME`` (session): the stage's StageResult. It asks for the fixtures of the
    stages it needs, so pytest's fixture graph is the pipeline."""

    def fixture(irp_pipeline: Pipeline, **needs: StageResult) -> StageResult:
        return irp_pipeline.result(spec.name)

    params = [inspect.Parameter("irp_pipeline", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [
        inspect.Parameter(f"stage_{need}", inspect.Parameter.KEYWORD_ONLY) for need in spec.needs
    ]
    fixture.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    fixture.__name__ = fixture.__qualname__ = spec.stage_fixture
    fixture.__doc__ = stage_fixture_doc(spec)
    return pytest.fixture(scope="session", name=spec.stage_fixture)(fixture)


def _value_fixture(spec: StageSpec) -> Any:
    """The value fixture checks ask for: the stage's value (its type in
    :mod:`pytest_irp.values`), or the check FAILS or is BLOCKED (see :func:`require`)."""

    def fixture(request: pytest.FixtureRequest, **stage: StageResult) -> Any:
        return require(request.node, stage[spec.stage_fixture])

    params = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter(spec.stage_fixture, inspect.Parameter.KEYWORD_ONLY),
    ]
    fixture.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    fixture.__name__ = fixture.__qualname__ = spec.fixture
    fixture.__doc__ = fixture_doc(spec)
    return pytest.fixture(name=spec.fixture)(fixture)


for _spec in SPECS:
    globals()[_spec.stage_fixture] = _stage_fixture(_spec)
    globals()[_spec.fixture] = _value_fixture(_spec)
del _spec

STAGE_FIXTURES = {spec.stage_fixture: spec.name for spec in SPECS}

"""The pipeline as ordered session fixtures, and the values tests ask for.

``stage_*`` fixtures (session scope) return a :class:`~pytest_irp.stage.StageResult` and
never raise; each asks for the stages it needs, so pytest's fixture graph is the
pipeline: source -> prebuild -> build -> push -> (chart -> render) -> release -> live.
The value fixtures (``built_image``, ``pushed_image``, ``deployed_release`` ...) return
the stage's value or make the test FAIL or BLOCKED (see :mod:`pytest_irp.outcomes`).
"""

from __future__ import annotations

from typing import Any

import pytest

from .outcomes import require
from .settings import Resolved
from .stage import Pipeline, StageResult

PIPELINE_KEY = pytest.StashKey["Pipeline"]()


@pytest.fixture(scope="session")
def irp_pipeline(pytestconfig: pytest.Config) -> Pipeline:
    """The session's pipeline (settings, runners, stage results)."""
    pipeline = pytestconfig.stash.get(PIPELINE_KEY, None)
    if pipeline is None:
        pytest.fail("pytest-irp fixtures need a test marked with irp_criterion(...)",
                    pytrace=False)
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
            proc = subprocess.Popen(cmd, shell=True, stdin=subprocess.PIPE,  # noqa: S602
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env=child_env())
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


# ---- stage results (session) ------------------------------------------------------------

@pytest.fixture(scope="session")
def stage_source(irp_pipeline: Pipeline) -> StageResult:
    return irp_pipeline.result("source")


@pytest.fixture(scope="session")
def stage_flake(irp_pipeline: Pipeline, stage_source: StageResult) -> StageResult:
    return irp_pipeline.result("flake")


@pytest.fixture(scope="session")
def stage_spec(irp_pipeline: Pipeline, stage_source: StageResult) -> StageResult:
    return irp_pipeline.result("spec")


@pytest.fixture(scope="session")
def stage_prebuild(irp_pipeline: Pipeline, stage_source: StageResult) -> StageResult:
    return irp_pipeline.result("prebuild")


@pytest.fixture(scope="session")
def stage_build(irp_pipeline: Pipeline, stage_prebuild: StageResult) -> StageResult:
    return irp_pipeline.result("build")


@pytest.fixture(scope="session")
def stage_push(irp_pipeline: Pipeline, stage_build: StageResult) -> StageResult:
    return irp_pipeline.result("push")


@pytest.fixture(scope="session")
def stage_chart(irp_pipeline: Pipeline) -> StageResult:
    return irp_pipeline.result("chart")


@pytest.fixture(scope="session")
def stage_render(irp_pipeline: Pipeline, stage_chart: StageResult) -> StageResult:
    return irp_pipeline.result("render")


@pytest.fixture(scope="session")
def stage_mirror(irp_pipeline: Pipeline) -> StageResult:
    return irp_pipeline.result("mirror")


@pytest.fixture(scope="session")
def stage_pull(irp_pipeline: Pipeline, stage_push: StageResult,
               stage_mirror: StageResult) -> StageResult:
    return irp_pipeline.result("pull")


@pytest.fixture(scope="session")
def stage_release(irp_pipeline: Pipeline, stage_push: StageResult,
                  stage_render: StageResult) -> StageResult:
    return irp_pipeline.result("release")


@pytest.fixture(scope="session")
def stage_live(irp_pipeline: Pipeline, stage_release: StageResult) -> StageResult:
    return irp_pipeline.result("live")


@pytest.fixture(scope="session")
def stage_ci(irp_pipeline: Pipeline) -> StageResult:
    return irp_pipeline.result("ci")


# ---- values (per test: FAIL or BLOCKED decided by the test's criterion) ------------------

@pytest.fixture
def source_checkout(request: pytest.FixtureRequest, stage_source: StageResult) -> Any:
    """{sha, tag, remote_head, host, remote_dir, method}"""
    return require(request.node, stage_source)


@pytest.fixture
def flake_report(request: pytest.FixtureRequest, stage_flake: StageResult) -> Any:
    """{check_rc, check_output, show, eval, eval_error}"""
    return require(request.node, stage_flake)


@pytest.fixture
def spec_run(request: pytest.FixtureRequest, stage_spec: StageResult) -> Any:
    """{rc, output}"""
    return require(request.node, stage_spec)


@pytest.fixture
def prebuild_facts(request: pytest.FixtureRequest, stage_prebuild: StageResult) -> Any:
    """key -> value facts of the build host."""
    return require(request.node, stage_prebuild)


@pytest.fixture
def built_image(request: pytest.FixtureRequest, stage_build: StageResult) -> Any:
    """{out_path, compressed, size, layers, diff_ids, repo_tags, config, attached, sha}"""
    return require(request.node, stage_build)


@pytest.fixture
def pushed_image(request: pytest.FixtureRequest, stage_push: StageResult) -> Any:
    """{image, tag, digest (skopeo's), served_digest (the registry's), registry_tags (the
    registry's tags/list), inspect_ok, inspect_digest, package_versions, registry, realm, ...}"""
    return require(request.node, stage_push)


@pytest.fixture
def chart_lint(request: pytest.FixtureRequest, stage_chart: StageResult) -> Any:
    """{lint_rc, lint_output}"""
    return require(request.node, stage_chart)


@pytest.fixture
def rendered_chart(request: pytest.FixtureRequest, stage_render: StageResult) -> Any:
    """{kinds, problems, manifests (Secret values masked), expected_image} (the stage
    fails when the key notes are broken)"""
    return require(request.node, stage_render)


@pytest.fixture
def node_mirror(request: pytest.FixtureRequest, stage_mirror: StageResult) -> Any:
    """{problems, registries_yaml, hosts_toml (None: not there), hostport,
    k3s_version_output, k3s_version}"""
    return require(request.node, stage_mirror)


@pytest.fixture
def pulled_image(request: pytest.FixtureRequest, stage_pull: StageResult) -> Any:
    """{image, digest, output, route, route_why, hosts_toml, plain_http}"""
    return require(request.node, stage_pull)


@pytest.fixture
def deployed_release(request: pytest.FixtureRequest, stage_release: StageResult) -> Any:
    """{status, revision, pods, pod_facts, pod_problems, running_digest,
    startup_line_seen, startup_problem, healthz_via_cluster, ...}"""
    return require(request.node, stage_release)


@pytest.fixture
def live_app(request: pytest.FixtureRequest, stage_live: StageResult) -> Any:
    """{healthz, probes, log_problems, watched_seconds}"""
    return require(request.node, stage_live)


@pytest.fixture
def ci_workflow(request: pytest.FixtureRequest, stage_ci: StageResult) -> Any:
    """{workflows, workflow_texts, workflow_source, runner_label, ci_branch, latest_runs
    (None: Gitea's API not asked), problems}"""
    return require(request.node, stage_ci)


STAGE_FIXTURES = {f"stage_{name}": name for name in
                  ("source", "flake", "spec", "prebuild", "build", "push", "chart", "render",
                   "mirror", "pull", "release", "live", "ci")}

"""Fixtures for the plugin's own tests: a pytester project holding the real criteria suite,
a git repository of the lab's sample app, and a scripted fake runner."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# hypothesis's pytest plugin by its module name: the rootdir's addopts block its entry point
# (-p no:hypothesispytest) so that criteria runs do not pay for importing hypothesis
pytest_plugins = ["pytester", "_hypothesis_pytestplugin"]

REPO = Path(__file__).resolve().parent.parent
TESTING = Path(__file__).resolve().parent
SHA_ENV = {
    "GIT_AUTHOR_NAME": "irp",
    "GIT_AUTHOR_EMAIL": "irp@example.invalid",
    "GIT_COMMITTER_NAME": "irp",
    "GIT_COMMITTER_EMAIL": "irp@example.invalid",
    "GIT_AUTHOR_DATE": "2026-05-02T12:00:00Z",
    "GIT_COMMITTER_DATE": "2026-05-02T12:00:00Z",
}

FAKE_CONFTEST = '''
import json, os, sys
sys.path.insert(0, {testing!r})
from pathlib import Path
from fake_runner import FakeRunner, script_is, contains, reply
from scenario import rules_for

import pytest as _pytest
from scenario import FakeHost


@_pytest.fixture(scope="session")
def build_host():
    """Stand-in for the testinfra host: the fake run has no real build host."""
    return FakeHost()


def pytest_irp_make_runner(config, host, settings, redactor):
    scenario = json.loads(Path(os.environ["FAKE_SCENARIO"]).read_text())
    return FakeRunner(host, redactor, rules_for(host, scenario),
                      log_path=Path(scenario["calls"]))
'''


@pytest.fixture(autouse=True)
def _subprocesses_import_this_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytester's subprocess runs import pytest_irp from this checkout, not from wherever
    pip's editable install points (another git worktree of the same repository)."""
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))
    )


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **SHA_ENV}
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def make_app_repo(dest: Path) -> str:
    """A git repository of the lab's sample app; returns its HEAD SHA."""
    shutil.copytree(REPO / "lab" / "app", dest)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "sample app")
    return git(dest, "rev-parse", "HEAD")


class Project:
    """A pytester project with the criteria suite, the sample app and a fake scenario."""

    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pytester = pytester
        self.path = pytester.path
        shutil.copytree(REPO / "tests", self.path / "tests")
        shutil.copy(REPO / "conftest.py", self.path / "conftest.py")
        with (self.path / "conftest.py").open("a") as out:
            out.write(FAKE_CONFTEST.format(testing=str(TESTING)))
        self.sha = make_app_repo(self.path / "app")
        self.calls_path = self.path / "calls.jsonl"
        self.scenario: dict[str, Any] = {"calls": str(self.calls_path), "sha": self.sha}
        self.scenario_path = self.path / "scenario.json"
        pytester.syspathinsert(TESTING)
        # PYTHONPATH: see _subprocesses_import_this_checkout (every pytester subprocess)
        monkeypatch.setenv("FAKE_SCENARIO", str(self.scenario_path))
        for name in list(__import__("os").environ):
            if name.startswith("IRP_"):
                monkeypatch.delenv(name)
        # no cluster unless a test gives one (the preflight reads the kubeconfig)
        monkeypatch.setenv("KUBECONFIG", str(self.path / "no-kubeconfig"))

    def run(self, *args: str, host: str | None = "haskelseed", **scenario: Any) -> pytest.RunResult:
        self.scenario.update(scenario)
        self.scenario_path.write_text(json.dumps(self.scenario))
        return self.pytester.runpytest_subprocess(
            "tests",
            *(("--irp-host", host) if host else ()),
            "--irp-app-repo",
            str(self.path / "app"),
            "--irp-registry",
            "127.0.0.1:9/coulomb/ihp-railiance-probe",
            "--irp-registry-user",
            "tegwick",
            "--irp-reports-dir",
            str(self.path / "reports"),
            "-p",
            "no:randomly",
            *args,
        )

    def calls(self) -> list[dict[str, Any]]:
        if not self.calls_path.exists():
            return []
        return [json.loads(line) for line in self.calls_path.read_text().splitlines()]

    def called(self, predicate: Callable[[list[str]], bool]) -> bool:
        return any(predicate(c["argv"]) for c in self.calls())


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Project:
    return Project(pytester, monkeypatch)


# --------------------------------------------------------------------------- report runs

STAND_IN = '''"""Stand-in for {crit}: the fake runner has no registry or cluster to prove it."""
import pytest

pytestmark = pytest.mark.irp_criterion("{crit}")


def test_{crit}_stand_in_passes(stage_mirror):
    assert stage_mirror.ok
'''


@dataclass
class ReportRuns:
    """Three real runs of the plugin over the fake runner, made once per session:
    ``green`` (a full run: the real T01-T06, T08, T12 checks, stand-ins for T07, T09-T11),
    ``failing`` (the full real suite, the build host refusing SSH connections) and
    ``partial`` (``-k T09`` after ``failing``, in the same reports folder)."""

    green: Path
    failing: Path
    partial: Path
    green_dir: Path
    failing_dir: Path
    outputs: dict[str, str]


def _report_project(dest: Path) -> tuple[Path, Path]:
    shutil.copytree(REPO / "tests", dest / "tests")
    shutil.copy(REPO / "conftest.py", dest / "conftest.py")
    with (dest / "conftest.py").open("a") as out:
        out.write(FAKE_CONFTEST.format(testing=str(TESTING)))
    sha = make_app_repo(dest / "app")
    scenario = dest / "scenario.json"
    scenario.write_text(json.dumps({"calls": str(dest / "calls.jsonl"), "sha": sha}))
    return dest, scenario


def _run_suite(project: Path, scenario: Path, *args: str, **extra: Any) -> tuple[str, Path]:
    import os
    import sys

    data = json.loads(scenario.read_text())
    data.update(extra)
    scenario.write_text(json.dumps(data))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRP_")}
    env.update({"FAKE_SCENARIO": str(scenario), "PYTHONPATH": str(REPO)})
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "--irp-host",
            "haskelseed",
            f"--irp-app-repo={project / 'app'}",
            "--irp-registry",
            "127.0.0.1:9/coulomb/ihp-railiance-probe",
            "--irp-registry-user",
            "tegwick",
            f"--irp-reports-dir={project / 'reports'}",
            *args,
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout + done.stderr
    match = re.search(r"irp report: (\S+index\.html)", out)
    assert match, out[-3000:]
    return out, Path(match.group(1))


@contextlib.contextmanager
def dev_server() -> Iterator[str]:
    """A loopback stand-in for `devenv up`: 200 on every GET."""
    import http.server
    import threading

    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def report_runs(tmp_path_factory: pytest.TempPathFactory) -> ReportRuns:
    green, green_sc = _report_project(tmp_path_factory.mktemp("green"))
    for crit, name in (("T07", "push"), ("T09", "mirror"), ("T10", "deploy"), ("T11", "smoke")):
        (green / "tests" / f"test_{crit.lower()}_{name}.py").write_text(STAND_IN.format(crit=crit))
    outputs = {}
    show = {"packages": {"x86_64-linux": {"docker": {}}}, "checks": {"x86_64-linux": {"tests": {}}}}
    failing, failing_sc = _report_project(tmp_path_factory.mktemp("failing"))
    with dev_server() as dev_url:  # T02 proven whole: its dev server answers
        outputs["green"], green_page = _run_suite(
            green, green_sc, f"--irp-dev-url={dev_url}", flake_show=show
        )
        # one cause: the build host refusing SSH (T02's dev server answers here too)
        outputs["failing"], failing_page = _run_suite(
            failing,
            failing_sc,
            f"--irp-dev-url={dev_url}",
            source_fail="ssh: connect to host haskelseed port 22: Connection refused",
        )
    outputs["partial"], partial_page = _run_suite(failing, failing_sc, "-k", "T09", source_fail="")
    return ReportRuns(
        green_page, failing_page, partial_page, green / "reports", failing / "reports", outputs
    )


@pytest.fixture
def sound_target(project: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Settings under which every preflight check holds: loopback stand-ins for the registry
    (its password in the environment) and the Kubernetes API (every access allowed), and a
    base URL the fake runner resolves. For tests of what happens after the preflight."""
    from standins import KubeStandIn, RegistryStandIn, serving

    monkeypatch.setenv("IRP_REGISTRY_PASSWORD", "sound-target-password")
    with (
        serving(RegistryStandIn("tegwick", "sound-target-password")) as registry,
        serving(KubeStandIn()) as kube,
    ):
        kubeconfig = kube.kubeconfig(project.path / "kubeconfig")
        project.scenario["registry_hostport"] = f"127.0.0.1:{registry.port}"
        yield [
            f"--irp-registry=127.0.0.1:{registry.port}/coulomb/ihp-railiance-probe",
            "--irp-registry-plain-http",
            f"--irp-kubeconfig={kubeconfig}",
            "--irp-base-url=http://probe.example.invalid",
        ]

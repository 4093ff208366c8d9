"""T09's node side with the fake runner (testing/fake_runner.py): each cause of a failing
mirror check has its own words, the node's commands go through ``node_sudo``, and the
pull's route (http mirror or k3s's https fallback) is judged from the rendered hosts.toml.
The hosts.toml texts are what k3s writes (pytest_irp_lab.node_registry renders them).
Also T10's /healthz through the cluster (the API server's service proxy) on a fake API."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from fake_runner import FakeRunner, Reply, reply

from pytest_irp import mirror_judge
from pytest_irp.pipeline import STAGES
from pytest_irp.redact import Redactor
from pytest_irp.settings import resolve
from pytest_irp.stage import Pipeline
from pytest_irp_lab.node_registry import lab_registries, render_hosts_toml

HOSTPORT = "10.77.0.3:3000"  # the lab registry's address; nothing is contacted
REGISTRIES = f'mirrors:\n  "{HOSTPORT}":\n    endpoint:\n      - "http://{HOSTPORT}"\n'
HOSTS_TOML = render_hosts_toml(lab_registries(HOSTPORT))[HOSTPORT]
CERTS = "/var/lib/rancher/k3s/agent/etc/containerd/certs.d"
NEW_K3S = "k3s version v1.29.1+k3s1 (abcdef12)\ngo version go1.21.6\n"
MISSING = (1, "", "cat: {path}: No such file or directory\n")


def node(files: dict[str, Reply], version: str = NEW_K3S, sudo: Reply | None = None) -> list[Any]:
    """Rules for the node: ``cat PATH`` answers from ``files`` (or: no such file); with
    ``sudo`` set, every command behind sudo answers that instead."""

    def cat(argv: Sequence[str], stdin: str | None) -> Reply:
        path = argv[-1]
        rc, out, err = files.get(path, MISSING)
        return rc, out, err.format(path=path)

    rules: list[Any] = []
    if sudo is not None:
        rules.append((lambda argv: argv[0] == "sudo", lambda argv, stdin: sudo))
    rules += [
        (
            lambda argv: argv[-2:] == ["k3s", "--version"] or list(argv) == ["k3s", "--version"],
            reply(0, version),
        ),
        (lambda argv: "cat" in argv, cat),
    ]
    return rules


def mirror(tmp_path: Path, rules: list[Any], **settings: Any) -> tuple[Any, list[list[str]]]:
    values = {
        "registry": f"{HOSTPORT}/coulomb/app",
        "app_repo": str(tmp_path),
        "reports_dir": str(tmp_path / "reports"),
        **settings,
    }
    redactor = Redactor()
    runners: dict[str, FakeRunner] = {}

    def make(host: str) -> FakeRunner:
        runners[host] = FakeRunner(host, redactor, rules if host == "railiance01" else [])
        return runners[host]

    pipeline = Pipeline(
        STAGES,
        resolve({}, {}, [("test", values)]),
        redactor,
        make_runner=make,
        log_dir=tmp_path / "logs",
    )
    result = pipeline.result("mirror")
    return result, runners["railiance01"].calls


FILES = {
    "/etc/rancher/k3s/registries.yaml": (0, REGISTRIES, ""),
    f"{CERTS}/{HOSTPORT}/hosts.toml": (0, HOSTS_TOML, ""),
}


def test_configured_node_passes_and_commands_take_the_sudo_prefix(tmp_path: Path) -> None:
    result, calls = mirror(tmp_path, node(FILES), node_sudo="sudo -n")
    assert result.ok, result.cause
    assert result.value["problems"] == []
    assert result.value["k3s_version"] == "1.29.1"
    assert ["sudo", "-n", "cat", "--", "/etc/rancher/k3s/registries.yaml"] in calls
    assert ["sudo", "-n", "cat", "--", f"{CERTS}/{HOSTPORT}/hosts.toml"] in calls
    assert ["k3s", "--version"] in calls  # needs no root


def test_registries_yaml_lacks_the_mirror(tmp_path: Path) -> None:
    files = {
        **FILES,
        "/etc/rancher/k3s/registries.yaml": (
            0,
            'mirrors:\n  "other:5000":\n    endpoint: ["http://o"]\n',
            "",
        ),
    }
    result, _ = mirror(tmp_path, node(files))
    [problem] = result.value["problems"]
    assert problem.startswith("registries.yaml lacks the mirror: no entry for 10.77.0.3:3000")


def test_no_registries_yaml_at_all(tmp_path: Path) -> None:
    result, _ = mirror(tmp_path, node({}))
    assert result.status == "failed"
    assert "registries.yaml lacks the mirror" in result.cause


def test_hosts_toml_not_rendered_restart_k3s(tmp_path: Path) -> None:
    files = {"/etc/rancher/k3s/registries.yaml": FILES["/etc/rancher/k3s/registries.yaml"]}
    result, _ = mirror(tmp_path, node(files))
    [problem] = result.value["problems"]
    assert problem.startswith("hosts.toml not rendered for 10.77.0.3:3000")
    assert problem.endswith("(restart k3s)")


def test_stale_hosts_toml_restart_k3s(tmp_path: Path) -> None:
    stale = render_hosts_toml(
        {"mirrors": {HOSTPORT: {"endpoint": [f"https://{HOSTPORT}", "http://old:5000"]}}}
    )
    files = {**FILES, f"{CERTS}/{HOSTPORT}/hosts.toml": (0, stale[HOSTPORT], "")}
    result, _ = mirror(tmp_path, node(files))
    [problem] = result.value["problems"]
    assert problem.startswith("hosts.toml for 10.77.0.3:3000 is stale")


@pytest.mark.parametrize(
    "version", ["k3s version v1.28.5+k3s1 (5b2d1271)", "k3s version v1.25.16+k3s4 (0c3a1ab0)"]
)
def test_k3s_older_than_hosts_toml(tmp_path: Path, version: str) -> None:
    files = {"/etc/rancher/k3s/registries.yaml": FILES["/etc/rancher/k3s/registries.yaml"]}
    result, _ = mirror(tmp_path, node(files, version=version))
    [problem] = result.value["problems"]
    assert (
        "is older than the releases that write hosts.toml (v1.26.13, v1.27.10, v1.28.6, "
        "v1.29.1 and later)" in problem
    )
    assert "restart" not in problem


def test_permission_denied_names_node_sudo(tmp_path: Path) -> None:
    files = {
        **FILES,
        f"{CERTS}/{HOSTPORT}/hosts.toml": (
            1,
            "",
            f"cat: {CERTS}/{HOSTPORT}/hosts.toml: Permission denied\n",
        ),
    }
    result, _ = mirror(tmp_path, node(files))
    assert result.status == "failed"
    assert result.cause.startswith(f"permission denied reading {CERTS}/{HOSTPORT}/hosts.toml")
    assert "node_sudo = 'sudo -n'" in result.cause
    assert "restart" not in result.cause  # not the false "restart k3s"


@pytest.mark.parametrize(
    ("prefix", "stderr"),
    [
        ("sudo -n", "sudo: a password is required\n"),
        (
            "sudo",
            "sudo: a terminal is required to read the password; either use the -S option "
            "to read from standard input or configure an askpass helper\n",
        ),
    ],
)
def test_sudo_asking_for_a_password_is_its_own_cause(
    tmp_path: Path, prefix: str, stderr: str
) -> None:
    result, _ = mirror(tmp_path, node(FILES, sudo=(1, "", stderr)), node_sudo=prefix)
    assert result.status == "failed"
    assert result.cause.startswith("sudo on railiance01 asks for a password")


def test_unknown_k3s_version_is_a_finding_not_a_cause(tmp_path: Path) -> None:
    files = {"/etc/rancher/k3s/registries.yaml": FILES["/etc/rancher/k3s/registries.yaml"]}
    result, _ = mirror(tmp_path, node(files, version="bash: k3s: command not found"))
    [problem] = result.value["problems"]
    assert problem.startswith("hosts.toml not rendered")
    assert any("k3s version" in f.title for f in result.findings)


def test_k3s_versions_that_write_hosts_toml() -> None:
    writes = mirror_judge.writes_hosts_toml
    assert [
        writes(v)
        for v in [
            (1, 26, 12),
            (1, 26, 13),
            (1, 27, 9),
            (1, 27, 10),
            (1, 28, 5),
            (1, 28, 6),
            (1, 29, 0),
            (1, 29, 1),
            (1, 33, 6),
            (1, 25, 99),
        ]
    ] == [False, True, False, True, False, True, False, True, True, False]
    assert mirror_judge.parse_k3s_version(NEW_K3S) == (1, 29, 1)
    assert mirror_judge.parse_k3s_version("k3s: not found") is None


def test_pull_route_is_http_only_when_nothing_else_could_have_served() -> None:
    route, why = mirror_judge.pull_route(HOSTS_TOML, HOSTPORT, plain_http=True)
    assert route == "http"
    assert "cannot answer" in why
    assert mirror_judge.pull_route(HOSTS_TOML, HOSTPORT, plain_http=False)[0] == ""  # TLS possible
    https_only = render_hosts_toml(
        {"mirrors": {HOSTPORT: {"endpoint": [f"https://{HOSTPORT}", "https://m:5000"]}}}
    )[HOSTPORT]
    assert mirror_judge.pull_route(https_only, HOSTPORT, plain_http=True) == (
        "",
        "hosts.toml has no http://10.77.0.3:3000/v2 host",
    )
    assert mirror_judge.pull_route("", HOSTPORT, plain_http=True)[0] == ""


def test_https_fallback_error_is_explained() -> None:
    error = (
        'failed to pull and unpack image "10.77.0.3:3000/coulomb/app:x": failed to resolve '
        'reference "10.77.0.3:3000/coulomb/app:x": failed to do request: Head '
        '"https://10.77.0.3:3000/v2/coulomb/app/manifests/x": http: server gave HTTP '
        "response to HTTPS client"
    )
    assert "fell back to the https server" in mirror_judge.pull_error_hint(error)
    assert mirror_judge.pull_error_hint("not found") == ""


class _Port:
    def __init__(self, port: int) -> None:
        self.port = port


class _Service:
    def __init__(self, name: str, port: int) -> None:
        self.metadata = type("M", (), {"name": name})()
        self.spec = type("S", (), {"ports": [_Port(port)]})()


class _Core:
    """The two CoreV1Api calls T10's /healthz-through-the-cluster check makes."""

    def __init__(self, services: list[_Service], answer: Any) -> None:
        self.services, self.answer, self.calls = services, answer, []

    def list_namespaced_service(self, ns: str, **kw: Any) -> Any:
        return type("L", (), {"items": self.services})()

    def connect_get_namespaced_service_proxy_with_path(
        self, name: str, ns: str, path: str, **kw: Any
    ) -> Any:
        self.calls.append((name, ns, path))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_t10_healthz_via_the_clusters_service_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """T10's exit `curl http://<cluster-ip>/healthz`: ok, and the facts that fail it."""
    from pytest_irp.stages import release

    monkeypatch.setattr(release.time, "sleep", lambda seconds: None)
    ok = type("R", (), {"status": 200, "data": b"ok"})()
    core = _Core([_Service("web-metrics", 9100), _Service("web", 80)], ok)
    assert release.healthz_via_cluster(core, "coulomb", "rel") == {
        "status": 200,
        "body": "ok",
        "error": "",
        "service": "web",
    }
    assert core.calls == [("web:80", "coulomb", "healthz")]
    missing = release.healthz_via_cluster(_Core([_Service("x", 8080)], ok), "coulomb", "rel")
    assert missing["status"] == 0
    assert "no Service with port 80" in missing["error"]
    down = type(
        "E",
        (Exception,),
        {"status": 503, "reason": "Service Unavailable", "body": "no endpoints available"},
    )()
    failed = release.healthz_via_cluster(_Core([_Service("web", 80)], down), "coulomb", "rel")
    assert failed["status"] == 503
    assert failed["error"] == "Service Unavailable"

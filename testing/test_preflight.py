"""The preflight: each precondition decided with its cause before the build stage ends,
while independent stages go on; ``--irp-preflight`` alone and its exit codes; its commands
in the plan. pytester runs of the real criteria suite with the fake runner (build host,
node, helm, getent answered by testing/scenario.py) and loopback HTTP stand-ins for the
registry and the Kubernetes API (testing/standins.py); plus the pure judges."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standins import KubeStandIn, RegistryStandIn, jwt, serving

from conftest import Project
from pytest_irp import preflight as pf
from pytest_irp import preflight_judge as pj
from pytest_irp.runners import CommandResult
from pytest_irp.settings import resolve

PASSWORD = "c0rrect-h0rse-preflight"
PATH = "coulomb/ihp-railiance-probe"


@pytest.fixture
def registry() -> Iterator[RegistryStandIn]:
    with serving(RegistryStandIn("tegwick", PASSWORD)) as stand_in:
        yield stand_in


@pytest.fixture
def kube() -> Iterator[KubeStandIn]:
    with serving(KubeStandIn()) as stand_in:
        yield stand_in


def registry_args(stand_in: RegistryStandIn) -> list[str]:
    return [f"--irp-registry=127.0.0.1:{stand_in.port}/{PATH}", "--irp-registry-plain-http"]


def lines_of(result: pytest.RunResult) -> list[str]:
    return result.stdout.lines


def index_of(lines: list[str], text: str) -> int:
    found = [i for i, line in enumerate(lines) if text in line]
    assert found, f"{text!r} not in the output"
    return found[0]


def assert_decided_before_build_ends(result: pytest.RunResult, check: str) -> None:
    """The preflight's failure is on the terminal before the build's progress line starts
    (and so before the build, a few seconds long here, ends)."""
    lines = lines_of(result)
    # without -v the preflight's line names the failed checks; their causes come once, in
    # the problems list at the end
    failed = next(
        i
        for i, line in enumerate(lines)
        if f"irp [preflight] FAILED {check} " in line
        or (line.startswith("irp [preflight] ") and " FAILED in " in line and f" {check} (" in line)
    )
    assert failed < index_of(lines, "irp [build] nix build of the image")
    assert failed < index_of(lines, "irp [build] done")


def criteria(project: Project) -> dict[str, Any]:
    summary = json.loads((project.path / "reports" / "summary.json").read_text())
    return dict(summary["criteria"])


# --------------------------------------------------------------------------- each precondition


def test_wrong_password_fails_t07_at_once_while_t06_builds(
    project: Project, registry: RegistryStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IRP_REGISTRY_PASSWORD", "wr0ng-password-value")
    result = project.run("-k", "T06 or T07", *registry_args(registry), build_seconds=2)
    assert result.ret == 1
    assert_decided_before_build_ends(result, "registry")
    crit = criteria(project)
    assert crit["T06"]["status"] == "PASS"  # the bad password does not stop the build
    assert crit["T07"]["status"] == "FAIL"
    assert (
        "rejected the credentials of user 'tegwick' (HTTP 401 from /v2/token: "
        "'Unauthorized')" in crit["T07"]["cause"]
    )  # the registry's own words
    text = result.stdout.str()
    assert "T07 [this machine]" not in text
    assert re.search(r"\n\d\. T07: registry 127.0.0.1:\d+ rejected the credentials", text)
    assert "next: Check `registry_user` and the password" in text  # the next step, once
    assert text.count("rejected the credentials") == 1  # once: in the problems list
    assert not project.called(lambda argv: "irp-push" in argv)  # decided, never pushed
    assert "wr0ng-password-value" not in result.stdout.str() + result.stderr.str()


def test_right_password_passes_the_registry_precondition(
    project: Project, registry: RegistryStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control case of the test above: the same stand-in, the right password."""
    monkeypatch.setenv("IRP_REGISTRY_PASSWORD", PASSWORD)
    result = project.run("--irp-preflight", "-k", "T07", *registry_args(registry))
    assert result.ret == 0, result.stdout.str()
    text = result.stdout.str()
    assert "ok     registry: realm http://127.0.0.1:" in text
    assert "credentials of 'tegwick' accepted" in text
    assert "push scope: the token names no access" in text
    assert PASSWORD not in text
    assert ("GET", "/v2/") in registry.requests  # type: ignore[attr-defined]


def test_unknown_context_fails_t10_at_once_while_t06_builds(project: Project) -> None:
    """No kubeconfig holds the context (the project's KUBECONFIG names no file)."""
    result = project.run("-k", "T06 or T10", build_seconds=2)
    assert result.ret == 1
    assert_decided_before_build_ends(result, "kube")
    crit = criteria(project)
    assert crit["T06"]["status"] == "PASS"
    assert crit["T10"]["status"] == "FAIL"
    assert "cannot use kube context 'railiance01'" in crit["T10"]["cause"]


def test_missing_rbac_permission_fails_t10_at_once(project: Project) -> None:
    with serving(
        KubeStandIn(denied=frozenset({("create", "secrets"), ("patch", "deployments")}))
    ) as kube:
        kubeconfig = kube.kubeconfig(project.path / "kubeconfig")
        result = project.run("-k", "T06 or T10", f"--irp-kubeconfig={kubeconfig}", build_seconds=2)
    assert result.ret == 1
    assert_decided_before_build_ends(result, "kube")
    crit = criteria(project)
    assert crit["T06"]["status"] == "PASS"
    assert crit["T10"]["status"] == "FAIL"
    cause = crit["T10"]["cause"]
    assert "may not: create secrets in coulomb, patch deployments in coulomb" in cause
    assert "SelfSubjectAccessReview" in cause
    assert ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews") in kube.requests  # type: ignore[attr-defined]


def test_absent_namespace_needs_create_permission(project: Project) -> None:
    with serving(
        KubeStandIn(namespace_present=False, denied=frozenset({("create", "namespaces")}))
    ) as kube:
        kubeconfig = kube.kubeconfig(project.path / "kubeconfig")
        result = project.run("--irp-preflight", "-k", "T10", f"--irp-kubeconfig={kubeconfig}")
    assert result.ret == 1
    assert "may not: create namespaces (SelfSubjectAccessReview denied)" in result.stdout.str()


def test_unknown_node_alias_fails_t09_at_once(project: Project) -> None:
    result = project.run("-k", "T06 or T09", build_seconds=2, node_unknown=True)
    assert result.ret == 1
    assert_decided_before_build_ends(result, "node")
    crit = criteria(project)
    assert crit["T06"]["status"] == "PASS"
    assert crit["T09"]["status"] == "FAIL"
    assert (
        "railiance01 is not reachable over ssh: ssh: Could not resolve hostname"
        in crit["T09"]["cause"]
    )
    assert "check the setting 'node_host'" in crit["T09"]["cause"]


def test_sudo_asking_for_a_password_fails_t09_at_once(project: Project) -> None:
    result = project.run(
        "-k", "T06 or T09", "--irp-node-sudo=sudo", build_seconds=2, sudo_password=True
    )
    assert result.ret == 1
    assert_decided_before_build_ends(result, "node")
    crit = criteria(project)
    assert crit["T06"]["status"] == "PASS"
    assert crit["T09"]["status"] == "FAIL"
    assert "`sudo -n true` on railiance01 asks for a password" in crit["T09"]["cause"]
    assert project.called(lambda argv: argv[:3] == ["sudo", "-n", "true"])


def test_helm_missing_fails_t08_at_once(project: Project) -> None:
    result = project.run("-k", "T06 or T08", build_seconds=2, helm_missing=True)
    assert result.ret == 1
    assert_decided_before_build_ends(result, "helm")
    crit = criteria(project)
    assert crit["T06"]["status"] == "PASS"
    assert crit["T08"]["status"] == "FAIL"
    assert "helm is not usable here" in crit["T08"]["cause"]
    assert not project.called(lambda argv: "lint" in argv)


def test_helm_40x_passes_while_the_release_passes_no_wait_flag(
    project: Project, sound_target: list[str]
) -> None:
    """helm 4.0.0-4.0.5 reject --wait=hookOnly; the release's command line carries no
    --wait (deploy.upgrade_argv), so a helm 4.0.x is no failed precondition. If a --wait
    flag came back, test_helm_judge_knows_the_40x_hookonly_rejection says what happens."""
    from pytest_irp.preflight_probes import release_wait_flags

    assert release_wait_flags(_settings()) == []
    result = project.run(
        "--irp-preflight", "-k", "T10", *sound_target, helm_version="v4.0.3+g1234567"
    )
    assert result.ret == 0, result.stdout.str()
    assert "ok     helm: helm v4.0.3+g1234567" in result.stdout.str()


def test_unresolvable_base_url_fails_t11_at_once(project: Project) -> None:
    result = project.run(
        "-k",
        "T06 or T11",
        "--irp-base-url=http://probe.example.invalid",
        build_seconds=2,
        dns_fails=True,
    )
    assert result.ret == 1
    assert_decided_before_build_ends(result, "base-url")
    crit = criteria(project)
    assert crit["T06"]["status"] == "PASS"
    assert crit["T11"]["status"] == "FAIL"
    assert "the base URL's host probe.example.invalid does not resolve" in crit["T11"]["cause"]
    assert project.called(lambda argv: argv == ["getent", "ahosts", "--", "probe.example.invalid"])


# --------------------------------------------------------------------------- --irp-preflight


def test_preflight_only_exits_0_when_all_hold_and_runs_no_stage(
    project: Project, registry: RegistryStandIn, kube: KubeStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IRP_REGISTRY_PASSWORD", PASSWORD)
    kubeconfig = kube.kubeconfig(project.path / "kubeconfig")
    result = project.run(
        "--irp-preflight",
        *registry_args(registry),
        f"--irp-kubeconfig={kubeconfig}",
        "--irp-node-sudo=sudo",
        "--irp-base-url=http://probe.example.invalid",
    )
    assert result.ret == 0, result.stdout.str()
    text = result.stdout.str()
    assert "irp [preflight] 7 checks, 0 failed" in text
    for name in ("build-host", "skopeo", "registry", "helm", "kube", "node", "base-url"):
        assert f"ok     {name}" in text
    changing = ("irp-source", "irp-build", "irp-push", "lint", "template", "upgrade", "pull")
    assert not project.called(lambda argv: any(word in argv for word in changing))
    assert not (project.path / "reports").exists()  # no report of criteria never run
    assert "exit criteria" not in text


def test_preflight_only_exits_1_with_one_paragraph_per_failure(
    project: Project, registry: RegistryStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IRP_REGISTRY_PASSWORD", "wr0ng-password-value")
    result = project.run(
        "--irp-preflight",
        "-k",
        "T07 or T09",
        *registry_args(registry),
        "--irp-node-sudo=sudo",
        sudo_password=True,
    )
    assert result.ret == 1
    paragraphs = [line for line in lines_of(result) if line.startswith("precondition ")]
    assert len(paragraphs) == 3
    assert paragraphs[0].startswith(
        "precondition 'registry' of stage push (T07) failed: registry 127.0.0.1:"
    )
    assert "Fix: check registry_user and the password" in paragraphs[0]
    assert paragraphs[1].startswith(
        "precondition 'node' of stage mirror (T09) failed: "
        "`sudo -n true` on railiance01 asks for a password"
    )
    # the fake node's registries.yaml (readable without sudo) names another registry: the
    # missing mirror is named in the same run as the sudo that hides it
    assert paragraphs[2].startswith(
        "precondition 'node' of stage mirror (T09) failed: registries.yaml lacks the "
        "mirror: no entry for 127.0.0.1:"
    )
    assert "read without the prefix). Fix: add the registry's mirror to" in paragraphs[2]
    assert not project.called(lambda argv: "irp-build" in argv or "irp-source" in argv)


def test_plan_lists_the_preflight_commands(project: Project) -> None:
    result = project.run(
        "--irp-plan", "--irp-node-sudo=sudo", "--irp-base-url=http://probe.example.invalid"
    )
    assert result.ret == 0
    text = result.stdout.str()
    assert " 0. preflight (read-only" in text
    for command in (
        "[haskelseed] $ sh -c '<pytest_irp/remote/prebuild.sh>' irp-prebuild",
        "[haskelseed] $ skopeo --version",
        "[local] $ helm version --short",
        "[local] $ GET 'https://127.0.0.1:9/v2/token?service=container_registry",
        "[local] $ kubernetes-api create selfsubjectaccessreviews",
        "[railiance01] $ sudo -n true",
        "[railiance01] $ sudo -n sh -c '<pytest_irp/remote/readable.sh>' "
        "irp-readable /etc/rancher/k3s/registries.yaml",
        "[local] $ getent ahosts -- probe.example.invalid",
    ):
        assert command in text, command
    assert project.calls() == [] or all(c["argv"][0] == "git" for c in project.calls())


def test_reuse_keeps_a_saved_stage_the_preflight_would_fail(project: Project) -> None:
    """helm is gone since the chart was linted: with --irp-reuse the unchanged chart's saved
    result is taken (the reuse rule), not failed by the preflight; without, T08 FAILs."""
    assert project.run("-k", "T06 or T08").ret == 0
    reused = project.run("-k", "T06 or T08", "--irp-reuse", helm_missing=True)
    assert reused.ret == 0, reused.stdout.str()
    assert "stage chart not decided: --irp-reuse may take its saved result" in reused.stdout.str()
    assert "irp [chart] reused from run" in reused.stdout.str()
    assert project.run("-k", "T06 or T08", helm_missing=True).ret == 1


def test_a_stage_whose_own_precondition_failed_fails_after_an_upstream_failure(
    project: Project,
) -> None:
    """The build host refuses ssh: the source stage fails beside the preflight, whose
    build-host and skopeo checks fail for the same reason; T07 FAILs with its own
    precondition's cause (not BLOCKED by the source stage), and the one cause is one
    problem (the missing registry password another)."""
    result = project.run("-k", "T06 or T07", hosts_down=["haskelseed"])
    assert result.ret == 1
    crit = criteria(project)
    assert crit["T06"]["status"] == "FAIL"
    assert crit["T07"]["status"] == "FAIL"
    assert "preflight check 'skopeo' failed" in crit["T07"]["cause"]
    summary = json.loads((project.path / "reports" / "summary.json").read_text())
    assert [p["criteria"] for p in summary["problems"]] == [["T06", "T07"], ["T07"]]
    assert summary["problems"][0]["found_by"] == [
        "stage source",
        "preflight build-host",
        "preflight skopeo",
    ]


def test_k_t07_with_a_dead_build_host_fails_with_its_registry_precondition(
    project: Project,
) -> None:
    """Issue 23: with -k T07, the build host refusing ssh and no registry password, T07 is
    FAIL with both its own preconditions' causes, not BLOCKED by the source stage."""
    result = project.run("-k", "T07", hosts_down=["haskelseed"])
    assert result.ret == 1
    crit = criteria(project)
    assert crit["T07"]["status"] == "FAIL"
    assert "preflight check 'registry' failed" in crit["T07"]["cause"]
    assert "registry_password" in crit["T07"]["cause"]
    summary = json.loads((project.path / "reports" / "summary.json").read_text())
    causes = [p["cause"] for p in summary["problems"]]
    assert any("Connection refused" in c for c in causes)
    assert any("registry_password" in c for c in causes)
    assert "problems 1, 2 above" in result.stdout.str()


def test_no_preflight_without_a_long_stage(project: Project) -> None:
    result = project.run("-k", "T08")
    assert result.ret == 0, result.stdout.str()
    assert "irp [preflight]" not in result.stdout.str()


# --------------------------------------------------------------------------- pure judges


def _result(rc: int, stdout: str = "", stderr: str = "", host: str = "h") -> CommandResult:
    return CommandResult(host, ("x",), rc, stdout, stderr, 0.0)


def _settings(**values: Any) -> Any:
    return resolve({k: v for k, v in values.items()}, {}, [])


def test_token_judge_names_rejected_credentials() -> None:
    with pytest.raises(pf.Failed, match=r"rejected the credentials of user 'u' \(HTTP 401"):
        pj.judge_token(401, "Unauthorized", "u", "r:1")
    assert pj.judge_token(200, json.dumps({"token": "t"}), "u", "r:1") == "t"
    with pytest.raises(pf.Failed, match="returned no token"):
        pj.judge_token(200, "not json", "u", "r:1")


def test_push_scope_from_the_token_access_claim() -> None:
    push = jwt({"access": [{"type": "repository", "name": PATH, "actions": ["pull", "push"]}]})
    assert pj.judge_push_scope(pj.token_access(push), PATH, "u") == f"push scope granted on {PATH}"
    pull = jwt({"access": [{"type": "repository", "name": PATH, "actions": ["pull"]}]})
    with pytest.raises(pf.Failed, match=f"grants no push on {PATH} \\(granted: {PATH}: pull"):
        pj.judge_push_scope(pj.token_access(pull), PATH, "u")
    gitea = jwt({"sub": "u", "exp": 1})
    assert "names no access" in pj.judge_push_scope(pj.token_access(gitea), PATH, "u")


@given(st.text())
def test_token_access_never_raises(token: str) -> None:
    assert pj.token_access(token) is None or isinstance(pj.token_access(token), list)


@given(st.integers(0, 999), st.integers(0, 999), st.integers(0, 999), st.text(max_size=20))
def test_parse_version_reads_helm_short_versions(
    major: int, minor: int, patch: int, suffix: str
) -> None:
    assert pj.parse_version(f"v{major}.{minor}.{patch}+g{suffix}") == (major, minor, patch)


@given(st.text())
def test_readable_judge_only_ever_decides(stdout: str) -> None:
    """Whatever the node prints, the judge passes or fails with a cause: it never raises
    anything else."""
    try:
        pj.judge_readable(_result(0, stdout), "/f")
        passed = True
    except pf.Failed:
        passed = False
    assert not passed or any(line.startswith("state=readable") for line in stdout.splitlines())


def test_challenge_judge_reads_the_bearer_realm_among_two() -> None:
    headers = [
        'Bearer realm="http://r.invalid/v2/token",service="container_registry"',
        'Basic realm="Gitea Container Registry"',
    ]
    realm, problem = pj.judge_challenge(401, headers, "r.invalid:3000", True)
    assert realm == "http://r.invalid/v2/token"
    assert "go to r.invalid:80" in problem
    assert pj.judge_challenge(
        401,
        headers[:1] and ['Bearer realm="http://r.invalid:3000/v2/token"'],
        "r.invalid:3000",
        True,
    ) == ("http://r.invalid:3000/v2/token", "")
    with pytest.raises(pf.Failed, match="does not answer like a container registry"):
        pj.judge_challenge(404, [], "r.invalid:3000", True)


@pytest.mark.parametrize(
    ("version", "release", "fails"),
    [
        ("v4.0.0+gabc", True, True),
        ("v4.0.5+gabc", True, True),
        ("v4.1.0+gabc", True, False),
        ("v3.17.3+gdeadbee", True, False),
        ("v4.0.3+gabc", False, False),
    ],
)
def test_helm_judge_knows_the_40x_hookonly_rejection(
    version: str, release: bool, fails: bool
) -> None:
    wait = ["--wait=hookOnly"] if version.startswith("v4") else []  # helm 4's own spelling
    if fails:
        with pytest.raises(pf.Failed, match="rejects --wait=hookOnly") as exc:
            pj.judge_helm(_result(0, version), ["helm"], wait_args=wait, release_selected=release)
        assert exc.value.stage == "release"
    else:
        assert (
            pj.judge_helm(_result(0, version), ["helm"], wait_args=wait, release_selected=release)
            == version
        )
    with pytest.raises(pf.Failed, match="helm is not usable here"):
        pj.judge_helm(
            _result(127, "", "helm: command not found"),
            ["helm"],
            wait_args=[],
            release_selected=release,
        )


def test_sudo_and_readable_judges() -> None:
    with pytest.raises(pf.Failed, match="asks for a password"):
        pj.judge_sudo(_result(1, "", "sudo: a password is required"), ("sudo",))
    with pytest.raises(pf.Failed, match="not reachable over ssh"):
        pj.judge_sudo(_result(255, "", "ssh: Could not resolve hostname h"), ("sudo",))
    pj.judge_sudo(_result(0), ("sudo",))
    pj.judge_readable(_result(0, "state=readable\n"), "/f")
    with pytest.raises(pf.Failed, match="does not exist"):
        pj.judge_readable(_result(0, "state=missing\n"), "/f")
    with pytest.raises(pf.Failed, match="not readable"):
        pj.judge_readable(_result(0, "state=unreadable\n"), "/f")


def test_node_prefix_from_node_sudo_or_crictl() -> None:
    assert pf.node_prefix(_settings()) == ()
    assert pf.node_prefix(_settings(crictl="sudo k3s crictl")) == ("sudo",)
    assert pf.sudo_argv(("sudo",)) == ["sudo", "-n", "true"]
    assert pf.sudo_argv(()) is None
    assert pf.readable_argv(("sudo", "-u", "k3s"), "/f")[:4] == ["sudo", "-n", "-u", "k3s"]


def test_access_judge_names_every_denied_review() -> None:
    reviews = [
        ("create", "", "namespaces", "", False, False),
        ("get", "", "pods", "log", True, False),
        ("get", "", "secrets", "", True, True),
    ]
    with pytest.raises(pf.Failed, match=r"may not: create namespaces, get pods/log in ns "):
        pj.judge_access(reviews, "ns", "c")
    pj.judge_access([r for r in reviews if r[5]], "ns", "c")
    assert pf.access_needed(False)[0][:3] == ("create", "", "namespaces")
    assert all(r[2] != "namespaces" for r in pf.access_needed(True))


def test_base_url_host_and_resolution() -> None:
    assert pf.base_url_host("http://10.77.0.5:8080") is None
    assert pf.base_url_host("http://probe.example.invalid/x") == "probe.example.invalid"
    with pytest.raises(pf.Failed, match="does not resolve"):
        pj.judge_resolve(_result(2), "probe.example.invalid", "http://probe.example.invalid")
    pj.judge_resolve(_result(0, "127.0.0.1 STREAM x\n"), "x", "http://x")


def test_selection_needs_a_long_stage_unless_forced() -> None:
    assert not pf.wanted(["chart", "render"])
    assert pf.wanted(["chart"], forced=True)
    assert pf.wanted(["source", "prebuild", "build"])
    names = {p.name: stage for p, stage in pf.selected(["chart", "render", "release"])}
    assert names == {"helm": "chart", "kube": "release"}

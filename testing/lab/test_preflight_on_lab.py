"""The preflight against the real embedded lab: ``--irp-preflight`` passes on the lab as it
is and fails, with a one-paragraph cause, for each broken precondition; with the slow-build
variant and a wrong registry password, T07 is decided while T06's build goes on.

Written for the integrator (who owns the lab) to run: ``python3 -m pytest
testing/lab/test_preflight_on_lab.py -p no:randomly``. It reuses the fixtures of
test_criteria_on_lab.py (the lab with the cluster, the pytester suite). Names that must not
resolve are looked up in a mount namespace whose nsswitch.conf reads /etc/hosts only (as
test_unknown_build_host_alias_fails_t06_naming_it does): no DNS query leaves the machine.
Only loopback and lab addresses are contacted. Sudo asking for a password is shown with
the lab node's user, who is not root, under the lab's ``password`` sudo rule
(pytest_irp_lab/hostns.py).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from . import test_criteria_on_lab as on_lab
from .test_criteria_on_lab import NAMES_FROM_FILES_ONLY, LabSuite, Run, side_commit

lab = on_lab.lab  # the module's fixtures: the lab with the cluster, the pytester suite
suite = on_lab.suite

FAILED_LINE = re.compile(r"^precondition '([\w-]+)' of stage (\w+) \((T\d\d)\) failed: ")


def names_from_files_only(suite: LabSuite) -> tuple[str, ...]:
    nsswitch = suite.pytester.path / "nsswitch.conf"
    nsswitch.write_text(NAMES_FROM_FILES_ONLY)
    return (
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mount --bind "$0" /etc/nsswitch.conf && exec "$@"',
        str(nsswitch),
    )


def paragraphs(run: Run) -> list[tuple[str, str, str]]:
    return [m.groups() for line in run.result.stdout.lines if (m := FAILED_LINE.match(line))]


def test_preflight_only_passes_on_the_lab(suite: LabSuite) -> None:
    suite.lab.up(variant="ok")
    run = suite.run("--irp-preflight", via_lab=False)
    assert run.ret == 0, run.explain()
    assert re.search(r"irp \[preflight\] \d+ checks, 0 failed", run.out), run.explain()
    assert not (run.reports / "summary.json").exists()
    print(f"--irp-preflight on the lab: {run.seconds:.2f} s")  # the figure for the docs


def test_preflight_only_fails_on_a_wrong_password(
    suite: LabSuite, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = f"not-the-password-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("IRP_REGISTRY_PASSWORD", wrong)
    run = suite.run("--irp-preflight", "-k", "T07", via_lab=False)
    assert run.ret == 1, run.explain()
    assert paragraphs(run) == [("registry", "push", "T07")], run.explain()
    assert "rejected the credentials of user 'tegwick' (HTTP 401 from /v2/token: " in run.out
    assert wrong not in run.out


def test_preflight_only_fails_on_an_unknown_node_alias(suite: LabSuite) -> None:
    run = suite.run(
        "--irp-preflight",
        "-k",
        "T09",
        "--irp-node-host=nosuchnode",
        via_lab=False,
        wrapper=names_from_files_only(suite),
    )
    assert run.ret == 1, run.explain()
    assert paragraphs(run) == [("node", "mirror", "T09")], run.explain()
    assert "nosuchnode is not reachable over ssh" in run.out
    assert "Could not resolve hostname" in run.out


def test_preflight_only_fails_when_node_sudo_asks_for_a_password(suite: LabSuite) -> None:
    suite.lab.set_node_sudo("password")
    try:
        run = suite.run("--irp-preflight", "-k", "T09", via_lab=False)
    finally:
        suite.lab.set_node_sudo("nopasswd")
    assert run.ret == 1, run.explain()
    assert paragraphs(run) == [("node", "mirror", "T09")], run.explain()
    assert "`sudo -n true` on railiance01 asks for a password: the node's commands" in run.out
    assert "a NOPASSWD rule in /etc/sudoers.d" in run.out
    print(f"--irp-preflight with sudo asking for a password: {run.seconds:.2f} s")


def test_preflight_only_fails_on_an_unknown_context_as_a_usage_error(suite: LabSuite) -> None:
    run = suite.run("--irp-preflight", "-k", "T10", "--irp-kube-context=railiance02", via_lab=False)
    assert run.ret == pytest.ExitCode.USAGE_ERROR, run.explain()
    assert "no context 'railiance02' in the kubeconfig" in run.out


def test_preflight_only_fails_on_a_missing_helm(suite: LabSuite) -> None:
    run = suite.run(
        "--irp-preflight", "-k", "T08 or T10", "--irp-helm=/nonexistent/helm", via_lab=False
    )
    assert run.ret == 1, run.explain()
    assert ("helm", "chart", "T08") in paragraphs(run), run.explain()


def test_preflight_only_fails_on_an_unresolvable_base_url(suite: LabSuite) -> None:
    run = suite.run(
        "--irp-preflight",
        "-k",
        "T11",
        "--irp-base-url=http://probe.example.invalid",
        via_lab=False,
        wrapper=names_from_files_only(suite),
    )
    assert run.ret == 1, run.explain()
    assert ("base-url", "live", "T11") in paragraphs(run), run.explain()
    assert "probe.example.invalid does not resolve" in run.out


def test_wrong_password_decides_t07_while_the_slow_build_goes_on(
    suite: LabSuite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The minute-build variant (the image build sleeps 60 s) at a never-built SHA: T07
    FAILs on the credentials, printed before the build's progress line and decided long
    before the build ends; T06's build goes on and passes."""
    suite.lab.up(variant="minute-build")
    sha = side_commit(suite.lab.layout.app_repo, "preflight")
    monkeypatch.setenv("IRP_REGISTRY_PASSWORD", f"wrong-{uuid.uuid4().hex[:8]}")
    try:
        run = suite.run("-k", "T06 or T07", f"--irp-ref={sha}", variant="minute-build")
    finally:
        suite.lab.up(variant="ok")
    assert run.ret == 1, run.explain()
    assert run.statuses == {"T06": "PASS", "T07": "FAIL"}, run.explain()
    assert "rejected the credentials" in run.cause("T07")
    lines = run.result.stdout.lines
    failed = next(
        i
        for i, line in enumerate(lines)
        if line.startswith("irp [preflight]") and "FAILED" in line and "registry" in line
    )
    build = next(i for i, line in enumerate(lines) if line.startswith("irp [build]"))
    assert failed < build
    assert run.seconds > 60  # the build really took its minute (T07 was decided before)
    print(
        f"T06+T07 with the minute build: {run.seconds:.1f} s; the preflight line is line "
        f"{failed}, the build's first line {build}"
    )


def test_preflight_only_fails_without_rbac_permission(suite: LabSuite, tmp_path: Path) -> None:
    """A ServiceAccount of the lab's cluster bound to no Role (the API server runs with
    --authorization-mode=Node,RBAC): its SelfSubjectAccessReviews are denied, and the
    preflight fails T10's release stage at once, naming what the user may not do."""
    import yaml
    from kubernetes import client

    core = on_lab.kube(suite.lab)
    name = f"irp-norbac-{uuid.uuid4().hex[:6]}"
    core.create_namespaced_service_account(
        "coulomb", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
    )
    try:
        token = core.create_namespaced_service_account_token(
            name,
            "coulomb",
            client.AuthenticationV1TokenRequest(
                spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600)
            ),
        ).status.token
        admin = yaml.safe_load(Path(str(suite.lab.settings()["kubeconfig"])).read_text())
        context = next(c for c in admin["contexts"] if c["name"] == "railiance01")
        cluster = next(c for c in admin["clusters"] if c["name"] == context["context"]["cluster"])
        kubeconfig = tmp_path / "norbac.kubeconfig"
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "norbac",
                    "clusters": [cluster],
                    "users": [{"name": name, "user": {"token": token}}],
                    "contexts": [
                        {
                            "name": "norbac",
                            "context": {
                                "cluster": cluster["name"],
                                "user": name,
                                "namespace": "coulomb",
                            },
                        }
                    ],
                }
            )
        )
        kubeconfig.chmod(0o600)
        run = suite.run(
            "--irp-preflight",
            "-k",
            "T10",
            f"--irp-kubeconfig={kubeconfig}",
            "--irp-kube-context=norbac",
            via_lab=False,
        )
    finally:
        core.delete_namespaced_service_account(name, "coulomb")
    assert run.ret == 1, run.explain()
    assert ("kube", "release", "T10") in paragraphs(run), run.explain()
    assert "(SelfSubjectAccessReview denied)" in run.out
    assert "may not: " in run.out
    assert token not in run.out

"""The preflight against the real embedded lab: ``--irp-preflight`` passes on the lab as it
is and fails, with a one-paragraph cause, for each broken precondition; with the slow-build
variant and a wrong registry password, T07 is decided while T06's build goes on.

Written for the integrator (who owns the lab) to run: ``python3 -m pytest
testing/lab/test_preflight_on_lab.py -p no:randomly``. It reuses the fixtures of
test_criteria_on_lab.py (the lab with the cluster, the pytester suite). Names that must not
resolve are looked up in a mount namespace whose nsswitch.conf reads /etc/hosts only (as
test_unknown_build_host_alias_fails_t06_naming_it does): no DNS query leaves the machine.
Only loopback and lab addresses are contacted. Sudo asking for a password is not shown on
the lab (its node user is root, for whom sudo never asks): testing/test_preflight.py shows
it with the fake runner.
"""

from __future__ import annotations

import re
import uuid

import pytest

from . import test_criteria_on_lab as on_lab
from .test_criteria_on_lab import NAMES_FROM_FILES_ONLY, LabSuite, Run, side_commit

lab = on_lab.lab  # the module's fixtures: the lab with the cluster, the pytester suite
suite = on_lab.suite

FAILED_LINE = re.compile(r"^precondition '([\w-]+)' of stage (\w+) \((T\d\d)\) failed: ")


def names_from_files_only(suite: LabSuite) -> tuple[str, ...]:
    nsswitch = suite.pytester.path / "nsswitch.conf"
    nsswitch.write_text(NAMES_FROM_FILES_ONLY)
    return ("unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /etc/nsswitch.conf && exec "$@"', str(nsswitch))


def paragraphs(run: Run) -> list[tuple[str, str, str]]:
    return [m.groups() for line in run.result.stdout.lines if (m := FAILED_LINE.match(line))]


def test_preflight_only_passes_on_the_lab(suite: LabSuite) -> None:
    suite.lab.up(variant="ok")
    run = suite.run("--irp-preflight", via_lab=False)
    assert run.ret == 0, run.explain()
    assert re.search(r"irp \[preflight\] \d+ checks, 0 failed", run.out), run.explain()
    assert not (run.reports / "summary.json").exists()
    print(f"--irp-preflight on the lab: {run.seconds:.2f} s")  # the figure for the docs


def test_preflight_only_fails_on_a_wrong_password(suite: LabSuite,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = f"not-the-password-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("IRP_REGISTRY_PASSWORD", wrong)
    run = suite.run("--irp-preflight", "-k", "T07", via_lab=False)
    assert run.ret == 1, run.explain()
    assert paragraphs(run) == [("registry", "push", "T07")], run.explain()
    assert "rejected the credentials of user 'tegwick' (HTTP 401 from /v2/token: " in run.out
    assert wrong not in run.out


def test_preflight_only_fails_on_an_unknown_node_alias(suite: LabSuite) -> None:
    run = suite.run("--irp-preflight", "-k", "T09", "--irp-node-host=nosuchnode",
                    via_lab=False, wrapper=names_from_files_only(suite))
    assert run.ret == 1, run.explain()
    assert paragraphs(run) == [("node", "mirror", "T09")], run.explain()
    assert "nosuchnode is not reachable over ssh" in run.out
    assert "Could not resolve hostname" in run.out


def test_preflight_only_fails_on_an_unknown_context_as_a_usage_error(suite: LabSuite) -> None:
    run = suite.run("--irp-preflight", "-k", "T10", "--irp-kube-context=railiance02",
                    via_lab=False)
    assert run.ret == pytest.ExitCode.USAGE_ERROR, run.explain()
    assert "no context 'railiance02' in the kubeconfig" in run.out


def test_preflight_only_fails_on_a_missing_helm(suite: LabSuite) -> None:
    run = suite.run("--irp-preflight", "-k", "T08 or T10",
                    "--irp-helm=/nonexistent/helm", via_lab=False)
    assert run.ret == 1, run.explain()
    assert ("helm", "chart", "T08") in paragraphs(run), run.explain()


def test_preflight_only_fails_on_an_unresolvable_base_url(suite: LabSuite) -> None:
    run = suite.run("--irp-preflight", "-k", "T11",
                    "--irp-base-url=http://probe.example.invalid", via_lab=False,
                    wrapper=names_from_files_only(suite))
    assert run.ret == 1, run.explain()
    assert ("base-url", "live", "T11") in paragraphs(run), run.explain()
    assert "probe.example.invalid does not resolve" in run.out


def test_wrong_password_decides_t07_while_the_slow_build_goes_on(
        suite: LabSuite, monkeypatch: pytest.MonkeyPatch) -> None:
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
    failed = next(i for i, line in enumerate(lines)
                  if line.startswith("irp [preflight] FAILED registry"))
    build = next(i for i, line in enumerate(lines) if line.startswith("irp [build]"))
    assert failed < build
    assert run.seconds > 60  # the build really took its minute (T07 was decided before)
    print(f"T06+T07 with the minute build: {run.seconds:.1f} s; the preflight line is line "
          f"{failed}, the build's first line {build}")

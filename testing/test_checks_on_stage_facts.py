"""The checks that once failed only through their stage's cause fail on their own: the fake
runner answers as the build host, the registry and helm would in a pipeline where one
criterion does not hold (a checkout at another commit, nix missing, `result` outside the
store, a tag the registry does not list, another digest served, a chart with the wrong
liveness path), the stages record those facts (:class:`pytest_irp.stage.Unusable`), and
exactly that check FAILS with its own message while the other checks of the criterion
report their own verdicts and the stages that need the unusable one are BLOCKED
(docs/design.md, "Checks and judges")."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from scenario import PUSHED_DIGEST
from standins import KubeStandIn, PushRegistryStandIn, serving

from conftest import Project

OTHER_DIGEST = "sha256:" + "cd" * 32
REPOSITORY = "coulomb/ihp-railiance-probe"
STAGE_FAILED = "stage '"  # how a check failing through a stage's cause begins


def verdicts(project: Project, *args: str, **scenario: Any) -> dict[str, tuple[str, str]]:
    """check name -> (passed | failed | skipped, message) from the run's JUnit XML."""
    junit = project.path / "junit.xml"
    result = project.run(*args, f"--junitxml={junit}", **scenario)
    found: dict[str, tuple[str, str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
        if outcome is None:
            found[case.get("name", "")] = ("passed", "")
        else:
            kind = "failed" if outcome.tag in ("failure", "error") else "skipped"
            found[case.get("name", "")] = (kind, outcome.get("message", ""))
    assert found, result.stdout.str()
    return found


def own_failure(found: dict[str, tuple[str, str]], check: str, words: str) -> None:
    outcome, message = found[check]
    assert outcome == "failed", found
    assert words in message, message
    assert not message.startswith(STAGE_FAILED), message


# ---- T06 -----------------------------------------------------------------------------------


def test_source_at_another_commit_fails_the_sha_check_with_its_own_message(
    project: Project,
) -> None:
    other = "fedcba9876543210fedcba9876543210fedcba98"
    found = verdicts(project, "-k", "T06", source_head=other)
    own_failure(
        found,
        "test_T06_source_on_build_host_is_the_sha_under_test",
        f"the checkout on haskelseed is at {other}, not at the SHA under test {project.sha}",
    )
    # nothing is built from that checkout: the build's checks fail through the source stage
    outcome, message = found["test_T06_nix_build_succeeds"]
    assert outcome == "failed"
    assert message.startswith("stage 'source' (T06) failed: the build host's HEAD is"), message
    assert not project.called(lambda argv: "irp-build" in argv)


def test_missing_nix_fails_the_prebuild_check_with_its_own_message(project: Project) -> None:
    found = verdicts(project, "-k", "T06", nix_version="")
    own_failure(
        found, "test_T06_prebuild_checklist", "nix --version printed nothing on the build host"
    )
    assert found["test_T06_source_on_build_host_is_the_sha_under_test"] == ("passed", "")
    outcome, message = found["test_T06_result_is_a_docker_archive"]
    assert outcome == "failed"
    assert message.startswith("stage 'prebuild' (T06) failed: "), message
    assert "pre-build checks failed on haskelseed: nix is not installed" in message
    assert not project.called(lambda argv: "irp-build" in argv)


def test_result_outside_the_store_fails_the_build_check_with_its_own_message(
    project: Project,
) -> None:
    found = verdicts(project, "-k", "T06", out="/root/probe/image.tar")
    own_failure(
        found,
        "test_T06_nix_build_succeeds",
        "`result` does not point into /nix/store (it points to '/root/probe/image.tar')",
    )
    # the archive itself is sound: its check judges it and passes
    assert found["test_T06_result_is_a_docker_archive"] == ("passed", "")
    assert found["test_T06_prebuild_checklist"] == ("passed", "")


# ---- T07 (and the release it must hold) ----------------------------------------------------


@pytest.fixture
def registry(project: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A loopback Gitea after the push (the test sets its tags and served digests), a
    Kubernetes API stand-in, and the settings that point at them."""
    monkeypatch.setenv("IRP_REGISTRY_PASSWORD", "push-password")
    tag = project.sha[:7]
    stand_in = PushRegistryStandIn(
        "tegwick", "push-password", REPOSITORY, ["latest", tag], {tag: PUSHED_DIGEST}
    )
    with serving(stand_in) as served, serving(KubeStandIn()) as kube:
        project.scenario["registry_hostport"] = f"127.0.0.1:{served.port}"
        served.args = [
            f"--irp-registry=127.0.0.1:{served.port}/{REPOSITORY}",
            "--irp-registry-plain-http",
            f"--irp-kubeconfig={kube.kubeconfig(project.path / 'kubeconfig')}",
            "--irp-base-url=http://probe.example.invalid",
        ]
        yield served


def test_a_sound_push_passes_every_t07_check(project: Project, registry: Any) -> None:
    found = verdicts(project, *registry.args, "-k", "T07")
    t07 = {name: v for name, v in found.items() if "T07" in name}
    assert len(t07) == 4, found
    assert all(v == ("passed", "") for v in t07.values()), t07


def test_unlisted_tag_fails_the_tag_check_with_its_own_message(
    project: Project, registry: Any
) -> None:
    registry.tags = ["latest"]  # tags/list lags behind: the manifest is served all the same
    found = verdicts(project, *registry.args, "-k", "T07 or T09_node_pulls or T10_running")
    own_failure(
        found,
        "test_T07_tag_listed_in_registry",
        f"tag {project.sha[:7]} is not listed in {registry.args[0].split('=')[1]} after the "
        f"push (tags: latest)",
    )
    assert found["test_T07_registry_digest_equals_pushed_digest"] == ("passed", "")
    assert found["test_T07_skopeo_inspect_of_pushed_reference_succeeds"] == ("passed", "")
    outcome, message = found["test_T07_image_visible_in_gitea_packages"]
    assert outcome == "failed"
    assert "is not in Gitea's packages" in message
    _blocked_by_push(project, found)


def test_another_served_digest_fails_the_digest_check_with_its_own_message(
    project: Project, registry: Any
) -> None:
    registry.served = {project.sha[:7]: OTHER_DIGEST}  # another push of the tag came between
    found = verdicts(project, *registry.args, "-k", "T07 or T09_node_pulls or T10_running")
    own_failure(
        found,
        "test_T07_registry_digest_equals_pushed_digest",
        f"the registry serves {OTHER_DIGEST} for {project.sha[:7]}, but skopeo pushed "
        f"{PUSHED_DIGEST}",
    )
    for check in (
        "test_T07_tag_listed_in_registry",
        "test_T07_skopeo_inspect_of_pushed_reference_succeeds",
        "test_T07_image_visible_in_gitea_packages",
    ):
        assert found[check] == ("passed", ""), (check, found[check])
    _blocked_by_push(project, found)


def _blocked_by_push(project: Project, found: dict[str, tuple[str, str]]) -> None:
    """The pull (T09) and the release (T10) never run on an unusable push."""
    for check in ("test_T09_node_pulls_pushed_digest", "test_T10_running_image_is_pushed_digest"):
        outcome, message = found[check]
        assert outcome in ("failed", "skipped"), (check, found[check])
        assert "BLOCKED by stage 'push' (T07) failed" in message, message
    assert not project.called(lambda argv: "crictl" in argv)
    assert not project.called(lambda argv: "upgrade" in argv)


# ---- T08 -----------------------------------------------------------------------------------


def test_wrong_liveness_path_fails_the_key_notes_check_with_its_own_message(
    project: Project,
) -> None:
    found = verdicts(project, "-k", "T08", liveness_wrong=True)
    own_failure(
        found,
        "test_T08_deployment_matches_key_notes",
        "liveness probe path is '/wrong', expected /healthz",
    )
    assert found["test_T08_helm_lint_strict_passes"] == ("passed", "")

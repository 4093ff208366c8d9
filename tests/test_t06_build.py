"""T06 - Production build on the build host: `nix build .#docker` succeeds."""

import pytest

from pytest_irp.nix import out_path_problem, prebuild_problems

pytestmark = pytest.mark.irp_criterion("T06")


def test_T06_source_on_build_host_is_the_sha_under_test(source_checkout):
    """`git rev-parse HEAD` on the build host, as the source stage recorded it."""
    head, sha = source_checkout["remote_head"], source_checkout["sha"]
    assert head == sha, (
        f"the checkout on {source_checkout['host']} is at {head or 'no commit'}, "
        f"not at the SHA under test {sha}"
    )


def test_T06_prebuild_checklist(prebuild_facts, source_checkout, irp_settings):
    """nix present, free disk and memory, the GHC archive's size, no other build running
    (the prebuild stage records the facts and holds the build on the same predicate)."""
    assert prebuild_facts.get("nix"), "nix --version printed nothing on the build host"
    problems = prebuild_problems(prebuild_facts, irp_settings, source_checkout["sha"])
    assert not problems, "; ".join(problems)


def test_T06_nix_build_succeeds(built_image):
    problem = out_path_problem(built_image["out_path"])
    assert not problem, problem


def test_T06_result_is_a_docker_archive(built_image):
    assert built_image["layers"], "the archive lists no layers"
    assert len(built_image["diff_ids"]) == len(built_image["layers"]), (
        f"{len(built_image['layers'])} layers but {len(built_image['diff_ids'])} diff_ids "
        f"in the image config"
    )
    assert built_image["config"].get("Cmd") or built_image["config"].get("Entrypoint"), (
        "the image config has neither Cmd nor Entrypoint"
    )


def test_T06_result_symlink_present_on_build_host(build_host, built_image, irp_settings):
    """The workplan's exit criterion, checked on the host itself (testinfra)."""
    result = build_host.file(f"{irp_settings['remote_dir']}/result")
    assert result.is_symlink, f"no `result` symlink in {irp_settings['remote_dir']}"
    assert build_host.file(result.linked_to).path == built_image["out_path"]

"""T06 - Production build on the build host: `nix build .#docker` succeeds."""

import pytest

pytestmark = pytest.mark.irp_criterion("T06")


def test_T06_source_on_build_host_is_the_sha_under_test(source_checkout):
    assert source_checkout["remote_head"] == source_checkout["sha"]


def test_T06_prebuild_checklist(prebuild_facts):
    assert prebuild_facts.get("nix"), "nix --version printed nothing on the build host"


def test_T06_nix_build_succeeds(built_image):
    assert built_image["out_path"].startswith("/nix/store/")


def test_T06_result_is_a_docker_archive(built_image):
    assert built_image["layers"], "the archive lists no layers"
    assert len(built_image["diff_ids"]) == len(built_image["layers"])
    assert built_image["config"].get("Cmd") or built_image["config"].get("Entrypoint"), (
        "the image config has neither Cmd nor Entrypoint"
    )


def test_T06_result_symlink_present_on_build_host(build_host, built_image, irp_settings):
    """The workplan's exit criterion, checked on the host itself (testinfra)."""
    result = build_host.file(f"{irp_settings['remote_dir']}/result")
    assert result.is_symlink, f"no `result` symlink in {irp_settings['remote_dir']}"
    assert build_host.file(result.linked_to).path == built_image["out_path"]

"""T01 - flake.nix adopted from inter-hub: name, packages, overlays; flake check passes."""

import pytest

from pytest_irp.appcode.flake import flake_verdict, ihp_version, outputs_verdict

pytestmark = pytest.mark.irp_criterion("T01")


def test_T01_flake_content_matches_workplan(read_app_file, irp_settings, flake_report):
    verdict = flake_verdict(
        read_app_file("flake.nix"), flake_report["eval"], irp_settings["app_name"]
    )
    assert verdict.ok, verdict.cause()


def test_T01_nix_flake_check_passes_on_build_host(flake_report):
    assert flake_report["check_rc"] == 0


def test_T01_flake_outputs_include_image_and_tests(flake_report, irp_settings, app_repo):
    lock = app_repo / "flake.lock"
    ihp = ihp_version(lock.read_text(encoding="utf-8") if lock.is_file() else None)
    verdict = outputs_verdict(flake_report["show"], irp_settings["build_attr"], ihp)
    assert verdict.ok, verdict.cause()

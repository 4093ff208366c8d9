"""T01 - flake.nix adopted from inter-hub: name, packages, overlays; flake check passes."""

import pytest

from pytest_irp.app import flake_output_problems, flake_problems

pytestmark = pytest.mark.irp_criterion("T01")


def test_T01_flake_content_matches_workplan(read_app_file, irp_settings, flake_report):
    problems = flake_problems(read_app_file("flake.nix"), flake_report["eval"],
                              irp_settings["app_name"])
    assert not problems, "; ".join(problems)


def test_T01_nix_flake_check_passes_on_build_host(flake_report):
    assert flake_report["check_rc"] == 0


def test_T01_flake_outputs_include_image_and_tests(flake_report, irp_settings):
    problems = flake_output_problems(flake_report["show"], irp_settings["build_attr"])
    assert not problems, "; ".join(problems)

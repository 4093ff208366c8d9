"""T05 - First Hspec integration test: the spec exists and the test command exits 0."""

import pytest

from pytest_irp.app import spec_output_problems, spec_problems

pytestmark = pytest.mark.irp_criterion("T05")


def test_T05_probe_controller_spec_present(read_app_file):
    problems = spec_problems(read_app_file("Test/ProbeControllerSpec.hs"))
    assert not problems, "; ".join(problems)


def test_T05_test_command_passes_and_names_spec(spec_run):
    problems = spec_output_problems(spec_run["output"])
    assert not problems, "; ".join(problems)

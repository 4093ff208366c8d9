"""T05 - First Hspec integration test: the spec exists and the test run is green."""

import pytest

from pytest_irp.appcode import warn_findings
from pytest_irp.appcode.checks import t05_spec
from pytest_irp.appcode.spec import run_verdict

pytestmark = pytest.mark.irp_criterion("T05")


def test_T05_probe_controller_spec_present(app_repo):
    verdict = t05_spec(app_repo)
    warn_findings(verdict)
    assert verdict.ok, verdict.cause()


def test_T05_test_command_passes_and_names_spec(spec_run, record_property):
    verdict, examples = run_verdict(spec_run["output"])
    record_property("ProbeController examples", "; ".join(examples) or "none")
    print(f"ProbeController examples run: {', '.join(examples) or 'none'}")
    assert verdict.ok, verdict.cause()

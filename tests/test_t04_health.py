"""T04 - Health endpoint: GET /healthz reaches HealthAction through the front controller
(any IHP routing style), and the action renders plain `ok`."""

import pytest

from pytest_irp.appcode import warn_findings
from pytest_irp.appcode.checks import t04_route

pytestmark = pytest.mark.irp_criterion("T04")


def test_T04_healthz_route_controller_and_wiring(app_repo):
    verdict = t04_route(app_repo)
    warn_findings(verdict)
    assert verdict.ok, verdict.cause()

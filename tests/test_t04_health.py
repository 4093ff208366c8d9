"""T04 - Health endpoint: /healthz routed to a controller that renders plain `ok`."""

import pytest

from pytest_irp.app import route_problems

pytestmark = pytest.mark.irp_criterion("T04")


def test_T04_healthz_route_controller_and_wiring(read_app_file):
    problems = route_problems(read_app_file("Web/Routes.hs"),
                              read_app_file("Web/Controller/Health.hs"),
                              read_app_file("Web/FrontController.hs"),
                              read_app_file("Web/Types.hs"))
    assert not problems, "; ".join(problems)

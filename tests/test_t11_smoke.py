"""T11 - End-to-end smoke test from outside the cluster."""

import pytest

pytestmark = pytest.mark.irp_criterion("T11")


def test_T11_healthz_answers_ok(live_app):
    assert live_app["healthz"]["status"] == 200
    assert live_app["healthz"]["body"].strip() == "ok"


def test_T11_probes_answers_200(live_app):
    assert live_app["probes"]["status"] == 200


def test_T11_no_panic_or_leaked_secret_in_logs(live_app):
    problems = live_app["log_problems"]
    assert not problems, "; ".join(problems)

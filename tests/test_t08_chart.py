"""T08 - Helm chart: `helm lint --strict` passes and the chart renders as the workplan says."""

import pytest

from pytest_irp.judge import chart_problems

pytestmark = pytest.mark.irp_criterion("T08")


def test_T08_helm_lint_strict_passes(chart_lint):
    assert chart_lint["lint_rc"] == 0, chart_lint["lint_output"]


def test_T08_deployment_matches_key_notes(rendered_chart):
    """Image from values, pull policy, limits, liveness /healthz after 30 s, envFrom secret,
    one replica, port 8000, Service 80 -> 8000, an Ingress (details: pytest_irp.judge),
    judged on the manifests `helm template` rendered (the render stage blocks the release
    on the same predicate)."""
    kinds = {m.get("kind") for m in rendered_chart["manifests"]}
    assert {"Deployment", "Service"} <= kinds
    problems = chart_problems(rendered_chart["manifests"], rendered_chart["expected_image"])
    assert not problems, "; ".join(problems)

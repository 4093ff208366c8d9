"""T08 - Helm chart: `helm lint --strict` passes and the chart renders as the workplan says."""

import pytest

pytestmark = pytest.mark.irp_criterion("T08")


def test_T08_helm_lint_strict_passes(rendered_chart):
    assert rendered_chart["lint_ok"]


def test_T08_deployment_matches_key_notes(rendered_chart):
    problems = rendered_chart["problems"]
    assert not problems, "; ".join(problems)

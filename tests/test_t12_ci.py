"""T12 - Gitea Actions CI (optional, Phase 2)."""

import pytest

from pytest_irp.judge import ci_problems

pytestmark = pytest.mark.irp_criterion("T12")


def test_T12_workflow_builds_pushes_deploys(irp_settings, request):
    """Judged on the workflow files and Gitea's run listing as the CI stage read them."""
    if not irp_settings["ci"]:
        pytest.skip("T12 is optional (Phase 2) and was not asked for: enable with --irp-ci")
    workflow = request.getfixturevalue("ci_workflow")
    problems = ci_problems(
        workflow["workflow_texts"],
        workflow["runner_label"],
        workflow["latest_runs"],
        workflow["ci_branch"],
        workflow["workflow_source"],
    )
    assert not problems, "; ".join(problems)

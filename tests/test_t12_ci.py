"""T12 - Gitea Actions CI (optional, Phase 2)."""

import pytest

from pytest_irp.ci_runs import ci_problems

pytestmark = pytest.mark.irp_criterion("T12")


def test_T12_workflow_builds_pushes_deploys(irp_settings, request):
    """A green run of the SHA under test; otherwise the failed job and step, the cause
    its log shows, and the workflow audit's errors (file:line, fix). Not asked for, only
    the audit runs (its findings in the report) when the app has workflow files."""
    if not irp_settings["ci"]:
        stage = request.getfixturevalue("stage_ci")  # never raises: findings only
        found = [f for f in stage.findings if f.severity != "info"]
        pytest.skip(
            "T12 is optional (Phase 2) and was not asked for: enable with --irp-ci"
            + (f" (the workflow audit has {len(found)} finding(s))" if found else "")
        )
    workflow = request.getfixturevalue("ci_workflow")
    problems = ci_problems(workflow)
    assert not problems, "; ".join(problems)

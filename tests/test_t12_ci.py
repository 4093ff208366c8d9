"""T12 - Gitea Actions CI (optional, Phase 2)."""

from pathlib import Path

import pytest

from pytest_irp.ci_runs import ci_problems
from pytest_irp.ci_workflow import WORKFLOW_DIRS

pytestmark = pytest.mark.irp_criterion("T12")


def test_T12_workflow_builds_pushes_deploys(irp_settings, request):
    """A green run of the SHA under test; otherwise the failed job and step, the cause
    its log shows, and the workflow audit's errors (file:line, fix). Not asked for, only
    the audit runs (its findings in the report) when the app has workflow files."""
    if not irp_settings["ci"]:
        reason = "T12 is optional (Phase 2) and was not asked for: enable with --irp-ci"
        repo = Path(irp_settings["app_repo"])
        if any((repo / folder).is_dir() for folder in WORKFLOW_DIRS):
            stage = request.getfixturevalue("stage_ci")  # never raises: findings only
            found = [f for f in stage.findings if f.severity != "info"]
            if found:
                reason += f" (the workflow audit has {len(found)} finding(s))"
        pytest.skip(reason)
    workflow = request.getfixturevalue("ci_workflow")
    problems = ci_problems(workflow)
    assert not problems, "; ".join(problems)

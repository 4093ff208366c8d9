"""T12 - Gitea Actions CI (optional, Phase 2)."""

import pytest

pytestmark = pytest.mark.irp_criterion("T12")


def test_T12_workflow_builds_pushes_deploys(irp_settings, request):
    if not irp_settings["ci"]:
        pytest.skip("T12 is optional (Phase 2) and was not asked for: enable with --irp-ci")
    workflow = request.getfixturevalue("ci_workflow")
    problems = workflow["problems"]
    assert not problems, "; ".join(problems)

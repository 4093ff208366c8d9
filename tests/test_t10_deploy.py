"""T10 - Deploy to the cluster: release deployed, pod Running and Ready, right image."""

import pytest

pytestmark = pytest.mark.irp_criterion("T10")


def test_T10_release_deployed(deployed_release):
    assert deployed_release["status"] == "deployed"


def test_T10_pods_running_ready_no_restarts(deployed_release):
    problems = deployed_release["pod_problems"]
    assert not problems, "; ".join(problems)


def test_T10_running_image_is_pushed_digest(deployed_release, pushed_image):
    assert deployed_release["running_digest"] == pushed_image["digest"]

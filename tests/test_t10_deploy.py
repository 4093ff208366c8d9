"""T10 - Deploy to the cluster, the workplan's exit: the release deployed, the pod Running
(and Ready, the right image), IHP's startup in the last log lines, /healthz ok through the
cluster. A restart during the rollout is a finding (count, last termination), not a
failure."""

import pytest

from pytest_irp.rollout_judge import digest_problems, http_ok_problem, pod_problems, running_digests

pytestmark = pytest.mark.irp_criterion("T10")


def test_T10_release_deployed(deployed_release):
    assert deployed_release["status"] == "deployed"


def test_T10_pods_running_ready(deployed_release):
    """Judged on the pods' phase and conditions as the API server gave them."""
    problems = pod_problems(deployed_release["pod_facts"])
    assert not problems, "; ".join(problems)


def test_T10_running_image_is_pushed_digest(deployed_release, pushed_image):
    """Every container's imageID (as the API server gave it) names the pushed digest."""
    problems = digest_problems(
        running_digests(deployed_release["pod_facts"]), pushed_image["digest"]
    )
    assert not problems, "; ".join(problems)


def test_T10_ihp_startup_in_last_log_lines(deployed_release):
    """As the release's IHP_ENV has it (pytest_irp/ihp_env.py): in Development IHP prints
    `Server started` (or the setting startup_line), in Production nothing, so there the
    first answer of /healthz through the cluster proves the start."""
    if deployed_release["startup_line_seen"] is None:
        pytest.fail("no pod of the release: its start could not be read (see T10's pod check)")
    assert deployed_release["startup_line_seen"], deployed_release["startup_problem"]


def test_T10_healthz_ok_via_cluster(deployed_release):
    """GET /healthz through the API server's service proxy, the answer as recorded."""
    healthz = deployed_release["healthz_via_cluster"]
    problem = http_ok_problem(healthz)
    assert not problem, (
        f"GET /healthz through the API server's service proxy ({healthz.get('service')}): {problem}"
    )

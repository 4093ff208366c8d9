"""The Gitea API client of T12 against loopback stand-ins: the routes a Gitea version has
or lacks (routers/api/v1/api.go: /actions/tasks 1.23, job logs and runners 1.24,
/actions/runs and a run's jobs 1.25), each gap a note instead of a guess."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from standins import GiteaStandIn, serving

from pytest_irp.gitea_api import GiteaApi
from pytest_irp.redact import Secret
from pytest_irp.stage import StageError

DATA = Path(__file__).resolve().parent / "data" / "gitea-actions"
REPO = "/repos/coulomb/ihp-railiance-probe"


def _api(port: int, token: str = "gitea-stand-in-token") -> GiteaApi:
    settings = {
        "gitea_api_url": f"http://127.0.0.1:{port}/api/v1",
        "gitea_repo": "coulomb/ihp-railiance-probe",
        "gitea_token": Secret(token),
    }
    return GiteaApi(settings)


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def test_gitea_125_and_later_gives_runs_jobs_logs_and_runners() -> None:
    answers = {
        "/version": _load("version.json"),
        f"{REPO}/actions/runners": _load("runners.json"),
        "/orgs/coulomb/actions/runners": 403,
        "/admin/actions/runners": 403,
        f"{REPO}/actions/runs": _load("runs-failed.json"),
        f"{REPO}/actions/runs/41/jobs": _load("jobs-failed.json"),
        f"{REPO}/actions/jobs/97/logs": "2026-05-07T10:00:04.1000000Z hello\n",
    }
    workflow = {".gitea/workflows/ci.yml": "on: [push]\n"}
    with serving(GiteaStandIn(answers, workflow)) as gitea:
        api = _api(gitea.port)
        assert api.read_version() == "1.26.0"
        assert api.workflows("main") == workflow
        assert [r["name"] for r in api.runners() or []] == ["haskelseed"]
        assert (api.runs() or {})["workflow_runs"][0]["id"] == 41
        assert (api.jobs(41) or {})["jobs"][0]["id"] == 97
        assert api.job_log(97) == "2026-05-07T10:00:04.1000000Z hello\n"
    assert api.notes == []


def test_gitea_123_and_124_fall_back_to_tasks_and_say_so() -> None:
    tasks = {"workflow_runs": [{"id": 5, "head_sha": "abc", "status": "failure"}]}
    answers = {"/version": {"version": "1.24.7"}, f"{REPO}/actions/tasks": tasks}
    with serving(GiteaStandIn(answers, {})) as gitea:
        api = _api(gitea.port)
        api.read_version()
        assert api.runs() == tasks
        assert api.runners() is None
        assert api.jobs(5) is None
    assert api.notes[0] == (
        "Gitea 1.24.7 has no /actions/runs (from 1.25): the runs come from /actions/tasks "
        "(1.23+), without jobs, steps or logs"
    )
    assert "Gitea 1.24.7 cannot list runners (/actions/runners: from 1.24)" in api.notes
    assert "/actions/runs/{run}/jobs is in Gitea 1.25+" in api.notes[-1]


def test_gitea_before_123_has_no_runs_api() -> None:
    with serving(GiteaStandIn({"/version": {"version": "1.22.6"}}, {})) as gitea:
        api = _api(gitea.port)
        api.read_version()
        assert api.runs() is None
    assert api.notes == [
        "Gitea 1.22.6 has no Actions runs API (/actions/tasks from 1.23, /actions/runs from 1.25)"
    ]


def test_a_rejected_token_stops_the_stage() -> None:
    with serving(GiteaStandIn({}, {})) as gitea, pytest.raises(StageError, match="HTTP 401"):
        _api(gitea.port, token="wrong-token-value").runs()

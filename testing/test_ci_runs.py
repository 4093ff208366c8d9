"""T12's verdict over Gitea's Actions runs, on recorded answers written from Gitea's API
types (modules/structs/repo_actions.go; testing/data/gitea-actions/), and the log
matching of every known cause."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_irp import ci_runs

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "testing/data/gitea-actions"
SHA = "6bbfd7430b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
WORKPLAN = (ROOT / "lab/app/.gitea/workflows/build-and-deploy.yml").read_text(encoding="utf-8")
BUILT = WORKPLAN.replace(".#docker", ".#optimized-docker-image")  # the user fixed the attribute
PATH = ".gitea/workflows/build-and-deploy.yml"


def recorded(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8").replace("{SHA}", SHA))


def value(**changes: Any) -> dict[str, Any]:
    log = (DATA / "job-97-realm.log").read_text(encoding="utf-8")
    base: dict[str, Any] = {
        "workflow_texts": {PATH: BUILT},
        "ci_branch": "main",
        "sha": SHA,
        "latest_runs": recorded("runs-failed.json"),
        "jobs": recorded("jobs-failed.json"),
        "job_logs": {"97": ci_runs.log_lines(log)},
        "audit_facts": {},
        "api_notes": [],
    }
    base.update(changes)
    return base


def test_a_failed_run_with_a_realm_failure_in_its_log() -> None:
    found = ci_runs.explain(value())
    assert found["state"] == "failure"
    assert found["job"] == "build"
    # Gitea 1.26.0 gives each step the job's conclusion: the step comes from the cause
    assert found["step"] == f"step 3 `SHA=$(git rev-parse --short HEAD)` ({PATH}:8)"
    assert "inferred from the log's cause (token realm)" in found["how"]
    assert [c["cause"] for c in found["causes"]] == ["token realm"]
    problem = ci_runs.run_problem(value())
    assert problem.startswith("the CI run #12 of 6bbfd74 failed in job build, step 3")
    assert "dial tcp 10.77.0.3:80: connect: connection refused" in problem
    assert "--dest-registry-token" in problem


def test_gitea_step_status_names_the_step_when_it_has_one() -> None:
    jobs = recorded("jobs-failed.json")
    for step in jobs["jobs"][0]["steps"]:
        step["conclusion"] = "success"
    jobs["jobs"][0]["steps"][2]["conclusion"] = "failure"  # Gitea 1.26.2+ (#37592)
    jobs["jobs"][0]["steps"][3]["conclusion"] = "skipped"
    found = ci_runs.explain(value(jobs=jobs))
    assert found["how"] == "Gitea's step status"
    # Gitea names an unnamed step "Run " and its script's first line (models/actions/task.go)
    assert found["step"].startswith("step 3 `Run SHA=$(git rev-parse --short HEAD)`")


def test_a_green_run_of_the_sha_passes_and_another_shas_does_not() -> None:
    runs = recorded("runs-failed.json")
    runs["workflow_runs"][0]["conclusion"] = "success"
    assert ci_runs.ci_problems(value(latest_runs=runs)) == []
    other = value(sha="fedcba9876543210fedcba9876543210fedcba98")
    assert ci_runs.run_problem(other) == (
        "Gitea lists no CI run of fedcba9 (the SHA under test); the latest run on main "
        "(#12, 6bbfd74) is failure"
    )
    assert ci_runs.run_problem(value(sha="6bbfd74")).startswith("the CI run #12 of 6bbfd74")


def test_queued_and_unread_runs() -> None:
    runs = recorded("runs-failed.json")
    runs["workflow_runs"][0].update(status="queued", conclusion="")
    assert "is queued and has not finished" in ci_runs.run_problem(value(latest_runs=runs))
    unread = ci_runs.run_problem(value(latest_runs=None, api_notes=["Gitea 1.22.0 has none"]))
    assert (
        unread == "no CI run of 6bbfd74 could be seen: Gitea's Actions API was not read "
        "(Gitea 1.22.0 has none)"
    )
    assert ci_runs.run_problem(value(latest_runs={"workflow_runs": []})).endswith(
        "no CI run on main yet"
    )


def test_tasks_listing_of_older_gitea_has_the_result_in_status() -> None:
    """/actions/tasks (Gitea 1.23/1.24): ActionTask has no conclusion."""
    tasks = {"workflow_runs": [{"id": 5, "run_number": 3, "head_sha": SHA, "status": "failure"}]}
    assert ci_runs.run_problem(value(latest_runs=tasks, jobs=None, api_notes=["tasks"])) == (
        "the CI run #3 of 6bbfd74 ended failure (tasks)"
    )


def test_problems_add_the_audit_errors_with_file_and_line() -> None:
    problems = ci_runs.ci_problems(
        value(
            workflow_texts={PATH: WORKPLAN},
            audit_facts={"flake_outputs": ["optimized-docker-image"]},
        )
    )
    assert problems[0].startswith("the CI run #12")
    assert any(p.startswith(f"{PATH}:7: `nix build .#docker` fails at once") for p in problems)


@pytest.mark.parametrize(
    ("line", "cause"),
    [
        (
            "error: flake 'git+file:///r' does not provide attribute "
            "'packages.x86_64-linux.docker',"
            " 'legacyPackages.x86_64-linux.docker' or 'docker'",
            "flake attribute",
        ),
        ("ghc: Heap exhausted;", "GHC out of memory"),
        ("<no location info>: error: ghc-9.10.3: out of memory", "GHC out of memory"),
        (
            'Get "http://10.77.0.3/v2/token?scope=x": dial tcp 10.77.0.3:80: connect: '
            "connection refused",
            "token realm",
        ),
        (
            'pinging container registry x: Get "https://x/v2/": http: server gave HTTP response '
            "to HTTPS client",
            "plain-HTTP registry",
        ),
        ("Error: writing blob: unauthorized: authentication required", "credentials"),
        (
            "reading manifest latest: received unexpected HTTP status: 401 Unauthorized",
            "credentials",
        ),
        (
            'Error: Kubernetes cluster unreachable: Get "http://localhost:8080/version": dial '
            "tcp [::1]:8080: connect: connection refused",
            "kube access",
        ),
        ("bash: line 2: skopeo: command not found", "tool missing"),
        ('exec: "node": executable file not found in $PATH', "tool missing"),
        (
            "fatal: unable to access 'https://github.com/actions/checkout/': "
            "Could not resolve host",
            "action fetch",
        ),
    ],
)
def test_log_matching_of_each_known_cause(line: str, cause: str) -> None:
    lines = ci_runs.log_lines(
        f"2026-05-07T10:00:00.0000000Z start\n2026-05-07T10:00:01.0000000Z {line}\n"
    )
    assert lines[-1] == line
    assert ci_runs.match_causes(lines)[0]["cause"] == cause


def test_no_cause_in_an_unknown_log() -> None:
    assert ci_runs.match_causes(["make: *** [all] Error 2", "copying blob sha256:a-401-b"]) == []


def test_tokens_in_a_log_are_found_for_the_redactor() -> None:
    log = (DATA / "job-97-realm.log").read_text(encoding="utf-8")
    found = ci_runs.tokens_in(log)
    assert "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZWd3aWNrIn0.c2lnbmF0dXJlLWZha2U" in found
    argv = "skopeo copy --dest-registry-token s3cr3t-t0ken-value --dest-creds u:pa55w0rd-x a b"
    assert {"s3cr3t-t0ken-value", "pa55w0rd-x"} <= ci_runs.tokens_in(argv)
    assert ci_runs.tokens_in('--dest-registry-token "$TOKEN"') == set()


def test_a_missing_program_points_at_the_step_that_calls_it() -> None:
    log = "2026-05-07T10:11:12.0000000Z bash: line 2: helm: command not found\n"
    found = ci_runs.explain(value(job_logs={"97": ci_runs.log_lines(log)}))
    assert found["step"].startswith("step 4 `SHA=$(git rev-parse --short HEAD)`")
    assert "(tool missing)" in found["how"]

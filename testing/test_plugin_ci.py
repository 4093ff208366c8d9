"""T12 through the plugin (pytester, the scripted fake runner): the workflow audit as
findings of a plain run, and, with --irp-ci, the run of the SHA under test through
recorded Gitea answers (testing/data/gitea-actions/, written from Gitea's API types) on a
loopback stand-in. No Actions runner exists here: the answers are Gitea's, not a runner's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from standins import GiteaStandIn, RegistryStandIn, serving

from conftest import Project, git, make_app_repo
from pytest_irp.pipeline import STAGES
from pytest_irp.redact import Redactor
from pytest_irp.runners import LocalRunner
from pytest_irp.settings import resolve
from pytest_irp.stage import Pipeline, StageResult

DATA = Path(__file__).resolve().parent / "data" / "gitea-actions"
WORKFLOW = ".gitea/workflows/build-and-deploy.yml"
IHP_SHOW = {
    "packages": {
        "x86_64-linux": {
            "default": {},
            "optimized-docker-image": {},
            "unoptimized-docker-image": {},
        }
    }
}


def _summary(project: Project) -> dict[str, Any]:
    return dict(json.loads((project.path / "reports" / "summary.json").read_text()))


def _recorded(name: str, sha: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8").replace("{SHA}", sha))


def test_plain_run_audits_the_workflow_as_findings_and_skips_t12(project: Project) -> None:
    result = project.run("-k", "T12")
    out = result.stdout.str()
    assert result.ret == 0, out
    assert "T12  SKIPPED" in out
    assert "finding [error] CI workflow .gitea/workflows/build-and-deploy.yml:8 (push-creds)" in out
    assert (
        "finding [error] CI workflow .gitea/workflows/build-and-deploy.yml:12 (deploy-kube)" in out
    )
    titles = {f["title"] for f in _summary(project)["stages"]["ci"]["findings"]}
    assert f"CI workflow {WORKFLOW}:6 (actions): an action fetched at run time" in titles
    assert f"CI workflow {WORKFLOW}:7 (flake-attr): not checked" in titles  # T01 did not run
    assert (
        f"finding [error] CI workflow {WORKFLOW}:8 (push-creds): a push without credentials" in out
    )
    # nothing ran for it on a host (only the local `git rev-parse` of the SHA)
    assert {c["host"] for c in project.calls()} <= {"local"}


def test_plain_run_without_a_workflow_file_runs_no_audit(project: Project) -> None:
    shutil.rmtree(project.path / "app" / ".gitea")
    git(project.path / "app", "commit", "-qam", "no CI")
    result = project.run("-k", "T12")
    assert result.ret == 0, result.stdout.str()
    assert "ci" not in _summary(project)["stages"]


def _serve(runs: Any, jobs: Any, log: str, runners: Any, workflow: str) -> Any:
    answers = {
        "/version": json.loads((DATA / "version.json").read_text()),
        "/repos/coulomb/ihp-railiance-probe/actions/runners": runners,
        "/orgs/coulomb/actions/runners": 403,
        "/admin/actions/runners": 403,
        "/repos/coulomb/ihp-railiance-probe/actions/runs": runs,
        "/repos/coulomb/ihp-railiance-probe/actions/runs/41/jobs": jobs,
        "/repos/coulomb/ihp-railiance-probe/actions/jobs/97/logs": log,
    }
    dead_realm = RegistryStandIn("tegwick", "pw-unused", realm_port=9)
    return serving(GiteaStandIn(answers, {WORKFLOW: workflow}, registry=dead_realm))


def _ci_args(port: int) -> list[str]:
    return [
        "-k",
        "T12",
        "--irp-ci",
        f"--irp-gitea-api-url=http://127.0.0.1:{port}/api/v1",
        f"--irp-registry=127.0.0.1:{port}/coulomb/ihp-railiance-probe",
        "--irp-registry-plain-http",
    ]


def test_irp_ci_explains_the_failed_run_of_the_sha_from_its_log(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recorded failed run whose log shows the realm failure: T12 FAILS naming the job,
    the step (inferred: Gitea 1.26.0 gives every step the job's status), the cause and its
    fix; the token in the log is masked everywhere."""
    monkeypatch.setenv("IRP_GITEA_TOKEN", "gitea-stand-in-token")
    built = (
        (project.path / "app" / WORKFLOW)
        .read_text()
        .replace(".#docker", ".#optimized-docker-image")
    )
    log = (DATA / "job-97-realm.log").read_text(encoding="utf-8")
    with _serve(
        _recorded("runs-failed.json", project.sha),
        _recorded("jobs-failed.json", project.sha),
        log,
        json.loads((DATA / "runners.json").read_text()),
        built,
    ) as gitea:
        result = project.run(*_ci_args(gitea.port), flake_show=IHP_SHOW)
    out = result.stdout.str()
    assert result.ret == 1, out
    cause = _summary(project)["criteria"]["T12"]["cause"]  # cut to a paragraph
    assert f"the CI run #12 of {project.sha[:7]} failed in job build, step 3" in cause
    step = f"step 3 `SHA=$(git rev-parse --short HEAD)` ({WORKFLOW}:8)"
    assert f"failed in job build, {step}" in out
    assert "token realm: skopeo followed the registry's token realm" in out
    assert "dial tcp 10.77.0.3:80: connect: connection refused" in out
    assert f"{WORKFLOW}:8: this push will fail as T07 did" in out  # the audit's error
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZWd3aWNrIn0.c2lnbmF0dXJlLWZha2U"
    reports = project.path / "reports"
    for path in reports.rglob("*"):
        if path.is_file():
            assert token not in path.read_text(errors="replace"), path
    assert token not in out
    saved = [p for p in reports.rglob("ci-job-97.log")]
    assert saved, "the whole job log is saved beside the report"
    assert "connection refused" in saved[0].read_text()


def test_irp_ci_names_the_workplans_three_problems_on_a_queued_run(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workplan's workflow, a runner-less Gitea (the lab's case): the missing flake
    attribute, the push without the realm workaround, the label no runner has."""
    monkeypatch.setenv("IRP_GITEA_TOKEN", "gitea-stand-in-token")
    runs = _recorded("runs-failed.json", project.sha)
    runs["workflow_runs"][0].update(status="queued", conclusion="")
    del runs["workflow_runs"][0]["conclusion"]
    workplan = (project.path / "app" / WORKFLOW).read_text()
    empty = {"runners": [], "total_count": 0}
    with _serve(runs, 404, "", empty, workplan) as gitea:
        result = project.run(*_ci_args(gitea.port), flake_show=IHP_SHOW)
    out = result.stdout.str()
    assert result.ret == 1, out
    assert "is queued and has not finished" in _summary(project)["criteria"]["T12"]["cause"]
    assert f"{WORKFLOW}:7: `nix build .#docker` fails at once" in out
    assert f"{WORKFLOW}:8: this push will fail as T07 did" in out
    assert f"{WORKFLOW}:4: job build runs on haskelseed, which no runner Gitea knows has" in out
    for rule in ("flake-attr", "push-realm", "runs-on"):
        assert f"({rule})" in out, rule


def test_the_ci_stage_reads_what_the_run_proved_without_running_it(tmp_path: Path) -> None:
    """StageContext.known: a plain run's ci stage takes T01's and T07's results when they
    ran, and starts neither (the flake stage needs the build host, unset here)."""
    repo = tmp_path / "app"
    make_app_repo(repo)
    settings = resolve({}, {}, [("test", {"app_repo": str(repo), "reports_dir": str(tmp_path)})])
    redactor = Redactor()
    pipeline = Pipeline(
        STAGES,
        settings,
        redactor,
        make_runner=lambda host: LocalRunner(redactor),
        log_dir=tmp_path / "logs",
    )
    plain = pipeline.result("ci")
    assert plain.ok, plain.cause
    assert set(pipeline.results) == {"ci"}  # nothing else was run for it
    assert plain.value["audit_facts"]["flake_outputs"] is None
    pipeline.results.pop("ci")
    pipeline.results["flake"] = StageResult("flake", "T01", "ok", value={"show": IHP_SHOW})
    again = pipeline.result("ci")
    assert again.value["audit_facts"]["flake_outputs"] == sorted(
        IHP_SHOW["packages"]["x86_64-linux"]
    )
    assert f"CI workflow {WORKFLOW}:7 (flake-attr): the flake has no such output" in {
        f.title for f in again.findings
    }

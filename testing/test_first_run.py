"""Issue 23, the user's first real run: every problem named in one run (terminal,
summary.json, JUnit, report), a clear refusal for a wrong app repository, options as users
expect them, a terminal one reads. pytester runs of the real criteria suite over the fake
runner (testing/scenario.py: ``hosts_down`` answers every ssh command as an ssh_config
pointing at 127.0.0.1 port 1 does), plus pure units."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import REPO, Project
from pytest_irp import apprepo, console
from pytest_irp.html.hints import did_you_mean, hint_for
from pytest_irp.kubeconfig import kube_context_problem

DEAD = {"hosts_down": ["haskelseed", "railiance01"], "helm_missing": True, "dns_fails": True}
PRECONDITIONS = ("build-host", "skopeo", "registry", "helm", "kube", "node", "base-url")


@pytest.fixture
def dead_run(project: Project, monkeypatch: pytest.MonkeyPatch) -> pytest.RunResult:
    """The whole suite against hosts that are not there: every precondition fails."""
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(project.path / "step-summary.md"))
    return project.run(
        "--irp-base-url=http://probe.example.invalid",
        f"--junitxml={project.path / 'junit.xml'}",
        **DEAD,
    )


def test_dead_hosts_every_problem_reaches_summary_table_and_junit(
    project: Project, dead_run: pytest.RunResult
) -> None:
    assert dead_run.ret == 1
    summary = json.loads((project.path / "reports" / "summary.json").read_text())
    found = [s for p in summary["problems"] for s in p["found_by"]]
    for name in PRECONDITIONS:
        assert f"preflight {name}" in found, name
    assert "stage source" in found
    assert [v["check"] for v in summary["preflight"] if not v["ok"]] == list(PRECONDITIONS)
    # each criterion whose own precondition failed is FAIL with it, not BLOCKED by source
    crit = summary["criteria"]
    for task in ("T06", "T07", "T08", "T09", "T10", "T11"):
        assert crit[task]["status"] == "FAIL", task
    assert crit["T01"]["status"] == crit["T05"]["status"] == "BLOCKED"
    # independent problems once each, in pipeline order, each with a next step
    hosts = [p["host"] for p in summary["problems"]]
    # T02's dev server not checked (no dev_url: NOT CHECKED, not proven) comes first
    assert summary["problems"][0]["criteria"] == ["T02"]
    assert summary["problems"][0]["next_step"].startswith("Set dev_url")
    assert hosts[1] == "haskelseed"
    assert "railiance01" in hosts
    # T02, the two dead hosts, registry, helm, kube, DNS
    assert len(summary["problems"]) == 7
    assert all(p["next_step"] for p in summary["problems"])
    assert summary["started"] <= summary["finished"]
    assert summary["duration"] > 0
    junit = (project.path / "junit.xml").read_text()
    for text in ("registry_password", "helm", "kube context", "does not resolve"):
        assert text in junit, text


def test_dead_hosts_terminal_is_short_and_never_cut_mid_word(dead_run: pytest.RunResult) -> None:
    lines = dead_run.stdout.lines
    text = dead_run.stdout.str()
    ours = [
        x for x in lines if not x.startswith(("- generated xml", "irp report:", "irp summary:"))
    ]
    assert max(len(line) for line in ours) <= 120, [x for x in ours if len(x) > 120]
    # the fake run's lines: pytest's own (header, 12 progress lines, counts) and ours (the
    # problems, the table, and one line per finding of T12's workflow audit of the app)
    assert len(lines) <= 68, len(lines)
    assert " FAILURES " not in text
    assert "BLOCKED tests/" not in text  # without -v: one table row per criterion
    assert "7 problems to fix, in pipeline order" in text
    assert text.count("next: ") == 7
    assert "next: Give registry_password (IRP_REGISTRY_PASSWORD or registry_password_file)" in text
    assert "Verdict(" not in text
    # a cut line ends with an ellipsis, never inside a word
    for line in lines:
        if line.endswith("…"):
            assert line[-2] == " ", line
    assert re.search(r"T02  NOT CHECKED .* - problem 1 above", text)
    assert re.search(r"T07  FAIL .* - problems 2, 3 above", text)
    assert re.search(r"T01  BLOCKED .* - blocked by stage source \(T06\): problem 2 above", text)


def test_dead_hosts_report_lists_every_problem(
    project: Project, dead_run: pytest.RunResult
) -> None:
    page = next((project.path / "reports").glob("irp-*/index.html")).read_text()
    assert 'id="problems"' in page
    assert page.count('class="problem"') == 7
    assert "ssh -G" not in page or "-G haskelseed" in page


# --------------------------------------------------------------------------- the app repo


@pytest.mark.parametrize(
    ("repo", "words"),
    [
        ("/nope", "does not exist"),
        (str(REPO), "is the checkout of pytest-irp itself"),
        ("empty", "is not an IHP application (no flake.nix and no Application/Schema.sql)"),
    ],
)
def test_wrong_app_repo_is_refused_before_any_stage(
    project: Project, repo: str, words: str
) -> None:
    if repo == "empty":
        (project.path / "empty").mkdir()
        repo = str(project.path / "empty")
    started = time.monotonic()
    result = project.pytester.runpytest_subprocess(
        "tests", "--irp-host=haskelseed", f"--irp-app-repo={repo}", "-p", "no:randomly"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert words in err
    assert "Give its path with --irp-app-repo=PATH" in err
    assert "no tests ran" not in result.stdout.str()  # at once, before collection
    assert project.calls() == []  # nothing contacted
    assert time.monotonic() - started < 8


def test_unconfigured_app_repo_in_a_directory_that_is_no_app_is_refused(
    project: Project,
) -> None:
    project.scenario_path.write_text(json.dumps(project.scenario))
    result = project.pytester.runpytest_subprocess("tests", "--irp-plan", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "No app repository is configured, and the current directory" in result.stderr.str()


def test_app_repo_units(tmp_path: Path) -> None:
    assert apprepo.problem(REPO / "lab" / "app") == (
        "is not a git repository (no .git): the SHA under test comes from git"
    )
    assert apprepo.problem(tmp_path / "x") == "does not exist"
    assert apprepo.needed(["source"], [])
    assert apprepo.needed([], ["read_app_file"])
    assert not apprepo.needed(["mirror"], [])


def test_plan_lists_unset_required_settings_by_name(project: Project) -> None:
    result = project.run("--irp-plan")
    text = result.stdout.str()
    assert "UNSET settings the planned stages need" in text
    assert "base_url: needed by live; give it with --irp-base-url or IRP_BASE_URL" in text
    assert "registry_password: needed by push; give it with IRP_REGISTRY_PASSWORD" in text


# --------------------------------------------------------------------------- options


def test_boolean_options_take_values_and_a_no_form(project: Project) -> None:
    plain = project.run("--irp-plan", "--irp-registry-plain-http=true", "-k", "T07")
    assert plain.ret == 0, plain.stderr.str()
    assert "http://127.0.0.1:9/v2/" in plain.stdout.str()
    off = project.run("--irp-plan", "--irp-registry-plain-http=false", "-k", "T07")
    assert "https://127.0.0.1:9/v2/" in off.stdout.str()
    no = project.run("--irp-plan", "--irp-registry-plain-http", "--irp-no-registry-plain-http")
    assert "https://127.0.0.1:9/v2/" in no.stdout.str()
    # a test path after a flag stays a test path
    path = project.run("-k", "T07", "--irp-plan", "tests")
    assert path.ret == 0, path.stderr.str()


def test_bad_values_are_usage_errors_at_once(project: Project) -> None:
    typo = project.run("--irp-registry-plain-http=ture")
    assert typo.ret == pytest.ExitCode.USAGE_ERROR
    assert "--irp-registry-plain-http 'ture': expected true or false" in typo.stderr.str()
    duration = project.run("--irp-timeout-build=5x")
    assert duration.ret == pytest.ExitCode.USAGE_ERROR
    assert "setting 'timeout_build' (from command line" in duration.stderr.str()
    for result in (typo, duration):
        assert "no tests ran" not in result.stdout.str()
        assert "collected" not in result.stdout.str()


def test_pipeline_log_can_be_turned_off(project: Project) -> None:
    base = "--irp-base-url=http://probe.example.invalid"
    on = project.run("--irp-plan", base, "-k", "T11")
    assert on.ret == 0, on.stderr.str()
    assert "$ append " in on.stdout.str()
    for off in ("--irp-no-pipeline-log", "--irp-pipeline-log=false"):
        result = project.run("--irp-plan", base, off, "-k", "T11")
        assert result.ret == 0, result.stderr.str()
        assert "$ append " not in result.stdout.str(), off


def test_live_stage_records_its_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live stage's record shows the URLs asked, their status and body (not only a
    collapsed value), and the host they were asked from."""
    from types import SimpleNamespace

    from pytest_irp.html import model, render
    from pytest_irp.stage import StageContext, StageResult
    from pytest_irp.stages import live

    answer = {"status": 200, "body": "ok", "error": ""}
    monkeypatch.setattr(live, "http_get", lambda url: answer)
    from pytest_irp.redact import Redactor

    ctx = SimpleNamespace(commands=[], redactor=Redactor([]))
    ctx.record = lambda result: StageContext.record(ctx, result)  # type: ignore[arg-type]
    assert live._recorded_get(ctx, "http://probe.example.invalid/healthz") == answer  # type: ignore[arg-type]
    result = StageResult("live", "T11", "ok", commands=ctx.commands)
    view = model.stage_view(result, "live", "/tmp")
    assert view.hosts == ["local"]
    assert view.commands[0].command == "GET http://probe.example.invalid/healthz"
    assert view.commands[0].output == "ok"
    html = render.stage_record(view)
    assert "HTTP 200" in html


def test_did_you_mean_an_ssh_alias_and_a_kube_context(tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text("Host haskelseed\n  HostName 127.0.0.2\nHost railiance01 *.lab\n")
    assert did_you_mean("haskelsed", str(config)) == (
        "Did you mean 'haskelseed' (an alias of the ssh config)?"
    )
    assert did_you_mean("zzz", str(config)) == ""
    hint = hint_for("ssh: Could not resolve hostname railance01: Name or service", "", str(config))
    assert hint is not None
    assert hint.next_step.startswith("Did you mean 'railiance01'")
    text = "contexts:\n- name: railiance01\n  context: {cluster: c, user: u}\n"
    problem = kube_context_problem("railance01", [("k", text)])
    assert problem is not None
    assert "did you mean 'railiance01'?" in problem


def test_a_mistyped_node_alias_gets_did_you_mean(project: Project) -> None:
    config = project.path / "ssh_config"
    config.write_text("Host haskelseed\n  HostName 127.0.0.2\nHost railiance01\n  Port 22\n")
    result = project.run(
        "-k",
        "T06 or T09",
        f"--irp-ssh-config={config}",
        "--irp-node-host=railianc01",
        unknown_hosts=["railianc01"],
    )
    assert result.ret == 1
    text = result.stdout.str()
    assert "next: Did you mean 'railiance01' (an alias of the ssh config)?" in text
    summary = json.loads((project.path / "reports" / "summary.json").read_text())
    assert summary["criteria"]["T09"]["status"] == "FAIL"


# --------------------------------------------------------------------------- text units


@given(st.text(alphabet=st.sampled_from("ab cd-ef/gh"), max_size=400), st.integers(20, 130))
def test_fit_and_wrap_never_pass_the_width(text: str, width: int) -> None:
    assert len(console.fit(text, width)) <= width
    for line in console.wrap(text, width, "1. ", "   ", lines=2):
        assert len(line) <= width or " " not in line.strip()


def test_fit_cuts_at_a_word_with_an_ellipsis() -> None:
    assert console.fit("connection refused by the host", 20) == "connection refused …"
    assert console.fit("short", 20) == "short"


# --------------------------------------------------------------------------- T11's log entry


def test_pipeline_log_commit_commits_that_one_file_only(tmp_path: Path) -> None:
    from conftest import git, make_app_repo
    from pytest_irp import judge, pipeline_log
    from pytest_irp.redact import Redactor
    from pytest_irp.runners import LocalRunner

    repo = tmp_path / "app"
    sha = make_app_repo(repo)
    git(repo, "config", "user.name", "irp")
    git(repo, "config", "user.email", "irp@example.invalid")
    (repo / "Main.hs").write_text("-- staged, not ours to commit\n")
    git(repo, "add", "Main.hs")
    (repo / "untracked.txt").write_text("x\n")
    runner = LocalRunner(Redactor())
    row = judge.pipeline_log_row("2026-12-08", sha[:7], "haskelseed", "reg:1", "ctx")
    (repo / "PIPELINE_LOG.md").write_text(judge.PIPELINE_LOG_HEADER + row + "\n")
    assert pipeline_log.committed_state(runner, repo, sha) == "written, not committed"
    pipeline_log.commit_pipeline_log(runner, repo, sha)
    assert pipeline_log.committed_state(runner, repo, sha) == "committed"
    changed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert changed == ["PIPELINE_LOG.md"]
    assert git(repo, "diff", "--cached", "--name-only").split() == ["Main.hs"]  # still staged
    assert "untracked.txt" in git(repo, "status", "--porcelain")
    assert git(repo, "remote") == ""  # nothing to push to, and nothing pushed
    for argv in pipeline_log.commit_argv("m"):
        assert argv[-2:] == ["--", "PIPELINE_LOG.md"]
        assert "push" not in argv

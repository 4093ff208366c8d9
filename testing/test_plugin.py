"""The plugin's behaviour, through pytester runs of the real criteria suite with a fake
runner: ordering, BLOCKED propagation and exit codes, -k with upstream stages, plan mode,
reuse and force, settings errors, reports and redaction, inertness."""

from __future__ import annotations

import json
import re

import pytest

from conftest import Project

ALL_BUT_DEPLOY = ("-k", "T01 or T03 or T04 or T05 or T06 or T08")


def outcomes_line(result: pytest.RunResult) -> str:
    return result.stdout.lines[-1]


def test_help_lists_irp_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    for pattern in (
        "*--irp-host=HOST*SSH destination*",
        "*--irp-plan*",
        "*--irp-reuse*",
        "*--irp-force=FORCE*",
        "*--irp-config*",
    ):
        result.stdout.fnmatch_lines([pattern])
    assert "--irp-registry-password=" not in result.stdout.str()  # secrets never on argv


def test_plan_prints_stages_in_order_and_runs_nothing(project: Project) -> None:
    result = project.run("--irp-plan")
    assert result.ret == 0
    text = result.stdout.str()
    order = [
        text.index(f". {stage} [")
        for stage in (
            "source",
            "prebuild",
            "build",
            "push",
            "chart",
            "mirror",
            "pull",
            "release",
            "live",
        )
    ]
    assert order == sorted(order)
    for crit in (f"T{n:02d}" for n in range(1, 13)):
        assert f"  {crit}  tests/" in text
    assert "irp-build start" in text
    assert "--log-format internal-json" in text
    assert project.calls() == [] or all(c["argv"][0] == "git" for c in project.calls())
    assert not (project.path / "reports").exists()


def test_items_run_in_pipeline_order_whatever_the_file_order(project: Project) -> None:
    (project.path / "tests" / "test_t06_build.py").rename(
        project.path / "tests" / "test_a_first_t06.py"
    )
    result = project.run("--collect-only", "-q")
    ids = [line for line in result.stdout.lines if "::test_T" in line]
    crits = [re.search(r"test_(T\d\d)_", line).group(1) for line in ids]  # type: ignore[union-attr]
    assert crits == sorted(crits)


def test_failing_build_fails_t06_and_blocks_what_needs_the_image(
    project: Project, sound_target: list[str]
) -> None:
    result = project.run("-k", "T06 or T07 or T08 or T09 or T10 or T11", *sound_target, build_rc=1)
    assert result.ret == 1
    text = result.stdout.str()
    # one line per criterion, pointing at the one problem; no per-check BLOCKED lines
    # without -v, and no FAILURES section for checks their stage decided
    assert "1. T06 haskelseed: `nix build .#docker` on haskelseed failed (exit 1)" in text
    for crit in ("T07", "T10", "T11"):
        assert re.search(rf"{crit}  BLOCKED .* - blocked by stage build \(T06\): problem 1", text)
    assert "BLOCKED tests/" not in text
    assert " FAILURES " not in text
    # checks that do not need the image still ran and reported on their own
    assert "T08  PASS" in text
    assert re.search(r"T09  FAIL|T09  BLOCKED", text)
    assert "registries yaml has http mirror PASSED" not in text  # one-line reports only
    summary = json.loads((project.path / "reports" / "summary.json").read_text())
    assert summary["criteria"]["T06"]["status"] == "FAIL"
    assert summary["criteria"]["T07"]["status"] == "BLOCKED"
    assert summary["criteria"]["T08"]["status"] == "PASS"
    checks = {c["nodeid"].split("::")[1]: c["status"] for c in summary["checks"]}
    assert checks["test_T09_registries_yaml_has_http_mirror"] == "PASS"
    assert checks["test_T09_node_pulls_pushed_digest"] == "BLOCKED"
    assert "blocked" in outcomes_line(result)
    # the build's last lines are in the failing criterion's stage record (a partial run:
    # its own report, latest.html untouched)
    page = next((project.path / "reports").glob("irp-*/index.html")).read_text()
    assert "failed with exit code 1" in page
    assert not (project.path / "reports" / "latest.html").exists()


def test_k_selects_one_criterion_and_still_runs_its_stages(project: Project) -> None:
    result = project.run("-k", "T06", "-v")
    assert result.ret == 0, result.stdout.str()
    reported = [line for line in result.stdout.lines if "::test_T" in line and "PASSED" in line]
    assert reported
    assert all("test_T06_" in line for line in reported)
    assert project.called(lambda argv: "irp-build" in argv and "start" in argv)
    assert not project.called(lambda argv: "lint" in argv)  # T08's stage not needed


def test_k_t07_reports_only_t07_but_runs_the_build(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IRP_REGISTRY_PASSWORD", "fake-password")
    result = project.run("-k", "T07", "-rA")
    lines = [line for line in result.stdout.lines if "::test_T" in line]
    assert lines
    assert all("test_T07_" in line for line in lines)
    assert project.called(lambda argv: "irp-build" in argv and "start" in argv)
    assert result.ret == 1  # the fake registry on port 9 is unreachable: T07 fails clearly
    assert "registry 127.0.0.1:9 is unreachable" in result.stdout.str()


def test_reuse_takes_saved_build_and_force_reruns_it(project: Project) -> None:
    assert project.run("-k", "T06").ret == 0
    project.calls_path.unlink()
    result = project.run("-k", "T06", "--irp-reuse")
    assert result.ret == 0
    assert "reused from run" in result.stdout.str()
    assert not project.called(lambda argv: "irp-build" in argv)
    project.calls_path.unlink()
    result = project.run("-k", "T06", "--irp-reuse", "--irp-force", "build")
    assert result.ret == 0
    assert project.called(lambda argv: "irp-build" in argv and "start" in argv)
    assert not project.called(lambda argv: "irp-source" in argv)  # source still reused


def test_unknown_force_stage_is_a_usage_error(project: Project) -> None:
    result = project.run("-k", "T06", "--irp-force", "biuld")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*setting 'force': unknown stage(s) biuld*"])


def test_bad_setting_value_names_setting_and_source(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IRP_TIMEOUT_BUILD", "soon")
    result = project.run("-k", "T06")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*setting 'timeout_build' (from environment variable "
            "IRP_TIMEOUT_BUILD)*expected a duration*"
        ]
    )
    assert len(result.stderr.lines) < 5


def test_planted_secret_reaches_no_output(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "pl4nted-S3cret-value"
    monkeypatch.setenv("IRP_REGISTRY_PASSWORD", secret)
    (project.path / "tests" / "test_t06_leak.py").write_text(
        "import os, pytest\npytestmark = pytest.mark.irp_criterion('T06')\n"
        "def test_T06_leaks(built_image):\n"
        "    print('stdout has', os.environ['IRP_REGISTRY_PASSWORD'])\n"
        "    assert os.environ['IRP_REGISTRY_PASSWORD'] == 'x'\n"
    )
    junit = project.path / "junit.xml"
    result = project.run("-k", "T06 or T07", f"--junitxml={junit}", "-rA", secret=secret)
    assert result.ret == 1
    outputs = {"terminal": result.stdout.str() + result.stderr.str(), "junit": junit.read_text()}
    for path in (project.path / "reports").rglob("*"):
        if path.is_file():
            outputs[str(path)] = path.read_text(errors="replace")
    assert any(p.endswith(".log") for p in outputs), "no saved log to check"
    assert any(p.endswith(".html") for p in outputs)
    leaks = [name for name, text in outputs.items() if secret in text]
    assert leaks == []
    assert "***" in outputs["terminal"]


def test_report_has_criteria_table_blocked_filter_and_log_links(
    project: Project, sound_target: list[str]
) -> None:
    project.run("-k", "T06 or T07", *sound_target, build_rc=1)
    pages = list((project.path / "reports").glob("irp-*/index.html"))
    assert len(pages) == 1
    html = pages[0].read_text()
    assert "Exit criteria" in html
    assert 'data-filter="BLOCKED"' in html
    assert 'href="build-build.log"' in html  # the full log, beside the report
    assert (pages[0].parent / "build-build.log").is_file()
    assert "data:" not in html
    assert pages[0].stat().st_size < 2_000_000


def test_plugin_is_inert_without_criteria(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    assert result.ret == 0
    out = result.stdout.str()
    assert "irp target" not in out
    assert "irp report" not in out
    assert "exit criteria" not in out
    assert not (pytester.path / "reports").exists()


def test_random_order_plugin_is_refused(project: Project) -> None:
    (project.path / "randomly.py").write_text("")
    result = project.pytester.runpytest_subprocess(
        "tests",
        "-p",
        "randomly",
        "--irp-host",
        "haskelseed",
        "--irp-app-repo",
        str(project.path / "app"),
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*random-order plugin 'randomly'*-p no:randomly*"])


def test_xdist_workers_are_refused_before_they_start(project: Project) -> None:
    pytest.importorskip("xdist")
    result = project.run("-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*one ordered pipeline; pytest-xdist workers (-n)*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_unknown_kube_context_is_a_usage_error_only_when_the_cluster_is_needed(
    project: Project,
) -> None:
    kubeconfig = project.path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncontexts:\n- name: railiance01\n"
        "  context: {cluster: railiance01, user: admin}\n"
    )
    result = project.run(
        "-k", "T10", f"--irp-kubeconfig={kubeconfig}", "--irp-kube-context=railiance02"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*setting 'kube_context' ('railiance02', from command line "
            "--irp-kube-context): no context 'railiance02' in the "
            "kubeconfig*(its contexts: railiance01)*"
        ]
    )
    assert project.calls() == [] or all(c["argv"][0] == "git" for c in project.calls())
    result = project.run(
        "-k", "T06", f"--irp-kubeconfig={kubeconfig}", "--irp-kube-context=railiance02"
    )
    assert result.ret == 0  # T06 does not need the cluster


def test_redacted_failure_keeps_its_one_line_cause(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settings' repr in a failing check's arguments holds a secret: the report is
    redacted, and the cause is still the assertion, not the arguments' first line."""
    monkeypatch.setenv("IRP_REGISTRY_PASSWORD", "pl4nted-S3cret-value")
    (project.path / "tests" / "test_t06_args.py").write_text(
        "import pytest\npytestmark = pytest.mark.irp_criterion('T06')\n"
        "def test_T06_host_elsewhere(irp_settings, built_image):\n"
        "    assert irp_settings['host'] == 'elsewhere', 'the host is not elsewhere'\n"
    )
    junit = project.path / "junit.xml"
    result = project.run("-k", "T06", f"--junitxml={junit}")
    assert result.ret == 1
    summary = json.loads((project.path / "reports" / "summary.json").read_text())
    assert summary["criteria"]["T06"]["cause"] == "AssertionError: the host is not elsewhere"
    result.stdout.fnmatch_lines(
        ["FAILED tests/test_t06_args.py::test_T06_host_elsewhere - AssertionError*"]
    )  # cut to the terminal's width
    assert "pl4nted-S3cret-value" not in result.stdout.str() + junit.read_text()
    assert 'message="AssertionError: the host is not elsewhere' in junit.read_text()


def test_k_t11_reports_only_t11_and_runs_the_stages_it_needs(
    project: Project, sound_target: list[str]
) -> None:
    """Every precondition holds, but the fake runner has no skopeo push: the push fails, and
    T11's checks are BLOCKED naming T07, after source, prebuild and build really ran."""
    result = project.run("-k", "T11", "-v", *sound_target)
    assert result.ret == 1
    lines = [line for line in result.stdout.lines if "::test_T" in line]
    assert lines
    assert all("test_T11_" in line for line in lines)
    assert re.search(
        r"BLOCKED tests/test_t11_smoke.py::test_T11_healthz_answers_ok - "
        r"BLOCKED by stage 'push' \(T07\)",
        result.stdout.str(),
    )
    assert project.called(lambda argv: "irp-build" in argv and "start" in argv)
    assert project.called(lambda argv: "lint" in argv)  # the release needs a checked chart
    assert not project.called(lambda argv: "irp-in-checkout" in argv)  # T01/T05: not needed

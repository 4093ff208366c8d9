"""Checks that never ran are NOT RUN - never PASS - in the terminal, summary.json,
latest.html and JUnit XML, and the exit code is non-zero (issue 10, point 1).

Each run is a pytester run of the real criteria suite with the scripted fake runner; the
sessions stop early with -x, --maxfail, --sw, a KeyboardInterrupt raised inside a stage,
and pytest.exit(returncode=0)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from conftest import Project

SELECTION = ("-k", "T06 or T07 or T08")


def summary(project: Project) -> dict[str, Any]:
    return dict(json.loads((project.path / "reports" / "summary.json").read_text()))


def checks(data: dict[str, Any]) -> dict[str, str]:
    return {c["nodeid"].split("::")[1]: c["status"] for c in data["checks"]}


def table_lines(result: pytest.RunResult) -> dict[str, str]:
    """The terminal's exit-criteria table: task -> status."""
    found = {}
    for line in result.stdout.lines:
        match = re.match(r"^(T\d\d) +(PASS|FAIL|BLOCKED|SKIPPED|NOT RUN) ", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def run_page(project: Project, data: dict[str, Any]) -> str:
    return (project.path / "reports" / f"irp-{data['run_id']}" / "index.html").read_text()


def assert_stopped_after_build_failure(project: Project, result: pytest.RunResult) -> None:
    text = result.stdout.str()
    assert result.ret != 0, text
    data = summary(project)
    status = checks(data)
    # the first T06 checks ran (source, prebuild passed; the build failed) ...
    assert status["test_T06_source_on_build_host_is_the_sha_under_test"] == "PASS"
    assert status["test_T06_nix_build_succeeds"] == "FAIL"
    # ... and nothing after the failure is PASS
    for name in (
        "test_T06_result_is_a_docker_archive",
        "test_T07_tag_listed_in_registry",
        "test_T08_helm_lint_strict_passes",
        "test_T08_deployment_matches_key_notes",
    ):
        assert status[name] == "NOT RUN", (name, status)
    assert data["criteria"]["T06"]["status"] == "FAIL"
    assert data["criteria"]["T07"]["status"] == "NOT RUN"
    assert data["criteria"]["T08"]["status"] == "NOT RUN"
    assert data["criteria"]["T08"]["cause"].startswith("not run: the session stopped")
    assert data["exit_code"] == result.ret
    assert table_lines(result) == {"T06": "FAIL", "T07": "NOT RUN", "T08": "NOT RUN"}
    assert re.search(r"\d+ selected check\(s\) NOT RUN \(not proven\)", text)
    assert re.search(r"\d+ not run", result.stdout.lines[-1]), result.stdout.lines[-1]
    html = run_page(project, data)  # -k: the run's own page (latest.html is full runs')
    assert "NOT RUN" in html


def test_x_after_an_early_failure_reports_the_rest_not_run(project: Project) -> None:
    result = project.run(*SELECTION, "-x", build_rc=1)
    assert_stopped_after_build_failure(project, result)
    assert "stopping after 1 failures" in summary(project)["criteria"]["T08"]["cause"]


def test_maxfail_1_reports_the_rest_not_run(project: Project) -> None:
    result = project.run(*SELECTION, "--maxfail=1", build_rc=1)
    assert_stopped_after_build_failure(project, result)


def test_stepwise_reports_the_rest_not_run(project: Project) -> None:
    result = project.run(*SELECTION, "--sw", build_rc=1)
    assert_stopped_after_build_failure(project, result)


def test_not_run_checks_are_failures_in_junit(project: Project) -> None:
    junit = project.path / "junit.xml"
    result = project.run(*SELECTION, "-x", f"--junitxml={junit}", build_rc=1)
    assert result.ret == 1
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    lint = cases["test_T08_helm_lint_strict_passes"]
    failure = lint.find("failure")
    assert failure is not None, ET.tostring(lint)
    assert failure.get("message", "").startswith("NOT RUN: the session stopped")
    assert cases["test_T06_nix_build_succeeds"].find("failure") is not None
    assert cases["test_T06_source_on_build_host_is_the_sha_under_test"].find("failure") is None


def test_keyboard_interrupt_inside_a_stage(project: Project) -> None:
    """Ctrl-C while the build stage waits on the build host: nothing from the build on is
    PASS, the exit code is pytest's 2, and the run's files still say what ran."""
    result = project.run(*SELECTION, interrupt="build start")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    data = summary(project)
    status = checks(data)
    assert status["test_T06_source_on_build_host_is_the_sha_under_test"] == "PASS"
    assert status["test_T06_nix_build_succeeds"] == "NOT RUN"
    assert "PASS" not in {data["criteria"][c]["status"] for c in ("T06", "T07", "T08")}
    assert data["criteria"]["T07"]["status"] == "NOT RUN"
    assert "interrupted" in data["criteria"]["T07"]["cause"]
    assert data["exit_code"] == 2
    assert "build" not in data["stages"]  # it never finished
    assert table_lines(result) == {"T06": "NOT RUN", "T07": "NOT RUN", "T08": "NOT RUN"}
    html = run_page(project, data)  # -k: the run's own page (latest.html is full runs')
    assert "NOT RUN" in html


def test_exit_code_is_1_when_checks_did_not_run_after_pytest_exit_0(project: Project) -> None:
    """pytest exits 0 after ``pytest.exit(..., returncode=0)``; unrun checks make it 1."""
    (project.path / "tests" / "test_t06_stop.py").write_text(
        "import pytest\npytestmark = pytest.mark.irp_criterion('T06')\n"
        "def test_T06_stop_here(source_checkout):\n"
        "    pytest.exit('stopped by a check', returncode=0)\n"
    )
    result = project.run("-k", "T06 or T08")
    assert result.ret == 1, result.stdout.str()
    data = summary(project)
    assert data["exit_code"] == 1
    assert data["criteria"]["T08"]["status"] == "NOT RUN"
    assert checks(data)["test_T06_stop_here"] == "NOT RUN"


def test_a_full_run_has_no_not_run(project: Project) -> None:
    result = project.run("-k", "T06 or T08")
    assert result.ret == 0, result.stdout.str()
    data = summary(project)
    assert {c["status"] for c in data["checks"]} == {"PASS"}
    assert "NOT RUN" not in result.stdout.str()
    assert "not run" not in result.stdout.lines[-1]
    # the published summary is this run's: summary.json and its copy in the run folder
    reports = project.path / "reports"
    assert data == json.loads((reports / f"irp-{data['run_id']}" / "summary.json").read_text())
    assert data["run_id"] in run_page(project, data)


def test_deselected_checks_are_not_reported_at_all(project: Project) -> None:
    result = project.run("-k", "T08")
    assert result.ret == 0
    data = summary(project)
    assert set(data["criteria"]) == {"T08"}
    assert "NOT RUN" not in json.dumps(data)

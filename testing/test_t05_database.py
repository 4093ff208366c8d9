"""T05 through the plugin with the fake runner: the command T05 chose (and why) in the plan,
and a spec that failed for want of a database reported with that cause and the next step,
not as "the spec failed"."""

from __future__ import annotations

import json

from conftest import Project, git

# What IHP's `tests` check prints when withIHPApp finds no PostgreSQL: hspec's report of
# the error hasql 1.10 gives (ihp-hspec/IHP/Hspec.hs v1.5.0 L34: `error (show err)`), with
# libpq's message for IHP's default DATABASE_URL (IHP/FrameworkConfig.hs v1.5.0 L221).
NO_DATABASE = """app-tests> ProbeController
app-tests>   GET /probes returns 200 [\u2718]
app-tests>
app-tests> Failures:
app-tests>
app-tests>   Test/Controller/ProbesSpec.hs:19:9:
app-tests>   1) ProbeController GET /probes returns 200
app-tests>        uncaught exception: ErrorCall
app-tests>        NetworkingConnectionError "connection to server on socket \\"/build/source\
/build/db/.s.PGSQL.5432\\" failed: No such file or directory\\n\\tIs the server running locally \
and accepting connections on that socket?\\n"
app-tests>
app-tests> 1 example, 1 failure
error: builder for '/nix/store/x-app-tests.drv' failed with exit code 1
"""


def _wire_spec_into_main(project: Project) -> None:
    """The workplan's layout: the database spec imported by Test/Main.hs."""
    app = project.path / "app"
    (app / "Test" / "Integration.hs").rename(app / "Test" / "Main.hs")
    git(app, "add", "-A")
    git(app, "commit", "-qm", "spec wired into Test/Main.hs, as the workplan does")
    project.sha = git(app, "rev-parse", "HEAD")
    project.scenario["sha"] = project.sha


def test_plan_names_the_chosen_test_command_and_why(project: Project) -> None:
    result = project.run("--irp-plan", "-k", "T05")
    assert result.ret == 0
    text = result.stdout.str()
    assert "nix build --impure -L --no-link '.#checks.x86_64-linux.integration-tests'" in text
    assert "T05: the Hspec tests (integration-tests)" in text
    assert "starts a temporary PostgreSQL" in text
    _wire_spec_into_main(project)
    text = project.run("--irp-plan", "-k", "T05").stdout.str()
    assert ".#checks.x86_64-linux.tests" in text
    assert "Cannot pass as it stands: the tests check runs Test/Main.hs" in text


def test_T05_fails_with_the_database_cause_and_next_step(project: Project) -> None:
    _wire_spec_into_main(project)
    result = project.run("-k", "T05", spec_rc=1, spec_err=NO_DATABASE)
    assert result.ret == 1
    summary = json.loads((project.path / "reports" / "summary.json").read_text())
    t05 = summary["criteria"]["T05"]
    assert t05["status"] == "FAIL"
    assert "failed for want of a database" in t05["cause"]
    text = result.stdout.str()
    # the whole cause is the fix list's (summary.json); the terminal fits lines to its width
    problem = next(p for p in summary["problems"] if p["criteria"] == ["T05"])
    cause = problem["cause"] + " " + problem["next_step"]
    assert "irp [spec] FAILED: " in text
    assert "Test/Controller/ProbesSpec.hs failed for want of a database" in cause
    assert 'no PostgreSQL answers on the socket "/build/source/build/db/.s.PGSQL.5432"' in cause
    assert "The flake's tests check has no PostgreSQL" in cause
    assert "move the spec to Test/Integration.hs" in cause
    assert "run it in devenv where PostgreSQL is up" in cause
    assert "exit code 1" not in cause  # the cause, not "the command failed"
    assert "finding [warning] T05 runs the specs with the flake's tests check" in text
    ran = [c["argv"] for c in project.calls() if ".#checks.x86_64-linux.tests" in c["argv"]]
    assert ran
    assert ran[0][-5:-1] == ["build", "--impure", "-L", "--no-link"]

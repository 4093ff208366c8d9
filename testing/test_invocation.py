"""How the suite is invoked and what the plan shows (issue 10, point 10): the README's form
``pytest <abs>/tests --irp-host NAME`` from outside the repository, the separated path
value that really moves the rootdir, the ssh options in the plan, a safe app_name."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import REPO, Project
from pytest_irp.redact import Redactor
from pytest_irp.runners import SshRunner
from pytest_irp.settings import SettingError, resolve


def test_abs_tests_path_with_separated_host_from_outside_the_repo(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project.path / "pytest.ini").write_text("[pytest]\n")  # the repo's own rootdir
    outside = project.path.parent / f"{project.path.name}-elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    project.scenario_path.write_text(__import__("json").dumps(project.scenario))
    result = project.pytester.runpytest_subprocess(
        str(project.path / "tests"),
        "--irp-host",
        "haskelseed",
        "--irp-app-repo",
        str(project.path / "app"),
        "--irp-reports-dir",
        str(outside / "reports"),
        "-p",
        "no:randomly",
        "-k",
        "T08",
    )
    text = result.stdout.str() + result.stderr.str()
    assert "took the value of" not in text
    assert result.ret == 0, text
    assert f"rootdir: {project.path}" in text
    assert (outside / "reports" / "summary.json").exists()


def test_separated_path_value_that_moves_the_rootdir_is_refused(project: Project) -> None:
    other = project.path.parent / f"{project.path.name}-other"
    other.mkdir()
    (other / "pytest.ini").write_text("[pytest]\n")
    (other / "irp.toml").write_text("[tool.irp]\nhost = 'haskelseed'\n")
    (project.path / "pytest.ini").write_text("[pytest]\n")
    result = project.pytester.runpytest_subprocess(
        "--irp-config", str(other / "irp.toml"), "tests", "-p", "no:randomly", "-k", "T08"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"*took the value of --irp-config ({other}/irp.toml) for "
            f"a test path and chose rootdir {other}. Write "
            f"--irp-config={other}/irp.toml (with '=')*"
        ]
    )


def test_plan_shows_the_ssh_connection_options_ssh_really_gets(project: Project) -> None:
    shutil.copy(REPO / "conftest.py", project.path / "conftest.py")  # the real runners
    result = project.run("--irp-plan", "-k", "T06")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    wrapper = next(line for line in result.stdout.lines if line.startswith("  [haskelseed] $"))
    for option in (
        "-o BatchMode=yes",
        "-o ControlMaster=auto",
        "-o ControlPersist=60",
        "/irp-ssh-XXXXXXXX/%C",
    ):
        assert option in wrapper, wrapper
    assert "irp-ssh-XXXXXXXX: the run's private ControlPath directory" in result.stdout.str()


def test_display_argv_is_the_argv_run_executes() -> None:
    runner = SshRunner("haskelseed", Redactor(()), ssh_config="/dev/null")
    shown = runner.display_argv(["true"])
    path = runner.control_path()  # what run() uses: made on the first command
    try:
        real = runner.display_argv(["true"])
        assert real == [a.replace("irp-ssh-XXXXXXXX", path.split("/")[-2]) for a in shown]
        assert f"ControlPath={path}" in real
    finally:
        shutil.rmtree(path.rsplit("/", 1)[0], ignore_errors=True)


@pytest.mark.parametrize(
    "name",
    [
        "a/b",
        "..",
        "../../etc",
        "x/../y",
        "-rf",
        "App",
        "a b",
        ".hidden",
        "a..b",
        "x" * 64,
        "name;rm",
    ],
)
def test_unsafe_app_name_is_a_setting_error(name: str) -> None:
    with pytest.raises(
        SettingError,
        match=r"setting 'app_name' \(from command line "
        r"--irp-app-name\): expected a lower-case name",
    ):
        resolve({"app_name": name}, {}, [])


def test_unsafe_app_name_is_a_usage_error_in_one_paragraph(project: Project) -> None:
    result = project.run("-k", "T06", "--irp-app-name=../../.ssh")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: pytest-irp: setting 'app_name' (from command line "
            "--irp-app-name): expected a lower-case name*'../../.ssh'*"
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


@given(st.text(min_size=1, max_size=80))
def test_an_accepted_app_name_is_one_safe_path_component(name: str) -> None:
    try:
        value = resolve({"app_name": name}, {}, []).values["app_name"]
    except SettingError:
        return
    assert "/" not in value
    assert ".." not in value
    assert value not in (".", "")
    assert not value.startswith(("-", "."))
    assert value == value.strip()
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in value)


def test_default_and_usual_app_names_are_accepted() -> None:
    for name in ("ihp-railiance-probe", "app", "my_app.v2", "a"):
        assert resolve({"app_name": name}, {}, []).values["app_name"] == name

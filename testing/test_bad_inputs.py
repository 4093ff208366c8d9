"""Bad input stops the run with one paragraph, never a traceback (issue 10, point 6)."""

from __future__ import annotations

import pytest

from conftest import Project


def assert_one_paragraph(result: pytest.RunResult, *patterns: str) -> None:
    text = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text
    assert "Traceback" not in text, text
    assert "INTERNALERROR" not in text, text
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.stderr.lines
    result.stderr.fnmatch_lines(list(patterns))


def test_reports_dir_below_a_regular_file(project: Project) -> None:
    (project.path / "afile").write_text("not a directory\n")
    result = project.run("-k", "T06", f"--irp-reports-dir={project.path}/afile/reports")
    assert_one_paragraph(
        result,
        "ERROR: pytest-irp: setting 'reports_dir' (*afile/reports*"
        "from command line --irp-reports-dir*)*afile*not a directory*",
    )
    assert project.calls() == [] or all(c["argv"][0] == "git" for c in project.calls())


def test_config_file_with_a_scalar_tool_key(project: Project) -> None:
    config = project.path / "bad.toml"
    config.write_text("tool = 5\n")
    result = project.run("-k", "T06", f"--irp-config={config}")
    assert_one_paragraph(
        result, f"ERROR: pytest-irp: config file {config}: 'tool' must be a table*"
    )


@pytest.mark.parametrize(
    ("kind", "message"),
    [("directory", "cannot be read: Is a directory"), ("binary", "is not UTF-8 text")],
)
def test_config_file_that_is_no_text_file(project: Project, kind: str, message: str) -> None:
    config = project.path / "conf"
    if kind == "directory":
        config.mkdir()
    else:
        config.write_bytes(b"\xff\xfe\x00host")
    result = project.run("-k", "T06", f"--irp-config={config}")
    assert_one_paragraph(result, f"ERROR: pytest-irp: config file {config} {message}*")


def test_missing_host_is_a_usage_error_before_any_stage(project: Project) -> None:
    result = project.run("-k", "T06", host=None)
    assert_one_paragraph(
        result,
        "ERROR: pytest-irp: setting 'host' is required by the "
        "selected criteria (T06) but not set (give it with --irp-host*",
    )
    assert not project.called(lambda argv: "irp-source" in argv)


def test_missing_host_is_fine_when_no_selected_criterion_needs_it(project: Project) -> None:
    result = project.run("-k", "T08", host=None)
    assert result.ret == 0, result.stdout.str() + result.stderr.str()


def test_no_resource_warning_under_w_error(project: Project) -> None:
    """Every subprocess pipe is closed: with -W error an unclosed one is an error."""
    result = project.run("-k", "T06 or T08", "-W", "error", "-p", "no:cacheprovider")
    text = result.stdout.str() + result.stderr.str()
    assert "ResourceWarning" not in text, text
    assert "Unraisable" not in text, text
    assert result.ret == 0, text


def test_local_runner_closes_every_pipe() -> None:
    """The real runner's pipes (stdout, stderr, stdin; after a timeout too) are closed: the
    fake runner of the pytester runs above never opens one."""
    import gc
    import warnings

    from pytest_irp.redact import Redactor
    from pytest_irp.runners import LocalRunner

    runner = LocalRunner(Redactor(()))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert runner.run(["sh", "-c", "echo out; echo err >&2"], timeout=10).stdout == "out\n"
        assert runner.run(["cat"], timeout=10, input="in").stdout == "in"
        assert runner.run(["true"], timeout=10, input="x" * 1_000_000).rc == 0
        assert runner.run(["sleep", "5"], timeout=0.2).timed_out
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []

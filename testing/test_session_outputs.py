"""What the session prints besides the run's reports (issue 20, points 4 and 5):
pytest-metadata's table (the CI variables it reads, ``--metadata``) in the ``-v`` header,
``--html``, JUnit and ``--debug``; log records and warnings of a check and of a conftest in
the warnings summary, live logs and ``--log-file``. See docs/threat-model.md."""

from __future__ import annotations

import json
import logging
import warnings

import pytest

from conftest import Project
from pytest_irp.redact import MASK, Redactor


def _outputs(project: Project, result: pytest.RunResult) -> dict[str, str]:
    found = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    for path in project.path.rglob("*"):
        if (
            path.is_file()
            and path.suffix in (".html", ".log", ".xml", ".json", ".txt")
            and path.name not in ("scenario.json", "metadata.json")
        ):
            found[str(path.relative_to(project.path))] = path.read_text(errors="replace")
    return found


def test_pytest_metadata_shows_no_password_of_the_variables_it_reads(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every variable pytest-metadata reads (its CI providers' lists), set to a URL with a
    password; and metadata from a JSON file with a secret-looking key and a URL password
    (pytest's --debug log and the report show the command line, so not --metadata)."""
    plugin = pytest.importorskip("pytest_metadata.plugin")
    names = sorted({name for provider in plugin.CONTINUOUS_INTEGRATION for name in provider})
    assert "GIT_URL" in names  # Jenkins'
    passwords = {}
    for i, name in enumerate(names):
        passwords[name] = f"Meta{i:03d}Pw-{name.lower()}-xq"
        monkeypatch.setenv(name, f"https://bot:{passwords[name]}@127.0.0.1/x.git")
    deploy = "Meta-Deploy-Token-0451"
    json_pw = "Meta-Json-Password-0452"
    extra = project.path / "metadata.json"  # a file: a secret on a command line is shown
    extra.write_text(
        json.dumps({"DEPLOY_TOKEN": deploy, "db": f"postgresql://u:{json_pw}@127.0.0.1/x"})
    )
    result = project.run(
        "-k",
        "T01",
        "-v",
        "--debug",
        f"--html={project.path / 'report.html'}",
        f"--junitxml={project.path / 'junit.xml'}",
        "-o",
        "junit_family=xunit2",
        f"--metadata-from-json-file={extra}",
    )
    outputs = _outputs(project, result)
    assert "pytestdebug.log" in outputs
    assert "report.html" in outputs
    assert "metadata: {" in outputs["stdout"]  # the -v header shows the table
    assert "https://bot:***@127.0.0.1/x.git" in outputs["stdout"]
    secrets = [*passwords.values(), deploy, json_pw]
    leaks = {k: [s for s in secrets if s in text] for k, text in outputs.items()}
    assert {k: v for k, v in leaks.items() if v} == {}


LOGGING_CHECK = """
import logging, os, warnings
import pytest
pytestmark = pytest.mark.irp_criterion("T03")


def test_T03_logs_and_warns_a_secret():
    token = os.environ["IRP_GITEA_TOKEN"]
    logging.getLogger("check").warning("check token=%s", token)
    logging.getLogger("check").error("traceback", exc_info=ValueError(f"bad {token}"))
    warnings.warn(f"check warns {token}")
"""

LOGGING_CONFTEST = """

import logging as _logging, os as _os, warnings as _warnings


def pytest_collection_finish(session):
    pat = _os.environ["GH_PAT"]
    _logging.getLogger("conftest").warning("conftest pat %s", pat)
    _warnings.warn(f"conftest warns {pat}")
"""


def test_log_records_and_warnings_of_checks_and_conftests_are_masked(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "Log-Canary-Gitea-Token-6021"
    pat = "Log-Canary-GH-PAT-6022"
    monkeypatch.setenv("IRP_GITEA_TOKEN", token)
    monkeypatch.setenv("GH_PAT", pat)
    (project.path / "tests" / "test_t03_logs.py").write_text(LOGGING_CHECK)
    with (project.path / "conftest.py").open("a") as conftest:
        conftest.write(LOGGING_CONFTEST)
    result = project.run(
        "-k",
        "logs_and_warns",
        "--log-cli-level=WARNING",
        f"--log-file={project.path / 'session.log'}",
        "--log-file-level=DEBUG",
        "-rA",
    )
    outputs = _outputs(project, result)
    terminal = outputs["stdout"]
    assert "warnings summary" in terminal
    assert "check warns ***" in terminal
    assert "conftest warns ***" in terminal
    assert "check token=***" in terminal  # live log
    assert "check token=***" in outputs["session.log"]
    assert "conftest pat ***" in outputs["session.log"]
    leaks = {k: [s for s in (token, pat) if s in text] for k, text in outputs.items()}
    assert {k: v for k, v in leaks.items() if v} == {}


def test_a_record_without_a_secret_keeps_its_arguments() -> None:
    from pytest_irp import hygiene

    hygiene.SESSION.redactor = Redactor(["Unit-Secret-Value-77"])
    try:
        plain = logging.LogRecord("x", logging.INFO, __file__, 1, "n=%d", (5,), None)
        hygiene.mask_record(plain)
        assert plain.args == (5,)
        secret = logging.LogRecord(
            "x", logging.INFO, __file__, 1, "v=%s", ("Unit-Secret-Value-77",), None
        )
        hygiene.mask_record(secret)
        assert secret.getMessage() == f"v={MASK}"
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            warnings.warn("w Unit-Secret-Value-77", DeprecationWarning, stacklevel=1)
        hygiene.mask_warning(seen[0])
        assert str(seen[0].message) == f"w {MASK}"
        assert isinstance(seen[0].message, DeprecationWarning)
    finally:
        hygiene.SESSION.redactor = None

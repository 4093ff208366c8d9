"""Masking without corrupting data, and the short-secret forms (issue 20, points 7 and 8).

Point 7: output is parsed raw and masked where it is shown; a number or a short value of
a variable named like a secret (``KEY_SIZE=9999``) is not a secret. Point 8: a secret
under 20 characters is masked in its hex, base32, upper- and lower-case, Go-escaped and
shell-quoted forms. See docs/threat-model.md (the section of issue 20)."""

from __future__ import annotations

import base64
import json
import shlex
from types import SimpleNamespace

import pytest

from conftest import Project
from pytest_irp.redact import MASK, Redactor
from pytest_irp.runners import LocalRunner
from pytest_irp.stage import StageContext

# ---- point 7 ---------------------------------------------------------------------------------


def test_short_or_numeric_values_of_secret_named_variables_are_not_secrets() -> None:
    redactor = Redactor()
    redactor.add_from_environ(
        {
            "KEY_SIZE": "9999",
            "MAX_TOKENS": "4096",
            "SECRET_PIN": "1234567890",
            "TOKEN_TTL": "3600.5",
            "API_KEY": "short7x",
            "MIRROR": "https://bot:20261208@127.0.0.1/x.git",
            "DEPLOY_KEY": "deploy-key-value-123",
        }
    )
    text = "disk_free_kb=99999999 n=4096 1234567890 ttl=3600.5 short7x 20261208"
    assert redactor.redact(text) == text
    assert redactor.redact("k=deploy-key-value-123") == f"k={MASK}"


def test_runners_give_raw_output_and_the_record_masks_it() -> None:
    """Stages parse what the command printed; the command's record (report, summary.json,
    pytest's cache) shows it masked."""
    secret = "Raw-Parse-Secret-4711"
    redactor = Redactor([secret])
    lines: list[str] = []
    result = LocalRunner(redactor).run(
        ["printf", "%s\\n", f"value={secret}", "n=99999999"], timeout=10, on_line=lines.append
    )
    assert result.stdout == f"value={secret}\nn=99999999\n"
    assert lines == [f"value={secret}", "n=99999999"]
    ctx = SimpleNamespace(redactor=redactor, commands=[])
    StageContext.record(ctx, result)  # type: ignore[arg-type]
    assert secret not in json.dumps(ctx.commands)
    assert f"value={MASK}" in ctx.commands[0]["stdout"]


def test_a_numeric_secret_named_variable_leaves_t06_green(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KEY_SIZE=9999 in the environment: the build host's disk_free_kb=99999999 stays a
    number and T06 passes (it failed with an internal error)."""
    monkeypatch.setenv("KEY_SIZE", "9999")
    result = project.run("-k", "T06")
    out = result.stdout.str()
    assert result.ret == 0, out[-3000:]
    assert "internal error" not in out
    facts = json.loads((project.path / "reports" / "summary.json").read_text())
    assert facts["exit_code"] == 0


def test_stage_values_keep_their_numbers_and_mask_their_texts() -> None:
    from pytest_irp.stage import _masked

    redactor = Redactor(["9999-long-secret-value"])
    value = {"disk": 99999999, "note": "x 9999-long-secret-value y", "list": ["a", 1.5]}
    assert _masked(value, redactor) == {"disk": 99999999, "note": f"x {MASK} y", "list": ["a", 1.5]}

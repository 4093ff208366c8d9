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
    (page,) = (project.path / "reports").glob("irp-*/index.html")
    shown = page.read_text()  # the stage's value in the report: the number, unmasked
    assert "&quot;disk_free_kb&quot;: &quot;99999999&quot;" in shown
    assert "&quot;mem_available_kb&quot;: &quot;9999999&quot;" in shown


def test_stage_values_keep_their_numbers_and_mask_their_texts() -> None:
    from pytest_irp.redact import mask_tree as _masked

    redactor = Redactor(["9999-long-secret-value"])
    value = {"disk": 99999999, "note": "x 9999-long-secret-value y", "list": ["a", 1.5]}
    assert _masked(value, redactor) == {"disk": 99999999, "note": f"x {MASK} y", "list": ["a", 1.5]}


# ---- point 8 ---------------------------------------------------------------------------------


def _go_json(value: str) -> str:
    """encoding/json's escaping: as JSON, with <, > and & as \\u003c, \\u003e, \\u0026."""
    body = json.dumps(value, ensure_ascii=False)[1:-1]
    return body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


SHORT_FORMS = {
    "hex": lambda s: s.encode().hex(),
    "HEX": lambda s: s.encode().hex().upper(),
    "base32": lambda s: base64.b32encode(s.encode()).decode(),
    "base32 unpadded": lambda s: base64.b32encode(s.encode()).decode().rstrip("="),
    "upper case": lambda s: s.upper(),
    "lower case": lambda s: s.lower(),
    "Go \\u0026": _go_json,
    "shlex.quote": shlex.quote,
    "double-quoted": lambda s: '"' + "".join("\\" + c if c in '\\"$`' else c for c in s) + '"',
    "printf %q": lambda s: "".join("\\" + c if c in "\\'\"$`!&|;<>(){}[]*?#~ \t" else c for c in s),
    "split by \\n": lambda s: s[:5] + "\n" + s[5:],
    "split by \\r\\n": lambda s: s[:11] + "\r\n" + s[11:],
}
SHORT_SECRETS = ["Sh0rt-Pw&<x>", "o'neil $HOME `x`", "tok_AbCdEf123", "pässwörd-ß!!", "12345678abc"]


@pytest.mark.parametrize("secret", SHORT_SECRETS)
@pytest.mark.parametrize("form", sorted(SHORT_FORMS))
def test_a_short_secret_is_masked_in_every_listed_form(secret: str, form: str) -> None:
    assert 8 <= len(secret) < 20
    shown = SHORT_FORMS[form](secret)
    redactor = Redactor([secret])
    out = redactor.redact(f"before [{shown}] after")
    assert shown not in out
    assert out.startswith("before [")
    assert out.endswith("] after")


def test_short_secret_forms_leave_other_text_alone() -> None:
    redactor = Redactor(["tok_AbCdEf123"])
    text = "TOK_ABCDEF12 746f6b5f41 tok_AbCdEf12\n4x KRXWWX2BMJBWIRLGGEZDG"
    assert redactor.redact(text) == text

"""Readable text for the report: commands, causes and command output without internals.

Pure functions. nix's ``--log-format internal-json`` lines (``@nix {...}``) are decoded
with :func:`pytest_irp.nix.parse_log_line`; the remote scripts' ``@@`` markers become
``key: value`` lines or disappear (``@@IRP-...``); JSON output is pretty-printed.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence

_SCRIPT = re.compile(r"^<pytest_irp/remote/([\w.-]+)\.sh>$")
# `sh -c '<pytest_irp/remote/source.sh>' irp-source ...` as remote.display() shows it
_QUOTED_SCRIPT = re.compile(r"`sh -c '<pytest_irp/remote/([\w.-]+)\.sh>' irp-[\w-]+[^`]*`")
_STAGE_PREFIX = re.compile(r"^(?:BLOCKED by )?stage '([\w-]+)' \((T\d\d)\) failed: ")
_SHA = re.compile(r"\b[0-9a-f]{40}\b")
_LONG_JSON_LINE = 160


def command_text(argv: Sequence[str]) -> str:
    """An argument list as a shell line; the remote scripts by their file name."""
    argv = list(argv)
    if len(argv) > 3 and argv[:2] == ["sh", "-c"]:
        match = _SCRIPT.match(argv[2])
        if match:
            return f"{match.group(1)}.sh " + shlex.join(argv[4:])
    return shlex.join(argv)


def plain_cause(cause: str) -> str:
    """A cause in plain words: no ``stage 'x' (T06) failed:`` prefix, the remote script by
    its name instead of the internal ``sh -c '<...>' irp-x ... <SHA>`` line."""
    text = _STAGE_PREFIX.sub("", cause.strip())
    text = _QUOTED_SCRIPT.sub(lambda m: f"the {m.group(1)} step", text)
    return _SHA.sub(lambda m: m.group(0)[:12], text)


def blocking_stage(cause: str) -> tuple[str, str] | None:
    """``(stage, criterion)`` named by a BLOCKED or stage-failure cause, or None."""
    match = _STAGE_PREFIX.match(cause.strip())
    return (match.group(1), match.group(2)) if match else None


def _decode_nix(line: str) -> str | None:
    """A decoded ``@nix`` line (None: nothing a reader needs)."""
    from ..nix import parse_log_line

    event = parse_log_line(line)
    if event.kind in ("text", "log", "error", "build") and event.text:
        return event.text
    if event.kind == "phase":
        return f"[phase] {event.text}"
    return None


def _pretty_json(text: str) -> str | None:
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        data = json.loads(stripped)
    except ValueError:
        return None
    if not isinstance(data, dict | list):
        return None
    return json.dumps(data, indent=2, ensure_ascii=False)


def clean_output(text: str) -> str:
    """Command output for a reader: internal-json decoded, markers gone, JSON indented."""
    whole = _pretty_json(text)
    if whole is not None:
        return whole
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("@nix "):
            decoded = _decode_nix(line)
            if decoded is not None:
                lines.append(decoded)
            continue
        if line.startswith("@@"):
            if line.startswith("@@IRP-"):
                continue
            key, _, rest = line[2:].partition(" ")
            lines.append(f"{key}: {rest}" if rest else f"{key}:")
            continue
        if len(line) > _LONG_JSON_LINE:
            pretty = _pretty_json(line)
            if pretty is not None:
                lines.append(pretty)
                continue
        lines.append(line)
    return "\n".join(lines)


def duration_text(seconds: float) -> str:
    """One duration format for the whole report: 0.03 s, 4.2 s, 3 min 05 s."""
    if seconds < 10:
        return f"{seconds:.2f} s" if seconds < 1 else f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"

"""Regenerate the settings reference in docs/settings.md from pytest_irp.settings.SETTINGS
(between the BEGIN/END SETTINGS markers). Run: python scripts/settings_table.py
(``--check``: exit 1 when the table is out of date; testing/test_docs.py runs it)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from pytest_irp.settings import SETTINGS

DOC = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


def table() -> str:
    rows = [
        "| setting | CLI | env | type | default | example | description |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        default = s.default
        if isinstance(default, tuple):
            default = " ".join(default) if default else "(none)"
        if default is None:
            default = "(none)"
        cli = f"`{s.option}`" if s.cli else "(never on argv)"
        rows.append(
            f"| `{s.name}` | {cli} | `{s.env}` | {s.type_name} | `{default}` | "
            f"`{s.example}` | {s.help.replace('|', '/')} |"
        )
    return "\n".join(rows)


def updated(text: str) -> str:
    return re.sub(
        r"(<!-- BEGIN SETTINGS -->\n).*?(<!-- END SETTINGS -->)",
        lambda m: m.group(1) + table() + "\n" + m.group(2),
        text,
        flags=re.S,
    )


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    new = updated(text)
    if "--check" in argv:
        if new != text:
            print(f"{DOC} is out of date: run python scripts/settings_table.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

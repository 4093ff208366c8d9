"""Regenerate the settings reference in README.md from pytest_irp.settings.SETTINGS
(between the BEGIN/END SETTINGS markers). Run: python scripts/settings_table.py"""

from __future__ import annotations

import re
from pathlib import Path

from pytest_irp.settings import SETTINGS

README = Path(__file__).resolve().parent.parent / "README.md"


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


def main() -> None:
    text = README.read_text(encoding="utf-8")
    new = re.sub(
        r"(<!-- BEGIN SETTINGS -->\n).*?(<!-- END SETTINGS -->)",
        lambda m: m.group(1) + table() + "\n" + m.group(2),
        text,
        flags=re.S,
    )
    README.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main()

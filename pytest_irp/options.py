"""The command-line options of pytest-irp: one per setting of the settings table that has
one. Boolean settings take ``--irp-X``, ``--irp-X=true|false`` and ``--irp-no-X``."""

from __future__ import annotations

import argparse
import shlex
from argparse import SUPPRESS
from pathlib import Path
from typing import Any

import pytest

from .setting_parsers import _bool as parse_bool
from .settings import BOOL_FLAGS, SETTINGS


def add_options(parser: pytest.Parser) -> None:
    """One option per setting of the settings table that has one."""
    group = parser.getgroup("irp", "pytest-irp (pipeline validation; see README for all settings)")
    group.addoption(
        "--irp-config",
        dest="irp_config",
        metavar="FILE",
        default=None,
        help="TOML file with a [tool.irp] table (or bare keys); env IRP_CONFIG.",
    )
    for s in SETTINGS:
        if not s.cli:
            continue
        text = (
            f"{s.help} [{s.type_name}; env {s.env}; "
            f"default {show_default(s.default)}; e.g. {s.example}]"
        )
        dest = "irp_" + s.name
        if s.name in BOOL_FLAGS:
            group.addoption(
                s.option,
                dest=dest,
                action=BoolOption,
                nargs="?",
                default=None,
                metavar="true|false",
                help=f"{text} Off: {negative(s.option)}.",
            )
            group.addoption(
                negative(s.option), dest=dest, action="store_const", const=False, help=SUPPRESS
            )
        elif s.multiple:
            group.addoption(
                s.option,
                dest=dest,
                action="append",
                default=None,
                metavar=s.name.upper(),
                help=text,
            )
        else:
            group.addoption(s.option, dest=dest, default=None, metavar=s.name.upper(), help=text)


def negative(option: str) -> str:
    return "--irp-no-" + option.removeprefix("--irp-")


class BoolOption(argparse.Action):
    """``--irp-X`` (true), ``--irp-X=true|false`` (also yes/no, on/off, 1/0) and, beside it,
    ``--irp-no-X``. A value that is no boolean word after a space (``--irp-plan tests``) is
    not the option's: it goes back to pytest's test paths."""

    def __call__(
        self, parser: Any, namespace: Any, value: Any, option_string: str | None = None
    ) -> None:
        if value is None:
            setattr(namespace, self.dest, True)
            return
        try:
            setattr(namespace, self.dest, parse_bool(value))
        except ValueError:
            if not _test_path(str(value)):
                raise pytest.UsageError(
                    f"pytest-irp: {option_string} {value!r}: expected true or false (or "
                    f"{option_string} alone, or {negative(str(option_string))})"
                ) from None
            paths = list(getattr(namespace, FILE_OR_DIR, None) or [])
            setattr(namespace, FILE_OR_DIR, [*paths, value])
            setattr(namespace, self.dest, True)


FILE_OR_DIR = "file_or_dir"  # pytest's dest of its positional test paths


def _test_path(value: str) -> bool:
    """A test path pytest would take (``--irp-plan tests``), not a mistyped boolean."""
    return "/" in value or "::" in value or value.endswith(".py") or Path(value).exists()


def show_default(value: Any) -> str:
    if isinstance(value, tuple):
        return shlex.join(value) if value else "none"
    return "none" if value is None else str(value)

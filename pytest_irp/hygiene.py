"""What the session prints besides the run's own reports, masked from its start: pytest's
``--debug`` log, pytest-metadata's table (the ``-v`` header, ``--html``, JUnit properties),
every log record (live logs, ``--log-file``, captured logs) and every warning (the
warnings summary).

A validation run (criteria in the test paths, or pytest-irp configured) masks with the
secrets of the environment from ``pytest_cmdline_main`` on, before any plugin's
``pytest_configure``; from activation on with the run's redactor (configured secrets and
everything registered while the run goes). Other test runs are left as they are.
"""

from __future__ import annotations

import json
import linecache
import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .redact import MASK, Redactor, env_secret, secret_name


class _Session:
    """The redactor the session's outputs use (None: not a validation run)."""

    redactor: Redactor | None = None
    factory: Callable[..., logging.LogRecord] | None = None  # the one we replaced


SESSION = _Session()


def redact(text: str) -> str:
    redactor = SESSION.redactor
    return text if redactor is None or not text else redactor.redact(text)


def start(config: pytest.Config, redactor: Redactor | None = None) -> None:
    """From now on the session's outputs are masked: by ``redactor`` (the run's), or by
    one made from the environment's secrets."""
    if redactor is None:
        if SESSION.redactor is not None:
            return
        redactor = Redactor()
        redactor.add_from_environ(os.environ)
    _register_metadata_inputs(config, redactor)
    SESSION.redactor = redactor
    if SESSION.factory is None:
        previous = logging.getLogRecordFactory()
        SESSION.factory = previous

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            mask_record(record)
            return record

        logging.setLogRecordFactory(factory)
    _mask_debug_log(config)
    mask_metadata(config)


def stop() -> None:
    if SESSION.factory is not None:
        logging.setLogRecordFactory(SESSION.factory)
    SESSION.factory = None
    SESSION.redactor = None


def _mask_debug_log(config: pytest.Config) -> None:
    """--debug writes every hook's arguments and results (pytest-metadata's table too)."""
    root = config.trace.root
    writer = getattr(root, "_writer", None)
    if writer is None or getattr(writer, "irp_masked", False):
        return

    def masked(text: str) -> None:
        writer(redact(text))

    masked.irp_masked = True  # type: ignore[attr-defined]
    root.setwriter(masked)


# --------------------------------------------------------------------------- records


def mask_record(record: logging.LogRecord) -> None:
    """The record's message, traceback and stack masked; untouched when nothing is
    secret (``caplog`` still sees its ``args``)."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it itself, unmasked parts aside
        message = str(record.msg)
    shown = redact(message)
    if shown != message:
        record.msg, record.args = shown, None
    if record.exc_info and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        if redact(text) != text:
            record.exc_text = redact(text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def mask_warning(message: warnings.WarningMessage) -> None:
    """A recorded warning's text and the source line shown with it."""
    if SESSION.redactor is None:
        return
    text = str(message.message)
    shown = redact(text)
    if shown != text:
        try:
            message.message = message.category(shown)
        except Exception:  # a category with another constructor
            message.message = UserWarning(shown)
    line = message.line
    if line is None:
        line = linecache.getline(message.filename, message.lineno)
    if line and redact(line) != line:
        message.line = redact(line)


# --------------------------------------------------------------------------- pytest-metadata


def mask_metadata(config: pytest.Config) -> None:
    """pytest-metadata's table, in place: a value under a secret-looking key (``--metadata
    DEPLOY_TOKEN ...``) as a whole, every other text through the redactor (a CI variable
    like Jenkins' ``GIT_URL=https://bot:PASSWORD@host/x.git``)."""
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return
    table = config.stash.get(metadata_key, None)
    if isinstance(table, dict):
        _mask_table(table)


def _register_metadata_inputs(config: pytest.Config, redactor: Redactor) -> None:
    """Values under secret-looking keys of ``--metadata``, ``--metadata-from-json`` and
    ``--metadata-from-json-file``, registered before pytest-metadata reads them: the
    --debug log shows its hook's arguments before any plugin can mask the table."""
    pairs: list[tuple[Any, Any]] = list(config.getoption("metadata", None) or [])
    for source in (config.getoption("metadata_from_json", None), _read(config)):
        try:
            data = json.loads(source) if source else {}
        except ValueError:
            continue
        if isinstance(data, dict):
            pairs += list(data.items())
    for key, value in pairs:
        if isinstance(value, str) and secret_name(str(key)) and env_secret(value):
            redactor.add(value)


def _read(config: pytest.Config) -> str | None:
    path = config.getoption("metadata_from_json_file", None)
    try:
        return Path(path).read_text(encoding="utf-8") if path else None
    except OSError:
        return None


def _mask_table(table: dict[Any, Any]) -> None:
    for key, value in list(table.items()):
        if isinstance(value, dict):
            _mask_table(value)
        elif isinstance(value, str):
            table[key] = MASK if secret_name(str(key)) and value.strip() else redact(value)
        elif isinstance(value, list):
            table[key] = [redact(v) if isinstance(v, str) else v for v in value]

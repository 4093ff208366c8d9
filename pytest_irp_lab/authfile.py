"""The lab's one registry-authfile writer: a containers-auth.json (skopeo ``--authfile``)
in a private temporary file, mode 0600, removed when the block ends. The credential is
never on a command line."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def authfile_json(hostport: str, user: str, password: str) -> str:
    """containers-auth.json content for one registry (keep it 0600, remove it after)."""
    auth = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return json.dumps({"auths": {hostport: {"auth": auth}}})


@contextlib.contextmanager
def written_authfile(
    hostport: str, user: str, password: str, directory: Path | None = None
) -> Iterator[Path]:
    """A 0600 authfile holding ``user``/``password`` for ``hostport``; removed on exit."""
    fd, name = tempfile.mkstemp(prefix="irp-auth-", suffix=".json", dir=directory)
    path = Path(name)
    try:
        os.fchmod(fd, 0o600)  # mkstemp's mode already; said again for the reader
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(authfile_json(hostport, user, password))
        yield path
    finally:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def temporary_authfile(
    hostport: str, user: str, password_file: Path, directory: Path | None = None
) -> Iterator[Path]:
    """:func:`written_authfile` with the password read from ``password_file``."""
    password = password_file.read_text(encoding="utf-8").strip()
    with written_authfile(hostport, user, password, directory) as path:
        yield path

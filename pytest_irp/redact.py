"""One registry of secrets, applied wherever output is captured.

Everything that leaves the process (terminal, HTML, JUnit XML, summary.json, saved logs)
passes through :meth:`Redactor.redact`. Secrets come from the settings, from values
obtained at run time (registry tokens, generated session secrets) and from environment
variables whose names say they are secret.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable, Mapping

MASK = "***"
_SECRET_NAME = re.compile(r"TOKEN|PASSWORD|SECRET|PASSWD|API_KEY", re.IGNORECASE)
# IHP prints a generated key as `IHP_SESSION_SECRET=<key>`: the whole value is secret.
_SESSION_LINE = re.compile(r"(IHP_SESSION_SECRET\s*[=:]\s*)(\S+)")
_MIN_LEN = 4  # shorter values would mask innocent text everywhere


class Redactor:
    """Thread-safe set of secret strings and the masking of text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Register a secret (and its base64 and basic-auth forms)."""
        if not secret or len(secret) < _MIN_LEN:
            return
        forms = {secret, base64.b64encode(secret.encode()).decode()}
        with self._lock:
            if forms <= self._secrets:
                return
            self._secrets |= forms
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def add_basic_auth(self, user: str, password: str) -> None:
        self.add(password)
        self.add(base64.b64encode(f"{user}:{password}".encode()).decode())

    def add_from_environ(self, environ: Mapping[str, str]) -> None:
        for name, value in environ.items():
            if _SECRET_NAME.search(name):
                self.add(value)

    def __contains__(self, text: str) -> bool:
        return self.redact(text) != text

    def redact(self, text: str) -> str:
        if not text:
            return text
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        return _SESSION_LINE.sub(lambda m: m.group(1) + MASK, text)

    def redact_argv(self, argv: Iterable[str]) -> list[str]:
        return [self.redact(a) for a in argv]

    @property
    def count(self) -> int:
        return len(self._secrets)


def find_session_secret_lines(text: str) -> list[str]:
    """Values printed as ``IHP_SESSION_SECRET=...`` (a generated key leaked into a log)."""
    return [m.group(2) for m in _SESSION_LINE.finditer(text)]

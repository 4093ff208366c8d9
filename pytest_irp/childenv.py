"""The environment of every local child process (ssh, helm, git): an allow-list.

A child gets what it needs to run (PATH, HOME, the locale, a temp dir, the ssh agent,
the kubeconfig and helm's and XDG's directories) and nothing else: never IRP_* secrets,
tokens or credentials of other tools that happen to be in this process's environment.
Values a child does need (helm's test homes) are passed explicitly as ``extra``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

ALLOWED = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TERM",
        "SSH_AUTH_SOCK",  # ssh: keys held by the user's agent
        "KUBECONFIG",  # helm (and kubectl): which cluster
        "HELM_CACHE_HOME",
        "HELM_CONFIG_HOME",
        "HELM_DATA_HOME",
        "XDG_CACHE_HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_RUNTIME_DIR",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",  # a TLS API server signed by a local CA
    }
)
_LOCALE = re.compile(r"^LC_[A-Z_]+$")


def child_env(
    extra: Mapping[str, str] | None = None, *, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The allowed variables of ``environ`` (default: this process's), plus ``extra``."""
    source = os.environ if environ is None else environ
    env = {k: v for k, v in source.items() if k in ALLOWED or _LOCALE.match(k)}
    env.update(extra or {})
    return env

"""IHP's two environments and what T10 can prove of an app's start in each (pure).

Upstream (digitallyinduced/ihp, v1.0 to v1.6.0; docs/upstream-facts.md):

- ``IHP_ENV`` is read at start with ``envOrDefault "IHP_ENV" Development``
  (ihp/IHP/FrameworkConfig.hs): unset means Development. Only ``Development`` and
  ``Production`` are accepted (ihp/IHP/EnvVar.hs); any other value stops the app.
- ``runServer`` prints ``Server started`` from Warp's ``setBeforeMainLoop`` in the
  Development branch only (ihp/IHP/Server.hs); the Production branch prints nothing at
  start. Its request logger writes one Apache-format line per request answered.
- IHP's image outputs set no ``IHP_ENV`` (flake-module.nix); its deployment guide tells
  users to set ``IHP_ENV=Production`` (Guide/deployment.markdown).

So in Production the start is proven by the app's first answer (``/healthz`` through the
cluster), not by a log line; in Development by ``Server started``. A release that does not
set ``IHP_ENV=Production`` runs Development mode in production: a finding.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple

DEVELOPMENT: Final = "Development"
PRODUCTION: Final = "Production"
DEV_START_LINE: Final = "Server started"
KEY: Final = "IHP_ENV"


class EnvSource(NamedTuple):
    """``IHP_ENV`` as the release sets it: ``value`` ("" when unset) and where from."""

    value: str
    where: str


def decode(data: Mapping[str, str] | None, key: str = KEY) -> str | None:
    """One key of a Secret's ``data`` (base64), decoded; None when absent or unreadable."""
    raw = (data or {}).get(key)
    if raw is None:
        return None
    try:
        return base64.b64decode(raw, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def release_env(
    container: Mapping[str, Any], secret_value: Callable[[str, str], str | None]
) -> EnvSource:
    """``IHP_ENV`` of the app's container as Kubernetes would set it: an ``env`` entry
    wins over ``envFrom`` (of which the last source holding the key wins).
    ``secret_value(secret, key)`` reads one key of a Secret (None when absent)."""
    for entry in container.get("env") or []:
        if entry.get("name") != KEY:
            continue
        if "value" in entry and entry["value"] is not None:
            return EnvSource(str(entry["value"]), "the container's env")
        ref = ((entry.get("valueFrom") or {}).get("secretKeyRef")) or {}
        if ref.get("name"):
            value = secret_value(str(ref["name"]), str(ref.get("key") or KEY))
            return EnvSource(value or "", f"Secret {ref['name']}")
    found = EnvSource("", "")
    for src in container.get("envFrom") or []:
        name = (src.get("secretRef") or {}).get("name")
        if name:
            value = secret_value(str(name), KEY)
            if value is not None:
                found = EnvSource(value, f"Secret {name}")
    return found


class Startup(NamedTuple):
    """T10's verdict on the app's start: ``problem`` empty when proven; ``proof`` says how."""

    problem: str
    proof: str
    note: str = ""


def judge_startup(
    env: str,
    line: str | None,
    log_problem: Callable[[str], tuple[str, str]],
    answer_problem: str,
) -> Startup:
    """The start of an app in ``env`` ("" is IHP's default, Development).

    ``line`` is the setting ``startup_line`` (None: unset); ``log_problem(line)`` judges a
    line in the pod's last log lines (``(problem, note)``); ``answer_problem`` is what was
    wrong with ``/healthz`` through the cluster ("" when it answered ok)."""
    effective = env or DEVELOPMENT
    if effective not in (DEVELOPMENT, PRODUCTION):
        return Startup(
            f"IHP_ENV={env!r}: IHP accepts only 'Development' or 'Production' "
            "(ihp/IHP/EnvVar.hs) and stops at start",
            "",
        )
    if effective == PRODUCTION and (not line or line == DEV_START_LINE):
        said = (
            f"IHP prints {DEV_START_LINE!r} only in Development (ihp/IHP/Server.hs); "
            "in Production the app's first answer proves its start"
        )
        if answer_problem:
            return Startup(f"{said}, and GET /healthz through the cluster: {answer_problem}", "")
        return Startup("", f"{said}: GET /healthz through the cluster answered ok")
    expected = line or DEV_START_LINE
    problem, note = log_problem(expected)
    if problem:
        return Startup(f"{problem} (IHP_ENV is {effective})", "", note)
    return Startup("", f"{expected!r} in the pod log (IHP_ENV is {effective})", note)


def development_finding(source: EnvSource) -> tuple[str, str, str] | None:
    """(title, detail, fix) when the release does not run IHP in Production."""
    if source.value == PRODUCTION:
        return None
    if source.value:
        detail = f"IHP_ENV is {source.value!r} (from {source.where})."
    else:
        detail = (
            "The release sets no IHP_ENV: IHP then runs in Development "
            "(ihp/IHP/FrameworkConfig.hs), and IHP's image outputs set none."
        )
    return (
        "The release does not run IHP in Production",
        detail + " The environment sets static-file caching, logging and error rendering "
        "(IHP's deployment guide): Development shows error details to every visitor.",
        "Set IHP_ENV=Production in the chart's container env (or the env Secret), as "
        "IHP's deployment guide says.",
    )

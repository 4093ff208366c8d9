"""What the registry and skopeo say, parsed and judged (pure functions of the push stage,
:mod:`pytest_irp.registry`): ``WWW-Authenticate`` challenges, Gitea's version and the realm
fix for it, skopeo's refusal at a token realm, ``skopeo inspect``'s output, a registry's own
words in an error body."""

from __future__ import annotations

import json
import re
from typing import Any

_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAM = re.compile(rf'\s*({_TCHARS})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*')
_SCHEME = re.compile(rf"\s*({_TCHARS})(\s+|(?=,)|$)")
_TOKEN68 = re.compile(r"([A-Za-z0-9._~+/-]+=*)\s*(?=,|$)")


def parse_challenges(header: str) -> list[dict[str, str]]:
    """Every challenge of a ``WWW-Authenticate`` value (several headers joined with ", ",
    as HTTP clients do): ``[{"scheme": "bearer", "realm": ..., ...}, {"scheme": "basic",
    ...}]``. Gitea 1.26 sends a Bearer and a Basic challenge on every 401 from ``/v2/``."""
    challenges: list[dict[str, str]] = []
    pos = 0
    while pos < len(header):
        if header[pos] in ", \t":
            pos += 1
            continue
        param = _PARAM.match(header, pos)
        if param and challenges:
            value = param.group(2)
            value = re.sub(r"\\(.)", r"\1", value) if value is not None else param.group(3)
            challenges[-1].setdefault(param.group(1).lower(), value)
            pos = param.end()
            continue
        scheme = _SCHEME.match(header, pos)
        if not scheme:
            break  # not a challenge: stop rather than guess
        challenges.append({"scheme": scheme.group(1).lower()})
        pos = scheme.end()
        t68 = (
            _TOKEN68.match(header, pos)
            if scheme.group(2).strip(" \t") == "" and scheme.group(2)
            else None
        )
        if t68:  # "Negotiate abc==": a token68 right after the scheme, not a parameter
            challenges[-1]["token68"] = t68.group(1)
            pos = t68.end()
    return challenges


def parse_challenge(header: str) -> dict[str, str]:
    """The Bearer challenge of a ``WWW-Authenticate`` value (else the first one; else
    ``{"scheme": ""}``)."""
    found = parse_challenges(header)
    for c in found:
        if c["scheme"] == "bearer":
            return c
    return found[0] if found else {"scheme": ""}


def parse_version(text: str) -> tuple[int, int] | None:
    """``1.26.0`` / ``1.21.11+dev`` -> (1, 26); None when it is no version."""
    match = re.match(r"\s*v?(\d+)\.(\d+)", text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def realm_fix(version: str | None, hostport: str) -> str:
    """What to change in Gitea for the version it reports (Gitea's source:
    routers/api/packages/container/container.go builds the realm; up to 1.21 from
    ``setting.AppURL``, from 1.22 from ``httplib.GuessCurrentHostURL``, modules/httplib/url.go;
    ``PUBLIC_URL_DETECTION`` in modules/setting/server.go)."""
    root = f"ROOT_URL = http://{hostport}/ in app.ini [server] (with the port) and restart Gitea"
    parsed = parse_version(version or "")
    if parsed is None:
        return (
            f"Set {root}. Gitea did not report its version (GET /api/v1/version); from "
            "1.22 a reverse proxy that sends X-Forwarded-Proto and the client's Host "
            "header (with the port) also fixes the realm, and from 1.24 "
            "PUBLIC_URL_DETECTION = auto."
        )
    if parsed < (1, 22):
        return f"Set {root}: Gitea {version} builds the realm from ROOT_URL only."
    text = (
        f"Set {root}, or have the reverse proxy in front of Gitea pass the client's Host "
        "header (with the port) and X-Forwarded-Proto: Gitea "
        f"{version} builds the realm from ROOT_URL unless the request carries "
        "X-Forwarded-Proto, then from the Host header."
    )
    if parsed >= (1, 24):
        text += (
            " Or set PUBLIC_URL_DETECTION = auto in app.ini [server] (the realm then "
            "follows the request's Host; the default from 1.26): this Gitea runs with "
            "legacy or never."
        )
    return text


def first_line(text: str, limit: int = 160) -> str:
    """A registry's own words from a response body, shortened: the codes and messages of a
    registry error document (``{"errors": [{"code": ..., "message": ...}]}``, what Gitea
    1.26 answers a wrong password at /v2/token), else the first non-empty line."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("errors"), list):
        words = [
            f"{e.get('code', '')}" + (f": {e['message']}" if e.get("message") else "")
            for e in data["errors"]
            if isinstance(e, dict)
        ]
        if any(words):
            return "; ".join(w for w in words if w)[:limit]
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:limit]
    return ""


def realm_refusal(stderr: str, realm: str) -> str | None:
    """skopeo's words when it could not reach the token realm (``Get "REALM?...": dial tcp
    HOST:PORT: connect: connection refused``), shortened; None when that is not the error."""
    match = re.search(
        r'Get \\?"(?P<url>[^"\\]+)\\?"?: (?P<why>dial tcp [^"\n]*?'
        r"(?:connection refused|no route to host|i/o timeout))",
        stderr,
    )
    if not match or not match.group("url").startswith(realm):
        return None
    return f"skopeo asked {realm} for a token: {match.group('why')}"


def tag_problem(tag: str, registry_tags: list[str], repository: str) -> str:
    """T07's "visible in the registry": the tag is in the registry's own tags/list."""
    if tag in registry_tags:
        return ""
    return (
        f"tag {tag} is not listed in {repository} after the push (tags: "
        f"{', '.join(registry_tags[:10]) or 'none'})"
    )


def digest_problem(pushed: str, served: str | None, tag: str) -> str:
    """T07's digest: skopeo reported one (its digestfile) and the registry serves that one
    for the tag (``Docker-Content-Digest`` of ``HEAD /v2/<name>/manifests/<tag>``)."""
    if not pushed.startswith("sha256:"):
        return f"skopeo did not report a digest for {tag} (digestfile: {pushed!r})"
    if served != pushed:
        return f"the registry serves {served} for {tag}, but skopeo pushed {pushed}"
    return ""


def inspect_facts(text: str) -> dict[str, Any]:
    """What ``skopeo inspect`` printed (JSON with ``Digest``, ``RepoTags``), judged."""
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return {
            "ok": False,
            "digest": "",
            "tags": [],
            "error": (text.strip().splitlines() or ["skopeo inspect printed nothing"])[-1],
        }
    return {
        "ok": True,
        "digest": str(data.get("Digest") or ""),
        "tags": [str(t) for t in data.get("RepoTags") or []],
        "error": "",
    }


def _block(text: str, marker: str) -> str:
    """The lines between ``MARKER-begin`` and ``MARKER-end``."""
    lines = text.splitlines()
    try:
        start = lines.index(marker + "-begin") + 1
        end = lines.index(marker + "-end", start)
    except ValueError:
        return ""
    return "\n".join(lines[start:end])

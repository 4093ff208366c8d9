"""The preflight's judges (pure): recorded facts of one check (exit codes, outputs, HTTP
statuses and headers, access reviews) in, a verdict out: a return value for a precondition
that holds, :class:`~pytest_irp.preflight.Failed` with the cause and its fix otherwise.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from typing import Any

from .preflight import Failed, non_interactive
from .registry import (
    first_line,
    parse_challenge,
    realm_problem,
)
from .runners import SSH_CONNECTION_ERROR, CommandResult


def judge_ssh(result: CommandResult, setting: str) -> None:
    """A command that ssh could not even start on the host."""
    if result.ok:
        return
    if result.rc == SSH_CONNECTION_ERROR or result.timed_out:
        raise Failed(
            f"{result.host} is not reachable over ssh: {_last(result)}",
            f"check the setting '{setting}' ({result.host}): an alias or host name "
            f"known to ssh (ssh_config), the key authorised, the host up",
        )


def judge_skopeo(result: CommandResult, skopeo: Sequence[str]) -> str:
    """skopeo's version, or Failed."""
    judge_ssh(result, "host")
    match = re.search(r"skopeo version (\S+)", result.stdout)
    if result.ok and match:
        return match.group(1)
    raise Failed(
        f"skopeo is not usable on the build host {result.host}: `{' '.join(skopeo)} "
        f"--version` exited {result.rc}: {_last(result)}",
        "install skopeo on the build host or set 'skopeo' to its path",
    )


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


HOOKONLY_REJECTED = ((4, 0, 0), (4, 1, 0))  # helm [4.0.0, 4.1.0): pkg/cmd/flags.go


def judge_helm(
    result: CommandResult, helm: Sequence[str], *, wait_args: Sequence[str], release_selected: bool
) -> str:
    """helm's version, or Failed: missing (decides the first gated stage), or a helm 4.0.x
    that rejects the ``--wait=hookOnly`` the release would pass (decides the release)."""
    version = parse_version(result.stdout) if result.ok else None
    if version is None:
        raise Failed(
            f"helm is not usable here: `{' '.join(helm)} version --short` exited "
            f"{result.rc}: {_last(result) or 'no version printed'}",
            "install helm 3 or helm >= 4.1.0, or set 'helm' to its path",
        )
    low, high = HOOKONLY_REJECTED
    if release_selected and "--wait=hookOnly" in wait_args and low <= version < high:
        raise Failed(
            f'helm {result.stdout.strip()} rejects --wait=hookOnly ("invalid wait '
            f'input"; helm 4.0.0-4.0.5 accept only watcher and legacy), which the '
            f"release passes to wait for hooks only",
            "use helm >= 4.1.0 or helm 3 (setting 'helm')",
            stage="release",
        )
    return result.stdout.strip()


def judge_challenge(
    status: int, headers: Sequence[str], hostport: str, plain: bool
) -> tuple[str, str]:
    """(realm, realm problem or '') from the anonymous ``GET /v2/``; Failed when the answer
    is not a registry's."""
    if status == 200:
        return "", ""
    bearer = [parse_challenge(h) for h in headers if h.strip().lower().startswith("bearer")]
    if status == 401 and bearer:
        realm = bearer[0].get("realm", "")
        return realm, realm_problem(realm, hostport, plain) or ""
    if status == 401:
        return "", ""
    raise Failed(
        f"{hostport} does not answer like a container registry: GET /v2/ gave HTTP {status}",
        "check the setting 'registry' (HOST:PORT/OWNER/NAME) and 'registry_plain_http'",
    )


def judge_token(status: int, body: str, user: str, hostport: str) -> str:
    """The token from ``GET /v2/token`` (basic auth), or Failed naming the credentials."""
    if status in (401, 403):
        said = first_line(body)  # the registry's own words (Gitea 1.26: UNAUTHORIZED)
        raise Failed(
            f"registry {hostport} rejected the credentials of user {user!r} (HTTP "
            f"{status} from /v2/token{': ' + repr(said) if said else ''})",
            "check registry_user and the password (IRP_REGISTRY_PASSWORD or "
            "registry_password_file)",
        )
    if status != 200:
        raise Failed(
            f"registry {hostport}: /v2/token answered HTTP {status}",
            "check the registry's token endpoint (Gitea: [packages] ENABLED)",
        )
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    token = (data.get("token") or data.get("access_token")) if isinstance(data, dict) else None
    if not token:
        raise Failed(
            f"registry {hostport}: /v2/token returned no token",
            "check the registry's token endpoint",
        )
    return str(token)


def token_access(token: str) -> list[dict[str, Any]] | None:
    """The ``access`` claim of a JWT bearer token (read, not verified: only what the server
    says it granted), or None when the token names no access (Gitea's tokens do not: it
    checks write access when the push comes)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    access = payload.get("access") if isinstance(payload, dict) else None
    if not isinstance(access, list):
        return None
    return [a for a in access if isinstance(a, dict)]


def judge_push_scope(access: list[dict[str, Any]] | None, path: str, user: str) -> str:
    """A note on the push scope; Failed when the token names its access without push."""
    if access is None:
        return (
            "push scope: the token names no access (Gitea ignores the requested scope "
            "and checks write access at push time)"
        )
    for entry in access:
        actions = entry.get("actions") or []
        if (
            entry.get("type") == "repository"
            and entry.get("name") == path
            and ("push" in actions or "*" in actions)
        ):
            return f"push scope granted on {path}"
    granted = (
        "; ".join(
            f"{a.get('name')}: {','.join(a.get('actions') or []) or 'nothing'}" for a in access
        )
        or "nothing"
    )
    raise Failed(
        f"the registry's token for user {user!r} grants no push on {path} (granted: {granted})",
        f"give {user!r} write access to {path.split('/')[0]}'s packages, or use a "
        f"user that has it (registry_user)",
    )


def judge_access(
    reviews: Sequence[tuple[str, str, str, str, bool, bool]], namespace: str, context: str
) -> None:
    """Access reviews (verb, group, resource, subresource, namespaced, allowed): Failed
    naming every denied one."""
    denied = [
        f"{verb} {resource}{'/' + sub if sub else ''}" + (f" in {namespace}" if namespaced else "")
        for verb, _, resource, sub, namespaced, allowed in reviews
        if not allowed
    ]
    if denied:
        raise Failed(
            f"the user of kube context {context!r} may not: {', '.join(denied)} "
            f"(SelfSubjectAccessReview denied), which the release needs",
            f"bind a Role with these verbs in namespace {namespace} to that user "
            f"(e.g. a RoleBinding to the 'admin' ClusterRole), or use another "
            f"context (kube_context)",
        )


def judge_sudo(result: CommandResult, prefix: Sequence[str]) -> None:
    judge_ssh(result, "node_host")
    if result.ok:
        return
    text = (result.stderr + result.stdout).lower()
    if "password" in text:
        raise Failed(
            f"`{' '.join(non_interactive(prefix))} true` on {result.host} asks for a "
            f"password: the node's commands ({' '.join(prefix)} ...) cannot run "
            f"unattended",
            "allow the node user passwordless sudo for the "
            "commands the suite runs (a NOPASSWD rule in /etc/sudoers.d), or log "
            "in as a user that needs no prefix",
        )
    raise Failed(
        f"`{' '.join(non_interactive(prefix))} true` on {result.host} failed "
        f"(exit {result.rc}): {_last(result)}",
        "check the node's command prefix (node_sudo / crictl)",
    )


def judge_readable(result: CommandResult, path: str) -> None:
    judge_ssh(result, "node_host")
    state = ""
    for line in result.stdout.splitlines():
        if line.startswith("state="):
            state = line[len("state=") :].strip()
    if result.ok and state == "readable":
        return
    if state == "missing":
        raise Failed(
            f"{path} does not exist on the node {result.host}",
            "configure the registry mirror in k3s's registries.yaml (workplan T09) "
            "or set 'registries_yaml'",
        )
    if state == "unreadable":
        raise Failed(
            f"{path} on the node {result.host} is not readable by the ssh user",
            "give the node command prefix (sudo) or make the file readable",
        )
    raise Failed(
        f"cannot tell whether {path} is readable on {result.host}: exit "
        f"{result.rc}: {_last(result)}",
        "check the node's command prefix",
    )


def judge_resolve(result: CommandResult, host: str, url: str) -> None:
    if result.ok and result.stdout.strip():
        return
    if result.rc == 127:
        raise Failed(
            f"cannot resolve {host}: getent is not available here", "install libc-bin (getent)"
        )
    raise Failed(
        f"the base URL's host {host} does not resolve here ({url}; getent ahosts "
        f"exited {result.rc})",
        "check base_url, or the host's DNS record (or /etc/hosts)",
    )


def _last(result: CommandResult) -> str:
    return " ".join(result.tail(3).split())[:300]

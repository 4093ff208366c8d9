"""Preflight: the cheap, read-only checks of what each selected stage will need, decided in
seconds instead of after a long build.

This module is pure: the table of preconditions, the commands and requests each one makes
(for plans and for the runner in :mod:`pytest_irp.preflight_run`), and the judges that turn
recorded facts (exit codes, outputs, HTTP statuses, access reviews) into a verdict with its
cause and fix. Nothing here runs a command or opens a connection.

A failed precondition decides the stage it gates at once: FAIL for that stage's criterion,
BLOCKED for what needs it (see :mod:`pytest_irp.outcomes`); stages it does not gate go on.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import remote
from .registry import (
    REALM_FIX,
    ImageRef,
    first_line,
    parse_challenge,
    realm_problem,
    token_url,
)
from .runners import SSH_CONNECTION_ERROR, CommandResult
from .settings import Resolved
from .stage import Step

LONG_STAGES = frozenset({"build", "flake", "spec"})  # a run selecting one gets a preflight
PARALLEL_STAGES = frozenset({"source"})  # stages that run while the preflight runs
CHECK_TIMEOUT = 15.0  # seconds for one command or request of a check


@dataclass(frozen=True)
class Precondition:
    """A cheap check of what the stages in ``gates`` will need. A failure decides the first
    of them that the run selects (unless the judge names another one of them)."""

    name: str
    title: str
    gates: tuple[str, ...]


PRECONDITIONS: tuple[Precondition, ...] = (
    Precondition("build-host", "build host: nix, free disk and memory, GHC archive, no "
                 "other build (the pre-build checks)", ("prebuild",)),
    Precondition("skopeo", "skopeo present on the build host", ("push",)),
    Precondition("registry", "registry reachable, its token realm, credentials accepted by "
                 "/v2/token, push scope", ("push",)),
    Precondition("helm", "helm present, its version usable by the release", ("chart",
                                                                             "release")),
    Precondition("kube", "kube context, API reachable, access of the release's user "
                 "(SelfSubjectAccessReview), namespace present or creatable", ("release",)),
    Precondition("node", "node reachable over ssh, its command prefix (sudo -n) "
                 "non-interactive, registries.yaml readable", ("mirror", "pull")),
    Precondition("base-url", "base URL's host name resolves (DNS only, no connection)",
                 ("live",)),
)
BY_NAME = {p.name: p for p in PRECONDITIONS}


@dataclass
class Verdict:
    """The outcome of one precondition: ``ok``, or the ``cause`` and ``fix`` of its failure
    and the ``stage`` it decides. ``notes`` are facts worth showing (versions, realm)."""

    name: str
    stage: str
    ok: bool
    cause: str = ""
    fix: str = ""
    notes: list[str] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Any] = field(default_factory=list)
    duration: float = 0.0


class Failed(Exception):
    """A precondition does not hold: ``cause`` (one paragraph) and ``fix``; ``stage`` when
    the judge knows which of the gated stages it decides."""

    def __init__(self, cause: str, fix: str = "", stage: str = "") -> None:
        super().__init__(cause)
        self.cause = cause
        self.fix = fix
        self.stage = stage


# --------------------------------------------------------------------------- selection


def wanted(stages: Sequence[str], *, forced: bool = False) -> bool:
    """Whether a run needing ``stages`` gets a preflight: when one of them is long, or when
    asked for (``--irp-preflight``)."""
    return forced or bool(LONG_STAGES & set(stages))


def selected(stages: Sequence[str]) -> list[tuple[Precondition, str]]:
    """The preconditions of these stages, each with the first gated stage the run selects."""
    chosen = []
    for pre in PRECONDITIONS:
        gated = [s for s in stages if s in pre.gates]
        if gated:
            chosen.append((pre, gated[0]))
    return chosen


# --------------------------------------------------------------------------- commands


def prebuild_argv(s: Resolved) -> list[str]:
    """The pre-build checklist, the command the prebuild stage runs."""
    from .stages import prebuild

    return list(prebuild.commands(s, "").argv)


def skopeo_argv(s: Resolved) -> list[str]:
    return [*s["skopeo"], "--version"]


def helm_argv(s: Resolved) -> list[str]:
    return [*s["helm"], "version", "--short"]


def node_prefix(s: Resolved) -> tuple[str, ...]:
    """The command prefix of privileged commands on the node: the ``node_sudo`` setting when
    there is one (an argument list, or true for ``sudo``), else the ``sudo`` that the
    crictl setting starts with, else none."""
    given = s.get("node_sudo")
    if isinstance(given, bool):
        return ("sudo",) if given else ()
    if isinstance(given, str) and given.strip():
        return tuple(given.split())
    if isinstance(given, (tuple, list)) and given:
        return tuple(str(a) for a in given)
    crictl = tuple(s["crictl"])
    return ("sudo",) if crictl[:1] == ("sudo",) else ()


def non_interactive(prefix: Sequence[str]) -> list[str]:
    """The prefix with sudo's ``-n`` (fail instead of asking for a password)."""
    argv = list(prefix)
    if argv[:1] == ["sudo"] and "-n" not in argv:
        argv.insert(1, "-n")
    return argv


def sudo_argv(prefix: Sequence[str]) -> list[str] | None:
    """``sudo -n true`` (None without a prefix: nothing to check)."""
    return [*non_interactive(prefix), "true"] if prefix else None


def readable_argv(prefix: Sequence[str], path: str) -> list[str]:
    return [*non_interactive(prefix), *remote.argv("readable", path)]


def base_url_host(url: str) -> str | None:
    """The host name of the base URL to resolve; None for an IP literal (nothing to ask)."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        return host or None


def resolve_argv(host: str) -> list[str]:
    """Name resolution only (the system's resolver: /etc/hosts, DNS); nothing is contacted
    at the resolved address."""
    return ["getent", "ahosts", "--", host]


ACCESS_NEEDED: tuple[tuple[str, str, str, str], ...] = (
    # (verb, API group, resource, subresource) in the release's namespace
    ("get", "", "secrets", ""), ("list", "", "secrets", ""), ("create", "", "secrets", ""),
    ("update", "", "secrets", ""),
    ("get", "apps", "deployments", ""), ("list", "apps", "deployments", ""),
    ("create", "apps", "deployments", ""), ("patch", "apps", "deployments", ""),
    ("create", "", "services", ""), ("patch", "", "services", ""),
    ("list", "", "pods", ""), ("watch", "", "pods", ""), ("get", "", "pods", "log"),
)


def access_needed(namespace_present: bool | None) -> list[tuple[str, str, str, str, bool]]:
    """The access reviews of the release: (verb, group, resource, subresource, namespaced);
    creating the namespace only when it is absent (None: unknown, reading it was denied)."""
    reviews: list[tuple[str, str, str, str, bool]] = []
    if namespace_present is None:
        reviews.append(("get", "", "namespaces", "", False))
    elif not namespace_present:
        reviews.append(("create", "", "namespaces", "", False))
    reviews += [(*a, True) for a in ACCESS_NEEDED]
    return reviews


def plan_steps(s: Resolved, pre: Precondition) -> list[Step]:
    """What a precondition runs or requests (all read-only), for the plan."""
    t = min(CHECK_TIMEOUT, float(s["connect_timeout"]) + 5)
    host = s.get("host") or "<host>"
    if pre.name == "build-host":
        return [Step(host, tuple(remote.display(prebuild_argv(s))), t,
                     "the pre-build checks (read-only)")]
    if pre.name == "skopeo":
        return [Step(host, tuple(skopeo_argv(s)), t, "skopeo present, its version")]
    if pre.name == "registry":
        ref = ImageRef.parse(s.get("registry") or "<registry-host:port>/<owner>/<name>")
        plain = bool(s["registry_plain_http"])
        return [Step("local", ("GET", f"{ref.base_url(plain)}/v2/"), t,
                     "reachable; its challenge and token realm (anonymous)"),
                Step("local", ("GET", token_url(ref, plain)), t,
                     "credentials accepted (basic auth: registry_user); push scope in the "
                     "token when it names one")]
    if pre.name == "helm":
        return [Step("local", tuple(helm_argv(s)), t,
                     "helm present; helm 4.0.x rejects the release's --wait=hookOnly")]
    if pre.name == "kube":
        ns = s["namespace"]
        reviews = ", ".join(f"{v} {r}{'/' + sub if sub else ''}"
                            for v, _, r, sub in ACCESS_NEEDED)
        return [Step("local", ("kubernetes-api", "get", f"namespace/{ns}"), t,
                     f"kube context {s['kube_context']}: API reachable; the namespace present "
                     f"(else: may it be created?)"),
                Step("local", ("kubernetes-api", "create", "selfsubjectaccessreviews"), t,
                     f"in namespace {ns}: {reviews}; access reviews are answered, never "
                     f"stored")]
    if pre.name == "node":
        node = s["node_host"]
        prefix = node_prefix(s)
        steps = [Step(node, ("true",), t, "reachable over ssh")]
        sudo = sudo_argv(prefix)
        if sudo:
            steps.append(Step(node, tuple(sudo), t, "the command prefix works without a "
                              "password"))
        shown = [*non_interactive(prefix),
                 *remote.display(remote.argv("readable", s["registries_yaml"]))]
        steps.append(Step(node, tuple(shown), t, "registries.yaml exists and is readable"))
        return steps
    if pre.name == "base-url":
        host_name = base_url_host(s.get("base_url") or "")
        if host_name is None:
            return []
        return [Step("local", tuple(resolve_argv(host_name)), t, "the name resolves")]
    return []


# --------------------------------------------------------------------------- judges


def judge_ssh(result: CommandResult, setting: str) -> None:
    """A command that ssh could not even start on the host."""
    if result.ok:
        return
    if result.rc == SSH_CONNECTION_ERROR or result.timed_out:
        raise Failed(f"{result.host} is not reachable over ssh: {_last(result)}",
                     f"check the setting '{setting}' ({result.host}): an alias or host name "
                     f"known to ssh (ssh_config), the key authorised, the host up")


def judge_skopeo(result: CommandResult, skopeo: Sequence[str]) -> str:
    """skopeo's version, or Failed."""
    judge_ssh(result, "host")
    match = re.search(r"skopeo version (\S+)", result.stdout)
    if result.ok and match:
        return match.group(1)
    raise Failed(f"skopeo is not usable on the build host {result.host}: `{' '.join(skopeo)} "
                 f"--version` exited {result.rc}: {_last(result)}",
                 "install skopeo on the build host or set 'skopeo' to its path")


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


HOOKONLY_REJECTED = ((4, 0, 0), (4, 1, 0))  # helm [4.0.0, 4.1.0): pkg/cmd/flags.go


def judge_helm(result: CommandResult, helm: Sequence[str], *, wait_args: Sequence[str],
               release_selected: bool) -> str:
    """helm's version, or Failed: missing (decides the first gated stage), or a helm 4.0.x
    that rejects the ``--wait=hookOnly`` the release would pass (decides the release)."""
    version = parse_version(result.stdout) if result.ok else None
    if version is None:
        raise Failed(f"helm is not usable here: `{' '.join(helm)} version --short` exited "
                     f"{result.rc}: {_last(result) or 'no version printed'}",
                     "install helm 3 or helm >= 4.1.0, or set 'helm' to its path")
    low, high = HOOKONLY_REJECTED
    if release_selected and "--wait=hookOnly" in wait_args and low <= version < high:
        raise Failed(f"helm {result.stdout.strip()} rejects --wait=hookOnly (\"invalid wait "
                     f"input\"; helm 4.0.0-4.0.5 accept only watcher and legacy), which the "
                     f"release passes to wait for hooks only",
                     "use helm >= 4.1.0 or helm 3 (setting 'helm')", stage="release")
    return result.stdout.strip()


def judge_challenge(status: int, headers: Sequence[str], hostport: str, plain: bool
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
    raise Failed(f"{hostport} does not answer like a container registry: GET /v2/ gave HTTP "
                 f"{status}", "check the setting 'registry' (HOST:PORT/OWNER/NAME) and "
                 "'registry_plain_http'")


def judge_token(status: int, body: str, user: str, hostport: str) -> str:
    """The token from ``GET /v2/token`` (basic auth), or Failed naming the credentials."""
    if status in (401, 403):
        said = first_line(body)  # the registry's own words (Gitea 1.26: UNAUTHORIZED)
        raise Failed(f"registry {hostport} rejected the credentials of user {user!r} (HTTP "
                     f"{status} from /v2/token{': ' + repr(said) if said else ''})",
                     "check registry_user and the password (IRP_REGISTRY_PASSWORD or "
                     "registry_password_file)")
    if status != 200:
        raise Failed(f"registry {hostport}: /v2/token answered HTTP {status}",
                     "check the registry's token endpoint (Gitea: [packages] ENABLED)")
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    token = (data.get("token") or data.get("access_token")) if isinstance(data, dict) else None
    if not token:
        raise Failed(f"registry {hostport}: /v2/token returned no token",
                     "check the registry's token endpoint")
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
        return ("push scope: the token names no access (Gitea ignores the requested scope "
                "and checks write access at push time)")
    for entry in access:
        actions = entry.get("actions") or []
        if entry.get("type") == "repository" and entry.get("name") == path and (
                "push" in actions or "*" in actions):
            return f"push scope granted on {path}"
    granted = "; ".join(f"{a.get('name')}: {','.join(a.get('actions') or []) or 'nothing'}"
                        for a in access) or "nothing"
    raise Failed(f"the registry's token for user {user!r} grants no push on {path} "
                 f"(granted: {granted})",
                 f"give {user!r} write access to {path.split('/')[0]}'s packages, or use a "
                 f"user that has it (registry_user)")


def judge_access(reviews: Sequence[tuple[str, str, str, str, bool, bool]], namespace: str,
                 context: str) -> None:
    """Access reviews (verb, group, resource, subresource, namespaced, allowed): Failed
    naming every denied one."""
    denied = [f"{verb} {resource}{'/' + sub if sub else ''}"
              + (f" in {namespace}" if namespaced else "")
              for verb, _, resource, sub, namespaced, allowed in reviews if not allowed]
    if denied:
        raise Failed(f"the user of kube context {context!r} may not: {', '.join(denied)} "
                     f"(SelfSubjectAccessReview denied), which the release needs",
                     f"bind a Role with these verbs in namespace {namespace} to that user "
                     f"(e.g. a RoleBinding to the 'admin' ClusterRole), or use another "
                     f"context (kube_context)")


def judge_sudo(result: CommandResult, prefix: Sequence[str]) -> None:
    judge_ssh(result, "node_host")
    if result.ok:
        return
    text = (result.stderr + result.stdout).lower()
    if "password" in text:
        raise Failed(f"`{' '.join(non_interactive(prefix))} true` on {result.host} asks for a "
                     f"password: the node's commands ({' '.join(prefix)} ...) cannot run "
                     f"unattended", "allow the node user passwordless sudo for the "
                     "commands the suite runs (a NOPASSWD rule in /etc/sudoers.d), or log "
                     "in as a user that needs no prefix")
    raise Failed(f"`{' '.join(non_interactive(prefix))} true` on {result.host} failed "
                 f"(exit {result.rc}): {_last(result)}",
                 "check the node's command prefix (node_sudo / crictl)")


def judge_readable(result: CommandResult, path: str) -> None:
    judge_ssh(result, "node_host")
    state = ""
    for line in result.stdout.splitlines():
        if line.startswith("state="):
            state = line[len("state="):].strip()
    if result.ok and state == "readable":
        return
    if state == "missing":
        raise Failed(f"{path} does not exist on the node {result.host}",
                     "configure the registry mirror in k3s's registries.yaml (workplan T09) "
                     "or set 'registries_yaml'")
    if state == "unreadable":
        raise Failed(f"{path} on the node {result.host} is not readable by the ssh user",
                     "give the node command prefix (sudo) or make the file readable")
    raise Failed(f"cannot tell whether {path} is readable on {result.host}: exit "
                 f"{result.rc}: {_last(result)}", "check the node's command prefix")


def judge_resolve(result: CommandResult, host: str, url: str) -> None:
    if result.ok and result.stdout.strip():
        return
    if result.rc == 127:
        raise Failed(f"cannot resolve {host}: getent is not available here",
                     "install libc-bin (getent)")
    raise Failed(f"the base URL's host {host} does not resolve here ({url}; getent ahosts "
                 f"exited {result.rc})",
                 "check base_url, or the host's DNS record (or /etc/hosts)")


def _last(result: CommandResult) -> str:
    return " ".join(result.tail(3).split())[:300]


# --------------------------------------------------------------------------- reporting


def stage_cause(verdict: Verdict) -> str:
    """The cause a failed precondition gives its stage (and the checks that need it)."""
    fix = f": {verdict.fix}" if verdict.fix else ""
    return f"preflight check '{verdict.name}' failed: {verdict.cause}{fix}"


def paragraph(verdict: Verdict, criterion: str) -> str:
    """One paragraph per failed precondition (``--irp-preflight``)."""
    fix = f" Fix: {verdict.fix}." if verdict.fix else ""
    return (f"precondition '{verdict.name}' of stage {verdict.stage} ({criterion}) failed: "
            f"{verdict.cause}.{fix}")


def outcome_lines(verdicts: Sequence[Verdict], criteria: Mapping[str, str]) -> list[str]:
    """The terminal's lines: one per check, then the summary."""
    lines = []
    for v in verdicts:
        if v.ok:
            lines.append(f"ok     {v.name}" + (f": {'; '.join(v.notes)}" if v.notes else ""))
        else:
            lines.append(f"FAILED {v.name} -> stage {v.stage} ({criteria.get(v.stage, '?')}) "
                         f"decided: {v.cause}")
    failed = sum(not v.ok for v in verdicts)
    lines.append(f"{len(verdicts)} checks, {failed} failed"
                 + (f" in {max((v.duration for v in verdicts), default=0.0):.1f}s"))
    return lines


__all__ = ["PRECONDITIONS", "REALM_FIX", "Failed", "Precondition", "Verdict"]

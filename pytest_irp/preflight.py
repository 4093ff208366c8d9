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

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import remote
from .registry import (
    REALM_FIX,
    ImageRef,
    token_url,
)
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
    Precondition(
        "build-host",
        "build host: nix, free disk and memory, GHC archive, no other build (the pre-build checks)",
        ("prebuild",),
    ),
    Precondition("skopeo", "skopeo present on the build host", ("push",)),
    Precondition(
        "registry",
        "registry reachable, its token realm, credentials accepted by /v2/token, push scope",
        ("push",),
    ),
    Precondition("helm", "helm present, its version usable by the release", ("chart", "release")),
    Precondition(
        "kube",
        "kube context, API reachable, access of the release's user "
        "(SelfSubjectAccessReview), namespace present or creatable",
        ("release",),
    ),
    Precondition(
        "node",
        "node reachable over ssh, its command prefix (sudo -n) "
        "non-interactive, registries.yaml readable",
        ("mirror", "pull"),
    ),
    Precondition("base-url", "base URL's host name resolves (DNS only, no connection)", ("live",)),
)
BY_NAME = {p.name: p for p in PRECONDITIONS}


@dataclass
class Verdict:
    """The outcome of one precondition: ``ok``, or the ``cause`` and ``fix`` of its failure
    and the ``stage`` it decides. ``notes`` are facts worth showing (versions, realm);
    ``value`` the facts a stage's own checks recorded before they found them unusable
    (:class:`~pytest_irp.stage.Unusable`: the stage's criterion judges them)."""

    name: str
    stage: str
    ok: bool
    cause: str = ""
    fix: str = ""
    notes: list[str] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Any] = field(default_factory=list)
    duration: float = 0.0
    value: dict[str, Any] = field(default_factory=dict)


class Failed(Exception):
    """A precondition does not hold: ``cause`` (one paragraph) and ``fix``; ``stage`` when
    the judge knows which of the gated stages it decides."""

    def __init__(
        self, cause: str, fix: str = "", stage: str = "", also: Sequence[Failed] = ()
    ) -> None:
        super().__init__(cause)
        self.cause = cause
        self.fix = fix
        self.stage = stage
        # independent problems the same check found besides (each its own verdict)
        self.also = list(also)


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
    ("get", "", "secrets", ""),
    ("list", "", "secrets", ""),
    ("create", "", "secrets", ""),
    ("update", "", "secrets", ""),
    ("get", "apps", "deployments", ""),
    ("list", "apps", "deployments", ""),
    ("create", "apps", "deployments", ""),
    ("patch", "apps", "deployments", ""),
    ("create", "", "services", ""),
    ("patch", "", "services", ""),
    ("list", "", "pods", ""),
    ("watch", "", "pods", ""),
    ("get", "", "pods", "log"),
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
        return [
            Step(
                host, tuple(remote.display(prebuild_argv(s))), t, "the pre-build checks (read-only)"
            )
        ]
    if pre.name == "skopeo":
        return [Step(host, tuple(skopeo_argv(s)), t, "skopeo present, its version")]
    if pre.name == "registry":
        ref = ImageRef.parse(s.get("registry") or "<registry-host:port>/<owner>/<name>")
        plain = bool(s["registry_plain_http"])
        return [
            Step(
                "local",
                ("GET", f"{ref.base_url(plain)}/v2/"),
                t,
                "reachable; its challenge and token realm (anonymous)",
            ),
            Step(
                "local",
                ("GET", token_url(ref, plain)),
                t,
                "credentials accepted (basic auth: registry_user); push scope in the "
                "token when it names one",
            ),
        ]
    if pre.name == "helm":
        return [
            Step(
                "local",
                tuple(helm_argv(s)),
                t,
                "helm present; helm 4.0.x rejects the release's --wait=hookOnly",
            )
        ]
    if pre.name == "kube":
        ns = s["namespace"]
        reviews = ", ".join(f"{v} {r}{'/' + sub if sub else ''}" for v, _, r, sub in ACCESS_NEEDED)
        return [
            Step(
                "local",
                ("kubernetes-api", "get", f"namespace/{ns}"),
                t,
                f"kube context {s['kube_context']}: API reachable; the namespace present "
                f"(else: may it be created?)",
            ),
            Step(
                "local",
                ("kubernetes-api", "create", "selfsubjectaccessreviews"),
                t,
                f"in namespace {ns}: {reviews}; access reviews are answered, never stored",
            ),
        ]
    if pre.name == "node":
        node = s["node_host"]
        prefix = node_prefix(s)
        steps = [Step(node, ("true",), t, "reachable over ssh")]
        sudo = sudo_argv(prefix)
        if sudo:
            steps.append(Step(node, tuple(sudo), t, "the command prefix works without a password"))
        shown = [
            *non_interactive(prefix),
            *remote.display(remote.argv("readable", s["registries_yaml"])),
        ]
        steps.append(Step(node, tuple(shown), t, "registries.yaml exists and is readable"))
        return steps
    if pre.name == "base-url":
        host_name = base_url_host(s.get("base_url") or "")
        if host_name is None:
            return []
        return [Step("local", tuple(resolve_argv(host_name)), t, "the name resolves")]
    return []


# --------------------------------------------------------------------------- reporting


def stage_cause(verdict: Verdict) -> str:
    """The cause a failed precondition gives its stage (and the checks that need it)."""
    fix = f": {verdict.fix}" if verdict.fix else ""
    return f"preflight check '{verdict.name}' failed: {verdict.cause}{fix}"


def paragraph(verdict: Verdict, criterion: str) -> str:
    """One paragraph per failed precondition (``--irp-preflight``)."""
    fix = f" Fix: {verdict.fix}." if verdict.fix else ""
    return (
        f"precondition '{verdict.name}' of stage {verdict.stage} ({criterion}) failed: "
        f"{verdict.cause}.{fix}"
    )


def outcome_lines(
    verdicts: Sequence[Verdict], criteria: Mapping[str, str], *, compact: bool = False
) -> list[str]:
    """The terminal's lines: one per check, then the summary. ``compact`` (a run without
    -v): the failed checks only by name in the summary line, their causes once, in the
    problems list at the end of the run."""
    lines = []
    for v in verdicts:
        if v.ok:
            lines.append(f"ok     {v.name}" + (f": {'; '.join(v.notes)}" if v.notes else ""))
        elif not compact:
            lines.append(
                f"FAILED {v.name} -> stage {v.stage} ({criteria.get(v.stage, '?')}) "
                f"decided: {v.cause}"
            )
    # a check that found more than one problem has a verdict for each: counted once
    checks = len({v.name for v in verdicts})
    failed = list(
        dict.fromkeys(f"{v.name} ({criteria.get(v.stage, '?')})" for v in verdicts if not v.ok)
    )
    took = f" in {max((v.duration for v in verdicts), default=0.0):.1f}s"
    if compact and failed:
        lines.append(f"{checks} checks, {len(failed)} FAILED{took}: {', '.join(failed)}")
    else:
        lines.append(f"{checks} checks, {len(failed)} failed{took}")
    return lines


__all__ = ["PRECONDITIONS", "REALM_FIX", "Failed", "Precondition", "Verdict"]

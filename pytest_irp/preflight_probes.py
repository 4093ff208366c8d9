"""The preflight's probes: one function per precondition, each running the read-only
commands and requests of its check through the run's runners (ssh and local commands),
requests (HTTP) and the kubernetes client, and handing the recorded facts to its judge
(pytest_irp.preflight_judge). A probe returns its notes, or raises Failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from .preflight import (
    CHECK_TIMEOUT,
    Failed,
    access_needed,
    base_url_host,
    helm_argv,
    node_prefix,
    readable_argv,
    resolve_argv,
    skopeo_argv,
    sudo_argv,
)
from .preflight_judge import (
    judge_access,
    judge_challenge,
    judge_helm,
    judge_push_scope,
    judge_readable,
    judge_resolve,
    judge_skopeo,
    judge_ssh,
    judge_sudo,
    judge_token,
    token_access,
)
from .registry import REALM_FIX, ImageRef, credentials, token_url
from .runners import CommandResult
from .stage import StageContext

Probe = Callable[[StageContext, Sequence[str]], list[str]]


def _timeout(ctx: StageContext) -> float:
    return min(CHECK_TIMEOUT, float(ctx.settings["connect_timeout"]) + 5)


def _record(
    ctx: StageContext, argv: Sequence[str], status: int, started: float, text: str = ""
) -> None:
    """An HTTP request in the stage record, like a command (rc = HTTP status, 0: none)."""
    ctx.record(
        CommandResult(
            "local",
            tuple(ctx.redactor.redact_argv(list(argv))),
            status,
            "",
            ctx.redactor.redact(text[:300]),
            time.monotonic() - started,
        )
    )


# --------------------------------------------------------------------------- probes


def probe_build_host(ctx: StageContext, stages: Sequence[str]) -> list[str]:
    from .stages import prebuild  # the prebuild stage's own checks, run early

    facts = prebuild.run(ctx)
    return [
        f"{facts.get('nix') or 'nix ?'}, {int(facts.get('disk_free_kb') or 0) // 1024} "
        f"MiB free, {int(facts.get('mem_available_kb') or 0) // 1024} MiB memory"
    ]


def probe_skopeo(ctx: StageContext, stages: Sequence[str]) -> list[str]:
    s = ctx.settings
    result = ctx.run(s.require("host"), skopeo_argv(s), timeout=_timeout(ctx), check=False)
    return [f"skopeo {judge_skopeo(result, s['skopeo'])}"]


def probe_registry(ctx: StageContext, stages: Sequence[str]) -> list[str]:
    import requests

    s = ctx.settings
    ref = ImageRef.parse(s.require("registry"))
    plain = bool(s["registry_plain_http"])
    user, password = credentials(ctx)  # the push stage's own: masked from here on
    session = requests.Session()
    session.trust_env = False  # never through a proxy: the registry is the target
    url = f"{ref.base_url(plain)}/v2/"
    notes = []
    started = time.monotonic()
    try:
        response = session.get(url, timeout=_timeout(ctx))
    except requests.RequestException as exc:
        _record(ctx, ("GET", url), 0, started, str(exc))
        raise Failed(
            f"registry {ref.hostport} is unreachable ({url}): {_short(exc)}",
            "check the setting 'registry' (HOST:PORT) and 'registry_plain_http', "
            "and that the registry is up",
        ) from None
    _record(ctx, ("GET", url), response.status_code, started)
    raw: Any = getattr(response.raw, "headers", None)
    headers = (
        list(raw.getlist("WWW-Authenticate"))
        if hasattr(raw, "getlist")
        else [response.headers.get("WWW-Authenticate", "")]
    )  # every challenge, not one merged
    realm, problem = judge_challenge(response.status_code, headers, ref.hostport, plain)
    if problem:
        ctx.finding(
            "warning", "Registry token realm points to the wrong address", problem, REALM_FIX
        )
        notes.append(f"realm {realm} is wrong (finding): {problem}")
    elif realm:
        notes.append(f"realm {realm}")
    turl = token_url(ref, plain)
    started = time.monotonic()
    try:
        response = session.get(turl, auth=(user, password), timeout=_timeout(ctx))
    except requests.RequestException as exc:
        _record(ctx, ("GET", turl), 0, started, str(exc))
        raise Failed(
            f"registry {ref.hostport} is unreachable ({turl}): {_short(exc)}",
            "check that the registry is up",
        ) from None
    _record(ctx, ("GET", turl, "(basic auth)"), response.status_code, started)
    token = judge_token(response.status_code, response.text, user, ref.hostport)
    ctx.redactor.add(token)
    notes.append(f"credentials of {user!r} accepted")
    notes.append(judge_push_scope(token_access(token), ref.path, user))
    return notes


def probe_helm(ctx: StageContext, stages: Sequence[str]) -> list[str]:
    s = ctx.settings
    result = ctx.run("local", helm_argv(s), timeout=_timeout(ctx), check=False)
    shown = judge_helm(
        result, s["helm"], wait_args=release_wait_flags(s), release_selected="release" in stages
    )
    return [f"helm {shown}"]


def release_wait_flags(s: Any) -> list[str]:
    """The ``--wait`` flags of the release's own ``helm upgrade`` command line (the helm
    check knows which helm versions reject which of them)."""
    from . import helm

    upgrade = getattr(helm, "upgrade_argv", None)
    if not callable(upgrade):
        return []
    try:
        argv = upgrade(list(s["helm"]), s, "<chart>", [])
    except Exception:  # a changed signature: nothing to judge
        return []
    return [str(a) for a in argv if str(a).startswith("--wait")]


def probe_kube(ctx: StageContext, stages: Sequence[str]) -> list[str]:
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    s = ctx.settings
    context, ns = s["kube_context"], s["namespace"]
    try:
        api = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=s.get("kubeconfig"), context=context
        )
    except Exception as exc:
        raise Failed(
            f"cannot use kube context {context!r}: {exc}",
            "check kube_context and the kubeconfig (setting 'kubeconfig', "
            "KUBECONFIG or ~/.kube/config)",
        ) from None
    core = client.CoreV1Api(api)
    authz = client.AuthorizationV1Api(api)
    timeout = _timeout(ctx)
    started = time.monotonic()
    present: bool | None
    try:
        core.read_namespace(ns, _request_timeout=timeout)
        present = True
        _record(ctx, ("kubernetes-api", "GET", f"namespace/{ns}"), 200, started)
    except ApiException as exc:
        _record(ctx, ("kubernetes-api", "GET", f"namespace/{ns}"), int(exc.status or 0), started)
        if exc.status == 404:
            present = False
        elif exc.status == 403:
            present = None
        elif exc.status == 401:
            raise Failed(
                f"the API server of kube context {context!r} rejected its credentials (HTTP 401)",
                "renew the kubeconfig's credentials",
            ) from None
        else:
            raise Failed(
                f"reading namespace {ns} through kube context {context!r}: HTTP "
                f"{exc.status} {exc.reason}",
                "check the cluster",
            ) from None
    except Exception as exc:
        _record(ctx, ("kubernetes-api", "GET", f"namespace/{ns}"), 0, started, str(exc))
        raise Failed(
            f"the API server of kube context {context!r} is unreachable: {_short(exc)}",
            "check that the cluster is up and the kubeconfig's server address",
        ) from None
    reviews = []
    for verb, group, resource, sub, namespaced in access_needed(present):
        attributes = client.V1ResourceAttributes(
            verb=verb,
            group=group,
            resource=resource,
            subresource=sub or None,
            namespace=ns if namespaced else None,
            name=ns if resource == "namespaces" else None,
        )
        body = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes)
        )
        started = time.monotonic()
        try:
            answer = authz.create_self_subject_access_review(body, _request_timeout=timeout)
        except Exception as exc:
            raise Failed(
                f"SelfSubjectAccessReview through kube context {context!r} failed: {_short(exc)}",
                "check the cluster (authorization.k8s.io/v1)",
            ) from None
        allowed = bool(answer.status and answer.status.allowed)
        _record(
            ctx,
            (
                "kubernetes-api",
                "create",
                "selfsubjectaccessreview",
                verb,
                resource + (f"/{sub}" if sub else ""),
            ),
            201,
            started,
            "allowed" if allowed else "denied",
        )
        reviews.append((verb, group, resource, sub, namespaced, allowed))
    judge_access(reviews, ns, context)
    state = "present" if present else "absent, may be created" if present is False else "readable"
    return [f"namespace {ns} {state}; {len(reviews)} access reviews allowed"]


def probe_node(ctx: StageContext, stages: Sequence[str]) -> list[str]:
    s = ctx.settings
    node = s["node_host"]
    prefix = node_prefix(s)
    timeout = _timeout(ctx)
    reach = ctx.run(node, ["true"], timeout=timeout, check=False)
    judge_ssh(reach, "node_host")
    if not reach.ok:
        raise Failed(
            f"`true` on the node {node} exited {reach.rc}: {reach.tail(2)}",
            "check the node's login shell",
        )
    sudo = sudo_argv(prefix)
    path = s["registries_yaml"]
    if sudo:
        try:
            judge_sudo(ctx.run(node, sudo, timeout=timeout, check=False), prefix)
        except Failed as exc:
            exc.also = _mirror_without_prefix(ctx, node, path, timeout)
            raise
    judge_readable(ctx.run(node, readable_argv(prefix, path), timeout=timeout, check=False), path)
    return [f"prefix {' '.join(prefix) or '(none)'}; {path} readable"]


def _mirror_without_prefix(ctx: StageContext, node: str, path: str, timeout: float) -> list[Failed]:
    """When the prefix cannot run: registries.yaml read as the ssh user (k3s's file is
    often world-readable) and judged for the registry's mirror entry, so a missing entry
    is named in the same run as the sudo that hides it (nothing when it cannot be read)."""
    from .mirror_judge import mirror_problems

    registry = ctx.settings.get("registry")
    if not registry:
        return []
    hostport = str(registry).split("/")[0]
    result = ctx.run(node, ["cat", "--", path], timeout=timeout, check=False)
    if not result.ok:
        return []
    problems, _ = mirror_problems(result.stdout, hostport, None)
    return [
        Failed(
            f"{p} ({path} on {node}, read without the prefix)",
            f'add the registry\'s mirror to {path} on the node (mirrors: "{hostport}": '
            f'endpoint: ["http://{hostport}"], workplan T09) and restart k3s',
        )
        for p in problems
        if p.startswith("registries.yaml")
    ]


def probe_base_url(ctx: StageContext, stages: Sequence[str]) -> list[str]:
    url = str(ctx.settings.require("base_url"))
    host = base_url_host(url)
    if host is None:
        return [f"{url}: an address, nothing to resolve"]
    result = ctx.run("local", resolve_argv(host), timeout=_timeout(ctx), check=False)
    judge_resolve(result, host, url)
    first = (result.stdout.split() or ["?"])[0]
    return [f"{host} resolves ({first})"]


PROBES: dict[str, Probe] = {
    "build-host": probe_build_host,
    "skopeo": probe_skopeo,
    "registry": probe_registry,
    "helm": probe_helm,
    "kube": probe_kube,
    "node": probe_node,
    "base-url": probe_base_url,
}


IMPORTS: tuple[tuple[str, frozenset[str]], ...] = (
    ("pytest_irp.stages.prebuild", frozenset({"build-host"})),
    ("pytest_irp.helm", frozenset({"helm"})),
    ("requests", frozenset({"registry"})),
    ("kubernetes.client", frozenset({"kube"})),
    ("kubernetes.config", frozenset({"kube"})),
)


def _short(exc: BaseException) -> str:
    from .registry import _short as short

    return short(exc) if isinstance(exc, Exception) else str(exc)

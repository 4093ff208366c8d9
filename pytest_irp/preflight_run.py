"""Runs the preflight (:mod:`pytest_irp.preflight`): every selected precondition in its own
thread, in parallel with each other and with the source stage; then, before any other stage
starts, its outcome is printed and each failed precondition decides its stage.

Every call is read-only: commands that print facts (``--version``, ``sudo -n true``, ``test
-r``, ``getent``), anonymous and token GETs to the registry, a namespace read and
SelfSubjectAccessReviews (answered by the API server, never stored).
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .preflight import (
    CHECK_TIMEOUT,
    PARALLEL_STAGES,
    REALM_FIX,
    Failed,
    Precondition,
    Verdict,
    access_needed,
    base_url_host,
    helm_argv,
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
    node_prefix,
    outcome_lines,
    paragraph,
    readable_argv,
    resolve_argv,
    selected,
    skopeo_argv,
    stage_cause,
    sudo_argv,
    token_access,
    wanted,
)
from .registry import ImageRef, credentials, token_url
from .runners import CommandResult
from .settings import SettingError
from .stage import Pipeline, StageContext, StageError, StageResult, one_paragraph

Probe = Callable[[StageContext, Sequence[str]], list[str]]


def _timeout(ctx: StageContext) -> float:
    return min(CHECK_TIMEOUT, float(ctx.settings["connect_timeout"]) + 5)


def _record(ctx: StageContext, argv: Sequence[str], status: int, started: float,
            text: str = "") -> None:
    """An HTTP request in the stage record, like a command (rc = HTTP status, 0: none)."""
    ctx.record(CommandResult("local", tuple(ctx.redactor.redact_argv(list(argv))), status,
                             "", ctx.redactor.redact(text[:300]),
                             time.monotonic() - started))


# --------------------------------------------------------------------------- probes


def probe_build_host(ctx: StageContext, stages: Sequence[str]) -> list[str]:
    from .stages import prebuild  # the prebuild stage's own checks, run early

    facts = prebuild.run(ctx)
    return [f"{facts.get('nix') or 'nix ?'}, {int(facts.get('disk_free_kb') or 0) // 1024} "
            f"MiB free, {int(facts.get('mem_available_kb') or 0) // 1024} MiB memory"]


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
        raise Failed(f"registry {ref.hostport} is unreachable ({url}): {_short(exc)}",
                     "check the setting 'registry' (HOST:PORT) and 'registry_plain_http', "
                     "and that the registry is up") from None
    _record(ctx, ("GET", url), response.status_code, started)
    raw: Any = getattr(response.raw, "headers", None)
    headers = list(raw.getlist("WWW-Authenticate")) if hasattr(raw, "getlist") else [
        response.headers.get("WWW-Authenticate", "")]  # every challenge, not one merged
    realm, problem = judge_challenge(response.status_code, headers, ref.hostport, plain)
    if problem:
        ctx.finding("warning", "Registry token realm points to the wrong address", problem,
                    REALM_FIX)
        notes.append(f"realm {realm} is wrong (finding): {problem}")
    elif realm:
        notes.append(f"realm {realm}")
    turl = token_url(ref, plain)
    started = time.monotonic()
    try:
        response = session.get(turl, auth=(user, password), timeout=_timeout(ctx))
    except requests.RequestException as exc:
        _record(ctx, ("GET", turl), 0, started, str(exc))
        raise Failed(f"registry {ref.hostport} is unreachable ({turl}): {_short(exc)}",
                     "check that the registry is up") from None
    _record(ctx, ("GET", turl, "(basic auth)"), response.status_code, started)
    token = judge_token(response.status_code, response.text, user, ref.hostport)
    ctx.redactor.add(token)
    notes.append(f"credentials of {user!r} accepted")
    notes.append(judge_push_scope(token_access(token), ref.path, user))
    return notes


def probe_helm(ctx: StageContext, stages: Sequence[str]) -> list[str]:
    s = ctx.settings
    result = ctx.run("local", helm_argv(s), timeout=_timeout(ctx), check=False)
    shown = judge_helm(result, s["helm"], wait_args=release_wait_flags(s),
                       release_selected="release" in stages)
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
            config_file=s.get("kubeconfig"), context=context)
    except Exception as exc:
        raise Failed(f"cannot use kube context {context!r}: {exc}",
                     "check kube_context and the kubeconfig (setting 'kubeconfig', "
                     "KUBECONFIG or ~/.kube/config)") from None
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
        _record(ctx, ("kubernetes-api", "GET", f"namespace/{ns}"), int(exc.status or 0),
                started)
        if exc.status == 404:
            present = False
        elif exc.status == 403:
            present = None
        elif exc.status == 401:
            raise Failed(f"the API server of kube context {context!r} rejected its "
                         f"credentials (HTTP 401)", "renew the kubeconfig's credentials"
                         ) from None
        else:
            raise Failed(f"reading namespace {ns} through kube context {context!r}: HTTP "
                         f"{exc.status} {exc.reason}", "check the cluster") from None
    except Exception as exc:
        _record(ctx, ("kubernetes-api", "GET", f"namespace/{ns}"), 0, started, str(exc))
        raise Failed(f"the API server of kube context {context!r} is unreachable: "
                     f"{_short(exc)}", "check that the cluster is up and the kubeconfig's "
                     "server address") from None
    reviews = []
    for verb, group, resource, sub, namespaced in access_needed(present):
        attributes = client.V1ResourceAttributes(
            verb=verb, group=group, resource=resource, subresource=sub or None,
            namespace=ns if namespaced else None,
            name=ns if resource == "namespaces" else None)
        body = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes))
        started = time.monotonic()
        try:
            answer = authz.create_self_subject_access_review(body, _request_timeout=timeout)
        except Exception as exc:
            raise Failed(f"SelfSubjectAccessReview through kube context {context!r} failed: "
                         f"{_short(exc)}", "check the cluster (authorization.k8s.io/v1)"
                         ) from None
        allowed = bool(answer.status and answer.status.allowed)
        _record(ctx, ("kubernetes-api", "create", "selfsubjectaccessreview", verb,
                      resource + (f"/{sub}" if sub else "")), 201, started,
                "allowed" if allowed else "denied")
        reviews.append((verb, group, resource, sub, namespaced, allowed))
    judge_access(reviews, ns, context)
    state = "present" if present else "absent, may be created" if present is False else \
        "readable"
    return [f"namespace {ns} {state}; {len(reviews)} access reviews allowed"]


def probe_node(ctx: StageContext, stages: Sequence[str]) -> list[str]:
    s = ctx.settings
    node = s["node_host"]
    prefix = node_prefix(s)
    timeout = _timeout(ctx)
    reach = ctx.run(node, ["true"], timeout=timeout, check=False)
    judge_ssh(reach, "node_host")
    if not reach.ok:
        raise Failed(f"`true` on the node {node} exited {reach.rc}: {reach.tail(2)}",
                     "check the node's login shell")
    sudo = sudo_argv(prefix)
    if sudo:
        judge_sudo(ctx.run(node, sudo, timeout=timeout, check=False), prefix)
    path = s["registries_yaml"]
    judge_readable(ctx.run(node, readable_argv(prefix, path), timeout=timeout, check=False),
                   path)
    return [f"prefix {' '.join(prefix) or '(none)'}; {path} readable"]


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
    "build-host": probe_build_host, "skopeo": probe_skopeo, "registry": probe_registry,
    "helm": probe_helm, "kube": probe_kube, "node": probe_node, "base-url": probe_base_url,
}


IMPORTS: tuple[tuple[str, frozenset[str]], ...] = (
    ("pytest_irp.stages.prebuild", frozenset({"build-host"})),
    ("pytest_irp.helm", frozenset({"helm"})),
    ("requests", frozenset({"registry"})),
    ("kubernetes.client", frozenset({"kube"})), ("kubernetes.config", frozenset({"kube"})),
)


def _short(exc: BaseException) -> str:
    from .registry import _short as short

    return short(exc) if isinstance(exc, Exception) else str(exc)


# --------------------------------------------------------------------------- running


class Preflight:
    """The preflight of one run: started in the background, joined before the first stage
    that is not run in parallel with it (see :attr:`Pipeline.gate`)."""

    def __init__(self, pipeline: Pipeline, stages: Sequence[str]) -> None:
        self.pipeline = pipeline
        self.stages = pipeline.closure([s for s in stages if s in pipeline.stages])
        self.checks = selected(self.stages)
        self.verdicts: list[Verdict] = []
        self._thread: threading.Thread | None = None

    def hosts(self) -> list[str]:
        s = self.pipeline.settings
        names = {p.name for p, _ in self.checks}
        hosts = ["local"]
        if names & {"build-host", "skopeo"} and s.get("host"):
            hosts.append(str(s["host"]))
        if "node" in names:
            hosts.append(str(s["node_host"]))
        return hosts

    def _prepare(self) -> None:
        """Runners are made here, in the caller's thread (their cache is not locked)."""
        for host in self.hosts():
            runner = self.pipeline.runner(host)
            control = getattr(runner, "control_path", None)
            if callable(control):
                control()

    def start(self, after: threading.Thread | None = None) -> None:
        self._prepare()
        self._thread = threading.Thread(target=self.run_all, args=(after,),
                                        name="irp-preflight", daemon=True)
        self._thread.start()

    def run_all(self, after: threading.Thread | None = None) -> list[Verdict]:
        """Every check in its own thread. The modules they use are imported first, one
        after the other (after the pipeline's prefetch thread): two threads importing
        requests at once can see it half-initialised."""
        if not self.checks:
            return []
        if after is not None:
            after.join()
        names = {p.name for p, _ in self.checks}
        for module, users in IMPORTS:
            if names & users:
                with contextlib.suppress(Exception):  # the check's own import reports it
                    importlib.import_module(module)
        with ThreadPoolExecutor(max_workers=len(self.checks),
                                thread_name_prefix="irp-preflight") as pool:
            futures = [pool.submit(self.check, pre, stage) for pre, stage in self.checks]
            self.verdicts = [f.result() for f in futures]
        return self.verdicts

    def check(self, pre: Precondition, stage: str) -> Verdict:
        pipeline = self.pipeline
        ctx = pipeline.context(pipeline.stages[stage], time.monotonic() + 4 * CHECK_TIMEOUT)
        started = time.monotonic()
        verdict = Verdict(pre.name, stage, True)
        try:
            verdict.notes = PROBES[pre.name](ctx, self.stages)
        except Failed as exc:
            verdict = Verdict(pre.name, exc.stage or stage, False, exc.cause, exc.fix)
        except StageError as exc:
            verdict = Verdict(pre.name, stage, False, exc.cause,
                              "fix what the cause names on the host (these are the "
                              f"{stage} stage's own checks, run early)")
        except SettingError as exc:
            verdict = Verdict(pre.name, stage, False, str(exc).rstrip("."))
        except Exception as exc:  # a bug or an unexpected environment: never raise
            verdict = Verdict(pre.name, stage, False, f"internal error in the preflight "
                              f"check {pre.name}: {type(exc).__name__}: {exc}")
        redact = pipeline.redactor.redact
        verdict.cause = one_paragraph(redact(verdict.cause)).rstrip(".")
        verdict.fix = redact(verdict.fix)
        verdict.notes = [redact(n) for n in verdict.notes]
        verdict.commands, verdict.findings = ctx.commands, ctx.findings
        verdict.duration = time.monotonic() - started
        return verdict

    def gate(self, name: str) -> None:
        """:attr:`Pipeline.gate`: before the first stage not run in parallel with the
        preflight, wait for it, show its outcome and decide the stages it failed."""
        if name in PARALLEL_STAGES:
            return
        self.pipeline.gate = None
        if self._thread is not None:
            self._thread.join()
        self.decide()

    def decide(self) -> None:
        pipeline = self.pipeline
        criteria = {n: st.criterion for n, st in pipeline.stages.items()}
        for line in outcome_lines(self.verdicts, criteria):
            pipeline.progress("preflight", line)
        now = time.time()
        failed_before = {n for n, r in pipeline.results.items() if not r.ok}  # by running
        for v in self.verdicts:
            if v.ok or v.stage in pipeline.results:
                continue
            if failed_before & set(pipeline.closure([v.stage])):
                continue  # an upstream stage already failed: BLOCKED by it, as before
            if self.may_reuse(v.stage):
                pipeline.progress("preflight", f"stage {v.stage} not decided: --irp-reuse may "
                                  f"take its saved result (else it fails on its own)")
                continue
            crit = criteria[v.stage]
            pipeline.results[v.stage] = StageResult(
                v.stage, crit, "failed", cause=one_paragraph(stage_cause(v)),
                root_stage=v.stage, root_criterion=crit, commands=v.commands,
                findings=v.findings, started=now - v.duration, duration=v.duration)

    def may_reuse(self, stage: str) -> bool:
        """Whether ``--irp-reuse`` has a saved result of the stage (the key is checked when
        the stage comes: it depends on upstream results not known yet). Such a stage is left
        to the pipeline: reused when its inputs are unchanged, else run (and failing)."""
        pipeline = self.pipeline
        if not pipeline.reuse or stage in pipeline.force or pipeline.cache is None:
            return False
        saved = pipeline.cache.get(f"irp/stage/{stage}", None)  # Pipeline._save's key
        return isinstance(saved, dict) and bool(saved.get("key"))

    def paragraphs(self) -> list[str]:
        criteria = {n: st.criterion for n, st in self.pipeline.stages.items()}
        return [paragraph(v, criteria[v.stage]) for v in self.verdicts if not v.ok]


def start(pipeline: Pipeline, stages: Sequence[str], after: threading.Thread | None = None
          ) -> Preflight | None:
    """At the start of a run: the preflight of the stages it needs, in the background, when
    one of them is long; the pipeline waits for it before its first non-parallel stage.
    ``after``: the prefetch thread, whose imports the preflight's must not overlap."""
    preflight = Preflight(pipeline, stages)
    if not wanted(preflight.stages) or not preflight.checks:
        return None
    pipeline.gate = preflight.gate
    preflight.start(after)
    return preflight


def run_only(pipeline: Pipeline, stages: Sequence[str], write: Callable[[str], Any]
             ) -> int:
    """``--irp-preflight``: the preflight alone; returns the number of failed
    preconditions after writing the outcome and one paragraph per failure."""
    preflight = Preflight(pipeline, stages)
    preflight._prepare()
    verdicts = preflight.run_all()
    criteria = {n: st.criterion for n, st in pipeline.stages.items()}
    redact = pipeline.redactor.redact
    write("")
    write(f"pytest-irp preflight of: {', '.join(preflight.stages) or '(no stage)'}")
    for line in outcome_lines(verdicts, criteria):
        write(redact(f"irp [preflight] {line}"))
    failures = preflight.paragraphs()
    if failures:
        write("")
        for text in failures:
            write(redact(text))
            write("")
    return len(failures)

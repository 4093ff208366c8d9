"""The release stage (T10): the namespace and env Secret, ``helm upgrade --install`` (helm
waits for hooks only), then the rollout judged by the suite with kubectl's algorithm
(:mod:`pytest_irp.judge`: it fails fast on CrashLoopBackOff, image pull errors and a
failed rollout), the pods as the API server gives them, and ``/healthz`` through the
release's Service. A failure carries a diagnostics bundle (events, pods, logs, helm
status and history)."""

from __future__ import annotations

import json
import time
from typing import Any, NamedTuple, cast

from .. import ihp_env, rollout_judge
from ..helm import (
    chart_path,
    helm_major,
    helm_version,
    image_sets,
    release_argv,
    upgrade_argv,
    version_argv,
)
from ..kube import ensure_namespace_and_secret, kube_api, pod_log, secret_name
from ..retry import NotYet, RetryTimeout, poll
from ..stage import StageContext, StageError, Step
from ..values import DeployedRelease, HttpAnswer, PodSummary, PushedImage

STATUS_TIMEOUT = 30.0


class Commands(NamedTuple):
    namespace_secret: Step
    helm_version: Step
    upgrade: Step
    status: Step
    rollout: Step
    healthz: Step


def commands(ctx: StageContext, tag: str) -> Commands:
    s: Any = ctx.settings
    ns, rel, helm = s["namespace"], s["release"], list(s["helm"])
    selector = f"app.kubernetes.io/instance={rel}"
    return Commands(
        Step(
            "local",
            ("kubernetes-api", "read/create", f"namespace/{ns}", f"secret/{secret_name(s)}"),
            30,
            "namespace and env secret: created when missing, never overwritten (values "
            "never printed)",
        ),
        Step("local", tuple(version_argv(helm)), 30, "helm's version, for the report"),
        Step(
            "local",
            tuple(upgrade_argv(helm, s, chart_path(ctx), image_sets(ctx, tag))),
            s["timeout_release"],
            "install (helm waits for hooks only); the rollout is then "
            "judged by the suite (fails fast)",
        ),
        Step(
            "local",
            tuple(release_argv(helm, "status", s, "-o", "json")),
            STATUS_TIMEOUT,
            "deployed, revision",
        ),
        Step(
            "local",
            ("kubernetes-api", "list", "deployments,replicasets,pods", f"labelSelector={selector}"),
            s["timeout_release"],
            "rollout (kubectl's algorithm), Ready, restarts, imageID digest",
        ),
        Step(
            "local",
            ("kubernetes-api", "GET", f"/api/v1/namespaces/{ns}/services/SERVICE:80/proxy/healthz"),
            10,
            f"the workplan's curl of the cluster IP, through the API server (SERVICE: the "
            f"Service of {selector} with port 80)",
        ),
    )


def plan(ctx: StageContext) -> list[Step]:
    return list(commands(ctx, ctx.facts.tag_or()))


def run(ctx: StageContext) -> DeployedRelease:
    s = ctx.settings
    push = cast(PushedImage, ctx.upstream("push"))
    steps = commands(ctx, push["tag"])
    client, api_client = kube_api(ctx)
    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    secret_state = ensure_namespace_and_secret(ctx, core, client)
    version = helm_version(ctx)
    ns, rel = s["namespace"], s["release"]
    install = ctx.run("local", steps.upgrade.argv, check=False)
    if not install.ok:
        raise StageError(
            f"helm upgrade --install failed: {install.tail(6)}", details=install.tail(40)
        )
    status = json.loads(
        ctx.run("local", steps.status.argv, timeout=steps.status.timeout, what="helm status").stdout
    )
    info = rollout_judge.helm_status(status)
    pods, dep = wait_rollout(ctx, core, apps, ns, rel)
    problems = rollout_judge.pod_problems(pods)
    for title, detail in rollout_judge.restart_findings(pods):
        ctx.finding(
            "warning",
            title,
            detail,
            "Read the previous log in the release's "
            "diagnostics (kubectl logs --previous); T10 passes on a pod that runs "
            "Ready again.",
        )
    running = rollout_judge.running_digests(pods)
    healthz = healthz_via_cluster(core, ns, rel)
    startup_ok = None
    startup = ihp_env.Startup("", "")
    env = ihp_env.EnvSource("", "")
    logs = ""
    if pods:
        logs = pod_log(core, pods[0], ns, tail=200)
        env = app_env(core, ns, pods[0])
        startup = ihp_env.judge_startup(
            env.value,
            s.get("startup_line"),
            lambda line: rollout_judge.startup_problem(logs, line),
            rollout_judge.http_ok_problem(cast(dict[str, Any], healthz)),
        )
        startup_ok = not startup.problem
        if startup.note:
            ctx.finding("info", "Startup line not among the last log lines", startup.note)
        if startup.proof and env.value == ihp_env.PRODUCTION:
            ctx.finding("info", "App start proven by its first answer", startup.proof)
        finding = ihp_env.development_finding(env)
        if finding is not None:
            ctx.finding("warning", *finding)
    return {
        "status": info["status"],
        "revision": info["revision"],
        "secret": secret_state,
        "helm_version": version,
        "helm_major": helm_major(version),
        "pods": cast(list[PodSummary], [rollout_judge.pod_summary(p) for p in pods]),
        "pod_facts": [rollout_judge.pod_facts(p) for p in pods],
        "pod_problems": problems,
        "running_digest": running[0] if running else "",
        "deployment": dep.get("metadata", {}).get("name", ""),
        "startup_line_seen": startup_ok,
        "startup_problem": startup.problem,
        "healthz_via_cluster": healthz,
        "log_excerpt": ctx.redactor.redact(logs[-2000:]),
    }


def app_env(core: Any, ns: str, pod: dict[str, Any]) -> ihp_env.EnvSource:
    """``IHP_ENV`` of the pod's first container as Kubernetes sets it (its env entries,
    then the Secrets of its envFrom). Only that one key of a Secret is read."""
    containers = pod.get("spec", {}).get("containers") or [{}]

    def secret_value(name: str, key: str) -> str | None:
        try:
            secret = core.read_namespaced_secret(name, ns, _request_timeout=15)
        except Exception:
            return None
        return ihp_env.decode(secret.data, key)

    return ihp_env.release_env(containers[0], secret_value)


def healthz_via_cluster(core: Any, ns: str, rel: str) -> HttpAnswer:
    """The workplan's ``curl http://<cluster-ip>/healthz``, through the API server's
    service proxy (so from inside the cluster, without a route to the cluster IP): the
    release's Service on its port 80."""
    selector = f"app.kubernetes.io/instance={rel}"
    try:
        services = core.list_namespaced_service(
            ns, label_selector=selector, _request_timeout=15
        ).items
    except Exception as exc:
        return {"status": 0, "body": "", "error": f"listing services: {str(exc)[:300]}"}
    names = [
        svc.metadata.name
        for svc in services
        if any(port.port == 80 for port in svc.spec.ports or [])
    ]
    if not names:
        return {"status": 0, "body": "", "error": f"no Service with port 80 for {selector}"}

    def get() -> dict[str, Any] | NotYet:
        try:
            body = core.connect_get_namespaced_service_proxy_with_path(
                f"{names[0]}:80", ns, "healthz", _request_timeout=10, _preload_content=False
            )
            return {
                "status": int(body.status),
                "body": body.data.decode(errors="replace")[:2000],
                "error": "",
                "service": names[0],
            }
        except Exception as exc:
            status = getattr(exc, "status", 0) or 0
            last = {
                "status": int(status),
                "body": str(getattr(exc, "body", "") or "")[:500],
                "error": str(getattr(exc, "reason", exc))[:300],
                "service": names[0],
            }
            if status and status < 500:
                return last
            return NotYet(str(last["error"]), last)

    try:
        return cast(
            HttpAnswer, poll(f"GET /healthz through the Service {names[0]}", get, every=2, tries=5)
        )
    except RetryTimeout as exc:
        return cast(HttpAnswer, exc.last.value)


def wait_rollout(
    ctx: StageContext, core: Any, apps: Any, ns: str, rel: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    selector = f"app.kubernetes.io/instance={rel}"
    api = core.api_client
    pulls = rollout_judge.PullWatch()

    def rolled_out() -> tuple[list[dict[str, Any]], dict[str, Any]] | NotYet:
        deps = apps.list_namespaced_deployment(ns, label_selector=selector, _request_timeout=15)
        pods_raw = core.list_namespaced_pod(ns, label_selector=selector, _request_timeout=15)
        deps_d = [api.sanitize_for_serialization(d) for d in deps.items]
        pods = [api.sanitize_for_serialization(p) for p in pods_raw.items]
        current = _current_pods(apps, api, ns, selector, deps_d[0], pods) if deps_d else pods
        fatal = (
            rollout_judge.fatal_pod_state(current)
            or pulls.observe(current, time.monotonic())
            or (rollout_judge.rollout_failed(deps_d[0]) if deps_d else "")
        )
        if fatal:
            bundle = _diagnostics(
                ctx, core, ns, rel, current + [p for p in pods if p not in current]
            )
            raise StageError(f"release {rel}: {fatal}", details=bundle, log=bundle)
        last = "no deployment yet"
        if deps_d:
            done, last = rollout_judge.rollout_status(deps_d[0])
            if done:
                ready = [
                    p
                    for p in current
                    if rollout_judge.pod_ready(p) and not p["metadata"].get("deletionTimestamp")
                ]
                if ready:
                    return ready, deps_d[0]
                last = "deployment available but no Ready pod"
        return NotYet(last, pods)

    try:
        return poll(
            f"rollout of release {rel}",
            rolled_out,
            every=2,
            deadline=ctx.deadline - 3,
            on_wait=lambda seen: ctx.progress("release", seen.seen),
        )
    except RetryTimeout as exc:
        bundle = _diagnostics(ctx, core, ns, rel, exc.last.value)
        pulling = f" (image pull failing: {pulls.pending()})" if pulls.pending() else ""
        raise StageError(
            f"release {rel} not rolled out within timeout_release: {exc.last.seen}{pulling}",
            details=bundle,
            log=bundle,
        ) from None


def _current_pods(
    apps: Any, api: Any, ns: str, selector: str, dep: dict[str, Any], pods: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The pods of the Deployment's current ReplicaSet (all pods if ReplicaSets cannot be
    listed, e.g. without RBAC for them)."""
    try:
        listed = apps.list_namespaced_replica_set(ns, label_selector=selector, _request_timeout=15)
    except Exception:
        return pods
    replica_sets = [api.sanitize_for_serialization(r) for r in listed.items]
    return rollout_judge.current_pods(dep, replica_sets, pods)


def _event_time(event: Any) -> float:
    for stamp in (
        event.last_timestamp,
        event.event_time,
        event.first_timestamp,
        event.metadata.creation_timestamp,
    ):
        if stamp is not None:
            return float(stamp.timestamp())
    return 0.0


def _diagnostics(
    ctx: StageContext, core: Any, ns: str, rel: str, pods: list[dict[str, Any]]
) -> str:
    """Events, pod status, last log lines, helm status and history (size-capped)."""
    parts = ["== pods =="] + [json.dumps(rollout_judge.pod_summary(p)) for p in pods]
    try:
        # the API lists events by name, not by time: the last 25 must be the latest
        events = sorted(core.list_namespaced_event(ns, _request_timeout=15).items, key=_event_time)
        parts.append("== events ==")
        parts += [
            f"{e.type} {e.reason} {e.involved_object.kind}/{e.involved_object.name}: {e.message}"
            for e in events[-25:]
        ]
    except Exception as exc:
        parts.append(f"(events unavailable: {exc})")
    for pod in pods[:2]:
        parts.append(f"== log {pod['metadata']['name']} ==")
        parts.append(pod_log(core, pod, ns, tail=30))
        if any(
            cs.get("restartCount") for cs in pod.get("status", {}).get("containerStatuses") or []
        ):
            parts.append(f"== previous log {pod['metadata']['name']} (before its restart) ==")
            parts.append(pod_log(core, pod, ns, tail=30, previous=True))
    s = ctx.settings
    for command in ("status", "history"):
        result = ctx.runners("local").run(release_argv(s["helm"], command, s), timeout=20)
        parts.append(f"== helm {command} {rel} ==\n{result.tail(20)}")
    return ctx.redactor.redact("\n".join(parts))[-12000:]

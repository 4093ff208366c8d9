"""Deploy half: chart (T08), node mirror and pull (T09), release (T10), live app (T11),
CI workflow (T12). Judges are pure functions in :mod:`pytest_irp.judge`; this module runs
the tools (helm, ssh to the node, the Kubernetes API, HTTP) and hands their output over.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

from . import judge, mirror_judge, rollout_judge
from .fileio import locked, write_atomic
from .redact import url_passwords
from .registry import REALM_FIX
from .retry import NotYet, RetryTimeout, poll
from .stage import Facts, StageContext, StageError, Step

# --------------------------------------------------------------------------- helm


def _chart_path(ctx: StageContext) -> str:
    chart = Path(ctx.settings["chart"])
    return str(chart if chart.is_absolute() else ctx.facts.app_repo / chart)


def _image_sets(ctx: StageContext, tag: str) -> list[str]:
    s = ctx.settings
    sets = ["--set", f"image.tag={tag}"]
    if s.get("registry"):
        sets += ["--set", f"image.repository={s['registry']}"]
    for values in s["helm_values"]:
        path = Path(values)
        sets += ["-f", str(path if path.is_absolute() else ctx.facts.app_repo / path)]
    return sets


def helm_version(ctx: StageContext) -> str:
    """``helm version --short`` (e.g. ``v4.0.5+g1b6053d``), '' when it does not answer."""
    result = ctx.run("local", [*ctx.settings["helm"], "version", "--short"], timeout=30,
                     check=False, what="helm version")
    return result.stdout.strip().splitlines()[0] if result.ok and result.stdout.strip() else ""


def helm_major(version: str) -> int:
    match = re.search(r"v(\d+)\.", version)
    return int(match.group(1)) if match else 3


def chart_plan(ctx: StageContext) -> list[Step]:
    helm = list(ctx.settings["helm"])
    return [Step("local", tuple(lint_argv(helm, _chart_path(ctx),
                                          _image_sets(ctx, ctx.facts.tag_or()))),
                 ctx.settings["timeout_chart"], "T08 exit criterion")]


def render_plan(ctx: StageContext) -> list[Step]:
    helm = list(ctx.settings["helm"])
    return [Step("local", tuple(template_argv(helm, ctx.settings, _chart_path(ctx),
                                              _image_sets(ctx, ctx.facts.tag_or()))),
                 ctx.settings["timeout_chart"], "render and check the workplan's key notes "
                 "(a chart that breaks them is not deployed)")]


def chart_run(ctx: StageContext) -> dict[str, Any]:
    """T08's exit criterion: `helm lint --strict`."""
    s = ctx.settings
    chart = _chart_path(ctx)
    if not Path(chart, "Chart.yaml").is_file():
        raise StageError(f"no chart at {chart} (Chart.yaml missing; setting 'chart')")
    lint = ctx.run("local", lint_argv(s["helm"], chart, _image_sets(ctx, ctx.facts.tag())),
                   check=False)
    if not lint.ok:
        raise StageError(f"`helm lint --strict` failed: {lint.tail(8)}",
                         details=lint.tail(40))
    return {"lint_rc": lint.rc, "lint_output": lint.tail(10)}


def render_run(ctx: StageContext) -> dict[str, Any]:
    """The rendered manifests against the workplan's key notes; a chart that breaks them
    fails here, so the release (which needs it) is BLOCKED rather than deployed."""
    s = ctx.settings
    tag = ctx.facts.tag()
    rendered = ctx.run("local", template_argv(s["helm"], s, _chart_path(ctx),
                                              _image_sets(ctx, tag)), what="helm template")
    manifests = judge.load_manifests(rendered.stdout)
    expected_image = f"{s['registry']}:{tag}" if s.get("registry") else None
    problems = judge.chart_problems(manifests, expected_image)
    if not any(m.get("kind") == "Secret" for m in manifests):
        ctx.finding("info", "The chart renders no Secret",
                    "The env Secret is created by the release stage (T10) when missing, "
                    "never overwritten.")
    if problems:
        raise StageError("the chart breaks the workplan's key notes: " + "; ".join(problems),
                         details=rendered.tail(60))
    return {"kinds": [m.get("kind") for m in manifests], "problems": problems,
            "manifests": rollout_judge.masked_manifests(manifests),
            "expected_image": expected_image}


# --------------------------------------------------------------------------- node (T09)


def _sudo(s: Any) -> list[str]:
    return list(s["node_sudo"])


def mirror_plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    sudo = _sudo(s)
    return [Step(s["node_host"], (*sudo, "cat", "--", s["registries_yaml"]), s["timeout_mirror"],
                 "k3s registries.yaml"),
            Step(s["node_host"], ("k3s", "--version"), s["timeout_mirror"],
                 "k3s's version (hosts.toml is written from v1.26.13/1.27.10/1.28.6/1.29.1)"),
            Step(s["node_host"], (*sudo, "cat", "--", f"{s['certs_dir']}/<host:port>/hosts.toml"),
                 s["timeout_mirror"], "containerd's rendered mirror (proof the node took it)")]


def _read_node_file(ctx: StageContext, path: str) -> str | None:
    """The file's text, None when it does not exist; a StageError naming the cause when
    it cannot be read (sudo asking for a password, permission denied)."""
    s = ctx.settings
    node = s["node_host"]
    result = ctx.run(node, [*_sudo(s), "cat", "--", path], timeout=30, check=False,
                     what=f"reading {path} on {node}")
    if result.ok:
        return result.stdout
    problem = mirror_judge.node_read_problem(node, path, _sudo(s), result.rc, result.stderr)
    if problem:
        raise StageError(problem, details=result.tail(10))
    return None


def mirror_run(ctx: StageContext) -> dict[str, Any]:
    s = ctx.settings
    node = s["node_host"]
    hostport = str(s.require("registry")).split("/")[0]
    text = _read_node_file(ctx, s["registries_yaml"])
    if text is None:
        raise StageError(f"no {s['registries_yaml']} on {node}: registries.yaml lacks the "
                         f"mirror (k3s reads it at start; setting 'registries_yaml')")
    version_out = ctx.run(node, ["k3s", "--version"], timeout=30, check=False)
    version = mirror_judge.parse_k3s_version(version_out.stdout) if version_out.ok else None
    if version is None:
        ctx.finding("info", f"k3s version on {node} unknown",
                    f"`k3s --version` answered: {version_out.tail(2) or 'nothing'}",
                    "Without it T09 cannot tell an old k3s (no hosts.toml) from one that was "
                    "not restarted.")
    hosts = _read_node_file(ctx, f"{s['certs_dir']}/{hostport}/hosts.toml")
    problems, findings = mirror_judge.mirror_problems(text, hostport, hosts, version)
    for title, detail, fix in findings:
        ctx.finding("warning", title, detail, fix)
    return {"problems": problems, "registries_yaml": text, "hosts_toml": hosts,
            "hostport": hostport, "k3s_version_output": version_out.stdout if version_out.ok
            else "", "k3s_version": ".".join(map(str, version)) if version else ""}


def pull_plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    image = f"{s.get('registry', '<registry>')}:{ctx.facts.tag_or()}"
    crictl = [*_sudo(s), *s["crictl"]]
    return [Step(s["node_host"], (*crictl, "pull", image), s["timeout_pull"],
                 "pull through the mirror"),
            Step(s["node_host"], (*crictl, "inspecti", "-o", "json", image),
                 s["timeout_pull"], "the pulled digest")]


def pull_run(ctx: StageContext) -> dict[str, Any]:
    s = ctx.settings
    node = s["node_host"]
    crictl = [*_sudo(s), *s["crictl"]]
    image = ctx.upstream("push")["image"]
    realm = ctx.upstream("push").get("realm_problem")
    if realm:
        ctx.finding("warning", "Pulls follow the registry's token realm",
                    f"containerd asks the advertised realm for a pull token even with an "
                    f"http:// mirror: {realm}. A pull works only while something answers "
                    f"there.", ctx.upstream("push").get("realm_fix") or REALM_FIX)
    pull = ctx.run(node, [*crictl, "pull", image], check=False)
    if not pull.ok:
        sudo_problem = mirror_judge.node_read_problem(node, "crictl", _sudo(s), pull.rc,
                                               pull.stderr) if _sudo(s) else ""
        if sudo_problem.startswith("sudo on"):
            raise StageError(sudo_problem, details=pull.tail(10))
        hint = f" Likely cause: {realm}" if realm and "token" in pull.stderr.lower() else ""
        why = mirror_judge.crictl_error(pull.stderr) or pull.describe_failure()
        raise StageError(f"`crictl pull {image}` on {node} failed: {why}"
                         f"{mirror_judge.pull_error_hint(why)}" + hint, details=pull.tail(40))
    inspect = ctx.run(node, [*crictl, "inspecti", "-o", "json", image],
                      what=f"crictl inspecti {image}")
    digest = mirror_judge.pulled_digest(inspect.stdout, image.rsplit(":", 1)[0])
    hostport = image.split("/")[0]
    hosts_toml = str(ctx.upstream("mirror").get("hosts_toml") or "")
    route, route_why = mirror_judge.pull_route(hosts_toml, hostport, bool(s["registry_plain_http"]))
    return {"image": image, "digest": digest, "output": pull.tail(3), "route": route,
            "route_why": route_why, "hosts_toml": hosts_toml,
            "plain_http": bool(s["registry_plain_http"])}


# --------------------------------------------------------------------------- release (T10)


def release_plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    ns, rel = s["namespace"], s["release"]
    helm = list(s["helm"])
    return [Step("local", ("kubernetes-api", "read/create", f"namespace/{ns}",
                           f"secret/{_secret_name(s)} (never overwritten)"), 30,
                 "namespace and env secret (values never printed)"),
            Step("local", tuple(upgrade_argv(helm, s, _chart_path(ctx),
                                             _image_sets(ctx, ctx.facts.tag_or()))),
                 s["timeout_release"],
                 "install (helm waits for hooks only); the rollout is then judged by the "
                 "suite (fails fast)"),
            Step("local", tuple(release_argv(helm, "status", s, "-o", "json")), 30,
                 "deployed, revision"),
            Step("local", ("kubernetes-api", "watch", f"deployment,pods -l "
                           f"app.kubernetes.io/instance={rel}"), s["timeout_release"],
                 "rollout (kubectl's algorithm), Ready, restarts, imageID digest")]


def _kube_args(s: Any) -> list[str]:
    args = [f"--kube-context={s['kube_context']}"]
    if s.get("kubeconfig"):
        args.append(f"--kubeconfig={s['kubeconfig']}")
    return args


# helm command lines: flags with their values joined by `=`, the release and chart after
# `--`, so no user-supplied value is ever read as an option (helm parses with cobra/pflag)


def lint_argv(helm: Any, chart: str, sets: list[str]) -> list[str]:
    return [*helm, "lint", "--strict", *sets, "--", chart]


def template_argv(helm: Any, s: Any, chart: str, sets: list[str]) -> list[str]:
    return [*helm, "template", f"--namespace={s['namespace']}", *sets, "--", s["release"],
            chart]


def upgrade_argv(helm: Any, s: Any, chart: str, sets: list[str]) -> list[str]:
    """The release command, the same on every helm 3 and 4 release line: no ``--wait``, so
    helm waits for hooks only and the suite judges the rollout itself (it fails fast on
    CrashLoopBackOff and friends). helm 3's ``--wait`` is a bool, false by default; helm 4's
    default strategy without ``--wait`` is ``hookOnly`` (pkg/cmd/flags.go AddWaitFlag,
    v4.0.0+). ``--wait=hookOnly`` is NOT used: helm 4.0.0-4.0.5 reject it ("invalid wait
    input"), only 4.1.0+ accept it (helm PR #31421). ``--timeout`` bounds the hooks."""
    return [*helm, "upgrade", "--install", f"--namespace={s['namespace']}", *_kube_args(s),
            *sets, f"--timeout={int(s['timeout_release'])}s", "--", s["release"], chart]


def release_argv(helm: Any, command: str, s: Any, *flags: str) -> list[str]:
    """``helm status|history`` of the release."""
    return [*helm, command, f"--namespace={s['namespace']}", *_kube_args(s), *flags, "--",
            s["release"]]


def _secret_name(s: Any) -> str:
    return str(s.get("secret_name") or f"{s['release']}-env")


def generate_session_secret() -> str:
    """IHP's session secret: base64 of exactly 96 random bytes."""
    return base64.b64encode(secrets.token_bytes(96)).decode()


def kube_api(ctx: StageContext) -> Any:
    from kubernetes import client, config

    s = ctx.settings
    try:
        api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=s.get("kubeconfig"), context=s["kube_context"])
    except Exception as exc:
        raise StageError(f"cannot use kube context {s['kube_context']!r}: {exc}") from None
    return client, api_client


def ensure_namespace_and_secret(ctx: StageContext, core: Any, client: Any) -> str:
    from kubernetes.client.exceptions import ApiException

    s = ctx.settings
    ns, name = s["namespace"], _secret_name(s)
    try:
        core.read_namespace(ns, _request_timeout=15)
    except ApiException as exc:
        if exc.status != 404:
            raise StageError(f"reading namespace {ns}: HTTP {exc.status} {exc.reason}"
                             ) from None
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)),
                              _request_timeout=15)
    try:
        secret = core.read_namespaced_secret(name, ns, _request_timeout=15)
        keys = set((secret.data or {}).keys())
        missing = judge.SECRET_KEYS - keys
        if missing:
            raise StageError(f"secret {ns}/{name} exists but lacks {', '.join(sorted(missing))}"
                             f" (it is never overwritten: add the keys)")
        register_secret_values(ctx.redactor, secret.data)
        _check_existing_session_secret(ctx, secret.data["IHP_SESSION_SECRET"], ns, name)
        return "existing"
    except ApiException as exc:
        if exc.status != 404:
            raise StageError(f"reading secret {ns}/{name}: HTTP {exc.status} {exc.reason}"
                             ) from None
    configured = s.get("session_secret")
    session = configured.reveal() if configured else generate_session_secret()
    ctx.redactor.add(session)
    problem = judge.session_secret_problem(session)
    if problem:
        raise StageError(f"cannot create secret {ns}/{name}: {problem} (setting "
                         f"'session_secret'; unset it to have one generated)")
    database_url = s.require("database_url").reveal()
    ctx.redactor.add(database_url)
    body = client.V1Secret(metadata=client.V1ObjectMeta(name=name), type="Opaque",
                           string_data={"IHP_SESSION_SECRET": session,
                                        "DATABASE_URL": database_url,
                                        "IHP_BASEURL": s.get("base_url") or ""})
    core.create_namespaced_secret(ns, body, _request_timeout=15)
    return "created"


PUBLIC_SECRET_KEYS = frozenset({"IHP_BASEURL"})  # the app's public URL, shown in reports


def register_secret_values(redactor: Any, data: dict[str, str] | None) -> None:
    """Every value of a Secret read from the cluster is registered before anything can
    print it (DATABASE_URL, IHP_SESSION_SECRET, any other key); only the public base URL
    stays readable, and a password inside it is still masked."""
    for key, encoded in (data or {}).items():
        try:
            value = base64.b64decode(encoded, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            redactor.add(encoded)  # not text: its base64 is the only printable form
            continue
        if key in PUBLIC_SECRET_KEYS:
            for user, password in url_passwords(value):
                redactor.add_basic_auth(user, password)
        else:
            redactor.add(value)
        redactor.add(encoded)


def _check_existing_session_secret(ctx: StageContext, encoded: str, ns: str,
                                   name: str) -> None:
    """A finding (never a value) when the existing secret's session key is one IHP rejects."""
    try:
        value = base64.b64decode(encoded).decode()
    except (ValueError, UnicodeDecodeError):
        value = ""
    ctx.redactor.add(value)
    problem = judge.session_secret_problem(value)
    if problem:
        ctx.finding("warning", f"Secret {ns}/{name}: IHP will not accept its session key",
                    f"{problem}: the app then generates a key and prints it to its log "
                    f"(T11 fails on that line).",
                    "Store base64 of 96 random bytes (e.g. `head -c 96 /dev/urandom | "
                    "base64 -w0`); the workplan's `openssl rand -base64 32` is too short.")


def release_run(ctx: StageContext) -> dict[str, Any]:
    s = ctx.settings
    push = ctx.upstream("push")
    client, api_client = kube_api(ctx)
    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    secret_state = ensure_namespace_and_secret(ctx, core, client)
    version = helm_version(ctx)
    ns, rel = s["namespace"], s["release"]
    install = ctx.run("local", upgrade_argv(s["helm"], s, _chart_path(ctx),
                                            _image_sets(ctx, push["tag"])), check=False)
    if not install.ok:
        raise StageError(f"helm upgrade --install failed: {install.tail(6)}",
                         details=install.tail(40))
    status = json.loads(ctx.run("local", release_argv(s["helm"], "status", s, "-o", "json"),
                                timeout=30, what="helm status").stdout)
    info = rollout_judge.helm_status(status)
    pods, dep = _wait_rollout(ctx, core, apps, ns, rel)
    problems = rollout_judge.pod_problems(pods)
    for title, detail in rollout_judge.restart_findings(pods):
        ctx.finding("warning", title, detail, "Read the previous log in the release's "
                    "diagnostics (kubectl logs --previous); T10 passes on a pod that runs "
                    "Ready again.")
    running = rollout_judge.running_digests(pods)
    startup_ok = None
    startup_problem = ""
    logs = ""
    if pods:
        logs = _pod_log(core, pods[0], ns, tail=200)
        if s.get("startup_line"):
            startup_problem, note = rollout_judge.startup_problem(logs, s["startup_line"])
            startup_ok = not startup_problem
            if note:
                ctx.finding("info", "Startup line not among the last log lines", note)
    healthz = _healthz_via_cluster(core, ns, rel)
    return {"status": info["status"], "revision": info["revision"], "secret": secret_state,
            "helm_version": version, "helm_major": helm_major(version),
            "pods": [rollout_judge.pod_summary(p) for p in pods],
            "pod_facts": [rollout_judge.pod_facts(p) for p in pods],
            "pod_problems": problems, "running_digest": running[0] if running else "",
            "deployment": dep.get("metadata", {}).get("name", ""),
            "startup_line_seen": startup_ok,
            "startup_problem": startup_problem, "healthz_via_cluster": healthz,
            "log_excerpt": ctx.redactor.redact(logs[-2000:])}


def _pod_log(core: Any, pod: dict[str, Any], ns: str, tail: int, previous: bool = False
             ) -> str:
    try:
        return str(core.read_namespaced_pod_log(pod["metadata"]["name"], ns, tail_lines=tail,
                                                previous=previous, _request_timeout=15))
    except Exception as exc:
        return f"(log unavailable: {exc})"


def _healthz_via_cluster(core: Any, ns: str, rel: str) -> dict[str, Any]:
    """The workplan's ``curl http://<cluster-ip>/healthz``, through the API server's
    service proxy (so from inside the cluster, without a route to the cluster IP): the
    release's Service on its port 80."""
    selector = f"app.kubernetes.io/instance={rel}"
    try:
        services = core.list_namespaced_service(ns, label_selector=selector,
                                                _request_timeout=15).items
    except Exception as exc:
        return {"status": 0, "body": "", "error": f"listing services: {str(exc)[:300]}"}
    names = [svc.metadata.name for svc in services
             if any(port.port == 80 for port in svc.spec.ports or [])]
    if not names:
        return {"status": 0, "body": "", "error": f"no Service with port 80 for {selector}"}

    def get() -> dict[str, Any] | NotYet:
        try:
            body = core.connect_get_namespaced_service_proxy_with_path(
                f"{names[0]}:80", ns, "healthz", _request_timeout=10,
                _preload_content=False)
            return {"status": int(body.status), "body": body.data.decode(errors="replace")
                    [:2000], "error": "", "service": names[0]}
        except Exception as exc:
            status = getattr(exc, "status", 0) or 0
            last = {"status": int(status), "body": str(getattr(exc, "body", "") or "")[:500],
                    "error": str(getattr(exc, "reason", exc))[:300], "service": names[0]}
            if status and status < 500:
                return last
            return NotYet(str(last["error"]), last)

    try:
        return poll(f"GET /healthz through the Service {names[0]}", get, every=2, tries=5)
    except RetryTimeout as exc:
        last: dict[str, Any] = exc.last.value
        return last


def _wait_rollout(ctx: StageContext, core: Any, apps: Any, ns: str, rel: str
                  ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    selector = f"app.kubernetes.io/instance={rel}"
    api = core.api_client
    pulls = rollout_judge.PullWatch()

    def rolled_out() -> tuple[list[dict[str, Any]], dict[str, Any]] | NotYet:
        deps = apps.list_namespaced_deployment(ns, label_selector=selector,
                                               _request_timeout=15)
        pods_raw = core.list_namespaced_pod(ns, label_selector=selector, _request_timeout=15)
        deps_d = [api.sanitize_for_serialization(d) for d in deps.items]
        pods = [api.sanitize_for_serialization(p) for p in pods_raw.items]
        current = _current_pods(apps, api, ns, selector, deps_d[0], pods) if deps_d else pods
        fatal = (rollout_judge.fatal_pod_state(current) or pulls.observe(current, time.monotonic())
                 or (rollout_judge.rollout_failed(deps_d[0]) if deps_d else ""))
        if fatal:
            bundle = _diagnostics(ctx, core, ns, rel,
                                  current + [p for p in pods if p not in current])
            raise StageError(f"release {rel}: {fatal}", details=bundle, log=bundle)
        last = "no deployment yet"
        if deps_d:
            done, last = rollout_judge.rollout_status(deps_d[0])
            if done:
                ready = [p for p in current if rollout_judge.pod_ready(p)
                         and not p["metadata"].get("deletionTimestamp")]
                if ready:
                    return ready, deps_d[0]
                last = "deployment available but no Ready pod"
        return NotYet(last, pods)

    try:
        return poll(f"rollout of release {rel}", rolled_out, every=2,
                    deadline=ctx.deadline - 3,
                    on_wait=lambda seen: ctx.progress("release", seen.seen))
    except RetryTimeout as exc:
        bundle = _diagnostics(ctx, core, ns, rel, exc.last.value)
        pulling = f" (image pull failing: {pulls.pending()})" if pulls.pending() else ""
        raise StageError(f"release {rel} not rolled out within timeout_release: "
                         f"{exc.last.seen}{pulling}", details=bundle, log=bundle) from None


def _current_pods(apps: Any, api: Any, ns: str, selector: str, dep: dict[str, Any],
                  pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pods of the Deployment's current ReplicaSet (all pods if ReplicaSets cannot be
    listed, e.g. without RBAC for them)."""
    try:
        listed = apps.list_namespaced_replica_set(ns, label_selector=selector,
                                                  _request_timeout=15)
    except Exception:
        return pods
    replica_sets = [api.sanitize_for_serialization(r) for r in listed.items]
    return rollout_judge.current_pods(dep, replica_sets, pods)


def _event_time(event: Any) -> float:
    for stamp in (event.last_timestamp, event.event_time, event.first_timestamp,
                  event.metadata.creation_timestamp):
        if stamp is not None:
            return float(stamp.timestamp())
    return 0.0


def _diagnostics(ctx: StageContext, core: Any, ns: str, rel: str,
                 pods: list[dict[str, Any]]) -> str:
    """Events, pod status, last log lines, helm status and history (size-capped)."""
    parts = ["== pods =="] + [json.dumps(rollout_judge.pod_summary(p)) for p in pods]
    try:
        # the API lists events by name, not by time: the last 25 must be the latest
        events = sorted(core.list_namespaced_event(ns, _request_timeout=15).items,
                        key=_event_time)
        parts.append("== events ==")
        parts += [f"{e.type} {e.reason} {e.involved_object.kind}/{e.involved_object.name}: "
                  f"{e.message}" for e in events[-25:]]
    except Exception as exc:
        parts.append(f"(events unavailable: {exc})")
    for pod in pods[:2]:
        parts.append(f"== log {pod['metadata']['name']} ==")
        parts.append(_pod_log(core, pod, ns, tail=30))
        if any(cs.get("restartCount") for cs in
               pod.get("status", {}).get("containerStatuses") or []):
            parts.append(f"== previous log {pod['metadata']['name']} (before its restart) ==")
            parts.append(_pod_log(core, pod, ns, tail=30, previous=True))
    s = ctx.settings
    for command in ("status", "history"):
        result = ctx.runners("local").run(release_argv(s["helm"], command, s), timeout=20)
        parts.append(f"== helm {command} {rel} ==\n{result.tail(20)}")
    return ctx.redactor.redact("\n".join(parts))[-12000:]


# --------------------------------------------------------------------------- live (T11)


def live_plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    base = s.get("base_url") or "<base_url>"
    return [Step("local", ("GET", f"{base}/healthz"), 60, "200 and body `ok` (bounded "
                           "retries)"),
            Step("local", ("GET", f"{base}/probes"), 60, "200"),
            Step("local", ("kubernetes-api", "pod logs", f"{s['log_watch']:.0f}s"),
                 s["log_watch"], "no panic/exception, no printed session key"),
            Step("local", ("append", "PIPELINE_LOG.md"), 5, "once per SHA, on full success")]


def http_get(url: str, *, tries: int = 10, every: float = 2.0) -> dict[str, Any]:
    """GET with bounded retries on connection errors and 5xx; the last answer wins."""
    import requests

    session = requests.Session()
    session.trust_env = False

    def get() -> dict[str, Any] | NotYet:
        try:
            response = session.get(url, timeout=5)
            last = {"status": response.status_code, "body": response.text[:2000], "error": ""}
            if response.status_code < 500:
                return last
            return NotYet(f"HTTP {response.status_code}", last)
        except requests.RequestException as exc:
            error = str(exc)[:300]
            return NotYet(error, {"status": 0, "body": "", "error": error})

    try:
        return poll(f"GET {url}", get, every=every, tries=max(1, tries))
    except RetryTimeout as exc:
        answer: dict[str, Any] = exc.last.value
        return answer


def live_run(ctx: StageContext) -> dict[str, Any]:
    s = ctx.settings
    base = s.require("base_url")
    healthz = http_get(f"{base}/healthz")
    probes = http_get(f"{base}/probes")
    client, api_client = kube_api(ctx)
    core = client.CoreV1Api(api_client)
    pods = ctx.upstream("release")["pods"]

    def read_logs() -> str | NotYet:
        """The pods' logs once a session key shows in them (masked from then on)."""
        logs = "\n".join(_pod_log(core, {"metadata": {"name": p["name"]}}, s["namespace"],
                                  tail=2000) for p in pods)
        leaked = judge.leaked_secrets(logs)
        for value in leaked:
            ctx.redactor.add(value)
        return logs if leaked else NotYet("no session key printed", logs)

    try:  # a watch, not a wait: the whole of log_watch without a printed key is good
        logs = poll("watch of the pod logs", read_logs, every=5.0,
                    timeout=float(s["log_watch"]))
    except RetryTimeout as exc:
        logs = exc.last.value
    log_problems = judge.log_problems(logs)
    ctx.save_log("pods", logs)
    result = {"healthz": healthz, "probes": probes, "log_problems": log_problems,
              "watched_seconds": float(s["log_watch"])}
    return result


def append_pipeline_log(s: Any, facts: Facts) -> str:
    """One row in the app repo's PIPELINE_LOG.md, in the workplan's format: written
    atomically, once per SHA (called at the end of a fully green run). Parallel runs
    read and rewrite it one at a time, under an exclusive lock on the app repository's
    directory, so none loses another's row."""
    sha = facts.sha()
    path = facts.app_repo / "PIPELINE_LOG.md"
    with locked(facts.app_repo):
        text = path.read_text(encoding="utf-8") if path.exists() else \
            judge.PIPELINE_LOG_HEADER
        if judge.pipeline_log_has(text, sha):
            return "already logged"
        registry = str(s.get("registry", "")).split("/")[0]
        row = judge.pipeline_log_row(time.strftime("%Y-%m-%d"), sha[:7], s["host"],
                                     registry, s["kube_context"])
        write_atomic(path, text.rstrip("\n") + "\n" + row + "\n")
    return row


# --------------------------------------------------------------------------- CI (T12)


def ci_plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    if s.get("gitea_api_url") and s.get("gitea_token"):
        api, repo = s["gitea_api_url"], _gitea_repo(s)
        return [Step("local", ("GET", f"{api}/repos/{repo}/contents/.gitea/workflows?ref="
                               f"{s['ci_branch']}", "(token)"), 10,
                     "the workflow files as Gitea has them (triggers, runner, steps)"),
                Step("local", ("GET", f"{api}/repos/{repo}/actions/runs", "(token)"), 10,
                     "the latest run on the CI branch")]
    return [Step("local", ("read", ".gitea/workflows/*.yml"), 5, "triggers, runner, steps")]


def ci_run(ctx: StageContext) -> dict[str, Any]:
    s = ctx.settings
    latest: dict[str, Any] | None = None
    if s.get("gitea_api_url") and s.get("gitea_token"):
        ctx.redactor.add(s["gitea_token"])  # a Secret: registered by its value
        api = _GiteaApi(s)
        texts = api.workflows(s["ci_branch"])
        source = f"Gitea {s['gitea_api_url']} ({_gitea_repo(s)} at {s['ci_branch']})"
        if texts:
            ctx.finding("info", "CI workflows read through Gitea's API",
                        f"{', '.join(sorted(texts))} from {source}", "")
        latest = api.latest_runs()
    else:
        workflows = sorted((ctx.facts.app_repo / ".gitea" / "workflows").glob("*.y*ml"))
        if not workflows:
            raise StageError("no workflow in .gitea/workflows/")
        texts = {w.name: w.read_text(encoding="utf-8") for w in workflows}
        source = str(ctx.facts.app_repo)
        ctx.finding("info", "Latest CI run not checked",
                    "gitea_api_url and gitea_token are not both set, so only the workflow "
                    "file was checked.", "Set both to check that the latest run on main "
                    "succeeded.")
    problems = judge.ci_problems(texts, s["runner_label"], latest, s["ci_branch"], source)
    return {"workflows": sorted(texts), "problems": problems, "latest_runs": latest,
            "workflow_source": source, "workflow_texts": texts,
            "runner_label": s["runner_label"], "ci_branch": s["ci_branch"]}


def _gitea_repo(s: Any) -> str:
    return str(s.get("gitea_repo") or str(s.require("registry")).split("/", 1)[1])


class _GiteaApi:
    """The few Gitea API calls of T12 (token auth; never through a proxy)."""

    def __init__(self, s: Any) -> None:
        import requests

        self.api = str(s["gitea_api_url"]).rstrip("/")
        self.repo = _gitea_repo(s)
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"token {s['gitea_token'].reveal()}"

    def get(self, path: str, **params: Any) -> Any:
        import requests

        url = f"{self.api}/repos/{self.repo}/{path}"
        try:
            response = self.session.get(url, params=params, timeout=10)
        except requests.RequestException as exc:
            raise StageError(f"Gitea API {self.api} unreachable: {exc}") from None
        if response.status_code in (401, 403):
            raise StageError(f"Gitea API rejected gitea_token (HTTP {response.status_code})")
        return response

    def workflows(self, ref: str) -> dict[str, str]:
        """{file name: text} of ``.gitea/workflows/*.y*ml`` at ``ref``, read through the
        contents API (``GET /repos/O/R/contents/PATH?ref=REF``, base64 content)."""
        listing = self.get("contents/.gitea/workflows", ref=ref)
        if listing.status_code == 404:
            return {}
        if listing.status_code != 200:
            raise StageError(f"Gitea API contents/.gitea/workflows: HTTP "
                             f"{listing.status_code}")
        texts: dict[str, str] = {}
        for entry in listing.json() or []:
            name = str(entry.get("name", ""))
            if entry.get("type") != "file" or not name.endswith((".yml", ".yaml")):
                continue
            got = self.get(f"contents/{entry['path']}", ref=ref)
            if got.status_code != 200:
                raise StageError(f"Gitea API contents/{entry['path']}: HTTP {got.status_code}")
            texts[name] = base64.b64decode(got.json().get("content") or "").decode("utf-8")
        return texts

    def latest_runs(self) -> dict[str, Any]:
        """The repository's Actions runs (newer Gitea: /actions/runs; older: /tasks)."""
        for path in ("actions/runs", "actions/tasks"):
            response = self.get(path, limit=20)
            if response.status_code == 404:
                continue
            if response.status_code != 200:
                raise StageError(f"Gitea API {path}: HTTP {response.status_code}")
            return dict(response.json())
        raise StageError(f"Gitea API at {self.api} has no Actions runs endpoint for "
                         f"{self.repo}")

"""The live stage (T11): ``/healthz`` and ``/probes`` at base_url (bounded retries), and a
watch of the pods' logs for the whole of log_watch, judged by
:func:`pytest_irp.judge.log_problems` (the logs may hold the session secret, so the
value records the judge's findings, not the logs)."""

from __future__ import annotations

from typing import Any, NamedTuple, cast

from .. import judge
from ..kube import kube_api, pod_log
from ..retry import NotYet, RetryTimeout, poll
from ..stage import StageContext, Step
from ..values import DeployedRelease, HttpAnswer, LiveApp

LOG_TAIL = 2000


class Commands(NamedTuple):
    healthz: Step
    probes: Step
    logs: Step


def commands(s: Any, base: str) -> Commands:
    ns = s["namespace"]
    return Commands(
        Step("local", ("GET", f"{base}/healthz"), 60, "200 and body `ok` (bounded retries)"),
        Step("local", ("GET", f"{base}/probes"), 60, "200"),
        Step(
            "local",
            ("kubernetes-api", "GET", f"/api/v1/namespaces/{ns}/pods/POD/log?tailLines={LOG_TAIL}"),
            s["log_watch"],
            f"every 5 s for log_watch ({s['log_watch']:.0f}s), POD: each "
            f"Ready pod of the release: no panic/exception, no printed session key",
        ),
    )


def plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    steps = list(commands(s, s.get("base_url") or "<base_url>"))
    if s["pipeline_log"]:
        steps.append(
            Step(
                "local",
                ("append", str(ctx.facts.app_repo / "PIPELINE_LOG.md")),
                5,
                "one row per SHA, at the end of a fully green run",
            )
        )
    return steps


def http_get(url: str, *, tries: int = 10, every: float = 2.0) -> HttpAnswer:
    """GET with bounded retries on connection errors and 5xx; the last answer wins."""
    import requests

    session = requests.Session()
    session.trust_env = False

    def get() -> HttpAnswer | NotYet:
        try:
            response = session.get(url, timeout=5)
            last: HttpAnswer = {
                "status": response.status_code,
                "body": response.text[:2000],
                "error": "",
            }
            if response.status_code < 500:
                return last
            return NotYet(f"HTTP {response.status_code}", last)
        except requests.RequestException as exc:
            error = str(exc)[:300]
            return NotYet(error, {"status": 0, "body": "", "error": error})

    try:
        return poll(f"GET {url}", get, every=every, tries=max(1, tries))
    except RetryTimeout as exc:
        return cast(HttpAnswer, exc.last.value)


def _recorded_get(ctx: StageContext, url: str) -> HttpAnswer:
    """:func:`http_get`, recorded like a command (the HTTP status in place of an exit
    code, the body as its output): the report's stage record shows URL, status and body."""
    import time

    from ..runners import CommandResult

    started = time.monotonic()
    answer = http_get(url)
    ctx.record(
        CommandResult(
            "local",
            ("GET", url),
            answer["status"],
            answer["body"],
            answer["error"],
            time.monotonic() - started,
        )
    )
    return answer


def run(ctx: StageContext) -> LiveApp:
    s = ctx.settings
    base = s.require("base_url")
    steps = commands(s, base)
    healthz = _recorded_get(ctx, steps.healthz.argv[1])
    probes = _recorded_get(ctx, steps.probes.argv[1])
    client, api_client = kube_api(ctx)
    core = client.CoreV1Api(api_client)
    pods = cast(DeployedRelease, ctx.upstream("release"))["pods"]

    def read_logs() -> str | NotYet:
        """The pods' logs once a session key shows in them (masked from then on)."""
        logs = "\n".join(
            pod_log(core, {"metadata": {"name": p["name"]}}, s["namespace"], tail=LOG_TAIL)
            for p in pods
        )
        leaked = judge.leaked_secrets(logs)
        for value in leaked:
            ctx.redactor.add(value)
        return logs if leaked else NotYet("no session key printed", logs)

    try:  # a watch, not a wait: the whole of log_watch without a printed key is good
        logs = poll("watch of the pod logs", read_logs, every=5.0, timeout=float(s["log_watch"]))
    except RetryTimeout as exc:
        logs = exc.last.value
    log_problems = judge.log_problems(logs)
    ctx.save_log("pods", logs)
    return {
        "healthz": healthz,
        "probes": probes,
        "log_problems": log_problems,
        "watched_seconds": float(s["log_watch"]),
    }

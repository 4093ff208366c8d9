"""Pure judges of deploy-side objects: rendered manifests, secrets, logs, the pipeline log
(the release's Deployments and pods: :mod:`pytest_irp.rollout_judge`; CI workflows and
runs: :mod:`pytest_irp.ci_audit`, :mod:`pytest_irp.ci_runs`)."""

from __future__ import annotations

import re
from typing import Any

SECRET_KEYS = frozenset({"IHP_SESSION_SECRET", "DATABASE_URL", "IHP_BASEURL"})
PIPELINE_LOG_HEADER = (
    "# Pipeline log\n\n| Date | SHA | Build | Push | Deploy | Smoke |\n"
    "|------|-----|-------|------|--------|-------|\n"
)


# --------------------------------------------------------------------------- chart


def load_manifests(text: str) -> list[dict[str, Any]]:
    import yaml  # lazily: not needed to collect the suite

    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def chart_problems(manifests: list[dict[str, Any]], expected_image: str | None) -> list[str]:
    """The workplan's key deployment notes, checked on rendered manifests."""
    problems: list[str] = []
    deps = [m for m in manifests if m.get("kind") == "Deployment"]
    if len(deps) != 1:
        return [f"expected one Deployment, the chart renders {len(deps)}"]
    spec = deps[0].get("spec", {})
    if spec.get("replicas", 1) != 1:
        problems.append(f"replicas is {spec.get('replicas')}, expected 1")
    containers = spec.get("template", {}).get("spec", {}).get("containers", [])
    if not containers:
        return problems + ["the Deployment has no container"]
    c = containers[0]
    if expected_image and c.get("image") != expected_image:
        problems.append(f"image is {c.get('image')!r}, expected {expected_image!r}")
    if c.get("imagePullPolicy") != "Always":
        problems.append(f"imagePullPolicy is {c.get('imagePullPolicy')!r}, expected Always")
    limits = c.get("resources", {}).get("limits", {})
    if str(limits.get("memory")) != "256Mi" or str(limits.get("cpu")) != "200m":
        problems.append(f"limits are {limits}, expected memory 256Mi and cpu 200m")
    probe = c.get("livenessProbe", {})
    get = probe.get("httpGet", {})
    if get.get("path") != "/healthz":
        problems.append(f"liveness probe path is {get.get('path')!r}, expected /healthz")
    if probe.get("initialDelaySeconds") != 30:
        problems.append(
            f"liveness initialDelaySeconds is {probe.get('initialDelaySeconds')}, expected 30"
        )
    if not any("secretRef" in e for e in c.get("envFrom", [])):
        problems.append("no envFrom secretRef on the container")
    ports = [p.get("containerPort") for p in c.get("ports", [])]
    if 8000 not in ports:
        problems.append(f"container ports are {ports}, expected 8000")
    services = [m for m in manifests if m.get("kind") == "Service"]
    if not any(
        any(
            p.get("port") == 80 and p.get("targetPort") in (8000, "http", "8000")
            for p in svc.get("spec", {}).get("ports", [])
        )
        for svc in services
    ):
        problems.append("no Service maps port 80 to 8000")
    if not any(m.get("kind") in ("Ingress", "IngressRoute") for m in manifests):
        problems.append("no Ingress or Traefik IngressRoute")
    for secret in (m for m in manifests if m.get("kind") == "Secret"):
        keys = set(secret.get("data", {}) or {}) | set(secret.get("stringData", {}) or {})
        missing = SECRET_KEYS - keys
        if missing:
            problems.append(
                f"Secret {secret.get('metadata', {}).get('name')} lacks "
                f"{', '.join(sorted(missing))}"
            )
    return problems


def masked_manifests(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rendered manifests as recorded: a Secret's values replaced, its keys kept (what
    :func:`chart_problems` reads of it)."""

    def mask(m: dict[str, Any]) -> dict[str, Any]:
        if m.get("kind") != "Secret":
            return m
        out = dict(m)
        for field in ("data", "stringData"):
            if isinstance(m.get(field), dict):
                out[field] = dict.fromkeys(m[field], "***")
        return out

    return [mask(m) for m in manifests]


# --------------------------------------------------------------------------- secrets


def session_secret_problem(value: str) -> str:
    """IHP wants IHP_SESSION_SECRET as base64 of exactly 96 bytes; otherwise it generates
    one at start and prints it to the log ('' when the value is valid)."""
    import base64
    import binascii

    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "IHP_SESSION_SECRET is not valid base64"
    if len(raw) != 96:
        return f"IHP_SESSION_SECRET decodes to {len(raw)} bytes, IHP needs 96"
    return ""


# --------------------------------------------------------------------------- logs


_PANIC = re.compile(r"(?i)\b(panic|uncaught exception|exception:|segmentation fault|fatal)\b")


def leaked_secrets(logs: str) -> list[str]:
    """Session keys the app printed (the redactor's own pattern: it masks these)."""
    from .redact import session_secret_values

    return session_secret_values(logs)


def log_problems(logs: str) -> list[str]:
    problems = []
    if leaked_secrets(logs):
        # worded without "IHP_SESSION_SECRET=": the redactor masks whatever follows that
        problems.append(
            "the app printed a generated session key to the pod log (its "
            "IHP_SESSION_SECRET is missing or invalid; the key is masked)"
        )
    for line in logs.splitlines():
        if _PANIC.search(line):
            problems.append(f"panic/exception in the pod log: {line.strip()[:200]}")
            break
    return problems


def pipeline_log_has(text: str, sha: str) -> bool:
    """Does PIPELINE_LOG.md already hold a row for ``sha``? Rows carry the short SHA."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 1 and len(cells[1]) >= 7 and sha.startswith(cells[1]):
            return True
    return False


def pipeline_log_row(date: str, sha: str, build_host: str, registry: str, cluster: str) -> str:
    return (
        f"| {date} | {sha} | Build: {build_host} | Push: {registry} | "
        f"Deploy: {cluster} | Smoke: PASS |"
    )

"""The Kubernetes API as the release (T10) and live (T11) stages use it: the client for
the kube context, the namespace and the env Secret (created when missing, never
overwritten; every value registered with the redactor before anything can print it), and
pod logs. The kubernetes package is imported when a stage first asks for it."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from . import judge
from .redact import url_passwords
from .stage import StageContext, StageError


def secret_name(s: Any) -> str:
    return str(s.get("secret_name") or f"{s['release']}-env")


def generate_session_secret() -> str:
    """IHP's session secret: base64 of exactly 96 random bytes."""
    return base64.b64encode(secrets.token_bytes(96)).decode()


def kube_api(ctx: StageContext) -> Any:
    from kubernetes import client, config

    s = ctx.settings
    try:
        api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=s.get("kubeconfig"), context=s["kube_context"]
        )
    except Exception as exc:
        raise StageError(f"cannot use kube context {s['kube_context']!r}: {exc}") from None
    return client, api_client


def ensure_namespace_and_secret(ctx: StageContext, core: Any, client: Any) -> str:
    from kubernetes.client.exceptions import ApiException

    s = ctx.settings
    ns, name = s["namespace"], secret_name(s)
    try:
        core.read_namespace(ns, _request_timeout=15)
    except ApiException as exc:
        if exc.status != 404:
            raise StageError(f"reading namespace {ns}: HTTP {exc.status} {exc.reason}") from None
        core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)), _request_timeout=15
        )
    try:
        secret = core.read_namespaced_secret(name, ns, _request_timeout=15)
        keys = set((secret.data or {}).keys())
        missing = judge.SECRET_KEYS - keys
        if missing:
            raise StageError(
                f"secret {ns}/{name} exists but lacks {', '.join(sorted(missing))}"
                f" (it is never overwritten: add the keys)"
            )
        register_secret_values(ctx.redactor, secret.data)
        _check_existing_session_secret(ctx, secret.data["IHP_SESSION_SECRET"], ns, name)
        return "existing"
    except ApiException as exc:
        if exc.status != 404:
            raise StageError(
                f"reading secret {ns}/{name}: HTTP {exc.status} {exc.reason}"
            ) from None
    configured = s.get("session_secret")
    session = configured.reveal() if configured else generate_session_secret()
    ctx.redactor.add(session)
    problem = judge.session_secret_problem(session)
    if problem:
        raise StageError(
            f"cannot create secret {ns}/{name}: {problem} (setting "
            f"'session_secret'; unset it to have one generated)"
        )
    database_url = s.require("database_url").reveal()
    ctx.redactor.add(database_url)
    body = client.V1Secret(
        metadata=client.V1ObjectMeta(name=name),
        type="Opaque",
        string_data={
            "IHP_SESSION_SECRET": session,
            "DATABASE_URL": database_url,
            "IHP_BASEURL": s.get("base_url") or "",
        },
    )
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


def _check_existing_session_secret(ctx: StageContext, encoded: str, ns: str, name: str) -> None:
    """A finding (never a value) when the existing secret's session key is one IHP rejects."""
    try:
        value = base64.b64decode(encoded).decode()
    except (ValueError, UnicodeDecodeError):
        value = ""
    ctx.redactor.add(value)
    problem = judge.session_secret_problem(value)
    if problem:
        ctx.finding(
            "warning",
            f"Secret {ns}/{name}: IHP will not accept its session key",
            f"{problem}: the app then generates a key and prints it to its log "
            f"(T11 fails on that line).",
            "Store base64 of 96 random bytes (e.g. `head -c 96 /dev/urandom | "
            "base64 -w0`); the workplan's `openssl rand -base64 32` is too short.",
        )


def pod_log(core: Any, pod: dict[str, Any], ns: str, tail: int, previous: bool = False) -> str:
    try:
        return str(
            core.read_namespaced_pod_log(
                pod["metadata"]["name"], ns, tail_lines=tail, previous=previous, _request_timeout=15
            )
        )
    except Exception as exc:
        return f"(log unavailable: {exc})"

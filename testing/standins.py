"""Loopback HTTP stand-ins for the preflight's tests: a registry's ``/v2/`` and ``/v2/token``
(Gitea's answers: two challenges, an HS256-looking JWT without an access claim, or one with
an ``access`` claim like distribution's token servers) and the two Kubernetes API calls the
preflight makes (namespace read, SelfSubjectAccessReview). They listen on 127.0.0.1 only,
on a free port, and answer nothing else (404)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: dict[str, Any]) -> str:
    """A JWT-shaped token (the signature is not checked by the preflight: it only reads)."""
    return ".".join(
        [
            b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()),
            b64url(json.dumps(claims).encode()),
            b64url(b"not-a-signature"),
        ]
    )


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _send(self, status: int, body: Any = None, headers: list[tuple[str, str]] = ()) -> None:  # type: ignore[assignment]
        data = (
            b""
            if body is None
            else (body if isinstance(body, bytes) else json.dumps(body).encode())
        )
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.server.requests.append(("GET", self.path))
        self.server.stand_in.get(self)

    def do_HEAD(self) -> None:
        self.server.requests.append(("HEAD", self.path))
        self.server.stand_in.head(self)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append(("POST", self.path))
        self.server.stand_in.post(self, body)


class RegistryStandIn:
    """``GET /v2/`` -> 401 with Gitea's two challenges (realm on this port unless
    ``realm_port`` says another); ``GET /v2/token`` -> a token for the right basic auth,
    401 otherwise. ``access`` puts an access claim in the token (None: Gitea's, none)."""

    def __init__(
        self,
        user: str,
        password: str,
        access: list[dict[str, Any]] | None = None,
        realm_port: int | None = None,
    ) -> None:
        self.user, self.password, self.access, self.realm_port = (
            user,
            password,
            access,
            realm_port,
        )
        self.port = 0

    def get(self, h: _Handler) -> None:
        if h.path == "/v2/":
            port = self.realm_port or self.port
            h._send(
                401,
                {"errors": [{"code": "UNAUTHORIZED"}]},
                [
                    (
                        "WWW-Authenticate",
                        f'Bearer realm="http://127.0.0.1:{port}/v2/token",'
                        'service="container_registry",scope="*"',
                    ),
                    ("WWW-Authenticate", 'Basic realm="Gitea Container Registry"'),
                ],
            )
            return
        if h.path.startswith("/v2/token"):
            expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            if h.headers.get("Authorization") != expected:
                h._send(401, b"Unauthorized\n")
                return
            claims: dict[str, Any] = {"sub": self.user, "exp": 2000000000}
            if self.access is not None:
                claims["access"] = self.access
            h._send(200, {"token": jwt(claims)})
            return
        h._send(404)

    def head(self, h: _Handler) -> None:
        h._send(404)

    def post(self, h: _Handler, body: Any) -> None:
        h._send(404)


class PushRegistryStandIn(RegistryStandIn):
    """A Gitea after a push of ``repository`` (OWNER/NAME): its tags/list lists ``tags``,
    ``HEAD`` of a manifest answers ``served`` (tag -> Docker-Content-Digest; 404 for a tag
    not in it), ``/api/v1/version`` a Gitea version and the packages API ``tags`` as the
    package's versions."""

    def __init__(
        self, user: str, password: str, repository: str, tags: list[str], served: dict[str, str]
    ) -> None:
        super().__init__(user, password)
        self.repository, self.tags, self.served = repository, tags, served

    def get(self, h: _Handler) -> None:
        owner, _, name = self.repository.partition("/")
        if h.path == f"/v2/{self.repository}/tags/list":
            h._send(200, {"name": self.repository, "tags": self.tags})
        elif h.path == "/api/v1/version":
            h._send(200, {"version": "1.26.0"})
        elif h.path.startswith(f"/api/v1/packages/{owner}?"):
            rows = [{"name": name, "type": "container", "version": t} for t in self.tags]
            h._send(200, rows if "page=1&" in h.path else [])
        else:
            super().get(h)

    def head(self, h: _Handler) -> None:
        prefix = f"/v2/{self.repository}/manifests/"
        digest = self.served.get(h.path[len(prefix) :]) if h.path.startswith(prefix) else None
        h._send(200 if digest else 404, None, [("Docker-Content-Digest", digest)] if digest else [])


class KubeStandIn:
    """The namespace read (``namespace_present``) and SelfSubjectAccessReview answers
    (``denied``: (verb, resource) pairs the user may not)."""

    def __init__(
        self,
        namespace: str = "coulomb",
        namespace_present: bool = True,
        denied: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        self.namespace, self.present, self.denied = namespace, namespace_present, denied
        self.port = 0

    def get(self, h: _Handler) -> None:
        if h.path.startswith(f"/api/v1/namespaces/{self.namespace}"):
            if self.present:
                h._send(
                    200,
                    {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": self.namespace}},
                )
            else:
                h._send(
                    404,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "reason": "NotFound",
                        "code": 404,
                    },
                )
            return
        h._send(404)

    def post(self, h: _Handler, body: Any) -> None:
        if h.path.startswith("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"):
            attrs = (body.get("spec") or {}).get("resourceAttributes") or {}
            allowed = (attrs.get("verb"), attrs.get("resource")) not in self.denied
            h._send(
                201,
                {
                    "kind": "SelfSubjectAccessReview",
                    "apiVersion": "authorization.k8s.io/v1",
                    "spec": body.get("spec"),
                    "status": {"allowed": allowed},
                },
            )
            return
        h._send(404)

    def kubeconfig(self, path: Path, context: str = "railiance01") -> Path:
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {"name": "standin", "cluster": {"server": f"http://127.0.0.1:{self.port}"}}
                    ],
                    "users": [{"name": "standin", "user": {"token": "standin-token"}}],
                    "contexts": [
                        {"name": context, "context": {"cluster": "standin", "user": "standin"}}
                    ],
                    "current-context": context,
                }
            )
        )
        return path


class GiteaStandIn:
    """Recorded Gitea answers (testing/data/gitea-actions, written from Gitea's API types)
    for T12: ``answers`` maps an API path (after ``/api/v1``, query ignored) to a JSON-able
    body, a text (a job log) or an HTTP status; ``workflows`` are served through the
    contents API (base64, as Gitea does); ``/v2/...`` goes to ``registry``."""

    def __init__(
        self,
        answers: dict[str, Any],
        workflows: dict[str, str],
        registry: RegistryStandIn | None = None,
    ) -> None:
        self.answers, self.workflows, self.registry = answers, workflows, registry
        self.port = 0

    def get(self, h: _Handler) -> None:
        path = h.path.split("?", 1)[0]
        if path.startswith("/v2/") and self.registry is not None:
            self.registry.port = self.port
            self.registry.get(h)
            return
        if h.headers.get("Authorization") != "token gitea-stand-in-token":
            h._send(401, {"message": "token is required"})
            return
        rel = path.removeprefix("/api/v1")
        repo = "/repos/coulomb/ihp-railiance-probe/contents/"
        if rel.startswith(repo):
            self._contents(h, rel.removeprefix(repo))
            return
        answer = self.answers.get(rel, 404)
        if isinstance(answer, int):
            h._send(answer, {"message": "The target couldn't be found."})
        elif isinstance(answer, str):
            h._send(200, answer.encode())
        else:
            h._send(200, answer)

    def _contents(self, h: _Handler, rel: str) -> None:
        if rel in self.workflows:
            text = self.workflows[rel].encode()
            h._send(
                200,
                {
                    "name": rel.rsplit("/", 1)[-1],
                    "path": rel,
                    "type": "file",
                    "encoding": "base64",
                    "content": base64.b64encode(text).decode(),
                },
            )
            return
        listing = [
            {"name": p.rsplit("/", 1)[-1], "path": p, "type": "file"}
            for p in self.workflows
            if p.rsplit("/", 1)[0] == rel
        ]
        h._send(200 if listing else 404, listing or {"message": "not found"})

    def post(self, h: _Handler, body: Any) -> None:
        h._send(404)


@contextmanager
def serving(stand_in: Any) -> Iterator[Any]:
    """Serve ``stand_in`` on 127.0.0.1 (a free port, set as ``stand_in.port``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.stand_in = stand_in  # type: ignore[attr-defined]
    server.requests = []  # type: ignore[attr-defined]
    stand_in.port = server.server_address[1]
    stand_in.requests = server.requests  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()

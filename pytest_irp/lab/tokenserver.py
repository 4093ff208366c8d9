"""A Gitea-like token endpoint for the lab registry (``GET /v2/token``).

Gitea serves ``/v2/token`` on the same host:port as its container registry: basic auth in,
``{"token": "<JWT>"}`` out, ``service`` and ``scope`` query parameters accepted and not
needed. Here the registry is Debian's distribution (``docker-registry``) with ``auth.token``,
so the JWT is what distribution checks: ES256, ``iss`` = issuer, ``aud`` = service, an
``access`` claim naming the repositories and actions, and a ``kid`` that is the libtrust
fingerprint of the signing key (the registry trusts the key through a self-signed certificate
in its ``rootcertbundle``).

Authenticated users get push+pull on the repositories they ask for; anonymous requests get a
pull-only token (Gitea's public packages); a wrong password gets 401. ``POST /v2/token``
answers 404 like Gitea (so OAuth2-first clients fall back to GET).

Run: ``python -m pytest_irp.lab.tokenserver CONFIG.json`` (config written by
:mod:`pytest_irp.lab.registry`; it names the password *file*, never the password).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import secrets
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

TOKEN_TTL_SECONDS = 24 * 3600  # Gitea's container tokens live 24 h
CLOCK_SKEW_SECONDS = 10
USER_ACTIONS = frozenset({"pull", "push"})
ANONYMOUS_ACTIONS = frozenset({"pull"})


# --------------------------------------------------------------------------- pure helpers


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE wants it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """The libtrust fingerprint distribution looks a JWT ``kid`` up by.

    sha256 of the DER (SubjectPublicKeyInfo) public key, first 30 bytes, base32, in groups
    of four joined by ``:`` (12 groups).
    """
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


@dataclass(frozen=True)
class Access:
    """One entry of a token's ``access`` claim (also one parsed ``scope``)."""

    type: str
    name: str
    actions: tuple[str, ...]

    def as_claim(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}


def parse_scope(scope: str) -> Access | None:
    """``repository:owner/name:push,pull`` -> Access; None if malformed.

    The name may itself contain a colon (``host:port/name`` in some clients), so split the
    type off the front and the actions off the back.
    """
    kind, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not (sep and sep2 and kind and name):
        return None
    wanted = tuple(a for a in actions.split(",") if a)
    return Access(kind, name, wanted)


def parse_scopes(values: Iterable[str]) -> list[Access]:
    """All ``scope`` query values (repeated and/or space separated), malformed ones dropped."""
    found: list[Access] = []
    for value in values:
        for item in value.split():
            access = parse_scope(item)
            if access is not None:
                found.append(access)
    return found


def grant(requested: Iterable[Access], authenticated: bool) -> list[Access]:
    """What a token carries: push+pull for users, pull only for anonymous; repositories only.

    ``*`` asks for everything the caller may have. Entries left with no action are dropped.
    """
    allowed = USER_ACTIONS if authenticated else ANONYMOUS_ACTIONS
    granted: list[Access] = []
    for access in requested:
        if access.type != "repository":
            continue
        wanted = set(allowed) if "*" in access.actions else set(access.actions) & allowed
        if wanted:
            granted.append(Access(access.type, access.name, tuple(sorted(wanted))))
    return granted


def make_claims(
    *,
    issuer: str,
    service: str,
    subject: str,
    access: Iterable[Access],
    now: float,
    ttl: int = TOKEN_TTL_SECONDS,
) -> dict[str, Any]:
    """The JWT claim set distribution verifies (``aud`` must equal the registry's service)."""
    issued = int(now)
    return {
        "iss": issuer,
        "sub": subject,
        "aud": service,
        "exp": issued + ttl,
        "nbf": issued - CLOCK_SKEW_SECONDS,
        "iat": issued,
        "jti": secrets.token_hex(16),
        "access": [a.as_claim() for a in access],
    }


def sign_es256(key: ec.EllipticCurvePrivateKey, kid: str, claims: Mapping[str, Any]) -> str:
    """Compact JWS, ES256 (raw r||s signature, 32 bytes each)."""
    header = {"typ": "JWT", "alg": "ES256", "kid": kid}
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    der = key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def decode_basic(header: str | None) -> tuple[str, str] | None:
    """``Basic base64(user:pass)`` -> (user, pass); None if absent or not basic."""
    if not header:
        return None
    scheme, _, payload = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        text = base64.b64decode(payload.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = text.partition(":")
    return (user, password) if sep else None


def credentials_match(given: tuple[str, str], user: str, password: str) -> bool:
    """Constant-time comparison of both parts."""
    user_ok = hmac.compare_digest(given[0].encode(), user.encode())
    pass_ok = hmac.compare_digest(given[1].encode(), password.encode())
    return user_ok and pass_ok


# --------------------------------------------------------------------------- key material


def new_signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def self_signed_cert_pem(key: ec.EllipticCurvePrivateKey, common_name: str) -> bytes:
    """The certificate the registry's ``rootcertbundle`` holds (only its public key matters)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def load_signing_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{path}: not an EC private key")
    return key


# --------------------------------------------------------------------------- server


@dataclass(frozen=True)
class TokenServerConfig:
    """What the token server needs; read from the JSON file the registry layer writes."""

    listen_host: str
    listen_port: int
    key_file: Path
    user: str
    password_file: Path
    issuer: str
    service: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TokenServerConfig:
        return cls(
            listen_host=str(data["listen_host"]),
            listen_port=int(data["listen_port"]),
            key_file=Path(data["key_file"]),
            user=str(data["user"]),
            password_file=Path(data["password_file"]),
            issuer=str(data["issuer"]),
            service=str(data["service"]),
        )


@dataclass(frozen=True)
class Issuer:
    """Loaded signing state shared by the handler threads (immutable)."""

    config: TokenServerConfig
    key: ec.EllipticCurvePrivateKey
    kid: str
    password: str

    @classmethod
    def load(cls, config: TokenServerConfig) -> Issuer:
        key = load_signing_key(config.key_file)
        password = config.password_file.read_text(encoding="utf-8").strip()
        return cls(config, key, libtrust_key_id(key.public_key()), password)

    def token_for(self, subject: str, access: Iterable[Access]) -> str:
        claims = make_claims(
            issuer=self.config.issuer,
            service=self.config.service,
            subject=subject,
            access=access,
            now=time.time(),
        )
        return sign_es256(self.key, self.kid, claims)


def unauthorized_body() -> bytes:
    """Gitea's container API error shape."""
    return json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": ""}]}).encode()


class TokenHandler(BaseHTTPRequestHandler):
    """``GET /v2/token`` (basic auth optional) -> ``{"token": ...}``; ``POST`` -> 404."""

    issuer: ClassVar[Issuer]
    server_version = "irp-gitea-token/1"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path.rstrip("/") != "/v2/token":
            self._send(HTTPStatus.NOT_FOUND, b"")
            return
        given = decode_basic(self.headers.get("Authorization"))
        cfg = self.issuer.config
        if given is not None and not credentials_match(given, cfg.user, self.issuer.password):
            self._send(HTTPStatus.UNAUTHORIZED, unauthorized_body(), basic_challenge=True)
            return
        subject = cfg.user if given is not None else ""
        access = grant(parse_scopes(parse_qs(url.query).get("scope", [])), given is not None)
        token = self.issuer.token_for(subject, access)
        body = json.dumps({"token": token}).encode()
        self._send(HTTPStatus.OK, body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._send(HTTPStatus.NOT_FOUND, b"")

    def _send(self, status: HTTPStatus, body: bytes, *, basic_challenge: bool = False) -> None:
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        if basic_challenge:
            self.send_header("WWW-Authenticate", 'Basic realm="Gitea"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # The request line carries scope/service only; credentials live in headers.
        sys.stderr.write(f"{self.log_date_time_string()} {format % args}\n")


def serve(config: TokenServerConfig) -> None:
    """Serve forever (threads); SIGTERM ends the process."""
    TokenHandler.issuer = Issuer.load(config)
    server = ThreadingHTTPServer((config.listen_host, config.listen_port), TokenHandler)
    server.daemon_threads = True
    sys.stderr.write(f"irp token server on {config.listen_host}:{config.listen_port}\n")
    sys.stderr.flush()
    server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m pytest_irp.lab.tokenserver CONFIG.json\n")
        return 2
    config = TokenServerConfig.from_json(json.loads(Path(args[0]).read_text(encoding="utf-8")))
    serve(config)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

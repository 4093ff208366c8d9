"""The container registry: realm check, token, push with skopeo, verification via the API.

Gitea builds the ``WWW-Authenticate`` realm from its ROOT_URL (up to 1.21 always; from 1.22
unless the request carries ``X-Forwarded-Proto``; from 1.24 as ``[server]
PUBLIC_URL_DETECTION`` says), so a ROOT_URL without the port sends clients to the wrong
port. The push stage detects that and reports it with the fix for the Gitea version the
registry reports (``GET /api/v1/version``). skopeo gets an authfile (0600, read from stdin,
removed afterwards); it reads only ``auth`` and ``identitytoken`` from it and both go to the
realm (containers/image ``pkg/docker/config/config.go``), so with a realm that does not
answer the push cannot work: T07 fails at once with that cause, unless
``registry_token_workaround`` opts in to the workplan's workaround (the token from the
registry's own ``/v2/token`` on skopeo's command line, ``--dest-registry-token``, for that
push only; masked, and reported as a finding).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .registry_facts import _block as _block
from .registry_facts import first_line as first_line
from .registry_facts import inspect_facts as inspect_facts
from .registry_facts import parse_challenge as parse_challenge
from .registry_facts import parse_challenges as parse_challenges
from .registry_facts import parse_version as parse_version
from .registry_facts import realm_fix as realm_fix
from .registry_facts import realm_refusal as realm_refusal
from .stage import StageContext, StageError

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)
HTTP_TIMEOUT = 10
MAX_TAG_PAGES = 50
SERVICE = "container_registry"


@dataclass(frozen=True)
class ImageRef:
    hostport: str
    path: str  # OWNER/NAME

    @classmethod
    def parse(cls, registry: str) -> ImageRef:
        hostport, _, path = registry.partition("/")
        return cls(hostport, path)

    def with_tag(self, tag: str) -> str:
        return f"{self.hostport}/{self.path}:{tag}"

    def base_url(self, plain_http: bool) -> str:
        return f"{'http' if plain_http else 'https'}://{self.hostport}"


def _netloc(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def realm_problem(realm: str, hostport: str, plain_http: bool) -> str | None:
    """Why the advertised realm is not the registry's own address (None: it is)."""
    expected = _netloc(f"{'http' if plain_http else 'https'}://{hostport}")
    if not realm:
        return "the registry advertises no token realm"
    actual = _netloc(realm)
    if actual != expected:
        return (
            f"the registry advertises the token realm {realm}, but the registry is at "
            f"{expected}: clients that follow the realm (skopeo --creds, containerd "
            f"pulls) go to {actual}"
        )
    return None


REALM_FIX = (
    "Set Gitea's ROOT_URL with the registry's port (e.g. http://HOST:PORT/) in "
    "app.ini [server] and restart Gitea; the realm is built from ROOT_URL."
)


def token_url(ref: ImageRef, plain_http: bool) -> str:
    return (
        f"{ref.base_url(plain_http)}/v2/token?service=container_registry"
        f"&scope=repository:{ref.path}:push,pull"
    )


def tags_url(ref: ImageRef, plain_http: bool) -> str:
    return f"{ref.base_url(plain_http)}/v2/{ref.path}/tags/list"


def manifest_url(ref: ImageRef, plain_http: bool, tag: str) -> str:
    return f"{ref.base_url(plain_http)}/v2/{ref.path}/manifests/{tag}"


def packages_url(ref: ImageRef, plain_http: bool) -> str:
    """Gitea's packages API for the image's owner (``?type=container&q=NAME``)."""
    return f"{ref.base_url(plain_http)}/api/v1/packages/{ref.path.split('/')[0]}"


def authfile(hostport: str, user: str, password: str) -> str:
    """containers-auth.json content for one registry."""
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return json.dumps({"auths": {hostport: {"auth": auth}}})


class RegistryClient:
    """The few registry API calls the suite makes (requests imported lazily)."""

    def __init__(self, ref: ImageRef, plain_http: bool) -> None:
        import requests

        self.ref = ref
        self.base = ref.base_url(plain_http)
        self.plain_http = plain_http
        self.session = requests.Session()
        self.session.trust_env = False  # never through a proxy: the registry is the target
        self.foreign_links: list[str] = []  # tags/list pages elsewhere, not followed

    def get(self, url: str, **kw: Any) -> Any:
        import requests

        try:
            return self.session.get(url, timeout=HTTP_TIMEOUT, **kw)
        except requests.RequestException as exc:
            raise StageError(
                f"registry {self.ref.hostport} is unreachable ({url}): {_short(exc)}"
            ) from None

    def challenge(self) -> dict[str, str]:
        response = self.get(f"{self.base}/v2/")
        header = response.headers.get("WWW-Authenticate", "")
        if response.status_code != 401 or not header:
            return {"scheme": "none", "status": str(response.status_code)}
        return parse_challenge(header)

    def token(self, user: str, password: str) -> str:
        response = self.get(token_url(self.ref, self.plain_http), auth=(user, password))
        if response.status_code in (401, 403):
            said = first_line(response.text)
            raise StageError(
                f"registry {self.ref.hostport} rejected the credentials of user "
                f"{user!r} (HTTP {response.status_code} from /v2/token"
                f"{': ' + repr(said) if said else ''}): check registry_user and "
                f"the password (IRP_REGISTRY_PASSWORD or registry_password_file)"
            )
        if response.status_code != 200:
            raise StageError(
                f"registry {self.ref.hostport}: /v2/token answered HTTP {response.status_code}"
            )
        try:
            token = response.json().get("token") or response.json().get("access_token")
        except ValueError:
            token = None
        if not token:
            raise StageError(f"registry {self.ref.hostport}: /v2/token returned no token")
        return str(token)

    def tags(self, token: str, page_size: int | None = None) -> list[str]:
        """Every tag: registries may answer in pages (``Link: <...>; rel="next"``; Gitea
        sends one after every non-empty page, the last too, then answers an empty page)."""
        url: str | None = tags_url(self.ref, self.plain_http) + (
            f"?n={page_size}" if page_size else ""
        )
        tags: list[str] = []
        seen: set[str] = set()
        for _ in range(MAX_TAG_PAGES):
            if url is None or url in seen:  # Gitea sends Link on the last page too
                break
            seen.add(url)
            response = self.get(url, headers={"Authorization": f"Bearer {token}"})
            if response.status_code == 404:
                return tags
            if response.status_code != 200:
                raise StageError(
                    f"tags/list of {self.ref.path} answered HTTP {response.status_code}"
                )
            page = list(response.json().get("tags") or [])
            if not page:
                break
            tags += page
            url = next_page(self.base, response.headers.get("Link", ""))
            if url is not None and origin(url) != origin(self.base):
                # the token goes only to the registry it was issued by: another scheme,
                # host or port is a finding (see foreign_links), never a request
                self.foreign_links.append(url)
                break
        return tags

    def version(self) -> str | None:
        """Gitea's version (``GET /api/v1/version``, anonymous); None for other registries."""
        import requests

        try:
            response = self.session.get(f"{self.base}/api/v1/version", timeout=HTTP_TIMEOUT)
            data = response.json() if response.status_code == 200 else {}
        except (requests.RequestException, ValueError):
            return None
        version = data.get("version") if isinstance(data, dict) else None
        return str(version) if version else None

    def realm_answers(self, realm: str) -> bool | None:
        """Does anything answer at the realm? None: not probed (the realm names another host
        than the registry's: the suite contacts only the registry host it was given)."""
        import requests

        if urlsplit(realm).hostname != urlsplit(self.base).hostname:
            return None
        try:
            self.session.get(realm, timeout=(3, HTTP_TIMEOUT), params={"service": SERVICE})
        except requests.ConnectionError:
            return False
        except requests.RequestException:
            return None
        return True

    def package_versions(self, user: str, password: str, name: str, want: str) -> list[str]:
        """Versions (tags) of the container package OWNER/NAME in Gitea's packages API
        (``GET /api/v1/packages/OWNER?type=container&q=NAME``), paged until ``want`` shows."""
        found: list[str] = []
        for page in range(1, MAX_TAG_PAGES + 1):
            response = self.get(
                packages_url(self.ref, self.plain_http),
                auth=(user, password),
                params={"type": "container", "q": name, "page": page, "limit": 50},
            )
            if response.status_code != 200:
                raise StageError(
                    f"Gitea's packages API answered HTTP {response.status_code} "
                    f"for {self.ref.path} (GET /api/v1/packages/"
                    f"{self.ref.path.split('/')[0]})"
                )
            try:
                rows = response.json()
            except ValueError:
                rows = None
            if not isinstance(rows, list) or not rows:
                break
            found += [
                str(r.get("version")) for r in rows if isinstance(r, dict) and r.get("name") == name
            ]
            if want in found:
                break
        return found

    def digest(self, tag: str, token: str) -> str | None:
        import requests

        try:
            response = self.session.head(
                manifest_url(self.ref, self.plain_http, tag),
                timeout=HTTP_TIMEOUT,
                headers={"Authorization": f"Bearer {token}", "Accept": MANIFEST_TYPES},
            )
        except requests.RequestException as exc:
            raise StageError(
                f"registry {self.ref.hostport} is unreachable: {_short(exc)}"
            ) from None
        if response.status_code == 404:
            return None
        return response.headers.get("Docker-Content-Digest")


def origin(url: str) -> tuple[str, str, int]:
    """scheme, host and port of ``url`` (the port by the scheme when none is given)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or ""), port or (443 if scheme == "https" else 80)


def next_page(base: str, link: str) -> str | None:
    """The URL of the next page from a ``Link`` header (relative to the registry), or None."""
    match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', link)
    if not match:
        return None
    target = match.group(1)
    return target if target.startswith(("http://", "https://")) else base + target


def _short(exc: Exception) -> str:
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\] ([^')\]\"]+)", text)
    if match:
        return match.group(1)
    return text[:200]


def credentials(ctx: StageContext) -> tuple[str, str]:
    s = ctx.settings
    user = s.require("registry_user")
    password = s.require("registry_password").reveal()
    ctx.redactor.add_basic_auth(user, password)
    return user, password

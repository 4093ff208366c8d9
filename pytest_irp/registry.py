"""The container registry: realm check, token, push with skopeo, verification via the API.

Gitea builds the ``WWW-Authenticate`` realm from its ROOT_URL, not from the address the
client used, so a ROOT_URL without the port sends clients to the wrong port. The push
stage detects that, reports it with its fix, fetches the token from the registry's own
``/v2/token`` and hands skopeo an authfile (0600, read from stdin, removed afterwards).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from . import remote
from .stage import StageContext, StageError, Step

MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json"])
HTTP_TIMEOUT = 10
MAX_TAG_PAGES = 50


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


def parse_challenge(header: str) -> dict[str, str]:
    """``Bearer realm="...",service="...",scope="..."`` -> {"scheme": "bearer", ...}."""
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', rest)}
    params["scheme"] = scheme.lower()
    return params


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
        return (f"the registry advertises the token realm {realm}, but the registry is at "
                f"{expected}: clients that follow the realm (skopeo --creds, containerd "
                f"pulls) go to {actual}")
    return None


REALM_FIX = ("Set Gitea's ROOT_URL with the registry's port (e.g. http://HOST:PORT/) in "
             "app.ini [server] and restart Gitea; the realm is built from ROOT_URL.")


def token_url(ref: ImageRef, plain_http: bool) -> str:
    return (f"{ref.base_url(plain_http)}/v2/token?service=container_registry"
            f"&scope=repository:{ref.path}:push,pull")


def authfile(hostport: str, user: str, password: str) -> str:
    """containers-auth.json content for one registry."""
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return json.dumps({"auths": {hostport: {"auth": auth}}})


def push_argv(settings: Any, dest: str) -> list[str]:
    tls = "false" if settings["registry_plain_http"] else "true"
    return remote.argv("push", settings["remote_dir"], dest, tls, *settings["skopeo"])


def plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    reg = s.get("registry") or "<registry-host:port>/<owner>/<name>"
    ref = ImageRef.parse(reg)
    plain = bool(s["registry_plain_http"])
    tag = ctx.facts.tag_or()
    return [
        Step("local", ("GET", f"{ref.base_url(plain)}/v2/"), HTTP_TIMEOUT,
             "read the advertised token realm (anonymous)"),
        Step("local", ("GET", token_url(ref, plain), "(basic auth: registry_user)"),
             HTTP_TIMEOUT, "fetch a token from the registry's own endpoint"),
        Step(s.get("host", "<host>"), (*s["skopeo"], "--version"), HTTP_TIMEOUT,
             "skopeo's version, for the report (the push keeps to what 1.9 and 1.22 do)"),
        Step(s.get("host", "<host>"), tuple(remote.display(push_argv(s, ref.with_tag(tag)))),
             s["timeout_push"], "skopeo copy with an authfile read from stdin (0600, removed)"),
        Step("local", ("GET", f"{ref.base_url(plain)}/v2/{ref.path}/tags/list"), HTTP_TIMEOUT,
             "the tag is listed"),
        Step("local", ("HEAD", f"{ref.base_url(plain)}/v2/{ref.path}/manifests/{tag}"),
             HTTP_TIMEOUT, "Docker-Content-Digest equals the pushed digest"),
    ]


class RegistryClient:
    """The few registry API calls the suite makes (requests imported lazily)."""

    def __init__(self, ref: ImageRef, plain_http: bool) -> None:
        import requests

        self.ref = ref
        self.base = ref.base_url(plain_http)
        self.plain_http = plain_http
        self.session = requests.Session()
        self.session.trust_env = False  # never through a proxy: the registry is the target

    def get(self, url: str, **kw: Any) -> Any:
        import requests

        try:
            return self.session.get(url, timeout=HTTP_TIMEOUT, **kw)
        except requests.RequestException as exc:
            raise StageError(f"registry {self.ref.hostport} is unreachable ({url}): "
                             f"{_short(exc)}") from None

    def challenge(self) -> dict[str, str]:
        response = self.get(f"{self.base}/v2/")
        header = response.headers.get("WWW-Authenticate", "")
        if response.status_code != 401 or not header:
            return {"scheme": "none", "status": str(response.status_code)}
        return parse_challenge(header)

    def token(self, user: str, password: str) -> str:
        response = self.get(token_url(self.ref, self.plain_http), auth=(user, password))
        if response.status_code in (401, 403):
            raise StageError(f"registry {self.ref.hostport} rejected the credentials of user "
                             f"{user!r} (HTTP {response.status_code} from /v2/token): check "
                             f"registry_user and the password (IRP_REGISTRY_PASSWORD or "
                             f"registry_password_file)")
        if response.status_code != 200:
            raise StageError(f"registry {self.ref.hostport}: /v2/token answered HTTP "
                             f"{response.status_code}")
        try:
            token = response.json().get("token") or response.json().get("access_token")
        except ValueError:
            token = None
        if not token:
            raise StageError(f"registry {self.ref.hostport}: /v2/token returned no token")
        return str(token)

    def tags(self, token: str) -> list[str]:
        """Every tag: registries may answer in pages (``Link: <...>; rel="next"``)."""
        url: str | None = f"{self.base}/v2/{self.ref.path}/tags/list"
        tags: list[str] = []
        for _ in range(MAX_TAG_PAGES):
            if url is None:
                break
            response = self.get(url, headers={"Authorization": f"Bearer {token}"})
            if response.status_code == 404:
                return tags
            if response.status_code != 200:
                raise StageError(f"tags/list of {self.ref.path} answered HTTP "
                                 f"{response.status_code}")
            tags += list(response.json().get("tags") or [])
            url = next_page(self.base, response.headers.get("Link", ""))
        return tags

    def digest(self, tag: str, token: str) -> str | None:
        import requests

        try:
            response = self.session.head(
                f"{self.base}/v2/{self.ref.path}/manifests/{tag}", timeout=HTTP_TIMEOUT,
                headers={"Authorization": f"Bearer {token}", "Accept": MANIFEST_TYPES})
        except requests.RequestException as exc:
            raise StageError(f"registry {self.ref.hostport} is unreachable: {_short(exc)}"
                             ) from None
        if response.status_code == 404:
            return None
        return response.headers.get("Docker-Content-Digest")


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


def run(ctx: StageContext) -> dict[str, Any]:
    s = ctx.settings
    host = s.require("host")
    ref = ImageRef.parse(s.require("registry"))
    plain = bool(s["registry_plain_http"])
    user, password = credentials(ctx)
    tag = ctx.facts.tag()
    client = RegistryClient(ref, plain)
    challenge = client.challenge()
    realm = challenge.get("realm", "")
    problem = realm_problem(realm, ref.hostport, plain) if challenge["scheme"] == "bearer" \
        else None
    if problem:
        ctx.finding("warning", "Registry token realm points to the wrong address", problem,
                    REALM_FIX)
    token = client.token(user, password)
    ctx.redactor.add(token)
    dest = ref.with_tag(tag)
    version = ctx.run(host, [*s["skopeo"], "--version"], timeout=HTTP_TIMEOUT, check=False)
    skopeo_version = version.stdout.strip().splitlines()[0] if version.ok and \
        version.stdout.strip() else f"unknown ({version.describe_failure()})"
    result = ctx.run(host, push_argv(s, dest), input=authfile(ref.hostport, user, password),
                     check=False)
    # push.sh's watchdog writes an empty line to stderr every 2 s (to notice a dead session)
    result = replace(result, stderr=without_blank_lines(result.stderr))
    if not result.ok:
        hint = ""
        if problem and ("connection refused" in result.stderr.lower()
                        or "realm" in result.stderr.lower()):
            hint = f" The cause is the registry's token realm: {problem}. {REALM_FIX}"
        raise StageError(f"skopeo push of {dest} from {host} failed: "
                         f"{result.describe_failure()}.{hint}",
                         details=result.tail(40))
    pushed = _marker(result.stdout, "@@digest")
    if not pushed.startswith("sha256:"):
        raise StageError(f"skopeo did not report a digest for {dest} (digestfile empty)")
    tags = client.tags(token)
    if tag not in tags:
        raise StageError(f"tag {tag} is not listed in {ref.hostport}/{ref.path} after the push "
                         f"(tags: {', '.join(tags[:10]) or 'none'})")
    served = client.digest(tag, token)
    if served != pushed:
        raise StageError(f"the registry serves {served} for {tag}, but skopeo pushed {pushed}")
    return {"image": dest, "tag": tag, "digest": pushed, "registry": ref.hostport,
            "repository": ref.path, "realm": realm, "realm_problem": problem or "",
            "skopeo_version": skopeo_version,
            "tags": [tag, *(t for t in tags if t != tag)][:50], "tags_total": len(tags)}


def without_blank_lines(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if line.strip())


def _marker(text: str, marker: str) -> str:
    for line in text.splitlines():
        if line.startswith(marker + " "):
            return line[len(marker) + 1:].strip()
    return ""

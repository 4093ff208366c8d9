"""Pure judges of the node's registry mirror (T09): k3s's version and whether it writes
containerd hosts.toml files, registries.yaml and hosts.toml, the pull route containerd
takes, crictl's pull errors and the digest it pulled."""

from __future__ import annotations

import json
import re

# the first k3s release of each line that writes containerd hosts.toml files (certs.d);
# older ones put the mirrors into containerd's config.toml (k3s pkg/agent/containerd/
# config.go writeContainerdHosts; k3s release notes of v1.26.13+k3s1, v1.27.10+k3s1,
# v1.28.6+k3s1, v1.29.1+k3s1)
HOSTS_TOML_SINCE = {26: 13, 27: 10, 28: 6, 29: 1}
_K3S_VERSION = re.compile(r"k3s version v(\d+)\.(\d+)\.(\d+)")


def parse_k3s_version(text: str) -> tuple[int, int, int] | None:
    """``k3s --version``'s first line (``k3s version v1.29.1+k3s1 (...)``) -> (1, 29, 1)."""
    match = _K3S_VERSION.search(text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def writes_hosts_toml(version: tuple[int, int, int]) -> bool:
    major, minor, patch = version
    if major != 1:
        return major > 1
    if minor in HOSTS_TOML_SINCE:
        return patch >= HOSTS_TOML_SINCE[minor]
    return minor > max(HOSTS_TOML_SINCE)


def since_text() -> str:
    return ", ".join(f"v1.{minor}.{patch}" for minor, patch in HOSTS_TOML_SINCE.items())


_SUDO_PASSWORD = ("a password is required", "a terminal is required", "no tty present", "askpass")


def node_read_problem(
    node: str,
    path: str,
    prefix: list[str],
    rc: int,
    stderr: str,
) -> str:
    """Why reading ``path`` on the node failed, when it is not a missing file ('' then):
    sudo asking for a password, or permission denied without (enough) sudo."""
    text = stderr.strip()
    lower = text.lower()
    used = " ".join(prefix) or "no prefix"
    if prefix and any(marker in lower for marker in _SUDO_PASSWORD):
        return (
            f"sudo on {node} asks for a password ({used}: {text[-200:]}): give the node "
            f"user passwordless sudo for cat and k3s (NOPASSWD), or log in as root and "
            f"set node_sudo empty"
        )
    if "permission denied" in lower:
        return (
            f"permission denied reading {path} on {node} ({used}): the node user cannot "
            f"read it (k3s keeps certs.d in mode 0700 directories); set node_sudo = "
            f"'sudo -n' as the workplan reads it with `sudo cat`"
        )
    if "no such file" in lower or (rc == 1 and not text):
        return ""
    return f"reading {path} on {node} failed (exit {rc}): {text[-300:] or 'no output'}"


def mirror_problems(
    registries_yaml: str,
    hostport: str,
    hosts_toml: str | None,
    k3s_version: tuple[int, int, int] | None = None,
) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Problems (fail T09) and findings (title, detail, fix) for the node's mirror config.
    ``hosts_toml`` None: the file is not there; ``k3s_version`` None: unknown. Three
    causes are told apart: registries.yaml lacks the mirror; hosts.toml is not rendered
    (or stale): restart k3s; this k3s is older than the releases that write hosts.toml."""
    problems: list[str] = []
    findings: list[tuple[str, str, str]] = []
    import yaml

    try:
        data = yaml.safe_load(registries_yaml) or {}
    except yaml.YAMLError as exc:
        return [f"registries.yaml is not valid YAML: {exc}"], findings
    mirrors = (data.get("mirrors") or {}) if isinstance(data, dict) else {}
    entry = mirrors.get(hostport)
    if entry is None:
        host_only = hostport.split(":")[0]
        if host_only in mirrors:
            problems.append(
                f"registries.yaml lacks the mirror: it is keyed {host_only!r} "
                f"without the port; images are referenced as {hostport}"
            )
        else:
            problems.append(
                f"registries.yaml lacks the mirror: no entry for {hostport} "
                f"(keys: {', '.join(mirrors) or 'none'})"
            )
        return problems, findings
    endpoints = [str(e) for e in (entry.get("endpoint") or [])]
    http_endpoints = [e for e in endpoints if e.startswith("http://")]
    if not endpoints:
        problems.append(
            f"registries.yaml lacks the mirror: the entry for {hostport} lists no endpoint"
        )
    elif not http_endpoints:
        problems.append(
            f"registries.yaml lacks the mirror: the endpoints {endpoints} lack "
            f"http://: k3s then assumes https and pulls from a plain-HTTP "
            f"registry fail"
        )
        findings.append(
            (
                "Mirror endpoint without http://",
                f"{hostport}: {endpoints}",
                f'Use endpoint: ["http://{hostport}"]',
            )
        )
    if k3s_version is not None and not writes_hosts_toml(k3s_version):
        version = ".".join(map(str, k3s_version))
        problems.append(
            f"this k3s (v{version}) is older than the releases that write "
            f"hosts.toml ({since_text()} and later): it keeps mirrors in "
            f"containerd's config.toml, which T09 does not read; upgrade k3s"
        )
        return problems, findings
    if hosts_toml is None:
        problems.append(
            f"hosts.toml not rendered for {hostport}: k3s has not picked up "
            f"registries.yaml since it changed (restart k3s)"
        )
    elif http_endpoints and not any(_host_entry(e) in hosts_toml for e in http_endpoints):
        problems.append(
            f"hosts.toml for {hostport} is stale: it has no [host] entry for "
            f"{', '.join(http_endpoints)} (registries.yaml changed after k3s "
            f"started: restart k3s)"
        )
    return problems, findings


def _host_entry(endpoint: str) -> str:
    """The ``[host."..."]`` key k3s writes for an endpoint (``/v2`` appended)."""
    base = endpoint.rstrip("/")
    return f'[host."{base if base.endswith("/v2") else base + "/v2"}"]'


def pull_route(hosts_toml: str, hostport: str, plain_http: bool) -> tuple[str, str]:
    """Which endpoint a successful pull used, from what can be known on the node: ('http',
    why) when it can only have been the http mirror, else ('', why not).

    containerd tries the [host] entries in order and the server last (containerd v2.1.4
    core/remotes/docker/config/hosts.go); k3s's server is https://HOST:PORT/v2. A registry
    that speaks plain HTTP on that port (registry_plain_http) cannot answer a TLS
    handshake, so a pull that succeeded did not go over the https server: with
    http://HOST:PORT/v2 as the only other host, it went over that."""
    import tomllib

    try:
        doc = tomllib.loads(hosts_toml)
    except tomllib.TOMLDecodeError as exc:
        return "", f"hosts.toml is not valid TOML: {exc}"
    hosts = list((doc.get("host") or {}).keys())
    http_key = f"http://{hostport}/v2"
    if http_key not in hosts:
        return "", f"hosts.toml has no {http_key} host"
    others = [h for h in hosts if h != http_key]
    if others:
        return "", f"hosts.toml lists other hosts too ({', '.join(others)})"
    server = str(doc.get("server", ""))
    if server.startswith("http://"):
        return "http", f"the only host and the server are plain http ({server})"
    if not plain_http:
        return "", (
            f"the https server {server} may have served the pull (registry_plain_http "
            f"is false, so the registry may speak TLS)"
        )
    return "http", (
        f"{http_key} is the only [host]; the fallback server {server} cannot "
        f"answer: the registry speaks plain HTTP (registry_plain_http)"
    )


HTTPS_FALLBACK = "server gave HTTP response to HTTPS client"


def pull_error_hint(error: str) -> str:
    """What a crictl pull error means with k3s's hosts.toml ('' when nothing to add)."""
    if HTTPS_FALLBACK in error:
        return (
            " (containerd fell back to the https server of hosts.toml: the http mirror "
            "is not configured or answered 404, and containerd 1.x reports the first "
            "non-404 error of all hosts; check the http:// mirror and that the tag exists)"
        )
    return ""


_CRICTL_FATAL = re.compile(r'level=fatal msg="((?:[^"\\]|\\.)*)"')


def crictl_error(stderr: str) -> str:
    """crictl's own reason from its ``level=fatal msg="..."`` line, without the gRPC
    wrapping (``rpc error: code = NotFound desc = ...``), or ''."""
    found = _CRICTL_FATAL.findall(stderr)
    if not found:
        return ""
    message = str(found[-1]).replace('\\"', '"')
    return message.rsplit(" desc = ", 1)[-1].strip()


def pulled_digest(inspect_json: str, repository: str) -> str:
    """The repo digest of ``repository`` from ``crictl inspecti -o json``."""
    try:
        data = json.loads(inspect_json)
    except json.JSONDecodeError:
        return ""
    for ref in data.get("status", {}).get("repoDigests", []):
        name, _, digest = str(ref).partition("@")
        if name == repository:
            return digest
    return ""

"""Node registry configuration as on k3s: a ``registries.yaml`` rendered to containerd hosts.toml.

k3s reads ``/etc/rancher/k3s/registries.yaml``::

    mirrors:
      "10.77.0.3:3000":
        endpoint: ["http://10.77.0.3:3000"]
    configs:
      "10.77.0.3:3000":
        tls: {insecure_skip_verify: true, ca_file: ..., cert_file: ..., key_file: ...}

and turns it into containerd's ``certs.d/<host:port>/hosts.toml`` files. The lab node does the
same with :func:`render_hosts_toml`, a pure function (no I/O), and :func:`write_certs_d`.
Credentials (``configs.<host>.auth``) have no place in hosts.toml and are ignored here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

DEFAULT_DIR = "_default"  # containerd's directory for the "*" mirror
DOCKER_IO_SERVER = "https://registry-1.docker.io"


def lab_registries(registry_host: str) -> dict[str, Any]:
    """The lab's k3s registries.yaml content: one plain-HTTP mirror for ``registry_host``."""
    return {"mirrors": {registry_host: {"endpoint": [f"http://{registry_host}"]}}}


def dump_registries_yaml(registries: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(registries), default_flow_style=False, sort_keys=True)


def _toml_str(value: str) -> str:
    # A JSON string of printable text is a valid TOML basic string.
    return json.dumps(value)


def _host_of(url: str) -> str:
    return urlsplit(url).netloc


def _default_server(registry: str) -> str:
    if registry == "docker.io":
        return DOCKER_IO_SERVER
    return f"https://{registry}"


def _tls_lines(tls: Mapping[str, Any], indent: str) -> list[str]:
    lines: list[str] = []
    if tls.get("insecure_skip_verify"):
        lines.append(f"{indent}skip_verify = true")
    if tls.get("ca_file"):
        lines.append(f"{indent}ca = {_toml_str(str(tls['ca_file']))}")
    if tls.get("cert_file") and tls.get("key_file"):
        pair = f"[{_toml_str(str(tls['cert_file']))}, {_toml_str(str(tls['key_file']))}]"
        lines.append(f"{indent}client = [{pair}]")
    return lines


def _tls_of(host: str, configs: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict((configs.get(host) or {}).get("tls") or {})


def _endpoint_block(endpoint: str, configs: Mapping[str, Any]) -> list[str]:
    url = urlsplit(endpoint)
    lines = [f"[host.{_toml_str(endpoint)}]", '  capabilities = ["pull", "resolve"]']
    if url.path not in ("", "/", "/v2", "/v2/"):
        lines.append("  override_path = true")
    lines.extend(_tls_lines(_tls_of(url.netloc, configs), "  "))
    return lines


def _render_one(registry: str, endpoints: list[str], configs: Mapping[str, Any]) -> str:
    # When the registry itself is one of its endpoints, that endpoint is also the server
    # (the fallback), so a plain-HTTP registry never falls back to https://.
    own = [e for e in endpoints if _host_of(e) == registry]
    server = own[0] if own else _default_server(registry)
    lines: list[str] = []
    if registry != "*":
        lines.append(f"server = {_toml_str(server)}")
        lines.extend(_tls_lines(_tls_of(registry, configs), ""))
    for endpoint in endpoints:
        lines.extend(["", *_endpoint_block(endpoint, configs)])
    return "\n".join(lines).lstrip("\n") + "\n"


def render_hosts_toml(registries: Mapping[str, Any]) -> dict[str, str]:
    """Map a k3s registries.yaml document to ``{certs.d subdirectory: hosts.toml text}``.

    Every mirror gets a directory named after the registry (``host:port``; ``*`` becomes
    ``_default``); its endpoints become ``[host."..."]`` entries with pull/resolve
    capabilities, in order. A ``configs`` entry without a mirror still gets a hosts.toml
    carrying its TLS settings.
    """
    mirrors: Mapping[str, Any] = registries.get("mirrors") or {}
    configs: Mapping[str, Any] = registries.get("configs") or {}
    out: dict[str, str] = {}
    for registry, mirror in mirrors.items():
        endpoints = [str(e) for e in (mirror or {}).get("endpoint") or []]
        out[DEFAULT_DIR if registry == "*" else registry] = _render_one(
            registry, endpoints, configs
        )
    for registry in configs:
        if registry not in mirrors and registry != "*":
            out[registry] = _render_one(registry, [], configs)
    return out


def write_certs_d(registries: Mapping[str, Any], certs_d: Path) -> list[Path]:
    """Write the rendered hosts.toml files under ``certs_d``; return the written paths."""
    written: list[Path] = []
    for subdir, text in sorted(render_hosts_toml(registries).items()):
        path = certs_d / subdir / "hosts.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written

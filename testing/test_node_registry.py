"""Unit tests of the k3s registries.yaml -> containerd hosts.toml rendering."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

from pytest_irp.lab.node_registry import (
    dump_registries_yaml,
    lab_registries,
    render_hosts_toml,
    write_certs_d,
)


def test_lab_mirror_is_plain_http_server_and_host() -> None:
    out = render_hosts_toml(
        {"mirrors": {"10.77.0.3:3000": {"endpoint": ["http://10.77.0.3:3000"]}}}
    )
    assert list(out) == ["10.77.0.3:3000"]
    doc = tomllib.loads(out["10.77.0.3:3000"])
    assert doc["server"] == "http://10.77.0.3:3000"
    assert doc["host"] == {"http://10.77.0.3:3000": {"capabilities": ["pull", "resolve"]}}


def test_lab_registries_round_trips_through_yaml() -> None:
    text = dump_registries_yaml(lab_registries("10.77.0.3:3000"))
    assert yaml.safe_load(text) == {
        "mirrors": {"10.77.0.3:3000": {"endpoint": ["http://10.77.0.3:3000"]}}
    }


def test_foreign_mirror_keeps_https_upstream_and_endpoint_order() -> None:
    out = render_hosts_toml(
        {"mirrors": {"docker.io": {"endpoint": ["http://10.77.0.3:3000", "https://m:5000"]}}}
    )
    doc = tomllib.loads(out["docker.io"])
    assert doc["server"] == "https://registry-1.docker.io"
    assert list(doc["host"]) == ["http://10.77.0.3:3000", "https://m:5000"]


def test_wildcard_goes_to_default_dir_without_server() -> None:
    out = render_hosts_toml({"mirrors": {"*": {"endpoint": ["http://10.77.0.3:3000"]}}})
    doc = tomllib.loads(out["_default"])
    assert "server" not in doc
    assert "http://10.77.0.3:3000" in doc["host"]


def test_tls_config_maps_to_containerd_keys() -> None:
    out = render_hosts_toml(
        {
            "mirrors": {"r:443": {"endpoint": ["https://m:5000", "https://m:5000/v2/sub"]}},
            "configs": {
                "m:5000": {
                    "tls": {"ca_file": "/ca.pem", "cert_file": "/c.pem", "key_file": "/k.pem"},
                    "auth": {"username": "u", "password": "secret"},
                },
                "only:5000": {"tls": {"insecure_skip_verify": True}},
            },
        }
    )
    host = tomllib.loads(out["r:443"])["host"]
    assert host["https://m:5000"]["ca"] == "/ca.pem"
    assert host["https://m:5000"]["client"] == [["/c.pem", "/k.pem"]]
    assert host["https://m:5000/v2/sub"]["override_path"] is True
    assert "secret" not in out["r:443"]
    only = tomllib.loads(out["only:5000"])
    assert only == {"server": "https://only:5000", "skip_verify": True}


def test_empty_document_renders_nothing() -> None:
    assert render_hosts_toml({}) == {}


def test_write_certs_d(tmp_path: Path) -> None:
    written = write_certs_d(lab_registries("10.77.0.3:3000"), tmp_path)
    assert written == [tmp_path / "10.77.0.3:3000" / "hosts.toml"]
    assert 'server = "http://10.77.0.3:3000"' in written[0].read_text()

"""The lab scenarios' pure parts (pytest_irp_lab/scenarios.py): no root, no lab."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_irp_lab import scenarios
from pytest_irp_lab.node_registry import lab_registries
from pytest_irp_lab.proc import LabError

REGISTRY = "10.77.0.3:3000"


def test_unknown_scenario_names_the_known_ones() -> None:
    assert scenarios.check(None) is None
    assert scenarios.check("first-contact") == "first-contact"
    with pytest.raises(LabError, match="known: first-contact"):
        scenarios.check("second-contact")


def test_first_contact_settings_drop_the_opt_in_and_helm_and_break_the_base_url() -> None:
    values = {"registry_token_workaround": True, "helm": ["/x/helm"], "base_url": "http://a:1"}
    scenarios.apply_settings(values, None)
    assert values["helm"] == ["/x/helm"]
    scenarios.apply_settings(values, "first-contact")
    assert values == {"base_url": "http://probe.railiance01.invalid:30080"}


def test_first_contact_node_sudo_and_realm() -> None:
    assert scenarios.node_sudo("first-contact", "nopasswd") == "password"
    assert scenarios.node_sudo(None, "nopasswd") == "nopasswd"
    assert scenarios.realm_mode("first-contact", "correct") == "wrong-port-dead-for-build-host"
    assert scenarios.realm_mode(None, None) is None


def test_node_mirror_goes_and_comes_back(tmp_path: Path) -> None:
    registries_yaml, certs_d = tmp_path / "registries.yaml", tmp_path / "certs.d"
    scenarios.write_node_mirror(None, REGISTRY, registries_yaml, certs_d)
    assert yaml.safe_load(registries_yaml.read_text()) == lab_registries(REGISTRY)
    assert (certs_d / REGISTRY / "hosts.toml").is_file()
    scenarios.write_node_mirror("first-contact", REGISTRY, registries_yaml, certs_d)
    assert REGISTRY not in yaml.safe_load(registries_yaml.read_text())["mirrors"]
    assert not (certs_d / REGISTRY).exists()
    scenarios.write_node_mirror(None, REGISTRY, registries_yaml, certs_d)
    assert yaml.safe_load(registries_yaml.read_text()) == lab_registries(REGISTRY)
    assert sorted(p.name for p in certs_d.iterdir()) == [REGISTRY]


def test_no_cluster_state_no_change(tmp_path: Path) -> None:
    missing = tmp_path / "cluster" / "registries.yaml"
    scenarios.write_node_mirror("first-contact", REGISTRY, missing, tmp_path / "cluster" / "c")
    assert not missing.parent.exists()

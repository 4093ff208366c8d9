"""Lab scenarios: the whole lab set up the way a user's world is before a fix, several
problems at once (``python -m pytest_irp_lab up --scenario NAME``, ``Lab.up(scenario=NAME)``,
``pytest --irp-lab --irp-lab-scenario=NAME``). ``up`` without a scenario restores the normal
lab: every change below is re-made or undone by each ``up``.

``first-contact`` (issue 23: the user's first real run), five independent problems:

1. **dead token realm without the opt-in**: the registry in its default realm mode
   (``wrong-port-dead-for-build-host``: the realm's port 80 refused for the build host) and
   ``registry_token_workaround`` left false, so skopeo's push follows the dead realm (T07);
2. **node without the mirror entry**: the node's k3s ``registries.yaml`` names another
   registry only and containerd has no ``hosts.toml`` for the lab's (T09);
3. **sudo on the node asks for a password**: the node user's rule is ``ALL`` without
   NOPASSWD (``hostns`` mode ``password``; T09);
4. **a base_url host that does not resolve**: ``http://probe.railiance01.invalid:30080``
   (``.invalid`` never resolves, RFC 6761; T11);
5. **no helm on this machine**: the settings name no ``helm`` (the default ``helm`` is
   looked up on PATH, where this machine has none; the lab's own helm is in the cache; T08).
"""

from __future__ import annotations

import shutil
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, Final

from pytest_irp.fileio import write_atomic
from pytest_irp_lab.node_registry import dump_registries_yaml, lab_registries, write_certs_d
from pytest_irp_lab.proc import LabError

FIRST_CONTACT: Final = "first-contact"
SCENARIOS: Final[tuple[str, ...]] = (FIRST_CONTACT,)
SCENARIO_DOCS: Final = {
    FIRST_CONTACT: "the user's world before any fix: dead realm without the opt-in, node "
    "without the mirror entry, sudo asking a password, base_url host that does not "
    "resolve, no helm",
}
# the registry the first-contact node knows instead of the lab's (a name only: never pulled)
OTHER_MIRROR: Final = "registry.railiance01.invalid:5000"
WRONG_BASE_URL: Final = "http://probe.railiance01.invalid:30080"
REALM_MODE: Final = "wrong-port-dead-for-build-host"
NODE_SUDO: Final = "password"
# the settings a first-contact user has not got right (None: not set at all)
SETTINGS: Final[dict[str, Any]] = {
    "registry_token_workaround": None,
    "base_url": WRONG_BASE_URL,
    "helm": None,
}


def check(scenario: str | None) -> str | None:
    """The scenario's name (None: the normal lab), or LabError listing the known ones."""
    if scenario is None or scenario in SCENARIOS:
        return scenario
    raise LabError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")


def node_sudo(scenario: str | None, default: str) -> str:
    """The node user's sudo rule in the scenario."""
    return NODE_SUDO if scenario == FIRST_CONTACT else default


def realm_mode(scenario: str | None, default: str | None) -> str | None:
    """The registry's realm mode in the scenario (None: the registry's default)."""
    return REALM_MODE if scenario == FIRST_CONTACT else default


def apply_settings(values: MutableMapping[str, Any], scenario: str | None) -> None:
    """The scenario's settings over the lab's (pure)."""
    if scenario != FIRST_CONTACT:
        return
    for key, value in SETTINGS.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value


def scenario_registries(scenario: str | None, registry_hostport: str) -> dict[str, Any]:
    """The node's registries.yaml content: the lab's mirror, or (first-contact) a mirror of
    another registry only."""
    if scenario == FIRST_CONTACT:
        return {"mirrors": {OTHER_MIRROR: {"endpoint": [f"http://{OTHER_MIRROR}"]}}}
    return lab_registries(registry_hostport)


def write_node_mirror(
    scenario: str | None, registry_hostport: str, registries_yaml: Path, certs_d: Path
) -> None:
    """The node's registries.yaml and containerd's certs.d as k3s leaves them after a
    start with that file (the cluster writes the lab's at its start; an ``up`` that finds
    it running rewrites them here, so a scenario's node gets its mirror back). containerd
    reads certs.d at each pull: no restart is needed."""
    if not registries_yaml.parent.is_dir():
        return  # no cluster state: nothing to change
    registries = scenario_registries(scenario, registry_hostport)
    write_atomic(registries_yaml, dump_registries_yaml(registries))
    stale = certs_d / registry_hostport
    if stale.is_dir():
        shutil.rmtree(stale)
    write_certs_d(registries, certs_d)


__all__ = [
    "FIRST_CONTACT",
    "SCENARIOS",
    "SCENARIO_DOCS",
    "apply_settings",
    "check",
    "node_sudo",
    "realm_mode",
    "write_node_mirror",
]

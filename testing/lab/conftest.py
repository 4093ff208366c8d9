"""Fixtures for the lab core's integration tests (no autouse: other lab tests live here too).

The ``lab_up`` fixture brings a lab up once per session in a private lab directory and
tears it down at the end. Tests needing it are skipped, with the reason, when not root,
when a program is missing, or when another lab already holds the lab addresses.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_irp_lab.orchestrator import Lab, missing_programs
from pytest_irp_lab.proc import LabError


def foreign_processes(netns: str) -> list[str]:
    """Pids inside ``netns`` (no traffic is sent: without the lab bridge, a lab address
    would be routed off the machine)."""
    res = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True)
    return res.stdout.split() if res.returncode == 0 else []


def lab_skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, sshd, /nix)"
    missing = missing_programs()
    if missing:
        return f"missing programs: {', '.join(missing)} (run scripts/install-system-packages.sh)"
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lab_core: needs root and the lab core's programs")


@pytest.fixture(scope="session")
def lab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("irp-lab")


@pytest.fixture(scope="session")
def lab_up(lab_dir: Path) -> Iterator[Lab]:
    """A lab (network, sshd, nix config, app repo; no registry, no cluster) for the session."""
    reason = lab_skip_reason()
    if reason:
        pytest.skip(reason)
    lab = Lab(lab_dir, with_registry=False)
    holder = lab.holder()
    if holder is not None and holder != str(lab_dir):
        pytest.skip(
            f"another lab is up ({holder}): bring it down first "
            f"(IRP_LAB_DIR={holder} python -m pytest_irp_lab down)"
        )
    busy = foreign_processes("irp-haskelseed")
    if busy:
        pytest.skip(
            f"processes {' '.join(busy)} run in irp-haskelseed (another lab?): "
            "bring it down first (python -m pytest_irp_lab down)"
        )
    try:
        lab.up()
    except LabError as exc:
        if "held by" not in str(exc):
            raise
        pytest.skip(str(exc))  # another lab came up meanwhile (the check above raced it)
    try:
        yield lab
    finally:
        lab.down(purge=False)


@pytest.fixture(scope="session")
def nix_env(lab_up: Lab) -> dict[str, str]:
    """Environment for running nix on this machine with the lab's offline config."""
    return {
        **os.environ,
        "NIX_CONF_DIR": str(lab_up.layout.nix_conf_dir),
        "XDG_CACHE_HOME": str(lab_up.layout.nix_cache_dir),
    }

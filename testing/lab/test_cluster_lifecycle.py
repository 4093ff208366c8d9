"""The lab's Kubernetes node: Ready from cached binaries, a clean stop, and recovery after
its processes were killed (what CI meets after a session ended with the lab up)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")


def _lab():  # type: ignore[no-untyped-def]
    from pytest_irp_lab.orchestrator import Lab, missing_programs

    missing = missing_programs()
    if missing:
        pytest.skip(f"lab programs missing: {', '.join(missing)}")
    lab = Lab(with_cluster=True)
    cluster = lab.cluster()
    if cluster is None or cluster.missing_binaries():
        pytest.skip("cluster binaries not built (lab/build-cluster.sh)")
    return lab, cluster


def leftovers(state_dir: Path) -> list[str]:
    """What a stopped cluster must not leave: processes, mounts, netns, chains, links."""
    found = []
    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    found += [
        f"process: {line.strip()[:120]}"
        for line in ps.splitlines()
        if str(state_dir) in line and "pytest" not in line
    ]
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    found += [f"mount: {m.split()[1]}" for m in mounts if str(state_dir) in m.split()[1]]
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found += [f"netns: {n.split()[0]}" for n in netns.splitlines() if n.startswith("cni-")]
    for table in ("filter", "nat", "mangle"):
        rules = subprocess.run(
            ["iptables-save", "-t", table], capture_output=True, text=True
        ).stdout
        found += [
            f"iptables {table}: {line}"
            for line in rules.splitlines()
            if line.startswith(":") and line[1:].startswith(("KUBE-", "CNI-", "irp-cluster"))
        ]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += ["link: irpcni0" for line in links.splitlines() if " irpcni0:" in line]
    return found


def test_cluster_ready_then_stop_leaves_nothing_then_recovers_from_kill() -> None:
    lab, cluster = _lab()
    was_up = bool(lab.status().get("up"))
    try:
        _lifecycle(lab, cluster)
    finally:
        if not was_up:  # leave the machine as found (other lab tests need it free)
            lab.down()


def _lifecycle(lab, cluster) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    lab.up()
    assert cluster.is_ready(), cluster.status()
    up_seconds = time.monotonic() - started
    assert up_seconds < 90, f"lab with cluster took {up_seconds:.1f}s to be Ready"

    cluster.stop()
    assert leftovers(cluster.state_dir) == []

    lab.up()
    assert cluster.is_ready()
    # a session that ends kills every process it started; the next run must cope
    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    for line in ps.splitlines():
        pid, _, args = line.strip().partition(" ")
        if str(cluster.state_dir) in args and int(pid) != os.getpid():
            os.kill(int(pid), signal.SIGKILL)
    time.sleep(1)
    assert not cluster.is_ready()
    lab.up()
    assert cluster.is_ready(), cluster.status()

"""The node's changes to the host, each with its undo: the lab bridge, sysctls, the
iptables guard chains (and the removal of every chain kube-proxy and CNI made), mounts,
CNI network namespaces, cgroups, host directories. Pure parts (the iptables scripts and
rules) are unit-tested; the rest is the thin layer that applies them.

:func:`prepare_host` records what it is about to change (``run/sysctl.json``,
``run/host-before.json``, ``run/created-bridge``) before changing it; :func:`cleanup_host`
undoes exactly that, also after a crash."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import shutil
import signal
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pytest_irp.fileio import write_atomic
from pytest_irp_lab import net
from pytest_irp_lab.layout import ClusterLayout
from pytest_irp_lab.proc import run, write_json_atomic
from pytest_irp_lab.topology import (
    CNI_BRIDGE,
    CNI_NETWORK,
    FORWARD_CHAIN,
    GUARD_PREFIX,
    HOST_DIRS,
    LAB_BRIDGE,
    LAB_CIDR,
    NETNS_DIR,
    NODE_IP,
    OUTPUT_CHAIN,
    POD_CIDR,
    SERVICE_CIDR,
    TOUCHED_SYSCTLS,
)

log = logging.getLogger(__name__)


def read_sysctl(name: str) -> str:
    return Path("/proc/sys", name).read_text().strip()


def write_sysctl(name: str, value: str) -> None:
    Path("/proc/sys", name).write_text(value + "\n")


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def ensure_lab_bridge(node_ip: str = NODE_IP) -> bool:
    """The lab bridge as the network module makes it (:func:`pytest_irp_lab.net.
    bridge_steps`), with the node IP on it. True if this call created it."""
    links = frozenset({LAB_BRIDGE}) if link_exists(LAB_BRIDGE) else frozenset()
    steps = net.bridge_steps(net.NetState(links=links, netns=frozenset()))
    if node_ip != net.BRIDGE_ADDRESS:
        steps.append(
            net.Step(net.ip("addr", "replace", f"{node_ip}/{net.PREFIX_LEN}", "dev", LAB_BRIDGE))
        )
    for step in steps:
        run(step.argv)
    return any(step.creates is not None for step in steps)


def bridge_ports(name: str) -> list[str]:
    brif = Path("/sys/class/net", name, "brif")
    return sorted(p.name for p in brif.iterdir()) if brif.is_dir() else []


def delete_link(name: str) -> None:
    if link_exists(name):
        run(["ip", "link", "del", name], check=False)


def mount_points() -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        raw = line.split()[4]
        points.append(raw.encode().decode("unicode_escape"))
    return points


def unmount_under(prefixes: Sequence[str]) -> list[str]:
    """Unmount every mount point at or below one of ``prefixes``, deepest first."""
    roots = [p.rstrip("/") for p in prefixes]
    doomed = [m for m in mount_points() if any(m == r or m.startswith(r + "/") for r in roots)]
    for point in sorted(set(doomed), key=lambda m: m.count("/"), reverse=True):
        if run(["umount", point], check=False).returncode != 0:
            run(["umount", "-l", point], check=False)
    return doomed


def remove_empty_dirs(paths: Iterable[str]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            os.rmdir(path)


def netns_names() -> set[str]:
    netns_dir = Path(NETNS_DIR)
    return {p.name for p in netns_dir.iterdir()} if netns_dir.is_dir() else set()


def remove_netns(names: Iterable[str]) -> None:
    for name in names:
        path = Path(NETNS_DIR, name)
        unmount_under([str(path)])
        path.unlink(missing_ok=True)


def _iptables_tables(save_output: str) -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    current = ""
    for line in save_output.splitlines():
        if line.startswith("*"):
            current = line[1:]
            tables[current] = []
        elif current and line.startswith((":", "-A")):
            tables[current].append(line)
    return tables


def _jump_target(tokens: Sequence[str]) -> str:
    for flag in ("-j", "-g", "--jump", "--goto"):
        if flag in tokens[:-1]:
            return tokens[tokens.index(flag) + 1]
    return ""


def iptables_cleanup_script(save_output: str, prefixes: Sequence[str]) -> str:
    """An ``iptables-restore --noflush`` script removing every chain whose name starts with
    one of ``prefixes`` and every other chain's rule jumping to one (pure; unit-testable)."""

    def ours(chain: str) -> bool:
        return chain.startswith(tuple(prefixes))

    out: list[str] = []
    for table, lines in _iptables_tables(save_output).items():
        mine = [c for line in lines if line.startswith(":") and ours(c := line[1:].split()[0])]
        if not mine:
            continue
        rules = [(line, shlex.split(line)) for line in lines if line.startswith("-A ")]
        jumps = [line for line, t in rules if not ours(t[1]) and ours(_jump_target(t))]
        out.append(f"*{table}")
        out += ["-D " + line[3:] for line in jumps]
        out += [f":{c} - [0:0]" for c in mine]  # declaring a chain flushes it
        out += [f"-X {c}" for c in mine]
        out.append("COMMIT")
    return "\n".join(out) + ("\n" if out else "")


def cleanup_iptables(prefixes: Sequence[str]) -> None:
    for save, restore in (
        ("iptables-save", "iptables-restore"),
        ("ip6tables-save", "ip6tables-restore"),
    ):
        if shutil.which(save) is None:
            continue
        dump = run([save], check=False).stdout
        script = iptables_cleanup_script(dump, prefixes)
        if script:
            done = run([restore, "--noflush"], input=script, check=False)
            if not done.ok:
                log.warning("%s cleanup failed: %s", restore, done.stderr.strip())


def forward_guard_rules(pod_cidr: str, lab_cidr: str) -> list[list[str]]:
    """FORWARD rules that keep pod traffic inside the lab ranges (ip_forward is on)."""
    return [
        ["-N", FORWARD_CHAIN],
        ["-A", FORWARD_CHAIN, "-s", lab_cidr, "-d", pod_cidr, "-j", "RETURN"],
        ["-A", FORWARD_CHAIN, "-s", pod_cidr, "-d", lab_cidr, "-j", "RETURN"],
        ["-A", FORWARD_CHAIN, "-s", pod_cidr, "-d", pod_cidr, "-j", "RETURN"],
        ["-A", FORWARD_CHAIN, "-j", "DROP"],
        ["-I", "FORWARD", "1", "-i", CNI_BRIDGE, "-j", FORWARD_CHAIN],
        ["-I", "FORWARD", "1", "-o", CNI_BRIDGE, "-j", FORWARD_CHAIN],
    ]


def output_guard_rules(cidrs: Sequence[str]) -> list[list[str]]:
    """mangle POSTROUTING rules: lab/pod/service addresses may only leave through lo or the
    lab's own interfaces. If the lab bridge disappears, 10.77.0.1 stops being local and the
    default route would otherwise carry the cluster's traffic to the outside.

    POSTROUTING, not filter OUTPUT: only there is the out interface final after kube-proxy's
    DNAT (filter OUTPUT still shows eth0 for a ClusterIP packet DNATed to a pod)."""
    rules = [
        ["-N", OUTPUT_CHAIN],
        *(
            ["-A", OUTPUT_CHAIN, "-o", dev, "-j", "RETURN"]
            for dev in ("lo", LAB_BRIDGE, CNI_BRIDGE)
        ),
        ["-A", OUTPUT_CHAIN, "-j", "DROP"],
    ]
    rules += [["-I", "POSTROUTING", "1", "-d", cidr, "-j", OUTPUT_CHAIN] for cidr in cidrs]
    return [["-t", "mangle", *rule] for rule in rules]


def cgroup_dirs(name: str) -> list[Path]:
    return sorted(p for p in Path("/sys/fs/cgroup").glob(f"*/{name}") if p.is_dir())


def kill_cgroup_tree(root: Path) -> None:
    for procs in root.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            for pid in procs.read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)


def remove_cgroup_tree(root: Path) -> None:
    dirs = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts))
    for path in [*reversed(dirs), root]:
        with contextlib.suppress(OSError):
            path.rmdir()


def prepare_host(lay: ClusterLayout, node_ip: str) -> None:
    """The host changes start() makes, each recorded first so cleanup_host can undo it:
    the lab bridge (if absent), ip_forward, the guard chains; the sysctls and the host's
    netns, mounts and directories as they were before."""
    for d in (lay.run_dir, lay.log_dir):
        d.mkdir(parents=True, exist_ok=True)
    if ensure_lab_bridge(node_ip):
        write_atomic(lay.created_bridge_file, LAB_BRIDGE + "\n")
    saved = lay.sysctl_file
    if not saved.exists():
        write_json_atomic(saved, {name: read_sysctl(name) for name in TOUCHED_SYSCTLS})
    footprint = lay.host_before_file
    if not footprint.exists():
        before = {
            "netns": sorted(netns_names()),
            "netns_mounted": NETNS_DIR in mount_points(),
            "dirs": [d for d in HOST_DIRS if os.path.isdir(d)],
        }
        write_json_atomic(footprint, before)
    write_sysctl("net/ipv4/ip_forward", "1")
    if run(["iptables", "-t", "mangle", "-S", OUTPUT_CHAIN], check=False).returncode != 0:
        for rule in output_guard_rules((LAB_CIDR, POD_CIDR, SERVICE_CIDR)):
            run(["iptables", "-w", *rule])
    if run(["iptables", "-S", FORWARD_CHAIN], check=False).returncode != 0:
        for rule in forward_guard_rules(POD_CIDR, LAB_CIDR):
            run(["iptables", "-w", *rule])


def cleanup_host(lay: ClusterLayout) -> None:
    """Undo what the node left on the host (see docs/lab-cluster.md, What stop() removes)."""
    footprint = lay.host_before_file
    before: dict[str, Any] = {"netns": [], "netns_mounted": True, "dirs": list(HOST_DIRS)}
    if footprint.exists():
        before = json.loads(footprint.read_text())
    for root in cgroup_dirs("kubepods"):  # pod processes left by a crashed runtime
        kill_cgroup_tree(root)
    remove_netns(n for n in netns_names() - set(before["netns"]) if n.startswith("cni-"))
    if not before["netns_mounted"] and not netns_names():
        unmount_under([NETNS_DIR])
    unmount_under([str(lay.root)])
    cleanup_iptables(("KUBE-", "CNI-", GUARD_PREFIX))
    delete_link(CNI_BRIDGE)
    for root in cgroup_dirs("kubepods"):
        remove_cgroup_tree(root)
    for result in Path("/var/lib/cni/results").glob(f"{CNI_NETWORK}-*"):
        result.unlink(missing_ok=True)
    remove_empty_dirs(d for d in HOST_DIRS if d not in before["dirs"])
    restore_sysctls(lay)
    created = lay.created_bridge_file
    # Others (pytest_irp_lab.net) may have attached their veths meanwhile: keep it then.
    if created.exists() and not bridge_ports(LAB_BRIDGE):
        delete_link(LAB_BRIDGE)
        created.unlink()
    footprint.unlink(missing_ok=True)


def restore_sysctls(lay: ClusterLayout) -> None:
    saved = lay.sysctl_file
    if not saved.exists():
        return
    for name, value in json.loads(saved.read_text()).items():
        with contextlib.suppress(OSError):
            if read_sysctl(name) != value:
                write_sysctl(name, value)
    saved.unlink()

"""The lab's internals without a running lab: the process layer (run, spawn, pid records,
terminate a group, wait_for), the node's pure configuration, its host-change scripts, its
readiness judge, the network module's route judge and URLs, the authfile writer, the image
archives. No root needed (the processes are this user's own)."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import tarfile
import time
from pathlib import Path

import pytest

from pytest_irp_lab import hostchanges, net, node, node_config, proc
from pytest_irp_lab.authfile import authfile_json, temporary_authfile, written_authfile
from pytest_irp_lab.cluster import LabCluster
from pytest_irp_lab.images import ImageFile, build_image_archive
from pytest_irp_lab.topology import COMPONENTS, FORWARD_CHAIN, OUTPUT_CHAIN

# ---- process layer -------------------------------------------------------------------


def test_run_takes_an_argument_list_input_and_an_overlay_environment() -> None:
    done = proc.run(
        ["sh", "-c", 'printf "%s:" "$IRP_X"; cat', "--"], env={"IRP_X": "v"}, input="in"
    )
    assert done.ok
    assert done.stdout == "v:in"
    with pytest.raises(proc.LabError, match="exit 3"):
        proc.run(["sh", "-c", "echo why >&2; exit 3"])
    assert proc.run(["sh", "-c", "exit 3"], check=False).returncode == 3
    with pytest.raises(proc.LabError, match="not found"):
        proc.run(["irp-no-such-program"])


def test_run_sees_this_process_environment_as_it_is_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRP_LATE", "set-after-import")
    assert proc.run(["sh", "-c", 'echo "$IRP_LATE"']).stdout.strip() == "set-after-import"
    only = proc.run(["/usr/bin/env"], environ={"IRP_ONLY": "1"}).stdout.split()
    # the whole environment is replaced (plumbum always sets PATH)
    assert [v for v in only if not v.startswith("PATH=")] == ["IRP_ONLY=1"]


def test_run_kills_a_command_at_its_timeout() -> None:
    began = time.monotonic()
    with pytest.raises(proc.LabError, match="timed out"):
        proc.run(["sleep", "30"], timeout=0.3)
    assert time.monotonic() - began < 5


def test_daemon_env_drops_proxies_secrets_and_named_prefixes() -> None:
    env = proc.daemon_env(
        {
            "PATH": "/bin",
            "https_proxy": "http://x",
            "HTTP_PROXY": "y",
            "IRP_REGISTRY_PASSWORD": "s",
            "GH_TOKEN": "t",
            "GITEA__x": "1",
        },
        drop_prefixes=("GITEA",),
        extra={"HOME": "/h"},
    )
    assert env == {"PATH": "/bin", "HOME": "/h"}


def test_pid_records_of_every_form_are_read() -> None:
    assert proc.parse_pid_record('{"pid": 5, "starttime": 7}') == proc.Proc(5, 7)
    assert proc.parse_pid_record('{"pid": 5, "start_ticks": 7}') == proc.Proc(5, 7)
    assert proc.parse_pid_record("5 7\n") == proc.Proc(5, 7)
    assert proc.parse_pid_record("") is None
    assert proc.parse_pid_record("5 None") is None
    assert proc.parse_pid_record('{"pid": 5}') is None


def test_spawn_records_the_process_and_terminate_stops_its_whole_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    record = tmp_path / "run" / "d.pid"
    script = (
        'sh -c \'trap "" TERM; while :; do sleep 0.05; done\' & echo $! >> "$1"; echo started; wait'
    )
    started = proc.spawn(
        ["sh", "-c", script, "family", str(pids)], tmp_path / "d.log", pid_file=record
    )
    assert proc.read_pid_record(record) == started
    proc.wait_for("the child's pid", lambda: pids.exists() and pids.read_text().strip(), timeout=10)
    child = proc.proc_of(int(pids.read_text()))
    assert child is not None
    assert proc.live(record) == started
    assert proc.stop_recorded(record, 0.5, group=True) == started
    assert not proc.alive(started)
    assert not proc.alive(child)
    assert not record.exists()
    assert "started" in proc.tail(tmp_path / "d.log")
    assert proc.stop_recorded(record) is None  # nothing recorded: nothing signalled


def test_a_recycled_pid_is_not_ours() -> None:
    me = proc.proc_of(os.getpid())
    assert me is not None
    assert proc.alive(me)
    assert not proc.alive(proc.Proc(me.pid, me.starttime + 1))


def test_wait_for_says_what_it_waited_for_and_stops_on_an_error() -> None:
    with pytest.raises(proc.LabError, match="waiting for the moon"):
        proc.wait_for("the moon", lambda: False, timeout=0.1)

    def broken() -> bool:
        raise ValueError("probe broke")

    with pytest.raises(ValueError, match="probe broke"):
        proc.wait_for("anything", broken, timeout=10)


# ---- network module --------------------------------------------------------------------


def test_only_loopback_and_lab_interfaces_may_be_contacted() -> None:
    assert net.lab_route_problem("127.0.0.1", "") is None
    assert net.lab_route_problem("10.77.0.3", "10.77.0.3 dev irpbr0 src 10.77.0.1") is None
    assert net.lab_route_problem("10.78.0.5", "10.78.0.5 dev irpcni0 src 10.78.0.1") is None
    problem = net.lab_route_problem("10.77.0.3", "10.77.0.3 via 192.0.2.1 dev eth0")
    assert problem is not None
    assert "eth0" in problem
    assert net.route_device("") is None


def test_split_url_knows_both_schemes() -> None:
    assert net.split_url("http://10.77.0.3:3000/v2/") == ("http", "10.77.0.3", 3000, "/v2/")
    assert net.split_url("https://10.77.0.1/readyz") == ("https", "10.77.0.1", 443, "/readyz")
    assert net.split_url("http://h") == ("http", "h", 80, "/")


# ---- authfile --------------------------------------------------------------------------


def test_the_authfile_is_private_and_gone_afterwards(tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("pw\n")
    with temporary_authfile("10.77.0.3:3000", "u", password, tmp_path) as path:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert json.loads(path.read_text()) == json.loads(
            authfile_json("10.77.0.3:3000", "u", "pw")
        )
    assert not path.exists()
    with pytest.raises(RuntimeError), written_authfile("h:1", "u", "p", tmp_path) as other:
        raise RuntimeError
    assert not other.exists()


# ---- the node's configuration and judges -----------------------------------------------


def cluster(tmp_path: Path) -> LabCluster:
    return LabCluster(
        state_dir=tmp_path / "cluster", cache_dir=tmp_path / "cache", source_dir=tmp_path / "src"
    )


def test_every_component_listens_on_loopback_or_the_node_ip(tmp_path: Path) -> None:
    spec = cluster(tmp_path).spec
    argv = {c: node_config.component_argv(spec, c, Path("/bin") / c) for c in COMPONENTS}
    assert "--bind-address=10.77.0.1" in argv["kube-apiserver"]
    assert "--listen-client-urls=http://127.0.0.1:2379" in argv["etcd"]
    for component in ("kube-controller-manager", "kube-scheduler"):
        assert "--bind-address=127.0.0.1" in argv[component]
    kubelet = node_config.kubelet_config(spec)
    assert (kubelet["address"], kubelet["healthzBindAddress"], kubelet["readOnlyPort"]) == (
        "10.77.0.1",
        "127.0.0.1",
        0,
    )
    proxy = node_config.kube_proxy_config(spec)
    assert proxy["nodePortAddresses"] == ["10.77.0.1/32"]
    assert "127.0.0.1" in node_config.containerd_config(spec)
    assert f'config_path = "{spec.layout.certs_d}"' in node_config.containerd_config(spec)
    assert spec.pause_image == "10.77.0.3:3000/irp/pause:1.0"


def test_kubeconfigs_embed_the_matching_certificates() -> None:
    users = node_config.kubeconfig_users("railiance01")
    assert users["kubelet"] == "system:node:railiance01"
    assert node_config.kubeconfig_cert("kubelet") == "kubelet-client"
    doc = node_config.kubeconfig(
        cluster="railiance01",
        server="https://10.77.0.1:6443",
        ca=b"CA",
        user="admin",
        cert=b"C",
        key=b"K",
    )
    assert doc["current-context"] == "railiance01"
    assert doc["users"][0]["user"]["client-key-data"] == "Sw=="


def test_node_ready_needs_a_heartbeat_of_the_running_kubelet() -> None:
    since = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC).timestamp()

    def node_obj(status: str, beat: str) -> dict[str, object]:
        return {
            "status": {
                "conditions": [{"type": "Ready", "status": status, "lastHeartbeatTime": beat}]
            }
        }

    assert node.node_ready_since(node_obj("True", "2026-12-02T10:00:05Z"), since)
    assert not node.node_ready_since(node_obj("True", "2026-12-02T09:59:00Z"), since)
    assert not node.node_ready_since(node_obj("False", "2026-12-02T10:00:05Z"), since)
    assert not node.node_ready_since({}, since)


SAVE = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:KUBE-FORWARD - [0:0]
:irp-cluster-fwd - [0:0]
:other - [0:0]
-A FORWARD -i irpcni0 -j irp-cluster-fwd
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -j other
-A KUBE-FORWARD -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
COMMIT
"""


def test_the_iptables_cleanup_removes_only_the_lab_chains_and_their_jumps() -> None:
    script = hostchanges.iptables_cleanup_script(SAVE, ("KUBE-", "irp-cluster-"))
    lines = script.splitlines()
    assert lines[0] == "*filter"
    assert lines[-1] == "COMMIT"
    assert "-D FORWARD -i irpcni0 -j irp-cluster-fwd" in lines
    assert '-D FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD' in lines
    assert {"-X KUBE-FORWARD", "-X irp-cluster-fwd"} <= set(lines)
    assert not any("other" in line for line in lines)
    assert "*nat" not in lines  # no chain of ours there
    assert hostchanges.iptables_cleanup_script("*filter\n:INPUT ACCEPT\nCOMMIT\n", ("KUBE-",)) == ""


def test_the_guard_chains_keep_pod_and_lab_traffic_inside() -> None:
    forward = hostchanges.forward_guard_rules("10.78.0.0/24", "10.77.0.0/24")
    assert forward[0] == ["-N", FORWARD_CHAIN]
    assert forward[-3] == ["-A", FORWARD_CHAIN, "-j", "DROP"]
    out = hostchanges.output_guard_rules(("10.77.0.0/24",))
    assert all(rule[:2] == ["-t", "mangle"] for rule in out)
    assert ["-t", "mangle", "-A", OUTPUT_CHAIN, "-j", "DROP"] in out
    assert {rule[5] for rule in out if rule[2] == "-A" and "RETURN" in rule} == {
        "lo",
        "irpbr0",
        "irpcni0",
    }


# ---- images ----------------------------------------------------------------------------


def test_image_archives_are_deterministic(tmp_path: Path) -> None:
    entries = [
        ImageFile("/www", directory=True, mode=0o755),
        ImageFile("/www/healthz", data=b"ok\n"),
    ]
    one = build_image_archive(tmp_path / "a.tar", "h:1/o/n:1", entries, ["/bin/x"])
    two = build_image_archive(tmp_path / "b.tar", "h:1/o/n:1", entries, ["/bin/x"])
    assert one.read_bytes() == two.read_bytes()
    with tarfile.open(one) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest[0]["RepoTags"] == ["h:1/o/n:1"]

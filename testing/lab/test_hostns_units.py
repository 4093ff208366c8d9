"""The pure parts of :mod:`pytest_irp_lab.hostns`: the host's namespace chain and the
node's /etc files (its user who needs sudo, the sudo rule per mode)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_irp_lab import hostns, nsinit
from pytest_irp_lab.orchestrator import ssh_hosts
from pytest_irp_lab.proc import LabError

BASE_PASSWD = "root:x:0:0:root:/root:/bin/bash\nirp:x:1:1:stale:/x:/bin/false\n"


def test_host_argv_gives_the_host_its_own_pid_mount_and_uts_namespaces() -> None:
    argv = hostns.host_argv(
        "railiance01",
        [hostns.Bind(Path("/lab/etc/passwd"), "/etc/passwd")],
        ["/usr/sbin/sshd", "-D"],
    )
    assert argv[: argv.index("--")] == [
        "unshare",
        "--uts",
        "--pid",
        "--mount",
        "--fork",
        "--mount-proc",
        "--propagation",
        "private",
        "--kill-child",
    ]
    init = argv[argv.index("--") + 1 :]
    assert init[1:5] == ["-m", "pytest_irp_lab.nsinit", "--hostname", "railiance01"]
    assert init[5:8] == ["--bind", "/lab/etc/passwd", "/etc/passwd"]
    assert init[-3:] == ["--", "/usr/sbin/sshd", "-D"]
    args = nsinit.parse(init[3:])
    assert args.hostname == "railiance01"
    assert args.bind == [["/lab/etc/passwd", "/etc/passwd"]]
    assert args.program == ["/usr/sbin/sshd", "-D"]


def test_bind_puts_the_separator_before_the_paths() -> None:
    assert nsinit.bind_argv("-x", "/etc/hosts") == ["mount", "--bind", "--", "-x", "/etc/hosts"]


def test_node_etc_files_add_one_user_and_keep_the_machines_entries() -> None:
    passwd = hostns.render_passwd(BASE_PASSWD, "/home/irp")
    rows = passwd.splitlines()
    assert rows[0] == "root:x:0:0:root:/root:/bin/bash"
    assert [r for r in rows if r.startswith("irp:")] == [
        f"irp:x:{hostns.NODE_UID}:{hostns.NODE_UID}:pytest-irp lab node user:/home/irp:/bin/sh"
    ]
    assert hostns.render_shadow("root:!:1::::::\n").splitlines()[-1].startswith("irp:*:")
    assert hostns.render_group("root:x:0:\n").splitlines() == [
        "root:x:0:",
        f"irp:x:{hostns.NODE_UID}:",
    ]
    hosts = hostns.render_hosts("127.0.0.1 localhost\n", [("10.77.0.4", "railiance01")])
    assert hosts.splitlines()[0] == "127.0.0.1 localhost"
    assert hosts.splitlines()[-1] == "10.77.0.4 railiance01"


@pytest.mark.parametrize(
    ("mode", "rule"),
    [("nopasswd", "irp ALL=(ALL:ALL) NOPASSWD: ALL"), ("password", "irp ALL=(ALL:ALL) ALL")],
)
def test_sudo_rule_per_mode(tmp_path: Path, mode: str, rule: str) -> None:
    assert hostns.render_sudoers(mode).splitlines()[-1] == rule
    hostns.set_sudo_mode(tmp_path, mode)
    written = tmp_path / "sudoers.d" / hostns.SUDOERS_FILE
    assert written.stat().st_mode & 0o777 == 0o440
    assert hostns.sudo_mode(tmp_path) == mode
    assert "." not in hostns.SUDOERS_FILE
    assert "~" not in hostns.SUDOERS_FILE


def test_unknown_sudo_mode_is_refused() -> None:
    with pytest.raises(LabError, match="unknown sudo mode 'sometimes'"):
        hostns.render_sudoers("sometimes")


def test_node_gets_an_etc_of_its_own_and_the_lab_homes(tmp_path: Path) -> None:
    login = hostns.Login(hostns.NODE_UID, tmp_path / "homes")
    binds = hostns.node_binds(tmp_path / "etc", login)
    assert binds[0] == hostns.EtcView(tmp_path / "etc", tmp_path / "host-etc")
    assert binds[1] == hostns.Bind(tmp_path / "homes", "/home")
    assert not [b for b in binds if isinstance(b, hostns.Bind) and b.target.startswith("/etc")]
    assert login.authorized_keys == "/home/irp/.ssh/authorized_keys"
    assert login.lab_authorized_keys == tmp_path / "homes/irp/.ssh/authorized_keys"
    init = hostns.host_argv("railiance01", binds, ["sshd"])
    args = nsinit.parse(init[init.index("--") + 4 :])
    assert args.etc == [str(tmp_path / "etc"), str(tmp_path / "host-etc")]
    assert args.bind == [[str(tmp_path / "homes"), "/home"]]


def test_node_etc_links_the_lab_files_and_this_machines_rest() -> None:
    """No file is bound (a rename over this machine's /etc/passwd would detach it): every
    name is a link, resolved at each open; the machine's own links are kept as they are."""
    links = nsinit.etc_links(
        {"passwd": None, "ssh": None, "mtab": "../proc/self/mounts", nsinit.HOST_ETC: None},
        ["passwd", "group", "shadow", "hosts", "sudoers.d"],
    )
    assert links == {
        "group": ".irp-lab-etc/group",
        "hosts": ".irp-lab-etc/hosts",
        "mtab": "../proc/self/mounts",
        "passwd": ".irp-lab-etc/passwd",
        "shadow": ".irp-lab-etc/shadow",
        "ssh": ".irp-host-etc/ssh",
        "sudoers.d": ".irp-lab-etc/sudoers.d",
    }


def test_build_host_logs_in_as_root_and_the_node_as_the_sudo_user() -> None:
    users = {h.alias: h.user for h in ssh_hosts()}
    assert users == {"haskelseed": "root", "railiance01": hostns.NODE_USER}

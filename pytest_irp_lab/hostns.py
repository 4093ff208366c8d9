"""Each lab host in namespaces of its own, and the node's non-root user with sudo.

A lab host is a network namespace (:mod:`pytest_irp_lab.net`) whose sshd runs in a PID,
mount and UTS namespace of its own as well: ``ps`` on ``haskelseed`` shows the build host's
processes only (a ``nix build`` elsewhere on this machine is not "another build on the
build host"), and its hostname is its alias. The chain that starts a host is::

    ip netns exec NS  unshare --uts --pid --mount --fork --mount-proc --kill-child --
        python -m pytest_irp_lab.nsinit --hostname ALIAS [--bind SRC DST]... -- sshd -D ...

``unshare`` stays in this machine's PID namespace (it is the process the lab records and
stops); its child, :mod:`pytest_irp_lab.nsinit`, is PID 1 of the host: it makes the host's
bind mounts, sets the hostname, runs sshd and reaps orphans. When it ends, the kernel ends
every process of the host (its ssh sessions, a detached build).

The workplan's node is reached as a user who needs ``sudo`` (its steps say ``sudo cat``,
``sudo k3s crictl``). The lab's node logs in as :data:`NODE_USER`, a user who exists only
inside the node's mount namespace. The node's ``/etc`` is a directory of its own
(:class:`EtcView`, a tmpfs of symbolic links made by :mod:`pytest_irp_lab.nsinit`): the
lab's ``passwd``, ``group``, ``shadow``, ``hosts`` and ``sudoers.d``, and for every other
name a link into this machine's ``/etc`` seen through a *directory* bind. No single file is
bound: a package that rewrites ``/etc/passwd`` by rename (``adduser`` in a Debian package's
postinst) would detach a file bind in every other mount namespace (Linux >= 3.18) and the
node's user would vanish; a link is resolved anew at each open. This machine's ``/etc`` is
never changed. The node user's sudo rule is one of :data:`SUDO_MODES`: ``nopasswd`` (the
default: a NOPASSWD rule, the fix the suite's preflight names) or ``password`` (sudo asks
for a password, which ``sudo -n`` refuses at once).

The node's Kubernetes processes (containerd, kubelet) run in this machine's PID namespace
(:mod:`pytest_irp_lab.cluster`); the suite never reads the node's process list.

Renderers are pure; :func:`write_node_etc` and :func:`set_sudo_mode` write the files.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pytest_irp_lab.proc import (
    LabError,
    Proc,
    alive,
    cmdline,
    parent_of,
    terminate,
    wait_for,
    write_atomic,
)

NODE_USER: Final = "irp"
NODE_UID: Final = 61577  # far above Debian's dynamic range; checked against this machine
SUDO_MODES: Final = ("nopasswd", "password")
DEFAULT_SUDO_MODE: Final = "nopasswd"
SUDOERS_FILE: Final = "irp-lab-node"  # no '.' or '~': sudo's @includedir skips those
ETC_FILES: Final = ("passwd", "group", "shadow", "hosts")


@dataclass(frozen=True)
class Login:
    """A login user of a host who is not root: ``lab_home`` (a lab directory holding the
    user's home) is bound over ``/home`` inside the host, so the user's sshd child can read
    its ``authorized_keys`` however private the lab directory is."""

    uid: int
    lab_homes: Path
    name: str = NODE_USER

    @property
    def home(self) -> str:
        return f"/home/{self.name}"

    @property
    def authorized_keys(self) -> str:
        """The path as the host sees it."""
        return f"{self.home}/.ssh/authorized_keys"

    @property
    def lab_authorized_keys(self) -> Path:
        """The same file as this machine sees it."""
        return self.lab_homes / self.name / ".ssh" / "authorized_keys"


@dataclass(frozen=True)
class Bind:
    """``source`` (a file or directory of the lab) bound over ``target`` in the host."""

    source: Path
    target: str


@dataclass(frozen=True)
class EtcView:
    """The host's own ``/etc``: the names in ``overrides`` (a lab directory) win; every
    other name links into this machine's ``/etc``, bound (as a directory) on ``host_view``
    (an empty lab directory) inside the host's mount namespace."""

    overrides: Path
    host_view: Path


# ------------------------------------------------------------------------ pure renderers


def host_argv(alias: str, binds: Sequence[Bind | EtcView], program: Sequence[str]) -> list[str]:
    """The command (to run inside the host's netns) that starts ``program`` as the host."""
    init = [sys.executable, "-m", "pytest_irp_lab.nsinit", "--hostname", alias]
    for bind in binds:
        if isinstance(bind, EtcView):
            init += ["--etc", str(bind.overrides), str(bind.host_view)]
        else:
            init += ["--bind", str(bind.source), bind.target]
    return [
        "unshare",
        "--uts",
        "--pid",
        "--mount",
        "--fork",
        "--mount-proc",
        "--propagation",
        "private",
        "--kill-child",
        "--",
        *init,
        "--",
        *program,
    ]


def _with_line(base: str, name: str, line: str) -> str:
    """``base`` (an /etc database) without entries for ``name``, plus ``line``."""
    kept = [row for row in base.splitlines() if row.split(":", 1)[0] != name]
    return "\n".join([*kept, line]) + "\n"


def render_passwd(base: str, home: str) -> str:
    return _with_line(
        base,
        NODE_USER,
        f"{NODE_USER}:x:{NODE_UID}:{NODE_UID}:pytest-irp lab node user:{home}:/bin/sh",
    )


def render_group(base: str) -> str:
    return _with_line(base, NODE_USER, f"{NODE_USER}:x:{NODE_UID}:")


def render_shadow(base: str) -> str:
    # '*': no password can ever match; unlike '!' it is not a locked account, which
    # OpenSSH refuses even for a key login (UsePAM no)
    return _with_line(base, NODE_USER, f"{NODE_USER}:*:20000:0:99999:7:::")


def render_hosts(base: str, entries: Sequence[tuple[str, str]]) -> str:
    """``base`` plus the lab's names, so that nothing (sudo resolving its host name) asks
    a name server."""
    lines = [base.rstrip("\n"), "# pytest-irp lab hosts"]
    lines += [f"{address} {name}" for address, name in entries]
    return "\n".join(lines) + "\n"


def render_sudoers(mode: str) -> str:
    if mode not in SUDO_MODES:
        raise LabError(f"unknown sudo mode {mode!r}; known: {', '.join(SUDO_MODES)}")
    rule = "NOPASSWD: ALL" if mode == "nopasswd" else "ALL"
    return (
        f"# Written by the pytest-irp lab (sudo mode {mode}).\n{NODE_USER} ALL=(ALL:ALL) {rule}\n"
    )


def host_view_dir(etc_dir: Path) -> Path:
    """Where the node sees this machine's /etc (an empty directory beside ``etc_dir``)."""
    return etc_dir.parent / "host-etc"


def node_binds(etc_dir: Path, login: Login) -> list[Bind | EtcView]:
    """The node's mounts: its own /etc (the lab's databases and sudoers.d, links to this
    machine's for the rest), the lab's home directories over /home."""
    return [EtcView(etc_dir, host_view_dir(etc_dir)), Bind(login.lab_homes, "/home")]


# ------------------------------------------------------------------------ thin layer


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def write_node_etc(
    etc_dir: Path, login: Login, hosts: Sequence[tuple[str, str]], mode: str = DEFAULT_SUDO_MODE
) -> None:
    """Write the node's /etc files (from this machine's) and its user's home."""
    base_passwd = _read("/etc/passwd")
    for row in base_passwd.splitlines():
        fields = row.split(":")
        if len(fields) > 2 and fields[2] == str(NODE_UID) and fields[0] != NODE_USER:
            raise LabError(
                f"uid {NODE_UID} is taken by {fields[0]!r} on this machine: the "
                "lab's node user needs it"
            )
    etc_dir.mkdir(parents=True, exist_ok=True)
    etc_dir.chmod(0o755)  # the node's /etc/.irp-lab-etc
    host_view_dir(etc_dir).mkdir(mode=0o755, exist_ok=True)
    login.lab_homes.mkdir(parents=True, exist_ok=True)
    login.lab_homes.chmod(0o755)
    ssh_dir = login.lab_authorized_keys.parent
    ssh_dir.mkdir(parents=True, exist_ok=True)
    for path in (ssh_dir.parent, ssh_dir):
        os.chown(path, login.uid, login.uid)
    ssh_dir.parent.chmod(0o755)
    ssh_dir.chmod(0o700)
    write_atomic(etc_dir / "passwd", render_passwd(base_passwd, login.home), 0o644)
    write_atomic(etc_dir / "group", render_group(_read("/etc/group")), 0o644)
    write_atomic(etc_dir / "shadow", render_shadow(_read("/etc/shadow")), 0o640)
    write_atomic(etc_dir / "hosts", render_hosts(_read("/etc/hosts"), hosts), 0o644)
    set_sudo_mode(etc_dir, mode)


def set_sudo_mode(etc_dir: Path, mode: str) -> None:
    """Replace the node user's sudo rule (takes effect at the next ``sudo``: the node sees
    the directory, not a file, so a new file is seen at once)."""
    sudoers_d = etc_dir / "sudoers.d"
    sudoers_d.mkdir(mode=0o755, parents=True, exist_ok=True)
    write_atomic(sudoers_d / SUDOERS_FILE, render_sudoers(mode), 0o440)


def sudo_mode(etc_dir: Path) -> str | None:
    """The node's sudo mode as written (None before the lab wrote it)."""
    text = _read(str(etc_dir / "sudoers.d" / SUDOERS_FILE))
    for mode in SUDO_MODES:
        if f"(sudo mode {mode})" in text:
            return mode
    return None


def init_of(holder: Proc) -> int | None:
    """The host's PID 1 as this machine sees it: the nsinit child of its ``unshare``."""
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if parent_of(pid) == holder.pid and "pytest_irp_lab.nsinit" in cmdline(pid):
            return pid
    return None


def user_present(holder: Proc, name: str = NODE_USER) -> bool:
    """Does the host have its own /etc (:class:`EtcView`) whose ``passwd`` names ``name``
    (read through its PID 1's root, so in its mount namespace)? False for a node made by
    older lab code (single-file binds, perhaps detached by a rename of this machine's
    file) or one whose /etc was lost: ``up`` then starts it anew."""
    init = init_of(holder)
    if init is None or not Path(f"/proc/{init}/root/etc/.irp-lab-etc").is_dir():
        return False
    text = _read(f"/proc/{init}/root/etc/passwd")
    return any(row.split(":", 1)[0] == name for row in text.splitlines())


def stop_host(holder: Proc, timeout: float = 5.0) -> None:
    """End a host: SIGTERM to its PID 1, which passes it to sshd and, when sshd is gone,
    ends, and the kernel with it every process of the host. (``unshare`` itself blocks
    SIGTERM while it waits; it is killed only if the host does not end in time.)"""
    if not alive(holder):
        return
    init = init_of(holder)
    if init is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(init, signal.SIGTERM)
        with contextlib.suppress(LabError):
            wait_for("the lab host to end", lambda: not alive(holder), timeout=timeout)
    terminate(holder, timeout=0.5)

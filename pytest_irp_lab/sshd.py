"""A private, key-only sshd per lab host, and the ssh client config that names them.

Every file lives under the lab's ``ssh/`` directory: host keys, the client key, the
``known_hosts`` the lab writes, ``config`` with ``Host haskelseed`` / ``Host railiance01``.
The machine's ``~/.ssh`` is never read nor written (use ``ssh -F <lab>/ssh/config``).

Each sshd runs as PID 1's one program in the host's own PID, mount and UTS namespaces
(:mod:`pytest_irp_lab.hostns`): the lab records the ``unshare`` that holds them.

Renderers and argument lists are pure; :class:`Sshd` runs them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pytest_irp_lab.hostns import Bind, EtcView, Login, host_argv, stop_host, user_present
from pytest_irp_lab.net import netns_exec, require_lab_route
from pytest_irp_lab.proc import (
    LabError,
    Proc,
    alive,
    cmdline,
    live,
    reap,
    run,
    spawn,
    wait_for,
    write_atomic,
)

SSHD: Final = "/usr/sbin/sshd"
SFTP_SERVER: Final = "/usr/lib/openssh/sftp-server"
SSH_PORT: Final = 22
START_TIMEOUT: Final = 10.0


@dataclass(frozen=True)
class SshHost:
    """An ssh alias of the lab: ``alias`` answers on ``address:port`` inside ``netns``."""

    alias: str
    netns: str
    address: str
    port: int = SSH_PORT
    user: str = "root"


# ------------------------------------------------------------------------ pure renderers


def keygen_argv(key_file: Path, comment: str) -> list[str]:
    """ssh-keygen for an unencrypted ed25519 key (the empty passphrase is not a secret)."""
    return ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key_file)]


def render_sshd_config(
    host: SshHost, *, host_key: Path, authorized_keys: Path | str, env: Mapping[str, str]
) -> str:
    lines = [
        "# Written by the pytest-irp lab: a private sshd, key-only.",
        f"Port {host.port}",
        f"ListenAddress {host.address}",
        f"HostKey {host_key}",
        # sshd runs in the foreground in the host's PID namespace, where its own pid means
        # nothing here: the lab records the unshare that holds the host instead
        "PidFile none",
        f"AuthorizedKeysFile {authorized_keys}",
        "PermitRootLogin prohibit-password",
        "AuthenticationMethods publickey",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "HostbasedAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "UseDNS no",
        "PrintMotd no",
        "PrintLastLog no",
        "X11Forwarding no",
        "AllowTcpForwarding yes",
        "MaxSessions 32",
        "MaxStartups 64:30:128",
        "LogLevel INFO",
        f"Subsystem sftp {SFTP_SERVER}",
    ]
    if env:
        lines.append("SetEnv " + " ".join(f"{k}={v}" for k, v in sorted(env.items())))
    return "\n".join(lines) + "\n"


def sshd_argv(
    host: SshHost, config: Path, log: Path, binds: Sequence[Bind | EtcView] = ()
) -> list[str]:
    """sshd, in the foreground, as the one program of the host's own namespaces."""
    return netns_exec(
        host.netns, host_argv(host.alias, binds, [SSHD, "-D", "-f", str(config), "-E", str(log)])
    )


def sshd_test_argv(config: Path) -> list[str]:
    return [SSHD, "-t", "-f", str(config)]


def render_known_hosts(entries: Sequence[tuple[SshHost, str]]) -> str:
    """``alias,address`` (or ``[address]:port``) and the host's public key, per host."""
    lines = []
    for host, public_key in entries:
        names = (
            [host.alias, host.address]
            if host.port == SSH_PORT
            else [f"[{host.alias}]:{host.port}", f"[{host.address}]:{host.port}"]
        )
        key = " ".join(public_key.split()[:2])
        lines.append(f"{','.join(names)} {key}")
    return "\n".join(lines) + "\n"


def render_client_config(
    hosts: Sequence[SshHost], *, identity_file: Path, known_hosts: Path
) -> str:
    blocks = ["# Written by the pytest-irp lab. Use: ssh -F THIS_FILE haskelseed"]
    for host in hosts:
        blocks.append(
            "\n".join(
                [
                    f"Host {host.alias}",
                    f"    HostName {host.address}",
                    f"    Port {host.port}",
                    f"    User {host.user}",
                    f"    IdentityFile {identity_file}",
                    "    IdentitiesOnly yes",
                    f"    UserKnownHostsFile {known_hosts}",
                    "    GlobalKnownHostsFile /dev/null",
                    "    StrictHostKeyChecking yes",
                    "    CheckHostIP no",
                    "    BatchMode yes",
                    "    ConnectTimeout 5",
                    "    LogLevel ERROR",
                ]
            )
        )
    return "\n\n".join(blocks) + "\n"


# ------------------------------------------------------------------------ thin layer


def ensure_key(key_file: Path, comment: str) -> str:
    """Generate ``key_file`` once (ed25519); return its public key line."""
    key_file.parent.mkdir(parents=True, exist_ok=True)
    pub = key_file.with_name(key_file.name + ".pub")
    if not (key_file.exists() and pub.exists()):
        for stale in (key_file, pub):
            stale.unlink(missing_ok=True)
        run(keygen_argv(key_file, comment))
    key_file.chmod(0o600)
    return pub.read_text().strip()


def port_open(address: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def in_netns(pid: int, netns: str) -> bool:
    """Does process ``pid`` live in the network namespace named ``netns`` (same inode)?"""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{netns}").st_ino
    except OSError:
        return False


class Sshd:
    """One private sshd: files under ``directory``, process inside ``host.netns``."""

    def __init__(
        self,
        host: SshHost,
        directory: Path,
        *,
        authorized_key: str,
        env: Mapping[str, str],
        binds: Sequence[Bind | EtcView] = (),
        login: Login | None = None,
    ) -> None:
        self.host = host
        self.dir = directory
        self.authorized_key = authorized_key
        self.env = dict(env)
        self.binds = tuple(binds)
        self.login = login  # a user who is not root: its authorized_keys is in its home

    @property
    def config(self) -> Path:
        return self.dir / "sshd_config"

    @property
    def host_key(self) -> Path:
        return self.dir / "ssh_host_ed25519_key"

    @property
    def pid_file(self) -> Path:
        """The host's ``unshare`` (this machine's pid), written by :meth:`start`."""
        return self.dir / "host.pid"

    @property
    def start_log(self) -> Path:
        return self.dir / "host.log"

    @property
    def log(self) -> Path:
        return self.dir / "sshd.log"

    @property
    def authorized_keys(self) -> Path:
        """The file as this machine sees it (in the user's home for a :class:`Login`)."""
        return self.login.lab_authorized_keys if self.login else self.dir / "authorized_keys"

    def prepare(self) -> str:
        """Keys and config; returns the host's public key (for known_hosts)."""
        public = ensure_key(self.host_key, f"irp-lab-{self.host.alias}")
        write_atomic(self.authorized_keys, self.authorized_key + "\n", 0o600)
        if self.login:  # sshd reads it as the user
            os.chown(self.authorized_keys, self.login.uid, self.login.uid)
        write_atomic(
            self.config,
            render_sshd_config(
                self.host,
                host_key=self.host_key,
                authorized_keys=self.login.authorized_keys if self.login else self.authorized_keys,
                env=self.env,
            ),
        )
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)  # privsep dir
        run(sshd_test_argv(self.config))
        return public

    def running(self) -> Proc | None:
        """Our host, found through its pid record and checked by its command line."""
        proc = live(self.pid_file)
        if proc is None or str(self.config) not in cmdline(proc.pid):
            return None
        return proc

    def start(self) -> Proc:
        """Start sshd unless ours already runs; return the running process."""
        proc = self.running()
        if (
            proc is not None
            and in_netns(proc.pid, self.host.netns)
            and (self.login is None or user_present(proc, self.login.name))
        ):
            return proc
        if proc is not None:  # ours, but its netns was made anew or its user is gone: restart
            stop_host(proc)
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        self.pid_file.unlink(missing_ok=True)
        self.start_log.unlink(missing_ok=True)
        require_lab_route(self.host.address)
        started = spawn(
            sshd_argv(self.host, self.config, self.log, self.binds),
            self.start_log,
            pid_file=self.pid_file,
        )
        wait_for(
            f"sshd of {self.host.alias} on {self.host.address}:{self.host.port}",
            lambda: not alive(started) or port_open(self.host.address, self.host.port),
            timeout=START_TIMEOUT,
        )
        proc = self.running()
        if not alive(started) or proc is None:
            said = self.start_log.read_text(errors="replace").strip()[-500:]
            raise LabError(
                f"sshd of {self.host.alias} died at start: {said or 'no output'}; see {self.log}"
            )
        return proc

    def stop(self, recorded: Proc | None = None) -> None:
        """Stop our sshd (the recorded process, or the one named by our pid file)."""
        for proc in (recorded, self.running()):
            if proc is not None and alive(proc):
                stop_host(proc)
            if proc is not None:
                reap(proc.pid)
        self.pid_file.unlink(missing_ok=True)

"""Ctrl-C during a remote push, end to end over a real SSH session on loopback: a private
sshd on 127.0.0.1 (started and stopped by the test), the suite's SshRunner with its
ControlMaster, the real push.sh, and a **stand-in** skopeo (a small sh script that records
its authfile and waits; it never talks to a registry).

What it proves: KeyboardInterrupt stops the local ssh client's process group; sshd then
closes the session's pipes (no tty, so no SIGHUP reaches the remote side); push.sh's
watchdog notices the closed pipe, stops skopeo and removes the authfile."""

from __future__ import annotations

import _thread
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_irp import signals
from pytest_irp.redact import Redactor
from pytest_irp.runners import SshRunner, group_alive
from pytest_irp.stages import push

WAIT = 20.0

STANDIN = """#!/bin/sh
# stand-in for skopeo: records its pid and authfile, then waits five minutes, far longer
# than the test's bounds (it never pushes anything)
d={dir}
echo $$ > "$d/skopeo.pid"
prev=
for a in "$@"; do [ "$prev" = --authfile ] && echo "$a" > "$d/authfile.path"; prev=$a; done
touch "$d/running"
n=0
while [ $n -lt 3000 ]; do n=$((n + 1)); sleep 0.1; done
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def _until(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT:.0f}s: {what}")
        time.sleep(0.05)


@pytest.fixture
def loopback_ssh(tmp_path: Path) -> Iterator[Path]:
    """An sshd on 127.0.0.1 that lets this user in with a key; returns an ssh config whose
    host `irp-loop` reaches it."""
    sshd = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
    if sshd is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH client and server are needed")
    if os.geteuid() != 0:
        pytest.skip("a private sshd that logs this user in needs root here")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    for name in ("host", "client"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)],
            check=True,
            capture_output=True,
        )
    (keys / "authorized_keys").write_text((keys / "client.pub").read_text())
    port = _free_port()
    (keys / "known_hosts").write_text(f"[127.0.0.1]:{port} {(keys / 'host.pub').read_text()}")
    (keys / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {keys / 'host'}\n"
        f"AuthorizedKeysFile {keys / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        f"PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        f"StrictModes no\nPidFile none\n"
    )
    config = keys / "ssh_config"
    config.write_text(
        f"Host irp-loop\n  HostName 127.0.0.1\n  Port {port}\n  User root\n"
        f"  IdentityFile {keys / 'client'}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {keys / 'known_hosts'}\n  StrictHostKeyChecking yes\n"
    )
    server = subprocess.Popen(
        [sshd, "-D", "-e", "-f", str(keys / "sshd_config")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + WAIT
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                err = server.stderr.read().decode() if server.stderr else ""
                pytest.skip(f"sshd did not start: {err.strip()[:300]}")
            time.sleep(0.05)
        yield config
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=WAIT)
        if server.stderr is not None:
            server.stderr.close()


@pytest.mark.parametrize("how", ["ctrl-c", "SIGTERM", "SIGHUP"])
def test_ctrl_c_during_a_remote_push_ends_it_and_removes_the_authfile(
    loopback_ssh: Path, tmp_path: Path, how: str
) -> None:
    """Also SIGTERM and SIGHUP to this process, handled as a run handles them (issue 20)."""
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "image.tar").write_bytes(b"x")
    (work / "result").symlink_to(tmp_path / "image.tar")
    standin = tmp_path / "skopeo"
    standin.write_text(STANDIN.format(dir=tmp_path))
    standin.chmod(0o755)
    runner = SshRunner("irp-loop", Redactor(()), ssh_config=str(loopback_ssh), connect_timeout=5)
    settings = {"remote_dir": str(work), "registry_plain_http": True, "skopeo": (str(standin),)}
    argv = push.push_argv(settings, "127.0.0.1:9/coulomb/app:abc")
    ssh_pids: list[int] = []

    def interrupt() -> None:
        deadline = time.monotonic() + WAIT
        while not (tmp_path / "running").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        out = subprocess.run(
            ["pgrep", "-f", f"ControlPath={runner.control_path()}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        ssh_pids.extend(int(p) for p in out.split())
        if how == "ctrl-c":
            _thread.interrupt_main()
        else:
            os.kill(os.getpid(), getattr(signal, how))

    if how != "ctrl-c":
        signals.install()
    try:
        warm = runner.run(["true"], timeout=WAIT)  # the ControlMaster, as in a real run
        assert warm.ok, warm.stderr
        threading.Thread(target=interrupt, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            runner.run(argv, timeout=WAIT, input='{"auths": {}}')
        auth = Path((tmp_path / "authfile.path").read_text().strip())
        skopeo = int((tmp_path / "skopeo.pid").read_text())
        assert ssh_pids, "the ssh client of the push was not seen"
        assert [p for p in ssh_pids if _alive(p)] == []  # the local ssh client is gone
        assert not group_alive(ssh_pids[0])
        _until(lambda: not auth.exists(), "the authfile is removed")
        _until(lambda: not _alive(skopeo), "skopeo (stand-in) is stopped")
    finally:
        signals.uninstall()
        runner.close()
        pidfile = tmp_path / "skopeo.pid"
        if pidfile.exists():  # never leave the stand-in behind, even when the test failed
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass

"""Command runners: this machine, and a host over SSH.

A runner takes an argument list (never a shell string), a timeout and optional stdin,
and returns a :class:`CommandResult`: its argv is redacted, its output is not (stages
parse it as the command printed it; every output of the run masks it: records, logs,
causes, values, reports). The SSH
runner quotes the argument list for the remote shell and shares one connection per host
(ControlMaster), so a stage of many small commands costs one handshake.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from . import remote
from .childenv import child_env
from .redact import Redactor
from .retry import NotYet, RetryTimeout, poll

LineCallback = Callable[[str], None]

SSH_CONNECTION_ERROR = 255
GRACE_SECONDS = 3.0  # between SIGTERM and SIGKILL when a child's process group is stopped
FATAL_SSH_ERRORS = (
    "Host key verification failed",
    "Permission denied",
    "Could not resolve hostname",
    "No route to host",
    "Bad configuration option",
    "Can't open user config file",
    "REMOTE HOST IDENTIFICATION HAS CHANGED",
)


# children running now, in any thread; STOPPING: the run's threads (irp-*) start no child
# (signals.stop_all sets it at the end of a session)
LIVE: set[subprocess.Popen[str]] = set()
LIVE_LOCK = threading.Lock()
STOPPING = threading.Event()


@dataclass(frozen=True)
class CommandResult:
    """What one command did. ``argv`` is redacted; ``stdout`` and ``stderr`` are raw, for
    parsing: whatever shows them (a cause, a record, a log) passes them through the
    redactor, as every output of the run does."""

    host: str
    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out

    @property
    def display(self) -> str:
        return f"[{self.host}] $ {shlex.join(self.argv)}"

    def tail(self, lines: int = 40) -> str:
        text = self.stdout + ("\n" if self.stdout and self.stderr else "") + self.stderr
        return "\n".join(text.rstrip("\n").splitlines()[-lines:])

    def describe_failure(self) -> str:
        """One paragraph: what ran, how it ended, the last lines it printed."""
        how = "timed out" if self.timed_out else f"exited {self.rc}"
        last = " ".join(self.tail(5).split())
        shown = shlex.join(remote.display(self.argv))
        return f"`{shown}` on {self.host} {how}" + (f": {last}" if last else "")

    @property
    def ssh_fatal(self) -> str:
        """Why ssh could not even log in (retrying cannot help), or ''."""
        if self.rc != SSH_CONNECTION_ERROR:
            return ""
        for marker in FATAL_SSH_ERRORS:
            if marker in self.stderr:
                return marker
        return ""


class Runner(Protocol):
    """Runs argument lists on one host."""

    host: str

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        on_line: LineCallback | None = None,
    ) -> CommandResult: ...

    def display_argv(self, argv: Sequence[str]) -> list[str]:
        """The full argument list this runner would execute (for plans)."""
        ...

    def close(self) -> None: ...


@dataclass
class LocalRunner:
    """Runs commands on this machine."""

    redactor: Redactor
    host: str = "local"
    base_env: Mapping[str, str] | None = None

    def display_argv(self, argv: Sequence[str]) -> list[str]:
        return list(argv)

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        on_line: LineCallback | None = None,
    ) -> CommandResult:
        full_env = child_env(env, environ=self.base_env)
        return _run_process(
            self.host,
            list(argv),
            list(argv),
            timeout=timeout,
            input=input,
            env=full_env,
            on_line=on_line,
            redactor=self.redactor,
        )

    def close(self) -> None:
        return None


def ssh_argv(
    destination: str,
    remote: Sequence[str],
    *,
    ssh_config: str | None,
    connect_timeout: float,
    control_path: str | None,
) -> list[str]:
    """The ssh command line that runs ``remote`` (an argument list) on ``destination``."""
    argv = ["ssh"]
    if ssh_config:
        argv += ["-F", ssh_config]
    argv += [
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={max(1, int(connect_timeout))}",
        "-o",
        "ServerAliveInterval=5",
        "-o",
        "ServerAliveCountMax=3",
    ]
    if control_path:
        argv += [
            "-o",
            "ControlMaster=auto",
            "-o",
            f"ControlPath={control_path}",
            "-o",
            "ControlPersist=60",
        ]
    # `--` before the destination, so no host name is read as an option. ssh then reads
    # options again after the destination and would take a second `--` for the command
    # (seen with OpenSSH 9.2: `ssh -- host -- cmd` runs `-- cmd`); the command is one
    # argument that starts with a program name, never with '-'.
    command = shlex.join(remote)
    if command.startswith("-"):
        raise ValueError(f"a remote command starts with a program name, not {remote[0]!r}")
    argv += ["--", destination, command]
    return argv


@dataclass
class SshRunner:
    """Runs commands on ``host`` through the system's ssh client."""

    host: str
    redactor: Redactor
    ssh_config: str | None = None
    connect_timeout: float = 10.0
    _control_dir: str | None = field(default=None, init=False, repr=False)

    def _control_path(self) -> str:
        if self._control_dir is None:
            self._control_dir = tempfile.mkdtemp(prefix="irp-ssh-")
        return os.path.join(self._control_dir, "%C")

    def control_path(self) -> str:
        """ControlPath of this host's shared connection (``%C`` is expanded by ssh): other
        ssh clients of the run (testinfra) pass it to reuse the connection."""
        return self._control_path()

    def display_argv(self, argv: Sequence[str]) -> list[str]:
        """What ``run`` executes, the shared connection's options included; before the
        first command the ControlPath's private directory (made then) is shown as
        ``irp-ssh-XXXXXXXX`` in the temp directory."""
        control = (
            os.path.join(self._control_dir, "%C")
            if self._control_dir is not None
            else os.path.join(tempfile.gettempdir(), "irp-ssh-XXXXXXXX", "%C")
        )
        return ssh_argv(
            self.host,
            argv,
            ssh_config=self.ssh_config,
            connect_timeout=self.connect_timeout,
            control_path=control,
        )

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        on_line: LineCallback | None = None,
    ) -> CommandResult:
        if env:
            raise ValueError(
                "SshRunner does not pass environment variables; give values on stdin or in files"
            )
        full = ssh_argv(
            self.host,
            argv,
            ssh_config=self.ssh_config,
            connect_timeout=self.connect_timeout,
            control_path=self._control_path(),
        )
        return _run_process(
            self.host,
            full,
            list(argv),
            timeout=timeout,
            input=input,
            env=child_env(),
            on_line=on_line,
            redactor=self.redactor,
            on_abort=self._end_connection,
        )

    def _end_connection(self) -> None:
        """Close the shared connection (the ControlMaster) after a command was stopped
        (timeout, Ctrl-C): killing an ssh client that uses a master does not end its remote
        command (the master only half-closes the channel and keeps our pipes), ending the
        connection does: sshd closes the command's pipes, and the remote scripts notice.
        The next command opens a new connection."""
        if self._control_dir is None:
            return
        control = os.path.join(self._control_dir, "%C")
        try:
            subprocess.run(
                [
                    "ssh",
                    *(["-F", self.ssh_config] if self.ssh_config else []),
                    "-o",
                    f"ControlPath={control}",
                    "-O",
                    "exit",
                    "--",
                    self.host,
                ],
                capture_output=True,
                timeout=5,
                check=False,
                env=child_env(),
            )
        except (OSError, subprocess.SubprocessError):
            pass

    def close(self) -> None:
        if self._control_dir is None:
            return
        self._end_connection()
        shutil.rmtree(self._control_dir, ignore_errors=True)
        self._control_dir = None


def _run_process(
    host: str,
    argv: list[str],
    shown: list[str],
    *,
    timeout: float,
    input: str | None,
    env: dict[str, str],
    on_line: LineCallback | None,
    redactor: Redactor,
    on_abort: Callable[[], None] | None = None,
) -> CommandResult:
    """Run one process with a hard deadline; stream stdout lines to ``on_line``. When it
    is stopped (timeout, KeyboardInterrupt, SystemExit), its process group is stopped and
    ``on_abort`` runs before the outputs are collected."""
    started = time.monotonic()
    not_started: tuple[int, str] | None = None
    with LIVE_LOCK:  # started and registered at once: signals.stop_all sees every child
        if STOPPING.is_set() and threading.current_thread().name.startswith("irp-"):
            not_started = (-15, "not started: the run is ending")
        else:
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=env,
                    text=True,
                    errors="replace",
                    start_new_session=True,
                )
                LIVE.add(proc)
            except FileNotFoundError:
                not_started = (127, f"{argv[0]}: command not found on this machine")
    if not_started is not None:
        rc, why = not_started
        return CommandResult(host, tuple(redactor.redact_argv(shown)), rc, "", why, 0.0)
    out_chunks: list[str] = []
    err_chunks: list[str] = []

    def pump(stream: object, sink: list[str], callback: LineCallback | None) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sink.append(line)
            if callback is not None:
                callback(line.rstrip("\n"))  # raw: the caller parses; its outputs mask

    threads = [
        threading.Thread(target=pump, args=(proc.stdout, out_chunks, on_line), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, err_chunks, None), daemon=True),
    ]
    for t in threads:
        t.start()
    timed_out = False
    finished = False
    try:
        if input is not None and proc.stdin is not None:
            try:
                proc.stdin.write(input)
                proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            proc.wait(timeout=timeout)
            finished = True
        except subprocess.TimeoutExpired:
            timed_out = True
    finally:
        # also on KeyboardInterrupt/SystemExit: the child runs in its own session (the
        # terminal's Ctrl-C does not reach it), so nothing of its group may outlive us
        stop_group(proc)
        with LIVE_LOCK:
            LIVE.discard(proc)
        if not finished and on_abort is not None:
            on_abort()
        for t in threads:
            t.join(timeout=5 if finished else 1)
        # a pipe still held elsewhere (an ssh ControlMaster keeps the client's pipes)
        # stays open rather than block here: closing it waits for its reader thread
        if not any(t.is_alive() for t in threads):
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None and not stream.closed:
                    try:
                        stream.close()
                    except (BrokenPipeError, ValueError):
                        pass
    return CommandResult(
        host=host,
        argv=tuple(redactor.redact_argv(shown)),
        rc=proc.returncode if proc.returncode is not None else -9,
        stdout="".join(out_chunks),
        stderr="".join(err_chunks),
        duration=time.monotonic() - started,
        timed_out=timed_out,
    )


def stop_group(proc: subprocess.Popen[str], grace: float | None = None) -> None:
    """Terminate what is left of the process group ``proc`` leads (it was started with
    ``start_new_session``, so its pid is the group id) and reap ``proc``: SIGTERM, then
    SIGKILL after ``grace`` seconds (default GRACE_SECONDS) for whatever still runs.
    Members that outlive their leader (a backgrounded grandchild) are found by the group
    id and stopped too; they are not our children, so whoever adopted them reaps them. A
    second Ctrl-C during the grace goes straight to SIGKILL."""
    pgid = proc.pid
    if proc.poll() is not None and not group_alive(pgid):
        return
    _signal_group(pgid, signal.SIGTERM)

    def ended() -> bool | NotYet:
        if proc.poll() is not None and not group_alive(pgid):
            return True
        return NotYet(f"process group {pgid} still runs")

    try:
        poll(
            f"end of process group {pgid}",
            ended,
            every=0.02,
            timeout=GRACE_SECONDS if grace is None else grace,
        )
        return
    except (KeyboardInterrupt, RetryTimeout):
        pass
    finally:
        if proc.poll() is None or group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
        proc.wait()
        _wait_group_gone(pgid)


def _wait_group_gone(pgid: int, timeout: float = 2.0) -> None:
    """SIGKILL is delivered asynchronously: members not our children (a backgrounded
    grandchild) may still show as running for a moment. Wait, bounded, until none does."""

    def gone() -> bool | NotYet:
        return True if not group_alive(pgid) else NotYet(f"process group {pgid} still runs")

    with contextlib.suppress(RetryTimeout):
        poll(f"end of killed process group {pgid}", gone, every=0.01, timeout=timeout)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pgid: int) -> bool:
    """Whether a live process (not a zombie) of group ``pgid`` exists. Zombies do not
    count: an orphan that died stays one until its new parent reaps it (in a container
    whose init does not reap, forever), and it holds nothing."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True  # no /proc: a member exists (perhaps a zombie)
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        # after the command name: state, ppid, pgrp, ...
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False

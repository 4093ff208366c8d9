"""The lab's one process layer: run a command, spawn a daemon, keep its pid record, find
it again, terminate it (or its whole process group), wait for a condition, tail a log.

Argument lists are built elsewhere by pure functions; this module only executes them
(through plumbum's ``local``) and reports failures with the command and its output. Every
wait goes through the plugin's one poll helper, :func:`pytest_irp.retry.poll`.

A process we started is a :class:`Proc`: its pid plus its kernel start time, so a pid
handed out again to another program is never signalled. Pid records are JSON
(``{"pid": ..., "starttime": ...}``); the two older forms of the lab (``<pid> <starttime>``
and ``{"pid", "start_ticks"}``) are still read, so ``down`` finds what an older lab started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from plumbum import local
from plumbum.commands.processes import CommandNotFound

from pytest_irp.fileio import write_atomic as write_atomic  # re-exported for lab modules
from pytest_irp.retry import NotYet, RetryTimeout, poll
from pytest_irp.runners import group_alive


class LabError(RuntimeError):
    """A lab step failed; the message says which and why."""


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


Argv = Sequence["str | os.PathLike[str]"]
# plumbum's ``local.env`` is one process-wide object: a child's whole environment is set in
# it under this lock while the child starts (plumbum merges, it never replaces).
_ENV_LOCK = threading.Lock()
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "grpc_proxy")


def daemon_env(
    environ: Mapping[str, str],
    *,
    drop_prefixes: Sequence[str] = (),
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of the lab's daemons and tools: ``environ`` without proxy settings
    (nothing may leave the lab), without the caller's secrets (``*PASSWORD*``,
    ``*TOKEN*``) and without names starting with one of ``drop_prefixes``; plus ``extra``."""
    env = {
        k: v
        for k, v in environ.items()
        if k.lower() not in PROXY_VARS
        and "PASSWORD" not in k.upper()
        and "TOKEN" not in k.upper()
        and not k.startswith(tuple(drop_prefixes))
    }
    env.update(extra or {})
    return env


def child_environment(
    env: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``environ`` (default: this process's environment as it is now) plus ``env``."""
    return {**(os.environ if environ is None else environ), **(env or {})}


def _popen(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | None, **popen_args: Any
) -> subprocess.Popen[Any]:
    """Start ``argv`` through plumbum with exactly ``env`` as its environment."""
    try:
        command = local[argv[0]][list(argv[1:])]
    except CommandNotFound as exc:
        raise LabError(f"{argv[0]}: not found on this machine") from exc
    with _ENV_LOCK, local.env():
        local.env.clear()
        local.env.update(dict(env))
        # plumbum's Popen is a subprocess.Popen; without text=True its streams are bytes
        proc = cast(
            "subprocess.Popen[Any]",
            command.popen(cwd=None if cwd is None else str(cwd), **popen_args),
        )
    return proc


def run(
    argv: Argv,
    *,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = 120.0,
    input: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Result:
    """Run ``argv`` (``input`` on its stdin) and capture its output; with ``check`` a
    non-zero exit raises LabError with the output. The child's environment is ``environ``
    (default: this process's) plus ``env``. On the timeout the child is killed."""
    args = [str(a) for a in argv]
    if not args:
        raise ValueError("empty command")
    proc = _popen(
        args,
        env=child_environment(env, environ),
        cwd=cwd,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(
            input=None if input is None else input.encode(), timeout=timeout
        )
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise LabError(f"command timed out after {timeout}s: {' '.join(args)}") from None
    result = Result(
        tuple(args),
        int(proc.returncode),
        out.decode(errors="replace"),
        err.decode(errors="replace"),
    )
    if check and not result.ok:
        raise LabError(
            f"command failed (exit {result.returncode}): {' '.join(args)}\n"
            f"{(result.stderr or result.stdout).strip()}"
        )
    return result


# --------------------------------------------------------------------- files and locks


def write_json_atomic(path: Path, data: Any, mode: int = 0o644) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode)


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; an empty dict when the file is absent or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive flock on ``path`` for the duration (one lab operation at a time)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log ("(no log)" when there is none)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Proc:
    """A process we started: its pid plus its start time (guards against pid reuse)."""

    pid: int
    starttime: int

    def as_json(self) -> dict[str, int]:
        return {"pid": self.pid, "starttime": self.starttime}

    @classmethod
    def from_json(cls, data: Any) -> Proc | None:
        try:
            return cls(int(data["pid"]), int(data["starttime"]))
        except (KeyError, TypeError, ValueError):
            return None


def parse_starttime(stat: str) -> int:
    """Field 22 of /proc/PID/stat (the comm field may contain spaces and parentheses)."""
    rest = stat[stat.rindex(")") + 2 :].split()
    return int(rest[19])


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state, ppid, pgrp, ...)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def proc_of(pid: int) -> Proc | None:
    """The running process ``pid`` (None when there is none or it is a zombie)."""
    fields = stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    return Proc(pid, int(fields[19]))


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


# Children started by this interpreter, kept so they are reaped (no zombies, no "still
# running" warnings); processes started by another interpreter are found by pid record.
_CHILDREN: dict[int, subprocess.Popen[Any]] = {}


def reap(pid: int) -> None:
    """Collect ``pid`` if it is an exited child of ours (no-op otherwise)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def alive(proc: Proc) -> bool:
    """Is this very process (same pid and start time) still running?"""
    reap(proc.pid)
    current = proc_of(proc.pid)
    return current is not None and current.starttime == proc.starttime


def parse_pid_record(text: str) -> Proc | None:
    """A pid record: JSON ``{"pid", "starttime"}`` (or ``"start_ticks"``), or the text
    ``<pid> <starttime>``."""
    with contextlib.suppress(ValueError):
        data = json.loads(text)
        if isinstance(data, dict):
            return Proc.from_json(
                {
                    "pid": data.get("pid"),
                    "starttime": data.get("starttime", data.get("start_ticks")),
                }
            )
    words = text.split()
    if len(words) == 2 and all(w.isdigit() for w in words):
        return Proc(int(words[0]), int(words[1]))
    return None


def read_pid_record(path: Path) -> Proc | None:
    try:
        return parse_pid_record(path.read_text())
    except OSError:
        return None


def live(path: Path) -> Proc | None:
    """The process named by the pid record ``path`` if it still runs, else None."""
    proc = read_pid_record(path)
    return proc if proc is not None and alive(proc) else None


def spawn(
    argv: Argv,
    log: Path,
    *,
    pid_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Proc:
    """Start a detached process (own session, so its pid is its group id; stdin from
    /dev/null, stdout and stderr appended to ``log``; environment as for :func:`run`) and
    write its pid record."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        child = _popen(
            [str(a) for a in argv],
            env=child_environment(env, environ),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[child.pid] = child
    proc = proc_of(child.pid) or Proc(child.pid, 0)
    if pid_file is not None:
        write_atomic(pid_file, json.dumps(proc.as_json()) + "\n")
    return proc


def wait_for(
    description: str, probe: Callable[[], object], *, timeout: float, every: float = 0.02
) -> None:
    """Poll ``probe()`` until it returns something true (:func:`pytest_irp.retry.poll`);
    an exception it raises ends the wait at once. On the timeout a LabError says what was
    awaited."""

    def action() -> bool | NotYet:
        return True if probe() else NotYet(f"waiting for {description}")

    try:
        poll(description, action, every=every, timeout=timeout)
    except RetryTimeout as exc:
        raise LabError(f"timed out after {timeout:.0f}s waiting for {description}") from exc


def _signal(proc: Proc, sig: signal.Signals, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)


def _gone(proc: Proc, group: bool) -> bool:
    return not alive(proc) and not (group and group_alive(proc.pid))


def terminate(proc: Proc, timeout: float = 5.0, *, group: bool = False) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL: only when ``proc`` is still the process
    we started. With ``group`` the signals go to its process group (it leads one: started
    by :func:`spawn`), and the wait lasts until no member runs. LabError if it stays."""
    if not alive(proc):
        return
    _signal(proc, signal.SIGTERM, group)
    every = 0.05 if group else 0.02
    try:
        wait_for(
            f"pid {proc.pid} to exit", lambda: _gone(proc, group), timeout=timeout, every=every
        )
        return
    except LabError:
        pass
    _signal(proc, signal.SIGKILL, group)
    if not alive(proc) and group:  # the leader went first: SIGKILL its leftovers by group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    try:
        wait_for(f"pid {proc.pid} to die", lambda: _gone(proc, group), timeout=10.0, every=every)
    except LabError:
        raise LabError(f"process {proc.pid} did not stop") from None


def stop_recorded(pid_file: Path, timeout: float = 5.0, *, group: bool = False) -> Proc | None:
    """Terminate the process the pid record names (if it still runs) and remove the record;
    returns the process that was stopped."""
    proc = live(pid_file)
    if proc is not None:
        terminate(proc, timeout, group=group)
    pid_file.unlink(missing_ok=True)
    return proc


def pids_with_arg(needle: str) -> list[int]:
    """Pids whose command line holds ``needle`` as one argument (e.g. a socket path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and needle in cmdline(int(entry.name)):
            found.append(int(entry.name))
    return found


def leftover_processes(root: Path) -> list[int]:
    """Processes started for the lab in ``root`` that may have lost their records (a
    teardown by an older lab's code, a deleted state file): any process but a Python one
    (the suite, the lab's own command line, a host's init) one of whose arguments names a
    path inside ``root``. Never this process or its ancestors."""
    mine = {os.getpid()}
    pid = os.getppid()
    while pid > 1 and pid not in mine:
        mine.add(pid)
        pid = parent_of(pid)
    prefix = str(root).rstrip("/") + "/"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        argv = cmdline(int(entry.name))
        if argv and "python" not in Path(argv[0]).name and any(prefix in a for a in argv):
            found.append(int(entry.name))
    return sorted(found)


def parent_of(pid: int) -> int:
    """The parent pid of ``pid`` (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` in KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

"""The thin layer that touches the machine: run commands, write files, track processes.

Argument lists are built elsewhere by pure functions; this module only executes them
(through plumbum's ``local``) and reports failures with the command and its output.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plumbum import local

from pytest_irp.fileio import write_atomic as write_atomic  # re-exported for lab modules


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


def run(argv: Sequence[str], *, check: bool = True, env: Mapping[str, str] | None = None,
        cwd: Path | None = None, timeout: float | None = 120.0) -> Result:
    """Run ``argv``; with ``check`` a non-zero exit raises LabError with the output."""
    if not argv:
        raise ValueError("empty command")
    cmd = local[argv[0]][list(argv[1:])]
    with contextlib.ExitStack() as stack:
        if env:
            stack.enter_context(local.env(**env))
        if cwd is not None:
            stack.enter_context(local.cwd(str(cwd)))
        code, out, err = cmd.run(retcode=None, timeout=timeout)
    result = Result(tuple(argv), int(code), str(out), str(err))
    if check and not result.ok:
        raise LabError(f"command failed (exit {result.returncode}): {' '.join(argv)}\n"
                       f"{(result.stderr or result.stdout).strip()}")
    return result


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
    rest = stat[stat.rindex(")") + 2:].split()
    return int(rest[19])


def proc_of(pid: int) -> Proc | None:
    """The running process ``pid`` (None when there is none or it is a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state = stat[stat.rindex(")") + 2:].split()[0]
    if state == "Z":
        return None
    return Proc(pid, parse_starttime(stat))


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def alive(proc: Proc) -> bool:
    """Is this very process (same pid and start time) still running?"""
    current = proc_of(proc.pid)
    return current is not None and current.starttime == proc.starttime


def terminate(proc: Proc, timeout: float = 5.0) -> None:
    """SIGTERM, wait, then SIGKILL: only when ``proc`` is still the process we started."""
    if not alive(proc):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(proc):
            return
        time.sleep(0.02)
    if alive(proc):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 2.0
        while alive(proc) and time.monotonic() < deadline:
            time.sleep(0.02)
    if alive(proc):
        raise LabError(f"process {proc.pid} did not stop")


def wait_for(description: str, probe: Any, *, timeout: float, every: float = 0.02) -> None:
    """Poll ``probe()`` until it returns True; on timeout say what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        if probe():
            return
        if time.monotonic() >= deadline:
            raise LabError(f"timed out after {timeout:.0f}s waiting for {description}")
        time.sleep(every)

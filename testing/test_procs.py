"""Local children of the runners: each runs in its own process group (its own session, so
the terminal's Ctrl-C does not reach it) and nothing of that group outlives the command,
whether it ends, times out, or the run is interrupted (KeyboardInterrupt, SystemExit)."""

from __future__ import annotations

import _thread
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import pytest

from pytest_irp import runners
from pytest_irp.redact import Redactor
from pytest_irp.runners import LocalRunner, group_alive

WAIT = 20.0  # upper bound of the waits below (each ends as soon as its condition holds)

# a leader with two background children, one of which ignores SIGTERM (so only the
# SIGKILL after the grace stops it); the leader prints the three pids, then waits
FAMILY = (
    'sleep 300 & echo $! >> "$1"; '
    'sh -c \'trap "" TERM; while :; do sleep 0.05; done\' & echo $! >> "$1"; '
    'echo $$ >> "$1"; wait'
)


@pytest.fixture(autouse=True)
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runners, "GRACE_SECONDS", 0.3)


def read_pids(path: Path) -> list[int]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_text().split()
            if len(lines) == 3:
                return [int(p) for p in lines]
        time.sleep(0.02)
    raise AssertionError("the child never started its family")


def live(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def kill_all(pids: Path) -> None:
    """Never leave a process behind, even when a test failed."""
    if pids.exists():
        for pid in (int(p) for p in pids.read_text().split()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def family(tmp_path: Path) -> Iterator[tuple[list[str], Path]]:
    pids = tmp_path / "pids"
    yield ["sh", "-c", FAMILY, "irp-family", str(pids)], pids
    kill_all(pids)


def interrupt_when_started(pids: Path, interrupt: Callable[[], None]) -> list[int]:
    seen: list[int] = []

    def watch() -> None:
        seen.extend(read_pids(pids))
        interrupt()

    threading.Thread(target=watch, daemon=True).start()
    return seen


def assert_all_gone(pids: list[int]) -> None:
    leader = pids[-1]
    assert not group_alive(leader), "a process of the child's group survived"
    assert [p for p in pids if live(p)] == []


def test_ctrl_c_stops_the_whole_group_of_a_local_child(family: tuple[list[str], Path]) -> None:
    argv, pidfile = family
    seen = interrupt_when_started(pidfile, _thread.interrupt_main)
    with pytest.raises(KeyboardInterrupt):
        LocalRunner(Redactor(())).run(argv, timeout=WAIT)
    assert len(seen) == 3
    assert os.getpgid(os.getpid()) != seen[-1]  # it had its own group
    assert_all_gone(seen)


def test_system_exit_stops_the_whole_group_of_a_local_child(family: tuple[list[str], Path]) -> None:
    argv, pidfile = family

    def exit_now(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(3)

    previous = signal.signal(signal.SIGUSR1, exit_now)
    try:
        seen = interrupt_when_started(pidfile, lambda: os.kill(os.getpid(), signal.SIGUSR1))
        with pytest.raises(SystemExit):
            LocalRunner(Redactor(())).run(argv, timeout=WAIT)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert_all_gone(seen)


def test_a_timeout_stops_the_whole_group(family: tuple[list[str], Path]) -> None:
    argv, pidfile = family
    result = LocalRunner(Redactor(())).run(argv, timeout=1)
    assert result.timed_out
    assert not result.ok
    assert_all_gone(read_pids(pidfile))


def test_a_background_child_does_not_outlive_its_finished_leader(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The leader exits at once; its background child would keep the output pipe open
    (and run on with PPID 1): it is stopped, and the command's result still counts."""
    pidfile = tmp_path / "pids"
    script = 'sleep 300 & echo $! >> "$1"; sleep 300 & echo $! >> "$1"; echo $$ >> "$1"; echo done'
    result = LocalRunner(Redactor(())).run(
        ["sh", "-c", script, "irp-bg", str(pidfile)], timeout=WAIT
    )
    request.addfinalizer(lambda: kill_all(pidfile))
    assert result.ok
    assert result.stdout.strip() == "done"
    assert_all_gone(read_pids(pidfile))

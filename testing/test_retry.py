"""The poll/retry helper, on a fake clock (no test sleeps)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_irp.retry import Clock, NotYet, RetryTimeout, poll


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds

    @property
    def clock(self) -> Clock:
        return Clock(now=self.now, sleep=self.sleep)


def answers(*values: object) -> Callable[[], object]:
    it = iter(values)
    return lambda: next(it)


def test_returns_the_first_result_that_is_done() -> None:
    fake = FakeClock()
    got: object = poll(
        "x", answers(NotYet("a"), NotYet("b"), 42), every=2, timeout=60, clock=fake.clock
    )
    assert got == 42
    assert fake.sleeps == [2, 2]


def test_timeout_says_what_was_seen_last_and_after_how_long() -> None:
    fake = FakeClock()
    with pytest.raises(RetryTimeout) as caught:
        poll(
            "rollout of app",
            lambda: NotYet("1 of 2 ready", value=7),
            every=2,
            timeout=5,
            clock=fake.clock,
        )
    exc = caught.value
    assert str(exc) == "rollout of app: not done after 4 tries in 5.0 s; last seen: 1 of 2 ready"
    assert exc.last.value == 7
    assert fake.sleeps == [2, 2, 1]  # never sleeps past the deadline
    assert fake.t == 105.0


def test_a_deadline_on_the_clock_and_a_timeout_the_earlier_wins() -> None:
    fake = FakeClock()
    with pytest.raises(RetryTimeout):
        poll("x", lambda: NotYet(""), every=10, timeout=60, deadline=103, clock=fake.clock)
    assert fake.t == 103.0


def test_runs_once_when_the_deadline_has_passed() -> None:
    fake = FakeClock()
    calls = []

    def action() -> NotYet:
        calls.append(1)
        return NotYet("late")

    with pytest.raises(RetryTimeout, match="after 1 tries"):
        poll("x", action, every=1, deadline=50, clock=fake.clock)
    assert calls == [1]
    assert fake.sleeps == []


def test_tries_bound_and_back_off() -> None:
    fake = FakeClock()
    with pytest.raises(RetryTimeout, match="after 4 tries"):
        poll("x", lambda: NotYet("lost"), every=lambda n: min(10, 2 * n), tries=4, clock=fake.clock)
    assert fake.sleeps == [2, 4, 6]


def test_a_fatal_error_stops_at_once() -> None:
    fake = FakeClock()
    calls = []

    def action() -> NotYet:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("CrashLoopBackOff")
        return NotYet("pending")

    with pytest.raises(RuntimeError, match="CrashLoopBackOff"):
        poll("x", action, every=1, timeout=60, clock=fake.clock)
    assert len(calls) == 2


def test_errors_named_in_retry_on_are_retried_and_seen() -> None:
    fake = FakeClock()

    def action() -> int:
        raise ConnectionError("connection refused")

    with pytest.raises(RetryTimeout, match="last seen: connection refused"):
        poll("x", action, every=1, tries=3, retry_on=(ConnectionError,), clock=fake.clock)


def test_on_wait_hears_each_try_that_is_not_done() -> None:
    fake = FakeClock()
    heard: list[str] = []
    poll(
        "x",
        answers(NotYet("a"), NotYet("b"), "ok"),
        every=1,
        timeout=9,
        on_wait=lambda n: heard.append(n.seen),
        clock=fake.clock,
    )
    assert heard == ["a", "b"]


def test_an_unbounded_poll_is_refused() -> None:
    with pytest.raises(ValueError, match="give a timeout"):
        poll("x", lambda: 1, every=1)


# the waits that go through poll, on their real clock (no sleeps of note)


def test_a_held_lock_times_out_with_its_own_message(tmp_path: Path) -> None:
    import fcntl
    import os

    from pytest_irp.fileio import locked

    holder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with (
            pytest.raises(TimeoutError, match="stayed locked by another process"),
            locked(tmp_path, wait=0.05),
        ):
            pass
    finally:
        os.close(holder)
    with locked(tmp_path, wait=0.05):  # free again: taken at once
        pass


def test_http_get_gives_the_last_answer_after_its_tries() -> None:
    import socket

    from pytest_irp.stages.live import http_get

    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    answer = http_get(f"http://127.0.0.1:{port}/healthz", tries=2, every=0.0)
    assert answer["status"] == 0
    assert answer["error"]

"""One poll/retry helper for every wait of the plugin (Terratest's ``modules/retry`` is the
model: a description, a bound, a sleep between tries, a stop at once on a fatal error, and
a timeout error that says what was seen last).

An action returns its result when it is done, or :class:`NotYet` with what it saw. Any
exception it raises stops the poll at once (a fatal error) unless its type is given in
``retry_on``; then its text is what was seen. The clock is a parameter, so the waits are
unit-tested without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class NotYet:
    """An action's answer when it is not done: what it saw (for the timeout's message and
    the wait's progress line), and a value the caller may still want after a timeout."""

    seen: str
    value: Any = None


@dataclass(frozen=True)
class Clock:
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


SYSTEM_CLOCK = Clock()


class RetryTimeout(Exception):
    """The poll ran out of time or tries; ``last`` is the last :class:`NotYet`."""

    def __init__(self, description: str, tries: int, elapsed: float, last: NotYet) -> None:
        self.description = description
        self.tries = tries
        self.elapsed = elapsed
        self.last = last
        super().__init__(
            f"{description}: not done after {tries} tries in {elapsed:.1f} s; last seen: "
            f"{last.seen or '(nothing)'}"
        )


def poll(
    description: str,
    action: Callable[[], T | NotYet],
    *,
    every: float | Callable[[int], float],
    timeout: float | None = None,
    deadline: float | None = None,
    tries: int | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    on_wait: Callable[[NotYet], None] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> T:
    """Run ``action`` until it returns something other than :class:`NotYet`, and return
    that. It runs at least once; after a try that is not done the poll gives up with
    :class:`RetryTimeout` when ``tries`` tries were made or the clock is at or past the
    deadline (``timeout`` seconds from now, or ``deadline`` on the clock, the earlier);
    otherwise it calls ``on_wait`` and sleeps ``every`` seconds (a function of the number
    of tries made so far for a back-off), never past the deadline."""
    if timeout is None and deadline is None and tries is None:
        raise ValueError(f"poll {description!r}: give a timeout, a deadline or tries")
    started = clock.now()
    ends = [d for d in (deadline, None if timeout is None else started + timeout) if d is not None]
    end = min(ends) if ends else None
    made = 0
    while True:
        made += 1
        try:
            result = action()
        except retry_on as exc:
            result = NotYet(str(exc) or type(exc).__name__)
        if not isinstance(result, NotYet):
            return result
        now = clock.now()
        if (tries is not None and made >= tries) or (end is not None and now >= end):
            raise RetryTimeout(description, made, now - started, result)
        if on_wait is not None:
            on_wait(result)
        pause = every(made) if callable(every) else every
        if end is not None:
            pause = min(pause, max(0.0, end - clock.now()))
        clock.sleep(pause)

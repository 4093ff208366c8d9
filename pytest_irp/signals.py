"""SIGTERM and SIGHUP (a CI cancel, ``timeout``, a closed terminal) end a validation run
as Ctrl-C does: a KeyboardInterrupt in the main thread, so that the command running there
has its process group stopped and its shared SSH connection closed (runners), the session
ends as interrupted (checks not reached are NOT RUN, the exit code is non-zero), and at
its end every child still running, the preflight's too, is stopped
(:func:`stop_all`) and the runners are closed (``ssh -O exit``, the
ControlPath's directory removed).

Without this, both signals kill the Python process at once: its children run on in their
own sessions and ``/tmp/irp-ssh-*`` stays behind.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from . import runners

HANDLED = (signal.SIGTERM, signal.SIGHUP)
_previous: dict[int, Any] = {}
_received: list[str] = []


def install() -> None:
    """Handle SIGTERM and SIGHUP from now on (only the main thread can)."""
    runners.STOPPING.clear()  # a new run: its threads may start children
    _received.clear()
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in HANDLED:
        try:
            previous = signal.signal(sig, _interrupt)
        except (ValueError, OSError):
            continue
        _previous.setdefault(sig, previous)


def uninstall() -> None:
    for sig, previous in list(_previous.items()):
        try:
            signal.signal(sig, previous)
        except (ValueError, OSError, TypeError):
            pass
        del _previous[sig]


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    """The first signal interrupts the run; later ones are ignored, so that the clean-up
    (bounded: a stopped group gets SIGKILL after a few seconds) ends."""
    if _received:
        return
    _received.append(signal.Signals(signum).name)
    raise KeyboardInterrupt(f"{_received[0]} received")


def received() -> str:
    """The signal that ended the run ('' for none)."""
    return _received[0] if _received else ""


def stop_all(grace: float = 1.0) -> None:
    """The session ends (also after Ctrl-C, SIGTERM, SIGHUP): stop every child process
    group still running (the preflight's threads run theirs beside the stage that was
    interrupted); the run's own threads (``irp-*``) start no new child."""
    with runners.LIVE_LOCK:
        runners.STOPPING.set()
        running = list(runners.LIVE)
    for proc in running:
        runners.stop_group(proc, grace)

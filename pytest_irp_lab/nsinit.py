"""PID 1 of a lab host (see :mod:`pytest_irp_lab.hostns`): bind mounts, hostname, then one
program (the host's sshd), reaping every orphan of the host until that program ends.

usage: python -m pytest_irp_lab.nsinit --hostname NAME [--bind SRC DST]... -- PROGRAM...

It runs inside fresh PID, mount and UTS namespaces made by ``unshare``; the bind mounts
stay inside the host's mount namespace (private propagation), so this machine's files
are never covered.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence


def parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pytest_irp_lab.nsinit")
    p.add_argument("--hostname", required=True)
    p.add_argument("--bind", nargs=2, action="append", default=[], metavar=("SRC", "DST"))
    p.add_argument("program", nargs="+")
    return p.parse_args(argv)


def bind_argv(source: str, target: str) -> list[str]:
    return ["mount", "--bind", "--", source, target]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    socket.sethostname(args.hostname)
    for source, target in args.bind:
        done = subprocess.run(
            bind_argv(source, target), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            print(
                f"nsinit: bind {source} over {target} failed: {done.stderr.strip()}",
                file=sys.stderr,
            )
            return 1
    child = subprocess.Popen(args.program)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    while True:  # reap orphans too (PID 1's job) until the program itself ends
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue
        if pid == child.pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            return child.returncode


if __name__ == "__main__":
    raise SystemExit(main())

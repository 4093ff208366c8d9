"""PID 1 of a lab host (see :mod:`pytest_irp_lab.hostns`): bind mounts, hostname, then one
program (the host's sshd), reaping every orphan of the host until that program ends.

usage: python -m pytest_irp_lab.nsinit --hostname NAME [--etc OVERRIDES VIEW]
                                      [--bind SRC DST]... -- PROGRAM...

``--etc`` gives the host an ``/etc`` of its own (see :class:`pytest_irp_lab.hostns.EtcView`):
this machine's ``/etc`` is bound, as a directory, on VIEW; a tmpfs goes over ``/etc``; in it,
each name of OVERRIDES links there, every other name links to VIEW/NAME (a symbolic link of
this machine's ``/etc`` is copied as it is, so a relative one still resolves).

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
from collections.abc import Iterable, Mapping, Sequence
from typing import Final


def parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pytest_irp_lab.nsinit")
    p.add_argument("--hostname", required=True)
    p.add_argument("--etc", nargs=2, default=None, metavar=("OVERRIDES", "VIEW"))
    p.add_argument("--bind", nargs=2, action="append", default=[], metavar=("SRC", "DST"))
    p.add_argument("program", nargs="+")
    return p.parse_args(argv)


def bind_argv(source: str, target: str) -> list[str]:
    return ["mount", "--bind", "--", source, target]


HOST_ETC: Final = ".irp-host-etc"  # this machine's /etc, inside the host's /etc
LAB_ETC: Final = ".irp-lab-etc"  # the lab's overrides, inside the host's /etc


def etc_links(host_entries: Mapping[str, str | None], overrides: Iterable[str]) -> dict[str, str]:
    """The host's /etc as ``name -> link target`` (relative to /etc): ``host_entries`` maps
    each name of this machine's /etc to its link target when it is a symbolic link (else
    None); each name in ``overrides`` links to the lab's file instead."""
    links = {
        name: target if target is not None else f"{HOST_ETC}/{name}"
        for name, target in host_entries.items()
        if name not in (HOST_ETC, LAB_ETC)
    }
    links.update({name: f"{LAB_ETC}/{name}" for name in overrides})
    return dict(sorted(links.items()))


def _mount(argv: list[str], what: str) -> bool:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"nsinit: {what} failed: {done.stderr.strip()}", file=sys.stderr)
    return done.returncode == 0


def own_etc(overrides_dir: str, view: str) -> bool:
    """Give this mount namespace the /etc of :func:`etc_links`. Both directories the links
    point into are mounted inside the new /etc itself, so any user of the host can follow
    them (the lab directory holding ``view`` and ``overrides_dir`` may be private)."""
    if not _mount(bind_argv("/etc", view), f"bind /etc on {view}"):
        return False
    entries = {
        entry.name: os.readlink(entry.path) if entry.is_symlink() else None
        for entry in os.scandir(view)
    }
    links = etc_links(entries, sorted(os.listdir(overrides_dir)))
    tmpfs = ["mount", "-t", "tmpfs", "-o", "mode=0755", "irp-host-etc", "/etc"]
    if not _mount(tmpfs, "tmpfs over /etc"):
        return False
    for name, source in ((HOST_ETC, view), (LAB_ETC, overrides_dir)):
        os.mkdir(f"/etc/{name}", 0o755)
        if not _mount(bind_argv(source, f"/etc/{name}"), f"bind {source} on /etc/{name}"):
            return False
    if not _mount(["umount", "--", view], f"umount {view}"):
        return False
    for name, target in links.items():
        os.symlink(target, f"/etc/{name}")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    socket.sethostname(args.hostname)
    if args.etc is not None and not own_etc(*args.etc):
        return 1
    for source, target in args.bind:
        if not _mount(bind_argv(source, target), f"bind {source} over {target}"):
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

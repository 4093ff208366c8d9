"""Writing files so that a reader never sees half of one (reruns are safe), and locks
that let parallel runs share a reports directory or an app repository."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .retry import NotYet, RetryTimeout, poll

LOCK_WAIT = 60.0  # seconds; the critical sections below take milliseconds


def write_atomic(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write ``path`` through a temporary file in the same directory, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def directory_problem(path: Path) -> str | None:
    """Create the directory ``path`` (and its parents) if needed: None, or why it cannot
    be a directory this process writes into, in words for a setting error."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        return f"{blocker} is a regular file, not a directory"
    except OSError as exc:
        return f"cannot create {path}: {exc.strerror or exc}"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"{path} is not writable by this user"
    return None


@contextlib.contextmanager
def locked(directory: Path, *, shared: bool = False, wait: float | None = None) -> Iterator[None]:
    """Hold an flock(2) on ``directory`` itself (no lock file left behind): exclusive for
    writers, ``shared`` for readers. Released when the block ends or the process dies;
    a lock held longer than ``wait`` seconds (default :data:`LOCK_WAIT`) raises
    :class:`LockTimeout` naming the holder instead of hanging."""
    wait = LOCK_WAIT if wait is None else wait
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB

        def take() -> bool | NotYet:
            try:
                fcntl.flock(fd, mode)
            except BlockingIOError:
                return NotYet("locked by another process")
            return True

        try:
            poll(f"lock {directory}", take, every=0.005, timeout=wait)
        except RetryTimeout:
            raise LockTimeout(
                f"{directory} stayed locked by another process for {wait:.0f} s ({lock_holder(fd)})"
            ) from None
        yield
    finally:
        os.close(fd)


class LockTimeout(TimeoutError):
    """A lock another process held for longer than the wait; the message names it."""


def lock_holder(fd: int) -> str:
    """Who holds an flock on the file open at ``fd``, from /proc/locks: its pid, start
    time and command; 'holder unknown' where /proc does not tell."""
    import time

    try:
        st = os.fstat(fd)
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            rows = handle.read().splitlines()
    except OSError:
        return "holder unknown"
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids = [
        int(parts[4])
        for parts in (row.split() for row in rows)
        if len(parts) > 5 and parts[1] == "FLOCK" and parts[5] == inode and parts[4].isdigit()
    ]
    pids = [pid for pid in dict.fromkeys(pids) if pid != os.getpid()]
    if not pids:
        return "holder unknown"
    pid = pids[0]
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        started = boot + int(stat[19]) / os.sysconf("SC_CLK_TCK")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except (OSError, IndexError, StopIteration, ValueError):
        return f"held by pid {pid}"
    return f"held by pid {pid} ({os.path.basename(command)}), started {since}"

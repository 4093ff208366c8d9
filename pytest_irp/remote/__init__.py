"""Small POSIX sh scripts run on remote hosts as ``sh -c SCRIPT NAME ARGS...``.

They are kept as files (readable, lintable) and passed as one argument, with every value
as a separate positional argument, so nothing is ever spliced into a shell string.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def script(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.sh").read_text(encoding="utf-8")


def argv(name: str, *args: str) -> list[str]:
    """``sh -c <script> irp-NAME ARGS...``"""
    return ["sh", "-c", script(name), f"irp-{name}", *args]


def display(argv_: list[str] | tuple[str, ...]) -> list[str]:
    """The same argument list with the script body replaced by its file name (for plans)."""
    if len(argv_) > 3 and argv_[0] == "sh" and argv_[1] == "-c" and argv_[3].startswith("irp-"):
        name = argv_[3][4:]
        if resources.files(__package__).joinpath(f"{name}.sh").is_file() and argv_[2] == script(
            name
        ):  # not in_checkout's inline one-liner
            return ["sh", "-c", f"<pytest_irp/remote/{name}.sh>", *argv_[3:]]
    return list(argv_)


def in_checkout(remote_dir: str, argv_: list[str]) -> list[str]:
    """Run ``argv_`` inside the checkout: ``sh -c 'cd -- "$1" && shift && exec "$@"'``."""
    return ["sh", "-c", 'cd -- "$1" && shift && exec "$@"', "irp-in-checkout", remote_dir, *argv_]

"""The terminal's end of a validation run, for a reader at a terminal of any width: the
problems to fix (each once, with its next step), the exit-criteria table pointing at
them, findings with their fix once, where the report is.

No line is cut mid-word: long texts wrap at word boundaries, and a text cut short ends
with an ellipsis. Checks decided by a stage (FAIL with a stage's cause, BLOCKED) are
left out of pytest's FAILURES section without ``-v``: their cause is in the list.
"""

from __future__ import annotations

import contextlib
import os
import sys
import textwrap
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .outcomes import (
    STATUS_BLOCKED,
    STATUS_FAIL,
    STATUS_NOT_RUN,
    STATUS_PASS,
    STATUS_SKIPPED,
    STATUS_XFAIL,
)

if TYPE_CHECKING:  # problems (and the report's hints) load at the end of a run only
    from .problems import Problem

ELLIPSIS = " …"
MIN_WIDTH = 60
LOG_WIDTH = 120


def width_of(reporter: Any) -> int:
    """The terminal's width; at least 120 when the output is no terminal (a CI log, a
    pipe) and COLUMNS does not say otherwise."""
    tw = getattr(reporter, "_tw", None)
    width = int(getattr(tw, "fullwidth", 120) or 120)
    out = getattr(tw, "_file", None) or sys.stdout
    if not os.environ.get("COLUMNS") and not (hasattr(out, "isatty") and out.isatty()):
        width = max(width, LOG_WIDTH)
    return max(MIN_WIDTH, width)


def fit(text: str, width: int) -> str:
    """One line of at most ``width`` characters; a longer text is cut at a word and ends
    with an ellipsis (mid-token only when one token is longer than half the line)."""
    text = " ".join(text.splitlines()).rstrip()
    if len(text) <= width:
        return text
    cut = text[: width - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space > width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + ELLIPSIS


def wrap(text: str, width: int, first: str = "", indent: str = "", lines: int = 3) -> list[str]:
    """``text`` wrapped at words after ``first`` (then ``indent``), at most ``lines``
    lines; the last one ends with an ellipsis when the text goes on."""
    out = textwrap.wrap(
        " ".join(text.split()),
        width,
        initial_indent=first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first.rstrip()]
    if len(out) > lines:
        rest = " ".join(line.strip() for line in out[lines - 1 :])
        out = [*out[: lines - 1], fit((indent if lines > 1 else "") + rest, width)]
    return [line if len(line) <= width else fit(line, width) for line in out]


def _criteria(problem: Problem) -> str:
    return " ".join(problem.criteria)


def problem_lines(problems: Sequence[Problem], width: int) -> list[str]:
    """Each problem: its criteria, host and cause (two lines at most), then its next step."""
    lines: list[str] = []
    for p in problems:
        where = p.host if p.host != "local" else ""
        head = f"{p.number}. {_criteria(p)}" + (f" {where}" if where else "") + ": "
        pad = " " * (len(str(p.number)) + 2)
        lines += wrap(p.cause, width, head, pad, lines=2)
        lines += wrap(p.next_step, width, f"{pad}next: ", pad + "  ", lines=3)
    return lines


def _numbers(numbers: Sequence[int]) -> str:
    if len(numbers) == 1:
        return f"problem {numbers[0]}"
    return "problems " + ", ".join(str(n) for n in numbers)


def criterion_line(
    row: dict[str, Any], problems: Sequence[Problem], width: int, note: str = ""
) -> str:
    """One row of the exit-criteria table; a FAIL or BLOCKED row points at its problems."""
    from .html.text import blocking_stage, plain_cause
    from .problems import refs

    status, cause = row["status"], row["cause"] or ""
    head = f"{row['task']:4} {status:8} {row['check']}"
    numbers = refs(problems, row["task"], status, cause)
    tail = ""
    if status == STATUS_BLOCKED:
        named = blocking_stage(cause)
        tail = f"blocked by stage {named[0]} ({named[1]})" if named else plain_cause(cause)
        if numbers:
            tail += f": {_numbers(numbers)} above"
    elif status not in (STATUS_PASS, STATUS_SKIPPED) and numbers:
        tail = f"{_numbers(numbers)} above"
    elif cause and status != STATUS_PASS:
        tail = plain_cause(cause)
    if note:
        tail = f"{tail}; {note}" if tail else note
    if not tail:
        return fit(head, width)
    if len(head) + 3 + len(tail) > width and status in (STATUS_BLOCKED, STATUS_FAIL):
        # the pointer to the problem is what counts: the title gives way
        room = max(len(f"{row['task']:4} {status:8} ") + 12, width - len(tail) - 3)
        return fit(f"{fit(head, room)} - {tail}", width)
    return fit(f"{head} - {tail}", width)


_COLORS: dict[str, dict[str, bool]] = {
    STATUS_PASS: {"green": True},
    STATUS_FAIL: {"red": True},
    STATUS_BLOCKED: {"yellow": True},
    STATUS_NOT_RUN: {"yellow": True},
    STATUS_XFAIL: {"red": True},
    STATUS_SKIPPED: {},  # anything else (NOT CHECKED): yellow
}


def color(status: str) -> dict[str, bool]:
    return _COLORS.get(status, {"yellow": True})


def finding_lines(results: Any, width: int, lines: int = 3) -> list[str]:
    """Findings that are not infos, each once (same title and fix), with their fix, in at
    most ``lines`` lines each (one without -v: the whole text is in the report)."""
    seen: set[tuple[str, str]] = set()
    out: list[str] = []
    for result in results.values():
        for f in result.findings:
            if f.severity == "info" or (f.title, f.fix) in seen:
                continue
            seen.add((f.title, f.fix))
            out += wrap(
                f.fix or f.detail, width, f"finding [{f.severity}] {f.title}: ", "  ", lines
            )
    return out


def decided(report: Any) -> bool:
    """A check report whose cause is a stage's (BLOCKED, or FAIL by its own stage)."""
    return bool(getattr(report, "irp_decided", None))


@contextlib.contextmanager
def hide_decided(reporter: Any) -> Iterator[None]:
    """While pytest writes FAILURES (and, unless -r was given, the short summary): the
    checks decided by a stage are left out (their cause is in the problems list); the
    final counts keep them."""
    failed = reporter.stats.get("failed", [])
    hidden = [r for r in failed if decided(r)]
    if hidden:
        reporter.stats["failed"] = [r for r in failed if not decided(r)]
        reporter.irp_hidden = hidden
    try:
        yield
    finally:
        show_decided(reporter)


def show_decided(reporter: Any) -> None:
    """The hidden reports back in pytest's counts (once)."""
    hidden = getattr(reporter, "irp_hidden", None)
    if hidden:
        reporter.stats["failed"] = [*reporter.stats.get("failed", []), *hidden]
        reporter.irp_hidden = []


DEFAULT_REPORTCHARS = ("fE", "fEw", "")  # pytest's default -r (by version)


def asked_for_short_summary(config: Any) -> bool:
    """Whether the user gave -r (then the short summary lists every failed check)."""
    return str(getattr(config.option, "reportchars", "fE")) not in DEFAULT_REPORTCHARS

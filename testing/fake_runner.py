"""A small, honest fake command runner for the plugin's own tests.

It answers only the commands a scenario scripts (anything else exits 127 with "no rule"),
records every call to a JSON-lines file so a test can see what ran, and streams output
lines like the real runners do. It never pretends a command it does not know succeeded.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_irp.redact import Redactor
from pytest_irp.runners import CommandResult, LineCallback

Reply = tuple[int, str, str]
Rule = tuple[Callable[[Sequence[str]], bool], Callable[[Sequence[str], str | None], Reply]]


def script_is(name: str, sub: str | None = None) -> Callable[[Sequence[str]], bool]:
    """Matches ``sh -c <script> irp-NAME [SUB] ...`` as built by pytest_irp.remote."""

    def match(argv: Sequence[str]) -> bool:
        return (
            len(argv) > 3
            and argv[3] == f"irp-{name}"
            and (sub is None or (len(argv) > 4 and argv[4] == sub))
        )

    return match


def starts_with(*prefix: str) -> Callable[[Sequence[str]], bool]:
    def match(argv: Sequence[str]) -> bool:
        return tuple(argv[: len(prefix)]) == prefix

    return match


def contains(*words: str) -> Callable[[Sequence[str]], bool]:
    def match(argv: Sequence[str]) -> bool:
        return all(w in argv for w in words)

    return match


def reply(rc: int = 0, stdout: str = "", stderr: str = "") -> Callable[..., Reply]:
    return lambda argv, stdin: (rc, stdout, stderr)


@dataclass
class FakeRunner:
    host: str
    redactor: Redactor
    rules: list[Rule]
    log_path: Path | None = None
    calls: list[list[str]] = field(default_factory=list)

    def display_argv(self, argv: Sequence[str]) -> list[str]:
        return list(argv)

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        on_line: LineCallback | None = None,
    ) -> CommandResult:
        self.calls.append(list(argv))
        if self.log_path is not None:
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(
                    json.dumps({"host": self.host, "argv": [a for a in argv if len(a) < 200]})
                    + "\n"
                )
        for match, answer in self.rules:
            if match(argv):
                rc, out, err = answer(argv, input)
                break
        else:
            rc, out, err = 127, "", f"fake runner: no rule for {shlex.join(argv)[:200]}"
        if on_line is not None:  # raw, as the real runners give it
            for line in out.splitlines():
                on_line(line)
        return CommandResult(self.host, tuple(self.redactor.redact_argv(argv)), rc, out, err, 0.01)

    def close(self) -> None:
        return None


def calls_from(log_path: Path) -> list[dict[str, object]]:
    if not log_path.exists():
        return []
    return [json.loads(line) for line in log_path.read_text().splitlines()]


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")

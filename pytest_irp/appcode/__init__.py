"""App-side judges for T01-T05, reading the app's code with real parsers: tree-sitter's
Haskell and Nix grammars for ``.hs`` and ``flake.nix``, PostgreSQL's own parser (pglast)
for SQL. Comments and string literals never count as code. Every parser is imported
lazily, when a check runs, so collecting the suite stays fast.

Each judge is a pure function of file texts and returns :class:`Verdict`: ``problems``
(fail the check; each names the file and line) and ``findings`` (worth a reader's look,
never a failure)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    path: str
    line: int  # 1-based; 0 when the whole file is meant
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass
class Verdict:
    problems: list[Problem] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    def fail(self, path: str, line: int, message: str) -> None:
        self.problems.append(Problem(path, line, message))

    def note(self, text: str) -> None:
        if text not in self.findings:
            self.findings.append(text)

    @property
    def ok(self) -> bool:
        return not self.problems

    def cause(self) -> str:
        return "; ".join(map(str, self.problems))


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def line_of(text: str, offset: int) -> int:
    return line_col(text, offset)[0]


def source_line(text: str, line: int) -> str:
    lines = text.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


class AppFinding(UserWarning):
    """Something in the app worth a look that does not fail its check (shown in pytest's
    warnings summary)."""


def warn_findings(verdict: Verdict) -> None:
    import warnings

    for text in verdict.findings:
        warnings.warn(AppFinding(text), stacklevel=2)

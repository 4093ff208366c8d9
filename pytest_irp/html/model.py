"""The report's content as plain data, built from the run's records (pure functions).

Statuses are strings and are never enumerated here: a check with any status (PASS, FAIL,
BLOCKED, SKIPPED, NOT RUN, ...) is a row, counted under its own name. Only PASS proves a
criterion; the verdict is PASSED only when every selected required criterion passed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from ..outcomes import STATUS_BLOCKED, STATUS_FAIL, STATUS_PASS, STATUS_SKIPPED, worst
from ..problems import Problem
from ..report import CheckRecord, digest_chain, ok_value
from ..stage import StageResult
from ..values import PushedImage
from .hints import hint_for
from .text import blocking_stage, clean_output, command_text, plain_cause

VERDICT_PASSED, VERDICT_FAILED, VERDICT_NOT_PROVEN = "PASSED", "FAILED", "NOT PROVEN"
VALUE_CHARS = 6000  # a stage's value shown in its record, capped


@dataclass
class CommandView:
    host: str
    command: str
    rc: int | None
    duration: float
    output: str
    timed_out: bool = False


@dataclass
class StageView:
    name: str
    criterion: str
    title: str
    status: str
    duration: float
    hosts: list[str]
    cause: str
    reused: str
    commands: list[CommandView]
    details: str
    value: str
    logs: list[tuple[str, str]]  # (name, relative link)
    findings: list[tuple[str, str, str]]  # (severity, title, fix)


@dataclass
class CheckView:
    nodeid: str
    check: str
    status: str
    duration: float
    cause: str


@dataclass
class CriterionView:
    id: str
    title: str
    status: str
    optional: bool
    duration: float
    checks: list[CheckView]
    stages: list[StageView]


@dataclass
class RootCause:
    stage: str  # "" when no stage failed (a check's own assertion)
    criterion: str
    host: str
    cause: str
    what: str
    next_step: str
    command: str
    check: str = ""


@dataclass
class FindingView:
    severity: str
    title: str
    detail: str
    fix: str
    stages: list[str]


@dataclass
class RunInfo:
    """What the plugin knows of the run besides records and stage results."""

    run_id: str
    command_line: str
    selection: list[str]  # e.g. ["-k T09"]; empty: everything collected
    not_selected: list[tuple[str, str]]  # (criterion, check) deselected or not collected
    full: bool
    exit_code: int | None
    environment: list[tuple[str, str]]
    host: str = ""
    ssh_config: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)
    started: str = ""  # local time, ISO 8601
    finished: str = ""
    duration: float = 0.0  # seconds, the whole run
    sha: str = ""  # the SHA under test


@dataclass
class Report:
    title: str
    verdict: str
    verdict_line: str
    criteria_counts: dict[str, int]
    check_counts: dict[str, int]
    run: RunInfo
    criteria: list[CriterionView]
    not_selected_criteria: list[tuple[str, str]]
    root: RootCause | None
    findings: list[FindingView]
    digests: list[tuple[str, str]]
    digest_match: str  # "match" | "differ" | "incomplete"
    reference: str
    stages: list[StageView]
    upstream: list[StageView]  # stages run for the selection whose criterion is not in it
    link_prefix: str = ""  # put before every relative file link (latest.html: "latest/")
    problems: list[Problem] = field(default_factory=list)  # the fix list (problems.py)


def is_optional(title: str) -> bool:
    return "(optional)" in title


_SHOW_ORDER = ("FAIL", "BLOCKED", "NOT RUN", "XFAIL", "NOT CHECKED", "PASS", "SKIPPED")


def _counts(statuses: Iterable[str]) -> dict[str, int]:
    """Count per status: the worst known ones first, any other status after them."""
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    rank = {s: i for i, s in enumerate(_SHOW_ORDER)}
    return dict(sorted(counts.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def criterion_status(statuses: Sequence[str]) -> str:
    """The outcomes module's ``worst``; a status it does not rank (a newer one) is never
    green: FAIL still wins, otherwise the first such status is the criterion's."""
    try:
        return worst(list(statuses))
    except KeyError:
        if STATUS_FAIL in statuses:
            return STATUS_FAIL
        return next(s for s in statuses if s not in (STATUS_PASS, STATUS_SKIPPED, STATUS_BLOCKED))


def verdict(criteria: Sequence[CriterionView], exit_code: int | None) -> str:
    """PASSED only when every selected required criterion is PASS (an optional one may be
    SKIPPED) and pytest agrees (exit code 0); FAILED when any check failed; otherwise NOT
    PROVEN (blocked, not run, skipped or any other status)."""
    if not criteria:
        return VERDICT_NOT_PROVEN
    if any(c.status == STATUS_FAIL for c in criteria):
        return VERDICT_FAILED
    for c in criteria:
        if c.status == STATUS_PASS or (c.optional and c.status == STATUS_SKIPPED):
            continue
        return VERDICT_NOT_PROVEN
    return VERDICT_PASSED if exit_code == 0 else VERDICT_NOT_PROVEN


def verdict_line(
    word: str, criteria: Sequence[CriterionView], run: RunInfo, not_selected: int
) -> str:
    required = [c for c in criteria if not c.optional]
    passed = sum(1 for c in required if c.status == STATUS_PASS)
    parts = [f"{word}: {passed} of {len(required)} required criteria passed"]
    others = _counts(c.status for c in required if c.status != STATUS_PASS)
    if others:
        parts.append(", ".join(f"{n} {s}" for s, n in others.items()))
    optional = [f"{c.id} optional, {c.status.lower()}" for c in criteria if c.optional]
    line = "; ".join(parts) + (f" ({'; '.join(optional)})" if optional else "")
    if not run.full:
        line += f" - partial run, {not_selected} criteria not selected"
    if word == VERDICT_PASSED or run.exit_code in (None, 0):
        return line
    return line + f" - pytest exit code {run.exit_code}"


def _link(path: str, base: str) -> str:
    try:
        return os.path.relpath(path, base)
    except ValueError:
        return path


def stage_view(result: StageResult, title: str, base: str) -> StageView:
    commands = [
        CommandView(
            str(c.get("host", "")),
            command_text(c.get("argv") or []),
            c.get("rc"),
            float(c.get("duration") or 0),
            clean_output((c.get("stdout") or "") + (c.get("stderr") or "")),
            bool(c.get("timed_out")),
        )
        for c in result.commands
    ]
    hosts = list(dict.fromkeys(c.host for c in commands))
    reused = ""
    if result.reused_from:
        reused = (
            f"reused from run {result.reused_from.get('run_id')} at "
            f"{result.reused_from.get('time')}"
        )
    value = (
        json.dumps(result.value, indent=2, default=str, ensure_ascii=False) if result.value else ""
    )
    if len(value) > VALUE_CHARS:
        value = value[:VALUE_CHARS] + "\n[... cut: the full value is in summary.json ...]"
    cause = plain_cause(result.cause)
    if result.status == "blocked":
        cause = f"not run: needs stage {result.root_stage} ({result.root_criterion}), which failed"
    return StageView(
        result.stage,
        result.criterion,
        title,
        result.status.upper(),
        result.duration,
        hosts,
        cause,
        reused,
        commands,
        clean_output(result.details),
        value,
        [(name, _link(path, base)) for name, path in result.logs.items()],
        [(f.severity, f.title, f.fix) for f in result.findings],
    )


def check_view(
    rec: CheckRecord, root: RootCause | None, problems: Sequence[Problem] = ()
) -> CheckView:
    """A check row; a cause that repeats a problem of the fix list (or the root cause) is
    shortened to a pointer."""
    cause = rec.cause
    named = blocking_stage(cause)
    numbers = [p.number for p in problems if named is not None and named[0] in p.stages]
    if named is not None and numbers:
        verb = "blocked by" if rec.status != STATUS_FAIL else "failed with"
        which = ", ".join(str(n) for n in numbers)
        cause = f"{verb} stage {named[0]} ({named[1]}): see problem {which} of the fix list above"
    elif named is not None and root is not None and named[0] == root.stage:
        verb = "blocked by" if rec.status != STATUS_FAIL else "failed with"
        cause = f"{verb} stage {named[0]} ({named[1]}): see the root cause above"
    else:
        cause = plain_cause(cause)
    return CheckView(rec.nodeid, rec.check, rec.status, rec.duration, cause)


def root_cause(
    records: Sequence[CheckRecord], results: Mapping[str, StageResult], host: str, ssh_config: str
) -> RootCause | None:
    """The stage that failed first (by start time), else the first failed check."""
    failed = [r for r in results.values() if r.status == "failed"]
    if failed:
        first = min(failed, key=lambda r: r.started)
        bad = [c for c in first.commands if c.get("rc") not in (0, None) or c.get("timed_out")]
        cmd = bad[-1] if bad else (first.commands[-1] if first.commands else None)
        where = str(cmd.get("host", "")) if cmd else ""
        hint = hint_for(first.cause, host if where in ("", host) else where, ssh_config)
        return RootCause(
            first.stage,
            first.criterion,
            where,
            plain_cause(first.cause),
            hint.what if hint else "",
            hint.next_step
            if hint
            else f"Read the record of stage {first.stage} under {first.criterion} "
            f"below; re-run with `pytest -k {first.criterion}`.",
            command_text(cmd.get("argv") or []) if cmd else "",
        )
    for rec in records:
        if rec.status == STATUS_FAIL:
            return RootCause(
                "",
                rec.criterion,
                "",
                plain_cause(rec.cause),
                "",
                f"Read the check's failure in the terminal output or JUnit XML; "
                f"re-run with `pytest -k {rec.criterion}`.",
                "",
                rec.check,
            )
    return None


def findings(results: Mapping[str, StageResult]) -> list[FindingView]:
    """Findings once each (same title and fix), errors first, then warnings, then infos."""
    by: dict[tuple[str, str], FindingView] = {}
    for result in results.values():
        for f in result.findings:
            key = (f.title, f.fix)
            if key in by:
                if f.stage not in by[key].stages:
                    by[key].stages.append(f.stage)
                continue
            by[key] = FindingView(f.severity, f.title, f.detail, f.fix, [f.stage])
    rank = {"error": 0, "warning": 1, "info": 2}
    return sorted(by.values(), key=lambda f: rank.get(f.severity, 3))


def digest_match(chain: Sequence[tuple[str, str]]) -> str:
    digests = [v for k, v in chain if k != "nix out path"]
    if not all(digests):
        return "incomplete"
    return "match" if len(set(digests)) == 1 else "differ"


def build(
    *,
    records: Sequence[CheckRecord],
    results: Mapping[str, StageResult],
    titles: Mapping[str, str],
    stage_titles: Mapping[str, str],
    run: RunInfo,
    base: str,
    title: str,
    problems: Sequence[Problem] = (),
) -> Report:
    """The whole report. ``base``: the folder the page is written to (links are relative
    to it); ``titles``: criterion -> title, in pipeline order; ``stage_titles``: stage ->
    title, in pipeline order (the order of the stage lists)."""
    order = list(titles)
    root = root_cause(records, results, run.host, run.ssh_config)
    stage_order = list(stage_titles)  # the pipeline's order (pytest_irp.stages.SPECS)
    ran = sorted(results, key=lambda n: stage_order.index(n) if n in stage_order else 99)
    stages = [stage_view(results[n], stage_titles.get(n, ""), base) for n in ran]
    by_crit: dict[str, list[CheckRecord]] = {}
    for rec in records:
        by_crit.setdefault(rec.criterion, []).append(rec)
    criteria = []
    for crit in sorted(by_crit, key=lambda c: (order.index(c) if c in order else 99, c)):
        recs = by_crit[crit]
        criteria.append(
            CriterionView(
                crit,
                titles.get(crit, ""),
                criterion_status([r.status for r in recs]),
                is_optional(titles.get(crit, "")),
                sum(r.duration for r in recs),
                [check_view(r, root, problems) for r in recs],
                [s for s in stages if s.criterion == crit],
            )
        )
    chain = digest_chain(results)
    reference = cast(PushedImage, ok_value(results, "push")).get("image", "")
    not_selected = [(c, t) for c, t in titles.items() if c not in by_crit]
    word = verdict(criteria, run.exit_code)
    return Report(
        title=title,
        verdict=word,
        verdict_line=verdict_line(word, criteria, run, len(not_selected)),
        criteria_counts=_counts(c.status for c in criteria),
        check_counts=_counts(r.status for r in records),
        run=run,
        criteria=criteria,
        not_selected_criteria=not_selected,
        root=root,
        findings=findings(results),
        digests=chain,
        digest_match=digest_match(chain),
        reference=reference,
        stages=stages,
        upstream=[s for s in stages if s.criterion not in by_crit],
        problems=list(problems),
    )

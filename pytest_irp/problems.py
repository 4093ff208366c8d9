"""The run's fix list: every independent problem, once, in pipeline order, with its next step.

Pure functions over the run's records. A problem is a failed preflight precondition, a
stage that failed by itself (not decided by the preflight), or a check that failed by its
own assertion. Problems that are one cause (the same host refusing ssh to the source
stage, the prebuild check and the skopeo check) are merged: their key is the host and the
plain words of the hint (:mod:`pytest_irp.html.hints`), else the cause itself. Each
problem names the criteria it FAILs; a BLOCKED criterion points at the problem of the
stage that blocked it. The terminal, summary.json and the HTML report read this one list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .html.hints import hint_for
from .html.text import blocking_stage, plain_cause
from .outcomes import STATUS_BLOCKED, STATUS_FAIL, STATUS_NOT_CHECKED, STATUS_XFAIL
from .stage import StageResult

_PREFLIGHT_PREFIX = "preflight check '"
_FIX_IN_CAUSE = ". Fix: "
# which host setting a precondition's commands run on (the others run on this machine)
_PRECONDITION_HOST = {"build-host": "host", "skopeo": "host", "node": "node_host"}


@dataclass
class Problem:
    """One thing to fix. ``number`` counts from 1 in pipeline order."""

    number: int
    host: str
    cause: str
    next_step: str
    what: str = ""
    sources: list[str] = field(default_factory=list)  # "stage source", "preflight registry"
    stages: list[str] = field(default_factory=list)  # stages it decided (failed)
    criteria: list[str] = field(default_factory=list)  # criteria it FAILs
    position: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "host": self.host,
            "cause": self.cause,
            "what": self.what,
            "next_step": self.next_step,
            "found_by": list(self.sources),
            "stages": list(self.stages),
            "criteria": list(self.criteria),
        }


@dataclass
class _Seen:
    key: str
    position: int
    host: str
    cause: str
    next_step: str
    what: str
    source: str
    stage: str
    criterion: str


def _bad_host(commands: Sequence[Mapping[str, Any]]) -> str:
    bad = [c for c in commands if c.get("rc") not in (0, None) or c.get("timed_out")]
    return str(bad[-1].get("host", "")) if bad else ""


def _next_step(cause: str, host: str, ssh_config: str, fix: str, fallback: str) -> tuple[str, str]:
    """(what, next step): the hint for the cause when one matches, else the fix given."""
    hint = hint_for(cause, host if host != "local" else "", ssh_config)
    if hint is not None:
        return hint.what, hint.next_step
    return "", fix or fallback


def find(
    *,
    records: Iterable[Any],
    results: Mapping[str, StageResult],
    verdicts: Iterable[Any],
    stage_order: Sequence[str],
    criteria_order: Sequence[str],
    settings: Mapping[str, Any],
) -> list[Problem]:
    """Every independent problem of the run, merged and numbered in pipeline order.
    ``records``: the check records (CheckRecord); ``verdicts``: the preflight's
    (pytest_irp.preflight.Verdict); ``settings``: host, node_host, ssh_config."""
    ssh_config = str(settings.get("ssh_config") or "")
    criterion_of = {name: r.criterion for name, r in results.items()}
    position = {name: i for i, name in enumerate(stage_order)}
    seen: list[_Seen] = []

    def add(pos: int, host: str, cause: str, fix: str, source: str, stage: str, crit: str) -> None:
        cause = plain_cause(cause)
        if not fix and _FIX_IN_CAUSE in cause:  # a stage's cause that carries its own fix
            cause, fix = cause.split(_FIX_IN_CAUSE, 1)
            cause += "."
        fallback = (
            f"Read the record of stage {stage} ({crit}) in the report; re-run with "
            f"`pytest -k {crit}`."
            if stage
            else f"Read the check's failure (pytest -rA, or the report); re-run with "
            f"`pytest -k {crit}`."
        )
        what, step = _next_step(cause, host, ssh_config, fix, fallback)
        key = f"{host}|{what}" if what else cause
        seen.append(_Seen(key, pos, host, cause, step, what, source, stage, crit))

    for v in verdicts:
        if getattr(v, "ok", True):
            continue
        setting = _PRECONDITION_HOST.get(v.name)
        host = _bad_host(v.commands) or (str(settings.get(setting) or "") if setting else "local")
        add(
            position.get(v.stage, len(position)),
            host,
            v.cause,
            v.fix
            or "Give or fix what the cause names, then check it in seconds with "
            "`pytest --irp-preflight`.",
            f"preflight {v.name}",
            v.stage,
            criterion_of.get(v.stage, ""),
        )
    for name, result in results.items():
        if result.status != "failed" or result.cause.startswith(_PREFLIGHT_PREFIX):
            continue
        host = _bad_host(result.commands) or str(settings.get("host") or "")
        add(
            position.get(name, len(position)),
            host,
            result.cause,
            "",
            f"stage {name}",
            name,
            result.criterion,
        )
    first_stage: dict[str, int] = {}
    for name in stage_order:
        crit = criterion_of.get(name)
        if crit:
            first_stage.setdefault(crit, position[name])
    for rec in records:
        if rec.status not in _OWN or not rec.cause or blocking_stage(rec.cause):
            continue
        crit_pos = criteria_order.index(rec.criterion) if rec.criterion in criteria_order else 99
        pos = first_stage.get(rec.criterion, -100 + crit_pos)
        cause, fix = _not_proven(rec.cause)
        add(pos, "", cause, fix, f"check {rec.check}", "", rec.criterion)
    return _merge(seen)


# the statuses a check gets by itself (not from a stage): each is a problem of the fix list
_OWN = (STATUS_FAIL, STATUS_NOT_CHECKED, STATUS_XFAIL)
# a not-proven cause ends with its next step (pytest_irp.outcomes.not_checked, xfail_cause)
_NEXT_STEP_AT = ("; set ", "; remove the xfail mark")


def _not_proven(cause: str) -> tuple[str, str]:
    """(cause, next step) of a NOT CHECKED or XFAIL cause; a failure's is its own."""
    for marker in _NEXT_STEP_AT:
        head, found, tail = cause.partition(marker)
        if found:
            step = (found.removeprefix("; ") + tail).strip()
            return head, step[0].upper() + step[1:] + "."
    return cause, ""


def _merge(seen: list[_Seen]) -> list[Problem]:
    by_key: dict[str, Problem] = {}
    for s in sorted(seen, key=lambda s: s.position):
        problem = by_key.get(s.key)
        if problem is None:
            problem = by_key[s.key] = Problem(
                0, s.host, s.cause, s.next_step, s.what, position=s.position
            )
        if s.source not in problem.sources:
            problem.sources.append(s.source)
        if s.stage and s.stage not in problem.stages:
            problem.stages.append(s.stage)
        if s.criterion and s.criterion not in problem.criteria:
            problem.criteria.append(s.criterion)
    problems = sorted(by_key.values(), key=lambda p: p.position)
    for number, problem in enumerate(problems, 1):
        problem.number = number
    return problems


def refs(problems: Sequence[Problem], criterion: str, status: str, cause: str) -> list[int]:
    """The numbers of the problems behind a criterion's status: those it FAILs with, or,
    for BLOCKED, the problem of the stage named in its cause."""
    if status in _OWN:
        return [p.number for p in problems if criterion in p.criteria]
    if status == STATUS_BLOCKED:
        named = blocking_stage(cause)
        if named is not None:
            return [p.number for p in problems if named[0] in p.stages]
    return []


def of_run(records: Iterable[Any], pipeline: Any, criteria_order: Sequence[str]) -> list[Problem]:
    """The problems of a run's pipeline (:class:`pytest_irp.stage.Pipeline`)."""
    return find(
        records=records,
        results=pipeline.results,
        verdicts=pipeline.preflight,
        stage_order=pipeline.order,
        criteria_order=criteria_order,
        settings=pipeline.settings.values,
    )

"""What a reviewer signs, on the report's first screen and in the Markdown summary: the
verdict's facts (findings by severity, total duration with start and end, the SHA, the
digest chain built -> pushed -> running, the stages' durations) and the fix list (every
independent problem, once, in pipeline order, with its next step).

Pure: text and HTML fragments from the report model (:mod:`pytest_irp.html.model`). The
HTML escapes through the caller's ``esc`` (render's redact-then-escape).
"""

from __future__ import annotations

from collections.abc import Callable

from .model import Report
from .text import duration_text

Esc = Callable[[object], str]
SEVERITIES = ("error", "warning", "info")


def short(text: str, keep: int = 24) -> str:
    """A long token (a digest, a store path) shortened in the middle, with an ellipsis."""
    if len(text) <= keep + 8:
        return text
    return f"{text[: keep - 6]}…{text[-6:]}"


def finding_counts(rep: Report) -> list[tuple[str, int]]:
    counts = {s: 0 for s in SEVERITIES}
    for f in rep.findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    return list(counts.items())


def findings_text(rep: Report) -> str:
    parts = [f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in finding_counts(rep)]
    return f"{len(rep.findings)} findings: " + ", ".join(parts)


def times_text(rep: Report) -> str:
    run = rep.run
    if not run.started:
        return ""
    end = run.finished.split("T")[-1] if run.finished[:10] == run.started[:10] else run.finished
    return (
        f"{duration_text(run.duration)} (started {run.started.replace('T', ' ')}, "
        f"ended {end.replace('T', ' ')})"
    )


def chain(rep: Report) -> list[tuple[str, str]]:
    """(step, value) of built -> pushed -> running ('' when unknown)."""
    digests = dict(rep.digests)
    return [
        ("built", digests.get("nix out path", "")),
        ("pushed", digests.get("pushed digest", "")),
        ("running", digests.get("running digest", "")),
    ]


MATCH_WORDS = {
    "match": "digests match",
    "differ": "digests DIFFER",
    "incomplete": "digests incomplete",
}


def stage_times(rep: Report) -> list[tuple[str, str, float]]:
    return [(s.name, s.status, s.duration) for s in rep.stages]


def first_screen_html(rep: Report, esc: Esc) -> str:
    """The facts under the verdict: findings, duration, SHA, digest chain, stage times."""
    findings = esc(findings_text(rep))
    duration = (
        f' · <span id="first-duration">Duration: {esc(times_text(rep))}</span>'
        if rep.run.started
        else ""
    )
    parts = [
        '<p><span id="first-findings">'
        + (f'<a href="#findings">{findings}</a>' if rep.findings else findings)
        + f"</span>{duration}</p>",
        f'<p id="first-sha">SHA under test: <code>{esc(rep.run.sha or "-")}</code></p>',
    ]
    links = " → ".join(
        f"{esc(step)} <code>{esc(short(value) if value else '-')}</code>"
        for step, value in chain(rep)
    )
    parts.append(
        f'<p id="first-digests"><a href="#digests">Digest chain</a>: {links} '
        f"({esc(MATCH_WORDS.get(rep.digest_match, rep.digest_match))})</p>"
    )
    if rep.stages:
        items = " · ".join(
            f'<span class="nowrap">{esc(name)} '
            + (
                esc(status.lower())
                if status == "BLOCKED"
                else esc(duration_text(seconds)) + (f" ({esc(status)})" if status != "OK" else "")
            )
            + "</span>"
            for name, status, seconds in stage_times(rep)
        )
        parts.append(f'<p id="first-stages"><a href="#stages">Stages</a>: {items}</p>')
    return "".join(parts)


def fix_list_html(rep: Report, esc: Esc) -> str:
    """The fix list: every independent problem, once, in pipeline order, with its next
    step; the first one's stage record linked."""
    if not rep.problems:
        return ""
    count = len(rep.problems)
    items = []
    for p in rep.problems:
        where = f" on <b>{esc(p.host)}</b>" if p.host and p.host != "local" else ""
        record = f' · <a href="#stage-{esc(p.stages[0])}">stage record</a>' if p.stages else ""
        what = f"<b>{esc(p.what)}</b><br>" if p.what else ""
        items.append(
            f'<li class="problem" id="problem-{p.number}"><b>{esc(" ".join(p.criteria))}</b>'
            f'{where} <span class="muted">(found by {esc(", ".join(p.sources))})</span>'
            f"{record}<br>{what}Cause: <code>{esc(p.cause)}</code><br>"
            f"<b>Next step:</b> {esc(p.next_step)}</li>"
        )
    return (
        f'<section class="root" id="root-cause"><h2>Fix list: {count} '
        f"problem{'s' if count > 1 else ''}, in pipeline order</h2>"
        f'<ol id="problems">{"".join(items)}</ol></section>'
    )


def markdown(rep: Report, report_link: str = "") -> str:
    """The first screen as Markdown (beside the report; $GITHUB_STEP_SUMMARY)."""
    lines = [f"## pytest-irp: {rep.verdict}", "", rep.verdict_line, ""]
    counts = ", ".join(f"{s} {n}" for s, n in rep.criteria_counts.items())
    lines.append(f"- Criteria: {counts}")
    lines.append(f"- {findings_text(rep)}")
    if rep.run.started:
        lines.append(f"- Duration: {times_text(rep)}")
    lines.append(f"- SHA under test: `{rep.run.sha or '-'}`")
    steps = " → ".join(f"{step} `{value or '-'}`" for step, value in chain(rep))
    lines.append(f"- Digest chain: {steps} ({MATCH_WORDS.get(rep.digest_match, '')})")
    if rep.stages:
        lines.append(
            "- Stages: "
            + ", ".join(
                f"{n} blocked"
                if s == "BLOCKED"
                else f"{n} {duration_text(d)}" + (f" ({s})" if s != "OK" else "")
                for n, s, d in stage_times(rep)
            )
        )
    if rep.problems:
        lines += ["", f"### Fix list ({len(rep.problems)}, in pipeline order)", ""]
        for p in rep.problems:
            host = f" on {p.host}" if p.host and p.host != "local" else ""
            lines.append(f"{p.number}. **{' '.join(p.criteria)}**{host}: {p.cause}  ")
            lines.append(f"   Next step: {p.next_step}")
    lines += ["", "| | Criterion | Status |", "|---|---|---|"]
    for c in rep.criteria:
        lines.append(f"| {c.id} | {c.title.replace('|', '/')} | {c.status} |")
    if report_link:
        lines += ["", f"Report: {report_link}"]
    return "\n".join(lines) + "\n"

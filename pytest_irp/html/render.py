"""The report page: one self-contained HTML file (inline CSS and a small inline script, no
external resource, no ``data:`` link), in the order a reviewer reads it: verdict, root
cause, exit criteria with their checks and stage records, findings, digest chain, stages,
environment.

Every text is redacted, then escaped (:func:`_e`): a secret holding ``&`` or ``<`` would
not be found in the escaped page any more. The caller redacts the finished page once more.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Iterable
from contextvars import ContextVar

from .firstscreen import first_screen_html, fix_list_html
from .model import CheckView, CriterionView, Report, RootCause, StageView
from .text import duration_text

# Dark text on light tints; every pair has a contrast ratio of at least 4.5:1 (WCAG AA),
# checked by testing/test_report_browser.py in the rendered page.
_KNOWN = {
    "PASS": ("#1b5e20", "#e8f5e9"),
    "OK": ("#1b5e20", "#e8f5e9"),
    "FAIL": ("#b71c1c", "#ffebee"),
    "FAILED": ("#b71c1c", "#ffebee"),
    "BLOCKED": ("#7a3e00", "#fff3e0"),
    "SKIPPED": ("#424242", "#eeeeee"),
    "NOT RUN": ("#4a148c", "#f3e5f5"),
}
_OTHER = [("#0d47a1", "#e3f2fd"), ("#004d40", "#e0f2f1"), ("#3e2723", "#efebe9")]
_VERDICT = {
    "PASSED": ("#ffffff", "#1b5e20"),
    "FAILED": ("#ffffff", "#b71c1c"),
    "NOT PROVEN": ("#ffffff", "#7a3e00"),
}


Redact = Callable[[str], str]
_REDACT: ContextVar[Redact] = ContextVar("irp_report_redact", default=str)


def _e(text: object) -> str:
    return html.escape(_REDACT.get()(str(text)), quote=True)


def slug(status: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", status.lower()).strip("-") or "none"


def status_colors(status: str) -> tuple[str, str]:
    """(text, background) of a status badge; an unknown status gets a stable dark pair."""
    if status.upper() in _KNOWN:
        return _KNOWN[status.upper()]
    index = int(hashlib.sha256(status.encode()).hexdigest(), 16) % len(_OTHER)
    return _OTHER[index]


def badge(status: str) -> str:
    return f'<span class="badge st-{slug(status)}">{_e(status)}</span>'


def _status_css(statuses: Iterable[str]) -> str:
    rules = []
    for status in sorted(set(statuses)):
        fg, bg = status_colors(status)
        rules.append(f".st-{slug(status)}{{color:{fg};background:{bg};border-color:{fg}}}")
    return "\n".join(rules)


CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",
  sans-serif;color:#1a1a1a;background:#fff}
main{max-width:1200px;margin:0 auto;padding:12px 16px 40px}
h1{font-size:26px;margin:0}
h2{font-size:19px;margin:26px 0 8px;border-bottom:1px solid #c8c8c8;padding-bottom:4px}
a{color:#0b4f9c}
code,pre{font:13px/1.4 "DejaVu Sans Mono",Menlo,Consolas,monospace;color:#1a1a1a}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;border:1px solid #d6d6d6;
  padding:6px 8px;margin:4px 0;max-height:40em;overflow:auto}
code{overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;table-layout:auto}
th,td{border:1px solid #c8c8c8;padding:4px 6px;text-align:left;vertical-align:top;
  overflow-wrap:anywhere}
th{background:#f0f0f0;overflow-wrap:normal;word-break:keep-all;white-space:nowrap}
.nowrap{white-space:nowrap}
ol#problems li{margin:6px 0}
.banner{padding:12px 16px;border-radius:4px}
.banner p{margin:4px 0}
.banner code{color:inherit}
.banner a{color:inherit}
.counts .badge{margin-right:8px}
.badge{display:inline-block;border:1px solid;border-radius:3px;padding:0 5px;font-weight:600;
  font-size:13px;white-space:nowrap}
.root{border:2px solid #b71c1c;border-radius:4px;padding:8px 12px;margin-top:12px;
  background:#fff}
.root h2{margin-top:0;border:0}
.root p{margin:4px 0}
tr.crit td{background:#f0f0f0;font-weight:600}
#stages td:not(:last-child){white-space:nowrap}
td.num{white-space:nowrap;text-align:right}
td.st{white-space:nowrap}
details{margin:4px 0}
details>summary{cursor:pointer;font-weight:600}
.filters{margin:6px 0}
.filters button{font:inherit;font-size:14px;margin:2px 4px 2px 0;padding:2px 8px;
  border:1px solid #555;background:#fff;color:#1a1a1a;border-radius:3px;cursor:pointer}
.filters button[aria-pressed=true]{background:#1a1a1a;color:#fff}
.cmd{margin:8px 0 2px}
.muted{color:#4d4d4d}
.sev-error{color:#b71c1c}.sev-warning{color:#7a3e00}.sev-info{color:#424242}
@media (max-width:900px){main{padding:8px}td,th{padding:3px 4px}}
"""

SCRIPT = """
(function(){
  var buttons=document.querySelectorAll('.filters button');
  function apply(status){
    var shown=0;
    document.querySelectorAll('tr.check').forEach(function(row){
      var on=status==='ALL'||row.dataset.status===status;
      row.hidden=!on; if(on){shown++;}
    });
    document.querySelectorAll('tbody.criterion').forEach(function(group){
      var any=group.querySelector('tr.check:not([hidden])');
      group.hidden=!any;
    });
    buttons.forEach(function(b){b.setAttribute('aria-pressed',String(b.dataset.filter===status));});
    var note=document.getElementById('filter-note');
    if(note){note.textContent=status==='ALL'?'':'showing '+shown+' '+status+' checks';}
  }
  buttons.forEach(function(b){b.addEventListener('click',function(){apply(b.dataset.filter);});});
  function openTarget(){
    var id=decodeURIComponent(location.hash.slice(1));
    var el=id&&document.getElementById(id);
    if(el&&el.tagName==='DETAILS'){el.open=true;}
  }
  window.addEventListener('hashchange',openTarget); openTarget();
})();
"""


def _counts(counts: dict[str, int], noun: str) -> str:
    # the count inside its pill: "FAIL 3", "BLOCKED 5" (not "FAIL 3 BLOCKED 5")
    items = "".join(
        f'<span class="badge st-{slug(s)}">{_e(s)} {_e(n)}</span>' for s, n in counts.items()
    )
    total = sum(counts.values())
    return f'<p class="counts">{total} {noun}: {items}</p>'


def banner(rep: Report) -> str:
    fg, bg = _VERDICT.get(rep.verdict, ("#ffffff", "#333333"))
    run = rep.run
    selection = ", ".join(run.selection) if run.selection else "all criteria (full run)"
    links = " · ".join(
        f'<a href="{_e(rep.link_prefix + href)}">{_e(name)}</a>' for name, href in run.links
    )
    not_sel = ""
    if rep.not_selected_criteria:
        ids = ", ".join(c for c, _ in rep.not_selected_criteria)
        not_sel = f"<p>Not selected (not run): {_e(ids)}</p>"
    return (
        f'<header class="banner" id="verdict" style="color:{fg};background:{bg}">'
        f"<h1>{_e(rep.verdict)}</h1><p><b>{_e(rep.verdict_line)}</b></p>"
        f"{_counts(rep.criteria_counts, 'criteria')}{_counts(rep.check_counts, 'checks')}"
        f"{first_screen_html(rep, _e)}"
        f"<p>Selection: {_e(selection)} · Run {_e(run.run_id)}"
        + (f" · {links}" if links else "")
        + f"</p>{not_sel}<p>Command: <code>{_e(run.command_line)}</code></p></header>"
    )


def root_section(root: RootCause | None) -> str:
    if root is None:
        return ""
    if root.stage:
        where = f"stage <b>{_e(root.stage)}</b> ({_e(root.criterion)})"
        if root.host:
            where += f" on <b>{_e(root.host)}</b>"
        link = f' · <a href="#stage-{_e(root.stage)}">stage record</a>'
    else:
        where = f"check <b>{_e(root.check)}</b> ({_e(root.criterion)})"
        link = ""
    parts = [f'<section class="root" id="root-cause"><h2>Root cause: {where}</h2>']
    if root.what:
        parts.append(f"<p><b>{_e(root.what)}</b></p>")
    parts.append(f"<p>Cause: <code>{_e(root.cause)}</code></p>")
    if root.command:
        parts.append(f"<p>Command: <code>{_e(root.command)}</code>{link}</p>")
    elif link:
        parts.append(f"<p>{link[3:]}</p>")
    parts.append(f"<p><b>Next step:</b> {_e(root.next_step)}</p></section>")
    return "".join(parts)


def _check_row(check: CheckView) -> str:
    cause = f'<br><span class="muted">{_e(check.cause)}</span>' if check.cause else ""
    return (
        f'<tr class="check" data-status="{_e(check.status)}" title="{_e(check.nodeid)}">'
        f'<td class="st">{badge(check.status)}</td><td>{_e(check.check)}{cause}</td>'
        f'<td class="num">{_e(duration_text(check.duration))}</td></tr>'
    )


def stage_record(stage: StageView, open_: bool = False, prefix: str = "") -> str:
    head = (
        f"stage {stage.name} ({stage.criterion}): {stage.status}, "
        f"{duration_text(stage.duration)}"
        + (
            f", {len(stage.commands)} command{'s' if len(stage.commands) > 1 else ''}"
            if stage.commands
            else ""
        )
    )
    parts = [
        f'<details class="record" id="stage-{_e(stage.name)}"'
        + (" open" if open_ else "")
        + f"><summary>{_e(head)}</summary>"
    ]
    if stage.title:
        parts.append(f'<p class="muted">{_e(stage.title)}</p>')
    if stage.reused:
        parts.append(f"<p>{_e(stage.reused)}</p>")
    if stage.cause:
        parts.append(f"<p>Cause: <code>{_e(stage.cause)}</code></p>")
    for cmd in stage.commands:
        rc = (
            "timed out"
            if cmd.timed_out
            else f"HTTP {cmd.rc}"
            if cmd.command.startswith("GET ")
            else f"exit {cmd.rc}"
        )
        parts.append(
            f'<p class="cmd">[{_e(cmd.host)}] <code>$ {_e(cmd.command)}</code> '
            f'<span class="muted">({_e(rc)}, {_e(duration_text(cmd.duration))})'
            f"</span></p>"
        )
        if cmd.output.strip():
            parts.append(f"<pre>{_e(cmd.output.rstrip())}</pre>")
    if stage.details.strip():
        parts.append(f"<p>Last lines:</p><pre>{_e(stage.details.rstrip())}</pre>")
    for severity, title, fix in stage.findings:
        parts.append(
            f'<p class="sev-{_e(severity)}">finding [{_e(severity)}] {_e(title)}'
            + (f" - fix: {_e(fix)}" if fix else "")
            + "</p>"
        )
    if stage.value:
        parts.append(f"<details><summary>value</summary><pre>{_e(stage.value)}</pre></details>")
    if stage.logs:
        links = " · ".join(
            f'<a href="{_e(prefix + href)}">{_e(name)} log</a>' for name, href in stage.logs
        )
        parts.append(f"<p>Full logs: {links}</p>")
    parts.append("</details>")
    return "".join(parts)


def _criterion_group(crit: CriterionView, root_stage: str, prefix: str) -> str:
    title = _e(crit.title)
    rows = [
        f'<tr class="crit"><td class="st">{badge(crit.status)}</td><td>{_e(crit.id)} '
        f'{title}</td><td class="num">{_e(duration_text(crit.duration))}</td></tr>'
    ]
    rows.extend(_check_row(c) for c in crit.checks)
    if crit.stages:
        records = "".join(stage_record(s, s.name == root_stage, prefix) for s in crit.stages)
        rows.append(f'<tr class="records"><td colspan="3">{records}</td></tr>')
    return (
        f'<tbody class="criterion" id="criterion-{_e(crit.id)}" '
        f'data-status="{_e(crit.status)}">' + "".join(rows) + "</tbody>"
    )


def _upstream(rep: Report) -> str:
    """Records of stages the selected checks needed, whose own criterion was not selected."""
    if not rep.upstream:
        return ""
    records = "".join(
        stage_record(s, rep.root is not None and s.name == rep.root.stage, rep.link_prefix)
        for s in rep.upstream
    )
    return (
        '<tbody class="upstream"><tr class="crit"><td></td><td>Stages the selected checks '
        "needed (their criteria were not selected)</td><td></td></tr>"
        f'<tr class="records"><td colspan="3">{records}</td></tr></tbody>'
    )


def criteria_section(rep: Report) -> str:
    total = sum(rep.check_counts.values())
    buttons = [f'<button type="button" data-filter="ALL" aria-pressed="true">all {total}</button>']
    buttons.extend(
        f'<button type="button" data-filter="{_e(s)}" aria-pressed="false">{_e(s)} {n}</button>'
        for s, n in rep.check_counts.items()
    )
    root_stage = rep.root.stage if rep.root else ""
    groups = "".join(_criterion_group(c, root_stage, rep.link_prefix) for c in rep.criteria)
    parts = [
        '<section id="criteria"><h2>Exit criteria</h2>',
        f'<div class="filters">Show: {"".join(buttons)} <span id="filter-note" '
        'class="muted"></span></div>',
        '<table class="irp-criteria"><thead><tr><th>Status</th><th>Criterion / check'
        f"</th><th>Duration</th></tr></thead>{groups}{_upstream(rep)}</table>",
    ]
    if rep.not_selected_criteria or rep.run.not_selected:
        rows = []
        deselected: dict[str, int] = {}
        for crit, _ in rep.run.not_selected:
            deselected[crit] = deselected.get(crit, 0) + 1
        for crit, title in rep.not_selected_criteria:
            n = deselected.pop(crit, 0)
            rows.append(
                f"<tr><td>{_e(crit)}</td><td>{_e(title)}</td>"
                f"<td>{_e(n or 'not collected')}</td></tr>"
            )
        for crit, n in deselected.items():
            rows.append(f"<tr><td>{_e(crit)}</td><td>(partly selected)</td><td>{_e(n)}</td></tr>")
        parts.append(
            '<h3>Not run in this run (not selected)</h3><table id="not-selected">'
            "<thead><tr><th>Criterion</th><th>Title</th><th>Checks not selected"
            "</th></tr></thead>" + "".join(rows) + "</table>"
        )
    parts.append("</section>")
    return "".join(parts)


def findings_section(rep: Report) -> str:
    if not rep.findings:
        return ""
    items = []
    for f in rep.findings:
        fix = f"<br><b>Fix:</b> {_e(f.fix)}" if f.fix else ""
        items.append(
            f'<li><b class="sev-{_e(f.severity)}">[{_e(f.severity)}]</b> '
            f'<b>{_e(f.title)}</b> <span class="muted">(stage '
            f"{_e(', '.join(f.stages))})</span><br>{_e(f.detail)}{fix}</li>"
        )
    return f'<section id="findings"><h2>Findings</h2><ul>{"".join(items)}</ul></section>'


def digests_section(rep: Report) -> str:
    pushed = dict(rep.digests).get("pushed digest", "")
    rows = [
        f"<tr><th>image reference</th><td><code>{_e(rep.reference or '-')}</code></td>"
        "<td></td></tr>"
    ]
    for name, value in rep.digests:
        if not value:
            mark = "- unknown"
        elif name in ("nix out path", "pushed digest"):
            mark = ""
        else:
            mark = "✓ same as pushed" if value == pushed else "✗ differs from pushed"
        rows.append(
            f"<tr><th>{_e(name)}</th><td><code>{_e(value or '-')}</code></td>"
            f"<td>{_e(mark)}</td></tr>"
        )
    word = {
        "match": "✓ digests match",
        "differ": "✗ digests differ",
        "incomplete": "digests incomplete (not every step ran)",
    }[rep.digest_match]
    return (
        f'<section id="digests"><h2>Digest chain</h2><p><b>{_e(word)}</b></p>'
        f"<table>{''.join(rows)}</table></section>"
    )


def stages_section(rep: Report) -> str:
    if not rep.stages:
        return ""
    rows = []
    for s in rep.stages:
        cmds = "<br>".join(f"<code>{_e(_cut(c.command))}</code>" for c in s.commands) or (
            f'<span class="muted">{_e(s.cause)}</span>' if s.cause else ""
        )
        rows.append(
            f'<tr><td><a href="#stage-{_e(s.name)}">{_e(s.name)}</a></td>'
            f'<td>{_e(s.criterion)}</td><td class="st">{badge(s.status)}</td>'
            f"<td>{_e(', '.join(s.hosts) or '-')}</td>"
            f'<td class="num">{_e(duration_text(s.duration))}</td>'
            f"<td>{cmds}{'<br>' + _e(s.reused) if s.reused else ''}</td></tr>"
        )
    return (
        '<section id="stages"><h2>Stages</h2><table><thead><tr><th>Stage</th>'
        "<th>Criterion</th><th>Status</th><th>Host</th><th>Duration</th><th>Commands"
        f"</th></tr></thead>{''.join(rows)}</table></section>"
    )


def _cut(command: str, limit: int = 160) -> str:
    """A command line for the stages table: whole up to ``limit``, else cut at a space with
    an ellipsis (the record holds it whole)."""
    if len(command) <= limit:
        return command
    cut = command[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut) + " …"


def environment_section(rep: Report) -> str:
    rows = "".join(
        f"<tr><th>{_e(k)}</th><td><code>{_e(v or '-')}</code></td></tr>"
        for k, v in rep.run.environment
    )
    return f'<section id="environment"><h2>Environment</h2><table>{rows}</table></section>'


def body(rep: Report, redact: Redact = str) -> str:
    """The report's sections (also what goes into a pytest-html report's summary), every
    text through ``redact`` before it is escaped."""
    token = _REDACT.set(redact)
    try:
        return "".join(
            [
                banner(rep),
                fix_list_html(rep, _e) or root_section(rep.root),
                criteria_section(rep),
                findings_section(rep),
                digests_section(rep),
                stages_section(rep),
                environment_section(rep),
            ]
        )
    finally:
        _REDACT.reset(token)


def styles(rep: Report) -> str:
    statuses = [*rep.check_counts, *rep.criteria_counts, *(s.status for s in rep.stages)]
    return CSS + _status_css(statuses)


def page(rep: Report, redact: Redact = str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(rep.verdict)} - {_e(rep.title)}</title>"
        f"<style>{styles(rep)}</style></head><body><main>{body(rep, redact)}</main>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )

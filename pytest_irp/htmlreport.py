"""The HTML report (pytest-html), extras per criterion, summary.json, latest.html.

Registered only in a validation run. Unless ``--html`` is given, a self-contained report
is written to ``reports/irp-<run id>.html`` and copied to ``reports/latest.html``; logs
are saved beside it in ``reports/irp-<run id>/``.
"""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING, Any

import pytest

from . import report as rep
from .fileio import write_atomic
from .outcomes import STATUS_BLOCKED
from .pipeline import CRITERIA
from .settings import TARGET_SETTINGS, describe

if TYPE_CHECKING:
    from .plugin import IrpRun

def setup_html(run: IrpRun) -> None:
    """Make pytest-html write a self-contained report unless the user chose --html."""
    config = run.config
    config.pluginmanager.register(HtmlHooks(run), "irp-html")
    _add_metadata(run)
    if config.getoption("htmlpath", None):
        run.html_path = None
        return
    import pytest_html.plugin as html_plugin

    run.report_dir.mkdir(parents=True, exist_ok=True)
    run.html_path = run.report_dir / f"irp-{run.run_id}.html"
    config.option.htmlpath = str(run.html_path)
    config.option.self_contained_html = True
    html_plugin.pytest_configure(config)
    run.own_html = True
    plugin = _html_plugin(config)
    session = _session(config)
    if plugin is not None and session is not None:
        plugin.pytest_sessionstart(session)  # it was registered after session start


def _html_plugin(config: pytest.Config) -> Any:
    from pytest_html.basereport import BaseReport

    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, BaseReport):
            return plugin
    return None


def _session(config: pytest.Config) -> pytest.Session | None:
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, pytest.Session):
            return plugin
    return None


def _add_metadata(run: IrpRun) -> None:
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:  # pragma: no cover - pytest-html depends on it
        return
    meta = run.config.stash.get(metadata_key, None)
    if meta is None:
        return
    meta["IRP target"] = describe(run.settings, TARGET_SETTINGS)
    meta["IRP run"] = run.run_id
    for key in list(meta):
        if isinstance(meta[key], str):
            meta[key] = run.redactor.redact(meta[key])


def criteria_rows(run: IrpRun) -> list[dict[str, Any]]:
    return rep.criteria_table(run.records.values(), CRITERIA)


# --------------------------------------------------------------------------- extras


def attach_extras(run: IrpRun, item: pytest.Item, report: pytest.TestReport) -> None:
    """Stage records (commands, output excerpts, findings) and links to full logs, once
    per stage, on the first check that used it."""
    from pytest_html import extras

    found = list(getattr(report, "extras", []))
    for fixture, stage in rep_stage_fixtures(item):
        result = run.pipeline.results.get(stage)
        if result is None or stage in run.extras_done:
            continue
        run.extras_done.add(stage)
        found.append(extras.text(run.redactor.redact(rep.stage_text(result)),
                                 name=f"{stage} stage"))
        for name, path in result.logs.items():
            found.append(extras.url(rep.relative_link(path, run.report_dir),
                                    name=f"{stage} {name} log"))
        del fixture
    if found:
        report.extras = found  # type: ignore[attr-defined]


def rep_stage_fixtures(item: pytest.Item) -> list[tuple[str, str]]:
    from .fixtures import STAGE_FIXTURES

    names = getattr(item, "fixturenames", [])
    return [(f, STAGE_FIXTURES[f]) for f in names if f in STAGE_FIXTURES]


# --------------------------------------------------------------------------- pytest-html hooks


class HtmlHooks:
    """pytest-html hooks for one run: title, BLOCKED rows, the summary sections."""

    def __init__(self, run: IrpRun) -> None:
        self.run = run

    def pytest_html_report_title(self, report: Any) -> None:
        host = self.run.settings.get("host", "?")
        report.title = (f"Pipeline validation (pytest-irp) - build host {host} - "
                        f"{self.run.run_id}")

    def pytest_html_results_table_row(self, report: pytest.TestReport,
                                      cells: list[str]) -> None:
        if getattr(report, "irp_blocked", None) and cells:
            cells[0] = '<td class="col-result">Blocked</td>'

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str],
                                    postfix: list[str], session: pytest.Session) -> None:
        run = self.run
        results = run.pipeline.results
        prefix.append(rep.html_criteria_table(criteria_rows(run)))
        prefix.append(rep.html_kv_table("Digest chain", rep.digest_chain(results)))
        env = [("target", describe(run.settings, TARGET_SETTINGS)),
               ("SHA under test", _value(results, "source", "sha")),
               ("nix", _value(results, "prebuild", "nix")),
               ("skopeo", _value(results, "push", "skopeo_version")),
               ("helm", _value(results, "release", "helm_version")),
               ("k3s", _value(results, "mirror", "k3s_version")),
               ("run id", run.run_id)]
        for name, result in results.items():
            if result.reused_from:
                env.append((f"stage {name}", f"reused from run "
                            f"{result.reused_from.get('run_id')} at "
                            f"{result.reused_from.get('time')}"))
        prefix.append(rep.html_kv_table("Run", env))
        prefix.append(rep.html_findings(results))
        _fix_outcome_counts(session.config, run)


def _value(results: Any, stage: str, key: str) -> str:
    result = results.get(stage)
    return str(result.value.get(key, "")) if result is not None else ""


def _fix_outcome_counts(config: pytest.Config, run: IrpRun) -> None:
    """pytest-html counts BLOCKED checks as failed; give them their own filter."""
    plugin = _html_plugin(config)
    outcomes = getattr(getattr(plugin, "_report", None), "outcomes", None)
    if not isinstance(outcomes, dict) or "failed" not in outcomes:
        return
    blocked = sum(1 for r in run.records.values() if r.status == STATUS_BLOCKED)
    outcomes.setdefault("blocked", {"label": "Blocked", "value": 0})
    outcomes["blocked"]["value"] = blocked
    outcomes["failed"]["value"] = max(0, outcomes["failed"]["value"] - blocked)


# --------------------------------------------------------------------------- files


def write_summary(run: IrpRun, exit_code: int) -> None:
    rows = criteria_rows(run)
    data = rep.summary_json(run.run_id, describe(run.settings, TARGET_SETTINGS),
                            rows, list(run.records.values()), run.pipeline.results, exit_code)
    data = json.loads(run.redactor.redact(json.dumps(data, default=str)))
    log_dir = run.report_dir / f"irp-{run.run_id}"
    rep.write_json(log_dir / "summary.json", data)
    rep.write_json(run.report_dir / "summary.json", data)


def finish_html(run: IrpRun) -> None:
    """Redact the written report once more (safety net) and publish latest.html."""
    if not run.own_html or run.html_path is None or not run.html_path.exists():
        return
    text = run.html_path.read_text(encoding="utf-8")
    cleaned = run.redactor.redact(text)
    if cleaned != text:
        write_atomic(run.html_path, cleaned)
    latest = run.report_dir / "latest.html"
    tmp = latest.with_name(".latest.html.tmp")
    shutil.copyfile(run.html_path, tmp)
    tmp.replace(latest)

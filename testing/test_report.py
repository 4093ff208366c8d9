"""The HTML report's files and content over three real runs (green, failing, partial) of
the plugin with the fake runner, and its pure parts: verdict, causes, hints, record text."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import ReportRuns


def test_green_full_run_publishes_latest(report_runs: ReportRuns) -> None:
    page = report_runs.green.read_text()
    assert "<h1>PASSED</h1>" in page, report_runs.outputs["green"][-3000:]
    assert "11 of 11 required criteria passed" in page
    assert "T12 optional, skipped" in page
    latest = report_runs.green_dir / "latest.html"
    assert latest.is_file()
    assert (report_runs.green_dir / "latest" / "index.html").is_file()

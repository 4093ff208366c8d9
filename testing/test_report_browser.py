"""The three reports (green, failing, partial) opened in headless Chromium from Debian's
packages, driven by Playwright for Python (no browser is ever downloaded): every check row
visible, each outcome filter works, a stage record opens and shows its commands, every
link resolves, nothing is fetched from anywhere but the report's own folder, text contrast
is at least 4.5:1 and nothing is clipped at 800 px.

Screenshots: ``REPORT_SCREENSHOTS_DIR=docs python3 -m pytest testing/test_report_browser.py``
writes docs/report-{green,failing,partial}.png.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from conftest import ReportRuns

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FIRST_SCREEN = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def browser_context() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"{CHROMIUM} missing: apt-get install chromium (scripts/install-system-packages.sh)"
        )
    profile = tempfile.mkdtemp(prefix="irp-chromium-")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport=FIRST_SCREEN,
            service_workers="block",
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


class Opened:
    def __init__(self, page: Any, requests: list[str]) -> None:
        self.page = page
        self.requests = requests


def open_report(context: Any, path: Path, width: int = FIRST_SCREEN["width"]) -> Opened:
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": FIRST_SCREEN["height"]})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    return Opened(page, requests)


def summary_checks(page_path: Path) -> list[dict[str, Any]]:
    data = json.loads((page_path.parent / "summary.json").read_text())
    return list(data["checks"])


def visible_rows(page: Any) -> list[str]:
    return list(
        page.eval_on_selector_all(
            "tr.check",
            "rows => rows.filter(r => r.offsetParent !== null).map(r => r.dataset.status)",
        )
    )


def reports(runs: ReportRuns) -> dict[str, Path]:
    return {"green": runs.green, "failing": runs.failing, "partial": runs.partial}


@pytest.mark.parametrize("name", ["green", "failing", "partial"])
def test_every_check_row_is_visible_and_each_filter_works(
    browser_context: Any, report_runs: ReportRuns, name: str
) -> None:
    path = reports(report_runs)[name]
    opened = open_report(browser_context, path)
    page = opened.page
    checks = summary_checks(path)
    assert sorted(visible_rows(page)) == sorted(c["status"] for c in checks)
    buttons = page.eval_on_selector_all(".filters button", "bs => bs.map(b => b.dataset.filter)")
    statuses = {c["status"] for c in checks}
    assert set(buttons) == {"ALL", *statuses}
    for status in statuses:
        page.click(f'.filters button[data-filter="{status}"]')
        shown = visible_rows(page)
        assert shown == [status] * sum(1 for c in checks if c["status"] == status), status
    page.click('.filters button[data-filter="ALL"]')
    assert len(visible_rows(page)) == len(checks)
    page.close()


def test_a_stage_record_opens_and_shows_its_commands(
    browser_context: Any, report_runs: ReportRuns
) -> None:
    opened = open_report(browser_context, report_runs.green)
    page = opened.page
    record = page.locator("details#stage-build")
    assert record.evaluate("d => d.open") is False
    record.locator("summary").first.click()
    assert record.evaluate("d => d.open") is True
    text = record.inner_text()
    assert "$ build.sh" in text
    assert "@nix" not in text
    assert "@@IRP" not in text
    assert "building '/nix/store/" in text
    page.close()
    # the failing report opens on its root cause's record, linked from the root cause
    page = open_report(browser_context, report_runs.failing).page
    page.click("#root-cause a[href='#stage-source']")
    source = page.locator("details#stage-source")
    assert source.evaluate("d => d.open") is True
    assert "$ source.sh" in source.inner_text()
    assert source.is_visible()
    page.close()


@pytest.mark.parametrize("name", ["green", "failing", "partial"])
def test_every_link_resolves_and_nothing_external_is_fetched(
    browser_context: Any, report_runs: ReportRuns, name: str
) -> None:
    path = reports(report_runs)[name]
    pages = [path]
    if name != "partial":
        pages.append(path.parent.parent / "latest.html")
    for page_path in pages:
        opened = open_report(browser_context, page_path)
        page = opened.page
        hrefs = page.eval_on_selector_all(
            "a[href]", "as => as.map(a => [a.getAttribute('href'), a.href])"
        )
        assert hrefs
        for raw, absolute in hrefs:
            if raw.startswith("#"):
                assert page.locator(f"[id='{raw[1:]}']").count() == 1, raw
                continue
            url = urlparse(absolute)
            assert url.scheme == "file", absolute
            assert Path(unquote(url.path)).exists(), f"{page_path.name}: {raw} -> {absolute}"
        assert all(u.startswith("file://") for u in opened.requests), opened.requests
        assert page.locator("a[href^='data:'], [src^='data:']").count() == 0
        page.close()


def test_copying_the_report_folder_keeps_every_link(
    browser_context: Any, report_runs: ReportRuns, tmp_path: Path
) -> None:
    copy = tmp_path / "artifact"
    shutil.copytree(report_runs.failing_dir / "latest", copy)
    page = open_report(browser_context, copy / "index.html").page
    for raw, absolute in page.eval_on_selector_all(
        "a[href]:not([href^='#'])", "as => as.map(a => [a.getAttribute('href'), a.href])"
    ):
        assert Path(unquote(urlparse(absolute).path)).exists(), raw
    page.close()


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: tuple[float, float, float], bg: tuple[float, float, float]) -> float:
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


COLORS_JS = """els => els.filter(e => e.offsetParent !== null && [...e.childNodes].some(
    n => n.nodeType === Node.TEXT_NODE && n.textContent.trim())).map(e => {
  const parse = c => (c.match(/[\\d.]+/g) || []).map(Number);
  let fg = parse(getComputedStyle(e).color), node = e, bg = null;
  while (node) {
    const b = parse(getComputedStyle(node).backgroundColor);
    if (b.length === 3 || (b.length === 4 && b[3] > 0)) { bg = b; break; }
    node = node.parentElement;
  }
  return [e.tagName + '.' + e.className, fg.slice(0, 3), (bg || [255, 255, 255]).slice(0, 3)];
})"""


@pytest.mark.parametrize("name", ["green", "failing", "partial"])
def test_text_contrast_and_800_px(browser_context: Any, report_runs: ReportRuns, name: str) -> None:
    page = open_report(browser_context, reports(report_runs)[name], width=800).page
    page.eval_on_selector_all("details", "ds => ds.forEach(d => d.open = true)")
    samples = page.eval_on_selector_all("body *", COLORS_JS)  # every element with text
    assert samples
    low = [
        (what, fg, bg, round(contrast(tuple(fg), tuple(bg)), 2))
        for what, fg, bg in samples
        if contrast(tuple(fg), tuple(bg)) < 4.5
    ]
    assert low == []
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 800
    table = page.locator("table.irp-criteria").bounding_box()
    assert table is not None
    assert table["x"] + table["width"] <= 800
    page.close()


@pytest.mark.parametrize("name", ["green", "failing", "partial"])
def test_first_screen_shows_verdict_root_cause_and_criteria(
    browser_context: Any, report_runs: ReportRuns, name: str
) -> None:
    page = open_report(browser_context, reports(report_runs)[name]).page
    height = FIRST_SCREEN["height"]
    # a failing report opens on its fix list (every problem, each with its next step),
    # which may push the criteria table below the first screen
    first = ("#verdict", "#root-cause") if name == "failing" else ("#verdict", "tr.check")
    for selector in first:
        box = page.locator(selector).first.bounding_box()
        assert box is not None, selector
        assert box["y"] < height, selector
    if name != "green":
        box = page.locator("#root-cause li").first.bounding_box()
        assert box is not None
        assert box["y"] + box["height"] < height  # the first problem whole
    target = os.environ.get("REPORT_SCREENSHOTS_DIR")
    if target:
        page.screenshot(path=str(Path(target) / f"report-{name}.png"))
    page.close()


def test_green_first_screen_shows_what_the_reviewer_signs(
    browser_context: Any, report_runs: ReportRuns
) -> None:
    """At 1280x800: the verdict, the count of findings by severity, the digest chain
    (built -> pushed -> running), the total duration with start and end, the SHA and the
    stages' durations, without scrolling; the count pills read "PASS 11"."""
    page = open_report(browser_context, reports(report_runs)["green"]).page
    height = FIRST_SCREEN["height"]
    for selector in (
        "#verdict h1",
        "#first-findings",
        "#first-digests",
        "#first-duration",
        "#first-sha",
        "#first-stages",
    ):
        box = page.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["y"] + box["height"] <= height, selector
    banner = page.locator("#verdict").inner_text()
    assert "PASSED" in banner
    assert re.search(r"\d+ findings: \d+ errors?, \d+ warnings?, \d+ infos?", banner)
    assert re.search(r"built .+ → pushed .+ → running", banner)
    assert re.search(r"Duration: .+ \(started \d{4}-\d\d-\d\d .+, ended ", banner)
    assert re.search(r"PASS \d+", page.locator(".counts").first.inner_text())
    # headers keep their words whole
    for header in page.locator("th").all():
        if header.is_visible():
            lines = header.evaluate(
                "h => { const r = document.createRange(); r.selectNodeContents(h); "
                "return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; }"
            )
            assert lines <= 1, header.inner_text()
    page.close()

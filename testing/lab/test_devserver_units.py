"""The lab's ``devenv up`` stand-in (:mod:`pytest_irp_lab.devserver`), its pure parts: the
app's welcome view and plain routes read from the app's sources."""

from __future__ import annotations

from pathlib import Path

from pytest_irp_lab import devserver

SAMPLE = Path(__file__).resolve().parents[2] / "lab" / "app"


def test_welcome_view_inside_the_layout_with_route_links() -> None:
    page = devserver.welcome_page(SAMPLE)
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>ihp-railiance-probe</title>" in page
    assert "<main><h1>ihp-railiance-probe</h1>" in page
    assert '<a href="/probes">/probes</a>' in page
    assert '<a href="/healthz">/healthz</a>' in page
    assert "{" not in page


def test_plain_routes_are_the_actions_rendering_plain_text() -> None:
    assert devserver.plain_routes(SAMPLE) == {"/healthz": "ok"}
    assert ("/probes", "ProbesAction") in devserver.routes(SAMPLE)


def test_unknown_expressions_render_empty() -> None:
    block = devserver.hsx_block("x = [hsx|<p class={cls}>{name}</p>|]")
    assert devserver.render_hsx(block, {}) == "<p class=></p>"


def test_dev_url_is_port_8000_on_the_lab_bridge() -> None:
    assert devserver.DEV_URL == "http://10.77.0.1:8000"

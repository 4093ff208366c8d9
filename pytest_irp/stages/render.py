"""The render stage (T08): ``helm template`` of the chart, the manifests judged against
the workplan's key notes (:func:`pytest_irp.judge.chart_problems`); a chart that breaks
them is recorded and :class:`~pytest_irp.stage.Unusable`: T08's check judges the
manifests, and the release (which needs them) is BLOCKED rather than deployed."""

from __future__ import annotations

from typing import Any

from .. import judge
from ..helm import chart_path, image_sets, template_argv
from ..stage import StageContext, Step, Unusable
from ..values import RenderedChart


def commands(ctx: StageContext, tag: str) -> Step:
    s: Any = ctx.settings
    return Step(
        "local",
        tuple(template_argv(s["helm"], s, chart_path(ctx), image_sets(ctx, tag))),
        s["timeout_render"],
        "render and check the workplan's key notes (a chart that breaks them is not deployed)",
    )


def plan(ctx: StageContext) -> list[Step]:
    return [commands(ctx, ctx.facts.tag_or())]


def run(ctx: StageContext) -> RenderedChart:
    s = ctx.settings
    tag = ctx.facts.tag()
    rendered = ctx.run("local", commands(ctx, tag).argv, what="helm template")
    manifests = judge.load_manifests(rendered.stdout)
    expected_image = f"{s['registry']}:{tag}" if s.get("registry") else None
    problems = judge.chart_problems(manifests, expected_image)
    if not any(m.get("kind") == "Secret" for m in manifests):
        ctx.finding(
            "info",
            "The chart renders no Secret",
            "The env Secret is created by the release stage (T10) when missing, never overwritten.",
        )
    value: RenderedChart = {
        "kinds": [m.get("kind") for m in manifests],
        "problems": problems,
        "manifests": judge.masked_manifests(manifests),
        "expected_image": expected_image,
    }
    if problems:  # T08's check judges the manifests; the release is BLOCKED
        raise Unusable(
            value,
            "the chart breaks the workplan's key notes: " + "; ".join(problems),
            details=rendered.tail(60),
        )
    return value

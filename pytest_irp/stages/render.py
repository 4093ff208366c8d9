"""The render stage (T08): ``helm template`` of the chart, the manifests judged against
the workplan's key notes (:func:`pytest_irp.judge.chart_problems`); a chart that breaks
them fails here, so the release (which needs it) is BLOCKED rather than deployed."""

from __future__ import annotations

from typing import Any

from .. import judge
from ..helm import chart_path, image_sets, template_argv
from ..stage import StageContext, StageError, Step
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
    if problems:
        raise StageError(
            "the chart breaks the workplan's key notes: " + "; ".join(problems),
            details=rendered.tail(60),
        )
    return {
        "kinds": [m.get("kind") for m in manifests],
        "problems": problems,
        "manifests": judge.masked_manifests(manifests),
        "expected_image": expected_image,
    }

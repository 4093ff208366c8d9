"""The chart stage (T08's exit criterion): ``helm lint --strict`` of the app's chart with
the image's values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..helm import chart_path, image_sets, lint_argv
from ..stage import StageContext, StageError, Step
from ..values import ChartLint


def commands(ctx: StageContext, tag: str) -> Step:
    s: Any = ctx.settings
    return Step(
        "local",
        tuple(lint_argv(s["helm"], chart_path(ctx), image_sets(ctx, tag))),
        s["timeout_chart"],
        "T08 exit criterion",
    )


def plan(ctx: StageContext) -> list[Step]:
    return [commands(ctx, ctx.facts.tag_or())]


def run(ctx: StageContext) -> ChartLint:
    chart = chart_path(ctx)
    if not Path(chart, "Chart.yaml").is_file():
        raise StageError(f"no chart at {chart} (Chart.yaml missing; setting 'chart')")
    lint = ctx.run("local", commands(ctx, ctx.facts.tag()).argv, check=False)
    if not lint.ok:
        raise StageError(f"`helm lint --strict` failed: {lint.tail(8)}", details=lint.tail(40))
    return {"lint_rc": lint.rc, "lint_output": lint.tail(10)}

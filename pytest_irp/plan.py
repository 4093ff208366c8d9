"""Plan mode: the stages the selected criteria need, in order, with the exact commands,
their hosts and time limits. Nothing is run and nothing is contacted."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

import pytest

from .fixtures import STAGE_FIXTURES
from .outcomes import criterion_of
from .stage import Pipeline
from .stages import BY_NAME


def needed_stages(pipeline: Pipeline, items: Sequence[pytest.Item]) -> list[str]:
    direct = {
        STAGE_FIXTURES[f]
        for item in items
        if criterion_of(item)
        for f in getattr(item, "fixturenames", [])
        if f in STAGE_FIXTURES
    }
    return pipeline.closure(sorted(direct))


def plan_text(pipeline: Pipeline, items: Sequence[pytest.Item]) -> str:
    criteria = sorted({c for item in items if (c := criterion_of(item))})
    lines = [
        "",
        "pytest-irp plan (nothing is run; secrets masked)",
        f"criteria: {', '.join(criteria)}",
        "",
    ]
    stages = needed_stages(pipeline, items)
    lines += unset_lines(pipeline, stages)
    steps = {name: pipeline.plan(name) for name in stages}
    hosts = sorted({step.host for name in stages for step in steps[name]} - {"local"})
    if hosts:
        lines.append("remote commands run as:")
        wrappers = {host: pipeline.runner(host).display_argv(["COMMAND..."]) for host in hosts}
        for host, wrapper in wrappers.items():
            lines.append(f"  [{host}] $ {shlex.join(wrapper)}")
        if any("irp-ssh-XXXXXXXX" in arg for wrapper in wrappers.values() for arg in wrapper):
            lines.append(
                "  (irp-ssh-XXXXXXXX: the run's private ControlPath directory, made "
                "at its first ssh command: one connection per host)"
            )
        lines.append("")
    lines += preflight_lines(pipeline, stages)
    for number, name in enumerate(stages, 1):
        stage = pipeline.stages[name]
        timeout = pipeline.settings.get(BY_NAME[name].timeout_setting, 0)
        needs = f" after {', '.join(stage.needs)}" if stage.needs else ""
        lines.append(
            f"{number:2}. {name} [{stage.criterion}] {stage.title}{needs} (timeout {timeout:.0f}s)"
        )
        for step in steps[name]:
            lines.append(
                f"      [{step.host}] $ {shlex.join(step.argv)}   # timeout {step.timeout:.0f}s"
            )
            if step.note:
                lines.append(f"        {step.note}")
    checks = [item for item in items if criterion_of(item)]
    lines += ["", f"checks ({len(checks)}):"]
    lines += [f"  {criterion_of(item)}  {item.nodeid}" for item in checks]
    return "\n".join(lines)


def preflight_lines(pipeline: Pipeline, stages: Sequence[str]) -> list[str]:
    """The preflight's read-only checks, when the run gets one (or --irp-preflight)."""
    from .preflight import plan_steps, selected, wanted

    settings = pipeline.settings
    if not wanted(stages, forced=bool(settings["preflight"])):
        return []
    lines = [
        " 0. preflight (read-only; in parallel with source; a failed check decides its "
        "stage at once)"
    ]
    for pre, stage in selected(stages):
        lines.append(
            f"      {pre.name} -> {stage} [{pipeline.stages[stage].criterion}]: {pre.title}"
        )
        for step in plan_steps(settings, pre):
            lines.append(
                f"        [{step.host}] $ {shlex.join(step.argv)}   # timeout {step.timeout:.0f}s"
            )
            if step.note:
                lines.append(f"          {step.note}")
    return lines


# the settings a stage cannot run without (Resolved.require in the stage and its tools)
REQUIRED: dict[str, tuple[str, ...]] = {
    "source": ("host",),
    "flake": ("host",),
    "spec": ("host",),
    "prebuild": ("host",),
    "build": ("host",),
    "push": ("host", "registry", "registry_user", "registry_password"),
    "mirror": ("registry",),
    "pull": ("registry",),
    "live": ("base_url",),
}


def unset_lines(pipeline: Pipeline, stages: Sequence[str]) -> list[str]:
    """The required settings the planned stages lack, by name and how to give them: the
    plan shows ``<host>``-like placeholders where they stand."""
    from .settings import BY_NAME

    missing: dict[str, list[str]] = {}
    for stage in stages:
        for name in REQUIRED.get(stage, ()):
            if pipeline.settings.values.get(name) in (None, ()):
                missing.setdefault(name, []).append(stage)
    if not missing:
        return []
    lines = ["UNSET settings the planned stages need (placeholders like <host> stand for them):"]
    for name, needing in missing.items():
        s = BY_NAME[name]
        ways = [s.env, f"{name}_file"] if s.secret else [s.option, s.env]
        lines.append(f"  {name}: needed by {', '.join(needing)}; give it with {' or '.join(ways)}")
    return [*lines, ""]

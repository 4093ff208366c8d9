"""The prebuild stage (T06): the build host's pre-build checklist (nix present, free disk
and memory, the GHC archive's size, no other build running), judged by
:func:`pytest_irp.nix.prebuild_problems` before hours of building start (facts that
fail it are recorded and :class:`~pytest_irp.stage.Unusable`: T06's check judges them,
the build does not start)."""

from __future__ import annotations

from typing import Any, cast

from .. import remote
from ..nix import parse_facts, prebuild_problems
from ..stage import StageContext, Step, Unusable
from ..values import PrebuildFacts


def commands(s: Any, host: str) -> Step:
    argv = remote.argv(
        "prebuild", s["app_name"], *([s["libhsghc_path"]] if s.get("libhsghc_path") else [])
    )
    return Step(
        host,
        tuple(argv),
        s["timeout_prebuild"],
        "nix version, free disk and memory, GHC archive size, running builds",
    )


def plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    return [commands(s, s.get("host", "<host>"))]


def run(ctx: StageContext) -> PrebuildFacts:
    s = ctx.settings
    host = s.require("host")
    facts = parse_facts(ctx.run(host, commands(s, host).argv, what="pre-build checks").stdout)
    value = cast(PrebuildFacts, {k: v[0] if len(v) == 1 else v for k, v in facts.items()})
    problems = prebuild_problems(value, s, ctx.facts.sha())
    if not s.get("libhsghc_path"):
        ctx.finding(
            "info",
            "GHC archive size not checked",
            "libhsghc_path is not set, so the workplan's Bug 2 check was skipped.",
            "Set libhsghc_path (and libhsghc_size) to check it.",
        )
    if problems:  # T06's check judges the facts; nothing builds on this host now
        raise Unusable(value, "pre-build checks failed on " + host + ": " + "; ".join(problems))
    return value

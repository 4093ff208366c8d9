"""The prebuild stage (T06): the build host's pre-build checklist (nix present, free disk
and memory, the GHC archive's size, no other build running), judged by
:func:`pytest_irp.nix.judge_prebuild` before hours of building start."""

from __future__ import annotations

from typing import Any, cast

from .. import remote
from ..nix import judge_prebuild, parse_facts
from ..stage import StageContext, StageError, Step
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
    problems = judge_prebuild(
        facts,
        sha=ctx.facts.sha(),
        lib_path=s.get("libhsghc_path"),
        lib_size=s["libhsghc_size"],
        min_disk_mb=s["min_free_disk_mb"],
        min_mem_mb=s["min_free_mem_mb"],
    )
    if not s.get("libhsghc_path"):
        ctx.finding(
            "info",
            "GHC archive size not checked",
            "libhsghc_path is not set, so the workplan's Bug 2 check was skipped.",
            "Set libhsghc_path (and libhsghc_size) to check it.",
        )
    if problems:
        raise StageError("pre-build checks failed on " + host + ": " + "; ".join(problems))
    return cast(PrebuildFacts, {k: v[0] if len(v) == 1 else v for k, v in facts.items()})

"""Runs the preflight (:mod:`pytest_irp.preflight`): every selected precondition in its own
thread, in parallel with each other and with the source stage; then, before any other stage
starts, its outcome is printed and each failed precondition decides its stage.

Every call is read-only: commands that print facts (``--version``, ``sudo -n true``, ``test
-r``, ``getent``), anonymous and token GETs to the registry, a namespace read and
SelfSubjectAccessReviews (answered by the API server, never stored).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .preflight import (
    CHECK_TIMEOUT,
    PARALLEL_STAGES,
    Failed,
    Precondition,
    Verdict,
    outcome_lines,
    paragraph,
    selected,
    stage_cause,
    wanted,
)
from .preflight_probes import IMPORTS, PROBES
from .settings import SettingError
from .stage import Pipeline, StageError, StageResult, Unusable, one_paragraph

# --------------------------------------------------------------------------- running


class Preflight:
    """The preflight of one run: started in the background, joined before the first stage
    that is not run in parallel with it (see :attr:`Pipeline.gate`)."""

    def __init__(self, pipeline: Pipeline, stages: Sequence[str]) -> None:
        self.pipeline = pipeline
        self.stages = pipeline.closure([s for s in stages if s in pipeline.stages])
        self.checks = selected(self.stages)
        self.verdicts: list[Verdict] = []
        self._thread: threading.Thread | None = None

    def hosts(self) -> list[str]:
        s = self.pipeline.settings
        names = {p.name for p, _ in self.checks}
        hosts = ["local"]
        if names & {"build-host", "skopeo"} and s.get("host"):
            hosts.append(str(s["host"]))
        if "node" in names:
            hosts.append(str(s["node_host"]))
        return hosts

    def _prepare(self) -> None:
        """Runners are made here, in the caller's thread (their cache is not locked)."""
        for host in self.hosts():
            runner = self.pipeline.runner(host)
            control = getattr(runner, "control_path", None)
            if callable(control):
                control()

    def start(self, after: threading.Thread | None = None) -> None:
        self._prepare()
        self._thread = threading.Thread(
            target=self.run_all, args=(after,), name="irp-preflight", daemon=True
        )
        self._thread.start()

    def run_all(self, after: threading.Thread | None = None) -> list[Verdict]:
        """Every check in its own thread. The modules they use are imported first, one
        after the other (after the pipeline's prefetch thread): two threads importing
        requests at once can see it half-initialised."""
        if not self.checks:
            return []
        if after is not None:
            after.join()
        names = {p.name for p, _ in self.checks}
        for module, users in IMPORTS:
            if names & users:
                with contextlib.suppress(Exception):  # the check's own import reports it
                    importlib.import_module(module)
        with ThreadPoolExecutor(
            max_workers=len(self.checks), thread_name_prefix="irp-preflight"
        ) as pool:
            futures = [pool.submit(self.check, pre, stage) for pre, stage in self.checks]
            self.verdicts = [v for f in futures for v in f.result()]
        return self.verdicts

    def check(self, pre: Precondition, stage: str) -> list[Verdict]:
        """The verdict of one precondition, then one per independent problem its check
        found besides (:attr:`Failed.also`: e.g. the node's registries.yaml, readable
        without the sudo that asks for a password, lacking the mirror)."""
        pipeline = self.pipeline
        ctx = pipeline.context(pipeline.stages[stage], time.monotonic() + 4 * CHECK_TIMEOUT)
        started = time.monotonic()
        verdict = Verdict(pre.name, stage, True)
        extra: list[Verdict] = []
        try:
            verdict.notes = PROBES[pre.name](ctx, self.stages)
        except Failed as exc:
            verdict = Verdict(pre.name, exc.stage or stage, False, exc.cause, exc.fix)
            extra = [Verdict(pre.name, a.stage or stage, False, a.cause, a.fix) for a in exc.also]
        except StageError as exc:
            verdict = Verdict(
                pre.name,
                stage,
                False,
                exc.cause,
                "fix what the cause names on the host (these are the "
                f"{stage} stage's own checks, run early)",
                value=dict(exc.value) if isinstance(exc, Unusable) else {},
            )
        except SettingError as exc:
            verdict = Verdict(pre.name, stage, False, str(exc).rstrip("."))
        except Exception as exc:  # a bug or an unexpected environment: never raise
            verdict = Verdict(
                pre.name,
                stage,
                False,
                f"internal error in the preflight check {pre.name}: {type(exc).__name__}: {exc}",
            )
        redact = pipeline.redactor.redact
        duration = time.monotonic() - started
        for v in (verdict, *extra):
            v.cause = one_paragraph(redact(v.cause)).rstrip(".")
            v.fix = redact(v.fix)
            v.notes = [redact(n) for n in v.notes]
            v.duration = duration
        verdict.commands, verdict.findings = ctx.commands, ctx.findings
        return [verdict, *extra]

    def gate(self, name: str) -> None:
        """:attr:`Pipeline.gate`: before the first stage not run in parallel with the
        preflight, wait for it, show its outcome and decide the stages it failed."""
        if name in PARALLEL_STAGES:
            return
        self.pipeline.gate = None
        if self._thread is not None:
            self._thread.join()
        self.decide()

    def decide(self) -> None:
        pipeline = self.pipeline
        criteria = {n: st.criterion for n, st in pipeline.stages.items()}
        for line in outcome_lines(self.verdicts, criteria, compact=not pipeline.verbose):
            pipeline.progress("preflight", line)
        now = time.time()
        pipeline.preflight = list(self.verdicts)
        # every failed precondition decides the stage it gates, also when an upstream stage
        # already failed: the criterion whose own precondition failed FAILS with that cause
        # (not BLOCKED by another stage), so one run names every problem the preflight found
        failing: dict[str, list[Verdict]] = {}
        for v in self.verdicts:
            if not v.ok and v.stage not in pipeline.results:
                failing.setdefault(v.stage, []).append(v)
        for stage, verdicts in failing.items():
            if self.may_reuse(stage):
                pipeline.progress(
                    "preflight",
                    f"stage {stage} not decided: --irp-reuse may "
                    f"take its saved result (else it fails on its own)",
                )
                continue
            crit = criteria[stage]
            pipeline.results[stage] = StageResult(
                stage,
                crit,
                "failed",
                cause=one_paragraph("; ".join(stage_cause(v) for v in verdicts)),
                root_stage=stage,
                root_criterion=crit,
                value=_first_value(verdicts, pipeline),
                commands=[c for v in verdicts for c in v.commands],
                findings=[f for v in verdicts for f in v.findings],
                started=now - max(v.duration for v in verdicts),
                duration=max(v.duration for v in verdicts),
            )

    def may_reuse(self, stage: str) -> bool:
        """Whether ``--irp-reuse`` has a saved result of the stage (the key is checked when
        the stage comes: it depends on upstream results not known yet). Such a stage is left
        to the pipeline: reused when its inputs are unchanged, else run (and failing)."""
        pipeline = self.pipeline
        if not pipeline.reuse or stage in pipeline.force or pipeline.cache is None:
            return False
        saved = pipeline.cache.get(f"irp/stage/{stage}", None)  # Pipeline._save's key
        return isinstance(saved, dict) and bool(saved.get("key"))

    def paragraphs(self) -> list[str]:
        criteria = {n: st.criterion for n, st in self.pipeline.stages.items()}
        return [paragraph(v, criteria[v.stage]) for v in self.verdicts if not v.ok]


def start(
    pipeline: Pipeline, stages: Sequence[str], after: threading.Thread | None = None
) -> Preflight | None:
    """At the start of a run: the preflight of the stages it needs, in the background, when
    one of them is long; the pipeline waits for it before its first non-parallel stage.
    ``after``: the prefetch thread, whose imports the preflight's must not overlap."""
    preflight = Preflight(pipeline, stages)
    if not wanted(preflight.stages) or not preflight.checks:
        return None
    pipeline.gate = preflight.gate
    preflight.start(after)
    return preflight


def run_only(pipeline: Pipeline, stages: Sequence[str], write: Callable[[str], Any]) -> int:
    """``--irp-preflight``: the preflight alone; returns the number of failed
    preconditions after writing the outcome and one paragraph per failure."""
    preflight = Preflight(pipeline, stages)
    preflight._prepare()
    verdicts = preflight.run_all()
    criteria = {n: st.criterion for n, st in pipeline.stages.items()}
    redact = pipeline.redactor.redact
    write("")
    write(f"pytest-irp preflight of: {', '.join(preflight.stages) or '(no stage)'}")
    for line in outcome_lines(verdicts, criteria):
        write(redact(f"irp [preflight] {line}"))
    failures = preflight.paragraphs()
    if failures:
        write("")
        for text in failures:
            write(redact(text))
            write("")
    return len(failures)


def _first_value(verdicts: list[Verdict], pipeline: Pipeline) -> Any:
    """The facts a failed precondition collected (the prebuild's), masked, for the checks
    of its own criterion to judge; None when no verdict collected any."""
    for v in verdicts:
        if v.value is not None:
            return json.loads(pipeline.redactor.redact(json.dumps(v.value, default=str)))
    return None

"""Stages: run at most once per session, never raise, always return a result.

A :class:`Stage` is a named step of the pipeline that belongs to one exit criterion and
needs other stages. :class:`Pipeline` runs a stage on first request, after the stages it
needs; if one of those did not succeed, the stage is not run and its result is
``blocked`` naming the stage that failed first. Results carry the commands run (masked),
findings, saved logs, timings and the cause of failure, and can be saved and reused when
their inputs are unchanged.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from . import remote, reuse
from .facts import Facts
from .fileio import write_atomic
from .redact import Redactor, mask_tree
from .runners import CommandResult, LineCallback, Runner
from .settings import Resolved, SettingError

Status = Literal["ok", "failed", "blocked"]
EXCERPT_CHARS = 4000
DETAILS_CHARS = 12000  # a failure's details: a build's last 40 lines, a rollout's diagnostics


class StageError(Exception):
    """A stage's own failure: ``cause`` is the one-paragraph reason shown to the user."""

    def __init__(self, cause: str, *, log: str | None = None, details: str = "") -> None:
        super().__init__(cause)
        self.cause = cause
        self.log = log
        self.details = details


class Unusable(StageError):
    """The stage recorded its facts, but what it made cannot be used by the stages that
    need it (a checkout at another SHA, a push the registry does not list): the result is
    ``failed`` with ``value`` (the facts), so those stages are BLOCKED while the checks of
    the stage's own criterion get the facts and each judges them (:func:`outcomes.require`)."""

    def __init__(self, value: Mapping[str, Any], cause: str, *, details: str = "") -> None:
        super().__init__(cause, details=details)
        self.value = value


@dataclass(frozen=True)
class Finding:
    """Something the user should know even when the check passes (with its fix)."""

    stage: str
    severity: Literal["info", "warning", "error"]
    title: str
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Step:
    """One command a stage runs (or would run): for plans and records."""

    host: str
    argv: tuple[str, ...]
    timeout: float
    note: str = ""
    stdin: str = ""


@dataclass
class StageResult:
    stage: str
    criterion: str
    status: Status
    value: dict[str, Any] = field(default_factory=dict)
    cause: str = ""
    details: str = ""
    root_stage: str = ""
    root_criterion: str = ""
    commands: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)
    started: float = 0.0
    duration: float = 0.0
    key: str = ""
    reused_from: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def unusable(self) -> bool:
        """Failed with its facts recorded (:class:`Unusable`): its criterion's checks judge."""
        return self.status == "failed" and bool(self.value)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["findings"] = [asdict(f) for f in self.findings]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StageResult:
        fields = dict(data)
        fields["findings"] = [Finding(**f) for f in fields.get("findings", [])]
        return cls(**fields)


class Cache(Protocol):
    def get(self, key: str, default: Any) -> Any: ...
    def set(self, key: str, value: Any) -> None: ...


class Progress(Protocol):
    def __call__(self, stage: str, message: str) -> None: ...


@dataclass
class StageContext:
    """What a running stage may use: settings, runners, records, logs, deadline."""

    stage: Stage
    settings: Resolved
    redactor: Redactor
    facts: Facts
    runners: Callable[[str], Runner]
    results: Callable[[str], StageResult]
    log_dir: Path
    progress: Progress
    deadline: float
    # a stage's result if it already ran, never running it (what a run proved so far)
    known: Callable[[str], StageResult | None] = lambda _name: None
    commands: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise StageError(
                f"stage {self.stage.name} ran out of time (timeout_{self.stage.name} exceeded)"
            )
        return left

    def upstream(self, name: str) -> dict[str, Any]:
        return self.results(name).value

    def run(
        self,
        host: str,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        on_line: LineCallback | None = None,
        what: str = "",
    ) -> CommandResult:
        """Run a command, record it, and (with ``check``) turn failure into StageError."""
        limit = min(timeout, self.remaining()) if timeout else self.remaining()
        result = self.runners(host).run(argv, timeout=limit, input=input, env=env, on_line=on_line)
        self.record(result)
        if check and not result.ok:
            raise StageError((what + ": " if what else "") + result.describe_failure())
        return result

    def record(self, result: CommandResult) -> None:
        self.commands.append(
            {
                "host": result.host,
                "argv": remote.display(result.argv),
                "rc": result.rc,
                "duration": round(result.duration, 3),
                "timed_out": result.timed_out,
                "stdout": _excerpt(self.redactor.redact(result.stdout)),
                "stderr": _excerpt(self.redactor.redact(result.stderr)),
            }
        )

    def finding(
        self, severity: Literal["info", "warning", "error"], title: str, detail: str, fix: str = ""
    ) -> None:
        self.findings.append(
            Finding(
                self.stage.name,
                severity,
                self.redactor.redact(title),
                self.redactor.redact(detail),
                self.redactor.redact(fix),
            )
        )

    def save_log(self, name: str, text: str) -> Path:
        """Save a full log beside the report (redacted, atomically)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / f"{self.stage.name}-{name}.log"
        write_atomic(path, self.redactor.redact(text))
        self.logs[name] = str(path)
        return path


def _excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"[... {len(text) - limit} chars cut ...]\n" + text[-limit:]


def one_paragraph(text: str, limit: int = 1200) -> str:
    """A cause for the user: one paragraph, lines joined with ' | ', size-capped."""
    joined = " | ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return joined if len(joined) <= limit else joined[:limit] + " [...]"


@dataclass(frozen=True)
class Stage:
    """A step of the pipeline.

    ``run`` returns the stage's value (JSON-able) or raises :class:`StageError`.
    ``plan`` lists the commands it would run. ``key`` lists what its result depends on
    (for reuse); ``None`` means the result is never reused. ``hosts`` names the settings
    of the hosts it runs commands on (required before any stage runs). ``imports`` names the slow
    Python modules ``run`` will import (see :meth:`Pipeline.prefetch`).
    """

    name: str
    criterion: str
    title: str
    needs: tuple[str, ...]
    run: Callable[[StageContext], Mapping[str, Any]]
    plan: Callable[[StageContext], list[Step]]
    key: Callable[[Facts], Mapping[str, Any]] | None = None
    hosts: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()


class Pipeline:
    """Runs stages on demand, each at most once, in dependency order."""

    def __init__(
        self,
        stages: Sequence[Stage],
        settings: Resolved,
        redactor: Redactor,
        *,
        make_runner: Callable[[str], Runner],
        log_dir: Path,
        cache: Cache | None = None,
        run_id: str = "",
        reuse: bool = False,
        force: Sequence[str] = (),
        progress: Progress | None = None,
    ) -> None:
        self.stages = {s.name: s for s in stages}
        self.order = [s.name for s in stages]
        self.settings = settings
        self.redactor = redactor
        self._make_runner = make_runner
        self._runners: dict[str, Runner] = {}
        self.log_dir = log_dir
        self.cache = cache
        self.run_id = run_id
        self.reuse = reuse
        self.force = set(force)
        self.progress: Progress = progress or (lambda stage, message: None)
        self.results: dict[str, StageResult] = {}
        # called before a stage's first request (the preflight waits there; see
        # pytest_irp.preflight_run); it may decide the stage by putting a result in results
        self.gate: Callable[[str], None] | None = None
        self.preflight: list[Any] = []  # the preflight's verdicts, every one (problems.py)
        self.verbose = False  # -v: progress lines in full (else one line each, causes at the end)
        self.facts = Facts(settings, self.runner("local"))
        unknown = self.force - set(self.stages)
        if unknown:
            raise SettingError(
                f"setting 'force': unknown stage(s) {', '.join(sorted(unknown))}"
                f" (stages: {', '.join(self.order)})."
            )

    def runner(self, host: str) -> Runner:
        if host not in self._runners:
            self._runners[host] = self._make_runner(host)
        return self._runners[host]

    def prefetch(self, names: Sequence[str]) -> threading.Thread | None:
        """Import the slow modules of these stages (and of what they need) in a background
        thread, so that they load while earlier stages wait on remote commands: requests
        (0.2 s here) during the build, kubernetes (0.3 s) before the release. A module
        that fails to import is left to the stage, which reports it."""
        known = [name for name in names if name in self.stages]
        modules = [m for name in self.closure(known) for m in self.stages[name].imports]
        modules = [m for m in dict.fromkeys(modules) if m not in sys.modules]
        if not modules:
            return None

        def load() -> None:
            for module in modules:
                try:
                    importlib.import_module(module)
                except Exception:  # the stage's own import reports the problem
                    return

        thread = threading.Thread(target=load, name="irp-prefetch", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        for runner in self._runners.values():
            runner.close()

    def closure(self, names: Sequence[str]) -> list[str]:
        """The named stages and everything they need, in pipeline order."""
        wanted: set[str] = set()

        def visit(name: str) -> None:
            if name not in wanted:
                wanted.add(name)
                for need in self.stages[name].needs:
                    visit(need)

        for name in names:
            visit(name)
        return [n for n in self.order if n in wanted]

    def context(self, stage: Stage, deadline: float) -> StageContext:
        return StageContext(
            stage=stage,
            settings=self.settings,
            redactor=self.redactor,
            facts=self.facts,
            runners=self.runner,
            results=self.result,
            log_dir=self.log_dir,
            progress=self.progress,
            deadline=deadline,
            known=self.results.get,
        )

    def plan(self, name: str) -> list[Step]:
        """The commands the stage would run, as its run builds them (remote scripts shown
        by their file name)."""
        stage = self.stages[name]
        steps = stage.plan(self.context(stage, time.monotonic() + 1e9))
        return [replace(step, argv=tuple(remote.display(step.argv))) for step in steps]

    def result(self, name: str) -> StageResult:
        if self.gate is not None and name not in self.results:
            self.gate(name)
        if name not in self.results:
            self.results[name] = self._run(self.stages[name])
        return self.results[name]

    def _key(self, stage: Stage) -> str:
        if stage.key is None:
            return ""
        inputs = {
            "stage": stage.name,
            "inputs": stage.key(self.facts),
            "upstream": [self.result(n).key for n in stage.needs],
        }
        return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()

    def _run(self, stage: Stage) -> StageResult:
        for need in stage.needs:
            upstream = self.result(need)
            if not upstream.ok:
                root = self.results[upstream.root_stage or need]
                return StageResult(
                    stage.name,
                    stage.criterion,
                    "blocked",
                    cause=root.cause,
                    root_stage=root.stage,
                    root_criterion=root.criterion,
                )
        started = time.time()
        timeout = float(self.settings.get(f"timeout_{stage.name}", 600))
        ctx = self.context(stage, time.monotonic() + timeout)
        reads: set[str] = set()  # the settings the stage reads: part of its reuse key
        ctx.settings = reuse.recording(self.settings, reads)
        try:
            key = self._key(stage)
        except SettingError as exc:
            return self._failed(stage, ctx, str(exc), started)
        versions = reuse.upstream_tools(
            {n: self.results[n].value for n in stage.needs if self.stages[n].key is None}
        )
        saved = self._saved(stage, key, versions)
        if saved is not None:
            return saved
        self.progress(stage.name, f"{stage.title} ...")
        try:
            value = stage.run(ctx)
        except StageError as exc:
            if exc.log:
                ctx.save_log("failure", exc.log)
            failed = self._failed(stage, ctx, exc.cause, started, exc.details)
            if isinstance(exc, Unusable):
                failed.value = self._clean(exc.value)
            return failed
        except SettingError as exc:
            return self._failed(stage, ctx, str(exc), started)
        except Exception as exc:  # a bug or an unexpected environment: never raise
            ctx.save_log("traceback", traceback.format_exc())
            return self._failed(
                stage,
                ctx,
                f"internal error in stage {stage.name}: {type(exc).__name__}: {exc}",
                started,
            )
        result = StageResult(
            stage.name,
            stage.criterion,
            "ok",
            value=self._clean(value),
            commands=ctx.commands,
            findings=ctx.findings,
            logs=ctx.logs,
            started=started,
            duration=time.time() - started,
            key=key,
        )
        inputs = reuse.inputs(self.settings, reads, ctx.commands, versions) if key else None
        if inputs is not None:
            result.key = reuse.combined_key(key, inputs)
            self._save(stage, result, key, inputs)
        self.progress(stage.name, f"done in {result.duration:.1f}s")
        return result

    def _failed(
        self, stage: Stage, ctx: StageContext, cause: str, started: float, details: str = ""
    ) -> StageResult:
        cause = one_paragraph(self.redactor.redact(cause))
        self.progress(stage.name, f"FAILED: {cause}")
        return StageResult(
            stage.name,
            stage.criterion,
            "failed",
            cause=cause,
            details=_excerpt(self.redactor.redact(details), DETAILS_CHARS),
            root_stage=stage.name,
            root_criterion=stage.criterion,
            commands=ctx.commands,
            findings=ctx.findings,
            logs=ctx.logs,
            started=started,
            duration=time.time() - started,
        )

    def _clean(self, value: Mapping[str, Any]) -> dict[str, Any]:
        """The value with every text in it masked; numbers and structure kept (masking
        its JSON text could cut a number or an escape)."""
        return dict(mask_tree(json.loads(json.dumps(value, default=str)), self.redactor))

    def _saved(self, stage: Stage, key: str, upstream: dict[str, str]) -> StageResult | None:
        """The saved result, when its key and every input it read are unchanged."""
        if not (self.reuse and key and self.cache is not None) or stage.name in self.force:
            return None
        saved = self.cache.get(f"irp/stage/{stage.name}", None)
        if not isinstance(saved, dict) or saved.get("key") != key:
            return None
        if not reuse.unchanged(self.settings, saved.get("inputs"), upstream):
            return None
        try:
            result = StageResult.from_json(saved["result"])
        except (KeyError, TypeError):
            return None
        result.reused_from = {"run_id": saved.get("run_id", "?"), "time": saved.get("time")}
        self.progress(stage.name, f"reused from run {saved.get('run_id')} at {saved.get('time')}")
        return result

    def _save(self, stage: Stage, result: StageResult, key: str, inputs: Any) -> None:
        if self.cache is None:
            return
        self.cache.set(
            f"irp/stage/{stage.name}",
            {
                "key": key,
                "inputs": inputs,
                "run_id": self.run_id,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(result.started)),
                "result": result.to_json(),
            },
        )

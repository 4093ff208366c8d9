"""The build stage (T06): a detached ``nix build`` of the image on the build host (one
lock per app; a rerun attaches to a running build of the same SHA), its log followed
through SSH drops, and ``result`` inspected. The log parsing and the archive checks are
pure functions in :mod:`pytest_irp.nix`."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from .. import remote
from ..nix import (
    LOG_TAIL_LINES,
    BuildProgress,
    first_build_error,
    inspect_problems,
    parse_inspect,
    parse_log_line,
    readable_log,
)
from ..retry import NotYet, RetryTimeout, poll
from ..runners import SSH_CONNECTION_ERROR
from ..stage import StageContext, StageError, Step, Unusable
from ..values import BuiltImage

MAX_REATTACH = 30
START_TIMEOUT = 60.0
INSPECT_TIMEOUT = 120.0
NOTHING_BUILT = (
    "(nix printed no build output: the image of this SHA was already in the build "
    "host's store, so nothing was built)\n"
)
GHCRTS_FINDING = (
    "GHCRTS does not reach GHC inside `nix build`",
    "nix clears the build environment, so `GHCRTS=-A32m -M2g` set in the calling shell "
    "(as the workplan requires) does not tune GHC during the build; it only affects "
    "programs run directly (runghc tests, RunProdServer).",
    "Limit build memory with nix's own options (-j1, --cores) or the app's GHC options in "
    "flake.nix; keep GHCRTS for the runtime.",
)


class Commands(NamedTuple):
    start: Step
    follow: Step
    inspect: Step


def build_args(settings: Any) -> list[str]:
    # -L before --log-format: older nix (2.8) takes -L for "--log-format bar-with-logs", so
    # a later -L would switch the internal-json log back to plain text; nix_options are
    # options by design, the installable comes after `--` (never read as an option)
    return [
        "-L",
        "--log-format",
        "internal-json",
        *settings["nix_options"],
        "--",
        settings["build_attr"],
    ]


def commands(s: Any, host: str, sha: str) -> Commands:
    def script(command: str, *extra: str) -> tuple[str, ...]:
        return tuple(remote.argv("build", command, s["remote_dir"], s["app_name"], sha, *extra))

    return Commands(
        Step(
            host,
            script("start", *build_args(s)),
            START_TIMEOUT,
            "detached nix build (lock per app; attaches to a running build of the same SHA)",
        ),
        Step(
            host,
            script("follow"),
            s["timeout_build"],
            "stream the log until the build exits (reattaches after an SSH drop)",
        ),
        Step(
            host,
            script("inspect"),
            INSPECT_TIMEOUT,
            "verify `result`: store path, readable archive, config, layers",
        ),
    )


def plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    return list(commands(s, s.get("host", "<host>"), ctx.facts.sha_or()))


def run(ctx: StageContext) -> BuiltImage:
    s = ctx.settings
    host = s.require("host")
    sha = ctx.facts.sha()
    steps = commands(s, host, sha)
    ctx.finding("info", *GHCRTS_FINDING)
    start = ctx.run(host, steps.start.argv, timeout=steps.start.timeout, check=False)
    if start.rc == 3:
        raise StageError(f"another build is running on {host}: {start.stdout.strip()}")
    if not start.ok:
        raise StageError(f"could not start nix build on {host}: {start.describe_failure()}")
    attached = "attach" in start.stdout
    ctx.progress(
        "build",
        ("attached to the running build" if attached else "nix build started")
        + f" of {sha[:12]} on {host}",
    )
    rc, raw = _follow(ctx, steps.follow)
    ctx.save_log("build", readable_log(raw) or NOTHING_BUILT)
    ctx.save_log("build-raw", raw)
    if rc != 0:
        text = readable_log(raw)
        tail = "\n".join(text.splitlines()[-LOG_TAIL_LINES:])
        errors = [
            e for e in (parse_log_line(line) for line in raw.splitlines()) if e.kind == "error"
        ]
        why = errors[-1].text.splitlines()[0] if errors else (tail.splitlines() or ["?"])[-1]
        first = first_build_error(raw)
        if first:
            why = f"{first} ({why})"
        raise StageError(
            f"`nix build {s['build_attr']}` on {host} failed (exit {rc}): {why}", details=tail
        )
    inspect = ctx.run(
        host, steps.inspect.argv, timeout=steps.inspect.timeout, what="inspecting the build result"
    )
    info = parse_inspect(inspect.stdout)
    value: BuiltImage = {
        "out_path": info.out_path,
        "compressed": info.compressed,
        "size": info.size,
        "layers": info.layers,
        "diff_ids": info.diff_ids,
        "repo_tags": info.repo_tags,
        "config": info.config.get("config", {}),
        "attached": attached,
        "sha": sha,
    }
    problems = inspect_problems(info)
    if problems:  # T06's checks judge the facts; nothing pushes this archive
        raise Unusable(value, "; ".join(problems))
    return value


def _follow(ctx: StageContext, step: Step) -> tuple[int, str]:
    """Stream the build log; reattach after SSH drops until the deadline."""
    host = step.host
    progress = BuildProgress()
    last_report = [0.0]

    def follow() -> tuple[int, str] | NotYet:
        lines: list[str] = []
        exit_code: list[int] = []

        def on_line(line: str, lines: list[str] = lines, exit_code: list[int] = exit_code) -> None:
            if line.startswith("@@IRP-EXIT "):
                exit_code.append(int(line.split()[1]))
                return
            if line == "@@IRP-LOST":
                exit_code.append(-1)
                return
            lines.append(line)
            progress.feed(line)
            now = time.monotonic()
            if now - last_report[0] >= 5 and (progress.current or progress.last_line):
                last_report[0] = now
                ctx.progress("build", progress.summary())

        result = ctx.run(host, step.argv, check=False, on_line=on_line)
        if exit_code:
            if exit_code[0] == -1:
                raise StageError(
                    f"the nix build on {host} vanished without an exit code (killed?)",
                    details="\n".join(lines[-LOG_TAIL_LINES:]),
                )
            return exit_code[0], "\n".join(lines)
        if result.timed_out:
            raise StageError(
                f"nix build on {host} still running after timeout_build "
                f"({ctx.settings['timeout_build']:.0f}s); it goes on detached: "
                f"rerun to attach. Last: {progress.last_line}"
            )
        if result.ssh_fatal or result.rc != SSH_CONNECTION_ERROR:
            raise StageError(f"following the build on {host} failed: {result.describe_failure()}")
        lost = (result.stderr.strip().splitlines() or [f"ssh exited {result.rc}"])[-1]
        return NotYet(lost, result.describe_failure())

    def reattach(seen: NotYet) -> None:
        ctx.remaining()  # the stage's own deadline: raises once it has passed
        ctx.progress("build", f"connection lost ({seen.seen}); reattaching")

    try:
        return poll(
            f"following the build on {host}",
            follow,
            tries=MAX_REATTACH + 1,
            every=lambda lost: min(10, 2 * lost),
            on_wait=reattach,
        )
    except RetryTimeout as exc:
        raise StageError(
            f"lost the connection to {host} {exc.tries} times in a row while "
            f"following the build (it goes on detached: rerun to attach): "
            f"{exc.last.value}"
        ) from None

"""nix on the build host: pre-build checklist, detached build, result inspection.

Pure functions parse nix's ``internal-json`` log and judge the facts; the stage
functions at the bottom run them through a :class:`~pytest_irp.stage.StageContext`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import remote
from .retry import NotYet, RetryTimeout, poll
from .runners import SSH_CONNECTION_ERROR
from .stage import StageContext, StageError, Step

# nix activity and result types (nix/src/libutil/logging.hh)
ACT_BUILD = 105
RES_BUILD_LOG_LINE = 101
RES_PHASE = 104
LOG_TAIL_LINES = 40
MAX_REATTACH = 30
NOTHING_BUILT = ("(nix printed no build output: the image of this SHA was already in the build "
                 "host's store, so nothing was built)\n")
SPEC_NAME = "ProbeController"
GHCRTS_FINDING = (
    "GHCRTS does not reach GHC inside `nix build`",
    "nix clears the build environment, so `GHCRTS=-A32m -M2g` set in the calling shell "
    "(as the workplan requires) does not tune GHC during the build; it only affects "
    "programs run directly (runghc tests, RunProdServer).",
    "Limit build memory with nix's own options (-j1, --cores) or the app's GHC options in "
    "flake.nix; keep GHCRTS for the runtime.")


# --------------------------------------------------------------------------- log parsing


@dataclass(frozen=True)
class NixEvent:
    kind: str  # "text" | "build" | "phase" | "log" | "error" | "other"
    text: str


def parse_log_line(line: str) -> NixEvent:
    """One line of ``nix build --log-format internal-json -L`` output."""
    if not line.startswith("@nix "):
        return NixEvent("text", line)
    try:
        data = json.loads(line[5:])
    except json.JSONDecodeError:
        return NixEvent("text", line)
    action = data.get("action")
    if action == "msg":
        text = _strip_ansi(str(data.get("msg", "")))
        return NixEvent("error" if data.get("level", 9) == 0 else "text", text)
    if action == "start":
        text = _strip_ansi(str(data.get("text", "")))
        return NixEvent("build" if data.get("type") == ACT_BUILD else "other", text)
    if action == "result":
        fields = data.get("fields") or []
        if data.get("type") == RES_BUILD_LOG_LINE and fields:
            return NixEvent("log", _strip_ansi(str(fields[0])))
        if data.get("type") == RES_PHASE and fields:
            return NixEvent("phase", str(fields[0]))
    return NixEvent("other", "")


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def readable_log(raw: str) -> str:
    """The human-readable text of a raw (possibly internal-json) build log."""
    lines = []
    for line in raw.splitlines():
        event = parse_log_line(line)
        if event.kind in ("text", "log", "error", "build") and event.text:
            lines.append(event.text)
        elif event.kind == "phase":
            lines.append(f"[phase] {event.text}")
    return "\n".join(lines)


_COMPILER_ERROR = re.compile(r"^\S+:\d+:\d+(?:-\d+)?: error\b")


def first_build_error(raw: str) -> str:
    """The builder's first compiler-style error (``File.hs:9:1: error: [GHC-87110]`` with
    its indented message line), or ''. nix's own message only says the builder failed."""
    lines: list[str] = []
    for event in map(parse_log_line, raw.splitlines()):
        if event.kind == "log":
            lines.append(event.text)
        elif event.kind == "text":
            head, sep, rest = event.text.partition("> ")
            if sep and head and " " not in head:  # plain `nix build -L`: "drv-name> line"
                lines.append(rest)
    for i, line in enumerate(lines):
        if _COMPILER_ERROR.search(line.strip()):
            follow = lines[i + 1] if i + 1 < len(lines) else ""
            message = follow.strip() if follow[:1].isspace() else ""
            return f"{line.strip()} {message}".strip()[:300]
    return ""


class BuildProgress:
    """Follows the log lines of a build and says what is happening now."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.current = ""
        self.phase = ""
        self.last_line = ""
        self.errors: list[str] = []

    def feed(self, line: str) -> NixEvent:
        event = parse_log_line(line)
        if event.kind == "build":
            self.current, self.phase = event.text, ""
        elif event.kind == "phase":
            self.phase = event.text
        elif event.kind == "error":
            self.errors.append(event.text)
        if event.kind in ("log", "text", "error") and event.text.strip():
            self.last_line = event.text.strip()
        return event

    def summary(self) -> str:
        elapsed = int(time.monotonic() - self.started)
        parts = [f"{elapsed // 60:02d}:{elapsed % 60:02d}"]
        if self.current:
            parts.append(self.current + (f" ({self.phase})" if self.phase else ""))
        if self.last_line:
            parts.append("| " + self.last_line[:100])
        return " ".join(parts)


# --------------------------------------------------------------------------- judging


def parse_facts(text: str) -> dict[str, list[str]]:
    """``key=value`` lines -> key -> values (a key may repeat)."""
    facts: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            facts.setdefault(key.strip(), []).append(value.strip())
    return facts


def judge_prebuild(facts: Mapping[str, list[str]], *, sha: str, lib_path: str | None,
                   lib_size: int, min_disk_mb: int, min_mem_mb: int) -> list[str]:
    """Problems that make building pointless now (empty list: go ahead)."""
    problems = []
    first = {k: v[0] for k, v in facts.items() if v}
    if not first.get("nix"):
        problems.append("nix is not installed on the build host (nix --version gave nothing)")
    disk = _int(first.get("disk_free_kb"))
    if disk is not None and disk < min_disk_mb * 1024:
        problems.append(f"only {disk // 1024} MiB free for /nix (min_free_disk_mb="
                        f"{min_disk_mb})")
    mem = _int(first.get("mem_available_kb"))
    if mem is not None and mem < min_mem_mb * 1024:
        problems.append(f"only {mem // 1024} MiB memory available (min_free_mem_mb="
                        f"{min_mem_mb})")
    if lib_path:
        size = first.get("lib_size")
        if size == "missing":
            problems.append(f"{lib_path} does not exist on the build host")
        elif _int(size) != lib_size:
            problems.append(f"{lib_path} is {size} bytes, expected {lib_size} (truncated GHC "
                            f"archive, workplan Bug 2: apply the archive patch first)")
    if first.get("lock_alive") == "1" and first.get("lock_sha") != sha:
        problems.append(f"another build is running on the build host (pid "
                        f"{first.get('lock_pid')}, SHA {first.get('lock_sha', '?')[:12]})")
    elif first.get("lock_alive") != "1" and facts.get("build_process"):
        problems.append("another nix build is running on the build host: "
                        + "; ".join(facts["build_process"])[:300])
    return problems


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class ImageInfo:
    out_path: str
    compressed: bool
    size: int
    config: dict[str, Any]
    layers: list[str]
    repo_tags: list[str]
    diff_ids: list[str]


def parse_inspect(text: str) -> ImageInfo:
    """Parse the output of ``build.sh inspect`` and check the archive is complete."""
    sections: dict[str, list[str]] = {}
    heads: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("@@"):
            name, _, rest = line[2:].partition(" ")
            heads[name] = rest.strip()
            current = name
            sections[current] = []
        elif current:
            sections[current].append(line)
    out = heads.get("out", "")
    if not out.startswith("/nix/store/"):
        raise StageError(f"`result` does not point into /nix/store (it points to {out!r})")
    try:
        manifest = json.loads("\n".join(sections.get("manifest", [])))
        config = json.loads("\n".join(sections.get("config", [])))
    except json.JSONDecodeError as exc:
        raise StageError(f"{out} is not a readable docker archive: {exc}") from None
    if not isinstance(manifest, list) or not manifest:
        raise StageError(f"{out}: manifest.json holds no image")
    entry = manifest[0]
    listing = {line.strip().lstrip("./") for line in sections.get("list", []) if line.strip()}
    layers = [str(layer) for layer in entry.get("Layers", [])]
    missing = [layer for layer in layers if layer.lstrip("./") not in listing]
    if missing:
        raise StageError(f"{out}: layers named in manifest.json are missing: {missing}")
    diff_ids = list(config.get("rootfs", {}).get("diff_ids", []))
    if len(diff_ids) != len(layers):
        raise StageError(f"{out}: {len(layers)} layers but {len(diff_ids)} diff_ids in config")
    return ImageInfo(out, heads.get("compressed") == "z", _int(heads.get("size")) or 0,
                     config, layers, list(entry.get("RepoTags") or []), diff_ids)


# --------------------------------------------------------------------------- stages


def build_args(settings: Any) -> list[str]:
    # -L before --log-format: older nix (2.8) takes -L for "--log-format bar-with-logs", so
    # a later -L would switch the internal-json log back to plain text; nix_options are
    # options by design, the installable comes after `--` (never read as an option)
    return ["-L", "--log-format", "internal-json", *settings["nix_options"], "--",
            settings["build_attr"]]


def prebuild_plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    argv = remote.argv("prebuild", s["app_name"],
                       *([s["libhsghc_path"]] if s.get("libhsghc_path") else []))
    return [Step(s.get("host", "<host>"), tuple(remote.display(argv)), s["timeout_prebuild"],
                 "nix version, free disk and memory, GHC archive size, running builds")]


def prebuild_run(ctx: StageContext) -> dict[str, Any]:
    s = ctx.settings
    host = s.require("host")
    argv = remote.argv("prebuild", s["app_name"],
                       *([s["libhsghc_path"]] if s.get("libhsghc_path") else []))
    facts = parse_facts(ctx.run(host, argv, what="pre-build checks").stdout)
    problems = judge_prebuild(facts, sha=ctx.facts.sha(), lib_path=s.get("libhsghc_path"),
                              lib_size=s["libhsghc_size"], min_disk_mb=s["min_free_disk_mb"],
                              min_mem_mb=s["min_free_mem_mb"])
    if not s.get("libhsghc_path"):
        ctx.finding("info", "GHC archive size not checked",
                    "libhsghc_path is not set, so the workplan's Bug 2 check was skipped.",
                    "Set libhsghc_path (and libhsghc_size) to check it.")
    if problems:
        raise StageError("pre-build checks failed on " + host + ": " + "; ".join(problems))
    return {k: v[0] if len(v) == 1 else v for k, v in facts.items()}


def build_plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    host = s.get("host", "<host>")
    sha = ctx.facts.sha_or()
    st = s["app_name"]
    steps = [("start", build_args(s), "detached nix build (lock per app; attaches to a "
              "running build of the same SHA)"),
             ("follow", [], "stream the log until the build exits (reattaches after an "
              "SSH drop)"),
             ("inspect", [], "verify `result`: store path, readable archive, config, layers")]
    return [Step(host, tuple(remote.display(remote.argv("build", cmd, s["remote_dir"], st,
                                                       sha, *extra))),
                 s["timeout_build"], note) for cmd, extra, note in steps]


def build_run(ctx: StageContext) -> dict[str, Any]:
    s = ctx.settings
    host = s.require("host")
    sha = ctx.facts.sha()
    st = s["app_name"]
    ctx.finding("info", *GHCRTS_FINDING)
    start = ctx.run(host, remote.argv("build", "start", s["remote_dir"], st, sha,
                                      *build_args(s)), timeout=60, check=False)
    if start.rc == 3:
        raise StageError(f"another build is running on {host}: {start.stdout.strip()}")
    if not start.ok:
        raise StageError(f"could not start nix build on {host}: {start.describe_failure()}")
    attached = "attach" in start.stdout
    ctx.progress("build", ("attached to the running build" if attached else
                           "nix build started") + f" of {sha[:12]} on {host}")
    rc, raw = _follow(ctx, host, st, sha)
    ctx.save_log("build", readable_log(raw) or NOTHING_BUILT)
    ctx.save_log("build-raw", raw)
    if rc != 0:
        text = readable_log(raw)
        tail = "\n".join(text.splitlines()[-LOG_TAIL_LINES:])
        errors = [e for e in (parse_log_line(line) for line in raw.splitlines())
                  if e.kind == "error"]
        why = errors[-1].text.splitlines()[0] if errors else (tail.splitlines() or ["?"])[-1]
        first = first_build_error(raw)
        if first:
            why = f"{first} ({why})"
        raise StageError(f"`nix build {s['build_attr']}` on {host} failed (exit {rc}): {why}",
                         details=tail)
    inspect = ctx.run(host, remote.argv("build", "inspect", s["remote_dir"], st, sha),
                      timeout=120, what="inspecting the build result")
    info = parse_inspect(inspect.stdout)
    return {"out_path": info.out_path, "compressed": info.compressed, "size": info.size,
            "layers": info.layers, "diff_ids": info.diff_ids, "repo_tags": info.repo_tags,
            "config": info.config.get("config", {}), "attached": attached, "sha": sha}


def _follow(ctx: StageContext, host: str, st: str, sha: str) -> tuple[int, str]:
    """Stream the build log; reattach after SSH drops until the deadline."""
    progress = BuildProgress()
    last_report = [0.0]

    def follow() -> tuple[int, str] | NotYet:
        lines: list[str] = []
        exit_code: list[int] = []

        def on_line(line: str, lines: list[str] = lines, exit_code: list[int] = exit_code
                    ) -> None:
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

        result = ctx.run(host, remote.argv("build", "follow", ctx.settings["remote_dir"], st,
                                           sha), check=False, on_line=on_line)
        if exit_code:
            if exit_code[0] == -1:
                raise StageError(f"the nix build on {host} vanished without an exit code "
                                 f"(killed?)", details="\n".join(lines[-LOG_TAIL_LINES:]))
            return exit_code[0], "\n".join(lines)
        if result.timed_out:
            raise StageError(f"nix build on {host} still running after timeout_build "
                             f"({ctx.settings['timeout_build']:.0f}s); it goes on detached: "
                             f"rerun to attach. Last: {progress.last_line}")
        if result.ssh_fatal or result.rc != SSH_CONNECTION_ERROR:
            raise StageError(f"following the build on {host} failed: "
                             f"{result.describe_failure()}")
        lost = (result.stderr.strip().splitlines() or [f"ssh exited {result.rc}"])[-1]
        return NotYet(lost, result.describe_failure())

    def reattach(seen: NotYet) -> None:
        ctx.remaining()  # the stage's own deadline: raises once it has passed
        ctx.progress("build", f"connection lost ({seen.seen}); reattaching")

    try:
        return poll(f"following the build on {host}", follow, tries=MAX_REATTACH + 1,
                    every=lambda lost: min(10, 2 * lost), on_wait=reattach)
    except RetryTimeout as exc:
        raise StageError(f"lost the connection to {host} {exc.tries} times in a row while "
                         f"following the build (it goes on detached: rerun to attach): "
                         f"{exc.last.value}") from None



def in_checkout(remote_dir: str, argv: list[str]) -> list[str]:
    """Run ``argv`` inside the checkout: ``sh -c 'cd -- "$1" && shift && exec "$@"'``."""
    return ["sh", "-c", 'cd -- "$1" && shift && exec "$@"', "irp-in-checkout", remote_dir,
            *argv]


def flake_plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    return [Step(s.get("host", "<host>"), tuple(in_checkout(s["remote_dir"], argv)),
                 s["timeout_flake"], note) for argv, note in _flake_commands(s)]


def _flake_commands(s: Any) -> list[tuple[list[str], str]]:
    """T01's nix commands, each with the flake_options setting (``--impure`` for IHP's
    devenv-based flakes) before the installable."""
    opts = list(s["flake_options"])
    return [(["nix", "flake", "check", "--no-build", *opts], "T01 exit criterion"),
            (["nix", "flake", "show", "--json", *opts], "outputs of the flake"),
            (["nix", "eval", "--json", *opts, ".#irp"], "flake data: appName, packages, "
             "overlays (if the flake exposes them)")]


def flake_run(ctx: StageContext) -> dict[str, Any]:
    s = ctx.settings
    host = s.require("host")
    out: dict[str, Any] = {}
    commands = _flake_commands(s)
    check = ctx.run(host, in_checkout(s["remote_dir"], commands[0][0]), check=False)
    out["check_rc"], out["check_output"] = check.rc, check.tail(20)
    if not check.ok:
        raise StageError(f"`{' '.join(commands[0][0])}` on {host} failed: "
                         f"{check.describe_failure()}{flake_check_hint(check.tail(20), s)}",
                         details=check.tail(LOG_TAIL_LINES))
    show = ctx.run(host, in_checkout(s["remote_dir"], commands[1][0]), check=False)
    out["show"] = _json_or_none(show.stdout) if show.ok else None
    data = ctx.run(host, in_checkout(s["remote_dir"], commands[2][0]), check=False)
    out["eval"] = _json_or_none(data.stdout) if data.ok else None
    out["eval_error"] = "" if data.ok else data.tail(3)
    return out


def flake_check_hint(output: str, s: Any) -> str:
    """What to do when `nix flake check` fails the way IHP's devenv flakes fail pure."""
    if "--impure" not in s["flake_options"] and re.search(
            r"access to absolute path|--impure|builtins\.getEnv|currentSystem|"
            r"devenv was not able to determine", output):
        return (" (IHP apps are devenv-based flakes that evaluate impurely: set "
                "flake_options to --impure, as IHP's CI runs `nix flake check --impure`)")
    return ""


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


_NO_TESTS_CHECK = re.compile(r"does not provide attribute '[^']*checks[^']*tests'|"
                             r"flake '[^']*' does not provide attribute[^\n]*tests")
_NO_DATABASE = re.compile(r"(?i)could not connect to server|connection to server .* failed|"
                          r"Is the server running|psql: error|createdb: error|"
                          r"libpq: failed|No such file or directory.*\.s\.PGSQL")


def spec_failure_hint(output: str, test_command: list[str], ihp: str | None) -> str:
    """Why the test command failed when it runs the specs through the flake's ``tests``
    check: that check exists only from IHP 1.5 (flake.lock says which IHP the app has),
    and it runs in the nix sandbox, where ``withIHPApp`` finds no PostgreSQL."""
    from .appcode.flake import version_tuple

    through_flake = "nix" in test_command[:1] and any("check" in a for a in test_command)
    if not through_flake:
        return ""
    version = version_tuple(ihp)
    fix = ("set test_command to run the specs where PostgreSQL runs, as the workplan does "
           "(`test` in the devenv shell, e.g. test_command = \"devenv shell -- test\" with "
           "`devenv up` running)")
    if _NO_TESTS_CHECK.search(output) or (version is not None and version < (1, 5)):
        which = f"IHP {ihp} (flake.lock)" if ihp else "this IHP"
        return (f" ({which}: checks.<system>.tests exists only from IHP 1.5 on (IHP's flake "
                f"module adds it when Test/Main.hs exists); {fix})")
    if _NO_DATABASE.search(output):
        return (" (the flake's tests check runs the specs in the nix sandbox, which has no "
                "PostgreSQL, and withIHPApp needs one: database-backed specs cannot pass "
                f"there; {fix})")
    return ""


def _local_ihp_version(ctx: StageContext) -> str | None:
    from .appcode.flake import ihp_version

    try:
        lock = ctx.facts.app_repo / "flake.lock"
        return ihp_version(lock.read_text(encoding="utf-8"))
    except OSError:
        return None


def spec_plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    host = s.get("host", "<host>")
    return [Step(host, tuple(in_checkout(s["remote_dir"], list(s["test_command"]))),
                 s["timeout_spec"], "T05: the Hspec tests"),
            Step(host, tuple(in_checkout(s["remote_dir"], list(s["test_report_command"]))),
                 s["timeout_spec"], "the test report, when the test command printed none")]


def spec_run(ctx: StageContext) -> dict[str, Any]:
    s = ctx.settings
    host = s.require("host")
    result = ctx.run(host, in_checkout(s["remote_dir"], list(s["test_command"])), check=False)
    output = result.stdout + "\n" + result.stderr
    if not result.ok:
        ctx.save_log("tests", output)
        hint = spec_failure_hint(output, list(s["test_command"]), _local_ihp_version(ctx))
        raise StageError(f"test command `{' '.join(s['test_command'])}` on {host} failed: "
                         f"{result.describe_failure()}{hint}",
                         details=result.tail(LOG_TAIL_LINES))
    report = ""
    if SPEC_NAME not in output:
        shown = ctx.run(host, in_checkout(s["remote_dir"], list(s["test_report_command"])),
                        check=False)
        report = shown.stdout + "\n" + shown.stderr
    ctx.save_log("tests", output + report)
    return {"rc": result.rc, "output": (output + report)[-8000:]}

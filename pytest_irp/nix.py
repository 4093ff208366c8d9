"""nix's output, read: the ``internal-json`` build log, the pre-build facts and the
inspected ``result``. Pure functions; the stages that run nix are
:mod:`pytest_irp.stages.prebuild`, ``build``, ``flake`` and ``spec``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .stage import StageError

# nix activity and result types (nix/src/libutil/logging.hh)
ACT_BUILD = 105
RES_BUILD_LOG_LINE = 101
RES_PHASE = 104
LOG_TAIL_LINES = 40


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


def judge_prebuild(
    facts: Mapping[str, list[str]],
    *,
    sha: str,
    lib_path: str | None,
    lib_size: int,
    min_disk_mb: int,
    min_mem_mb: int,
) -> list[str]:
    """Problems that make building pointless now (empty list: go ahead)."""
    problems = []
    first = {k: v[0] for k, v in facts.items() if v}
    if not first.get("nix"):
        problems.append("nix is not installed on the build host (nix --version gave nothing)")
    disk = _int(first.get("disk_free_kb"))
    if disk is not None and disk < min_disk_mb * 1024:
        problems.append(f"only {disk // 1024} MiB free for /nix (min_free_disk_mb={min_disk_mb})")
    mem = _int(first.get("mem_available_kb"))
    if mem is not None and mem < min_mem_mb * 1024:
        problems.append(f"only {mem // 1024} MiB memory available (min_free_mem_mb={min_mem_mb})")
    if lib_path:
        size = first.get("lib_size")
        if size == "missing":
            problems.append(f"{lib_path} does not exist on the build host")
        elif _int(size) != lib_size:
            problems.append(
                f"{lib_path} is {size} bytes, expected {lib_size} (truncated GHC "
                f"archive, workplan Bug 2: apply the archive patch first)"
            )
    if first.get("lock_alive") == "1" and first.get("lock_sha") != sha:
        problems.append(
            f"another build is running on the build host (pid "
            f"{first.get('lock_pid')}, SHA {first.get('lock_sha', '?')[:12]})"
        )
    elif first.get("lock_alive") != "1" and facts.get("build_process"):
        problems.append(
            "another nix build is running on the build host: "
            + "; ".join(facts["build_process"])[:300]
        )
    return problems


def prebuild_problems(value: Mapping[str, Any], settings: Any, sha: str) -> list[str]:
    """:func:`judge_prebuild` over the prebuild stage's value (a key seen once holds a
    string) with the thresholds of ``settings``: the stage and T06's check judge alike."""
    return judge_prebuild(
        {k: v if isinstance(v, list) else [v] for k, v in value.items()},
        sha=sha,
        lib_path=settings.get("libhsghc_path"),
        lib_size=settings["libhsghc_size"],
        min_disk_mb=settings["min_free_disk_mb"],
        min_mem_mb=settings["min_free_mem_mb"],
    )


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


def out_path_problem(out: str) -> str:
    """T06's "nix build succeeds": ``result`` points into the nix store."""
    if out.startswith("/nix/store/"):
        return ""
    return f"`result` does not point into /nix/store (it points to {out!r})"


def inspect_problems(info: ImageInfo) -> list[str]:
    """What makes a readable ``result`` unusable for the push: not a store path, or not
    one diff_id per layer (T06's checks assert the same)."""
    problems = [out_path_problem(info.out_path)]
    if len(info.diff_ids) != len(info.layers):
        problems.append(
            f"{info.out_path}: {len(info.layers)} layers but {len(info.diff_ids)} diff_ids "
            f"in config"
        )
    return [p for p in problems if p]


def parse_inspect(text: str) -> ImageInfo:
    """Parse the output of ``build.sh inspect``; raises when it is no readable docker
    archive with every layer it names (judged further by :func:`inspect_problems`)."""
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
    return ImageInfo(
        out,
        heads.get("compressed") == "z",
        _int(heads.get("size")) or 0,
        config,
        layers,
        list(entry.get("RepoTags") or []),
        diff_ids,
    )

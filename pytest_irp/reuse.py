"""What a stage's saved result depends on, beyond its key (for ``--irp-reuse``), derived
from what the stage actually read, not from a hand-written list that can drift:

- every setting the stage read: its context's settings record each name read through
  ``[]``, ``get`` and ``require`` (:func:`recording`);
- every local file or directory named on the stage's local command lines (the chart, the
  ``-f`` values files): their contents;
- the local tools it ran (``argv[0]``, e.g. helm): the resolved binary's path, size and
  modification time;
- the tool versions its upstream stages without a key reported (the build host's nix, from
  the prebuild stage).

A saved result is reused only when all of these are as they were when it was made.
Settings are kept as hashes (a URL's password masked first), secrets as "set" only: a
new password does not change what a stage produced.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .redact import Secret, mask_userinfo
from .settings import Resolved, _Values


class _Recording(_Values):
    """The resolved values, recording the name of every value read."""

    def __init__(self, values: Mapping[str, Any], reads: set[str]) -> None:
        super().__init__(values)
        self.reads = reads

    def __getitem__(self, name: str) -> Any:
        self.reads.add(name)
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:
        self.reads.add(name)
        return super().get(name, default)


def recording(settings: Resolved, reads: set[str]) -> Resolved:
    """The same settings; every name read through them is added to ``reads``."""
    return Resolved(_Recording(settings.values, reads), settings.sources, settings.secrets)


def _setting_print(value: Any) -> str:
    if isinstance(value, Secret):
        return "secret set"
    text = mask_userinfo(json.dumps(value, sort_keys=True, default=str))
    return hashlib.sha256(text.encode()).hexdigest()


def _path_print(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if file != path else "").encode() + b"\0")
        try:
            digest.update(file.read_bytes())
        except OSError as exc:
            digest.update(f"<unreadable: {exc.strerror}>".encode())
    return digest.hexdigest()


def _tool_print(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        return "<not found>"
    real = os.path.realpath(found)
    st = os.stat(real)
    return f"{real} {st.st_size} {st.st_mtime_ns}"


def local_paths(commands: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """(tools, paths) of the stage's local commands: ``argv[0]`` of each, and every
    absolute path on them that exists."""
    tools: list[str] = []
    paths: list[str] = []
    for command in commands:
        argv = [str(a) for a in command.get("argv") or []]
        if command.get("host") != "local" or not argv:
            continue
        tools.append(argv[0])
        paths.extend(a for a in argv[1:] if os.path.isabs(a) and os.path.exists(a))
    return list(dict.fromkeys(tools)), list(dict.fromkeys(paths))


def upstream_tools(values: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The tool versions upstream stages without a key reported (run afresh every time):
    value fields named ``nix`` or ``*version``."""
    return {
        f"{stage}.{name}": str(field)
        for stage, value in values.items()
        for name, field in value.items()
        if name == "nix" or name.endswith("version")
    }


def inputs(
    settings: Resolved,
    reads: Iterable[str],
    commands: Iterable[Mapping[str, Any]],
    upstream: Mapping[str, str],
) -> dict[str, dict[str, str]] | None:
    """The fingerprints of everything the stage read (see the module's docstring); None
    when one cannot be taken (the result is then not saved for reuse)."""
    tools, paths = local_paths(commands)
    try:
        return fingerprint(
            settings,
            {"settings": sorted(set(reads)), "files": paths, "tools": tools},
            upstream,
        )
    except OSError:
        return None


def fingerprint(
    settings: Resolved, names: Mapping[str, Iterable[str]], upstream: Mapping[str, str]
) -> dict[str, dict[str, str]]:
    return {
        "settings": {n: _setting_print(settings.values.get(n)) for n in names["settings"]},
        "files": {p: _path_print(Path(p)) for p in names["files"]},
        "tools": {t: _tool_print(t) for t in names["tools"]},
        "upstream": dict(upstream),
    }


def unchanged(settings: Resolved, saved: Any, upstream: Mapping[str, str]) -> bool:
    """Whether the inputs a saved result recorded are all as they are now."""
    if not isinstance(saved, dict) or set(saved) != {"settings", "files", "tools", "upstream"}:
        return False
    try:
        now = fingerprint(settings, {k: list(saved[k]) for k in saved}, upstream)
    except (OSError, TypeError, KeyError):
        return False
    return bool(now == saved)


def combined_key(key: str, recorded: Mapping[str, Any]) -> str:
    """The result's key for the stages that need it: its own key and its inputs."""
    text = json.dumps({"key": key, "inputs": recorded}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()

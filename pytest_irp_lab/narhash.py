"""The sample app's relative ``path`` flake inputs: their NAR hashes, re-locking, and
seeding the nix store with them.

The sample app's flake inputs are stand-ins inside the app (``nix/lab-inputs/``, locked in
``flake.lock`` as relative ``path`` inputs with their ``narHash``). A variant that changes
a stand-in must change its lock too, as ``nix flake lock`` would; :func:`relock` computes
the hash the way nix does (SHA-256 of the path's NAR serialisation, written
``sha256-<base64>``) without running nix.

Nix 2.8 (Debian's nix-bin) cannot fetch a locked relative path input (``cannot fetch
input 'path:./...' because it uses a relative path``, fixed upstream in 2.26); it only
finds it when the store already holds the content under that NAR hash (a fixed-output
``source`` path). :func:`seed_argvs` lists the ``nix store add-path --name source``
commands that put it there; the lab runs them on its one store after preparing the app.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _str(data: bytes) -> Iterator[bytes]:
    yield len(data).to_bytes(8, "little")
    yield data
    if len(data) % 8:
        yield b"\0" * (8 - len(data) % 8)


def _node(path: Path) -> Iterator[bytes]:
    mode = path.lstat().st_mode
    yield from _str(b"(")
    yield from _str(b"type")
    if stat.S_ISLNK(mode):
        yield from _str(b"symlink")
        yield from _str(b"target")
        yield from _str(os.readlink(path).encode())
    elif stat.S_ISDIR(mode):
        yield from _str(b"directory")
        for name in sorted(os.listdir(path), key=os.fsencode):
            yield from _str(b"entry")
            yield from _str(b"(")
            yield from _str(b"name")
            yield from _str(os.fsencode(name))
            yield from _str(b"node")
            yield from _node(path / name)
            yield from _str(b")")
    else:
        yield from _str(b"regular")
        if mode & stat.S_IXUSR:
            yield from _str(b"executable")
            yield from _str(b"")
        yield from _str(b"contents")
        yield from _str(path.read_bytes())
    yield from _str(b")")


def nar_hash(path: Path) -> str:
    """``sha256-<base64>`` of the NAR of ``path`` (what nix writes as ``narHash``)."""
    digest = hashlib.sha256()
    for chunk in _str(b"nix-archive-1"):
        digest.update(chunk)
    for chunk in _node(path):
        digest.update(chunk)
    return "sha256-" + base64.b64encode(digest.digest()).decode()


def relative_inputs(flake_dir: Path) -> list[tuple[dict[str, Any], Path]]:
    """(locked attributes, directory) of every relative ``path`` input in flake.lock,
    nested inputs resolved relative to the input that has them."""
    lock: dict[str, Any] = json.loads((flake_dir / "flake.lock").read_text(encoding="utf-8"))
    nodes: dict[str, Any] = lock["nodes"]
    out: list[tuple[dict[str, Any], Path]] = []

    def visit(key: str, where: Path, depth: int) -> None:
        for child in (nodes[key].get("inputs") or {}).values():
            if not isinstance(child, str) or depth > 10:
                continue  # a `follows` (list) points to a node visited from its owner
            locked = nodes[child].get("locked") or {}
            rel = locked.get("path", "")
            if locked.get("type") == "path" and rel.startswith("./"):
                out.append((locked, where / rel))
                visit(child, where / rel, depth + 1)

    visit(lock.get("root", "root"), flake_dir, 0)
    return out


def seed_argvs(flake_dir: Path) -> list[list[str]]:
    """The commands that put the relative inputs into the nix store (see the module)."""
    return [
        [
            "nix",
            "--extra-experimental-features",
            "nix-command",
            "store",
            "add-path",
            "--name",
            "source",
            "--",
            str(directory),
        ]
        for _, directory in relative_inputs(flake_dir)
    ]


def relock(flake_dir: Path) -> bool:
    """Recompute the ``narHash`` of every relative ``path`` input of ``flake_dir``'s
    flake.lock. True if it changed (the file is then rewritten)."""
    lock_file = flake_dir / "flake.lock"
    lock: dict[str, Any] = json.loads(lock_file.read_text(encoding="utf-8"))
    changed = False
    for locked, directory in relative_inputs(flake_dir):
        fresh = nar_hash(directory)
        if locked.get("narHash") != fresh:
            changed = True
            for node in lock["nodes"].values():
                if node.get("locked") == locked:
                    node["locked"] = {**locked, "narHash": fresh}
    if changed:
        lock_file.write_text(json.dumps(lock, indent=2) + "\n", encoding="utf-8")
    return changed

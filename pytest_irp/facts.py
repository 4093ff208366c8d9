"""Facts: local, cheap facts about the target, computed once per run (the git SHA under test,
the image tag, hashes of the app's files), read by stages and by the reuse keys.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .runners import Runner
from .settings import Resolved, SettingError


class Facts:
    """Local, cheap facts about the target, computed once (git SHA, file hashes)."""

    def __init__(self, settings: Resolved, runner: Runner) -> None:
        self.settings = settings
        self._runner = runner
        self._cache: dict[str, str] = {}

    @property
    def app_repo(self) -> Path:
        return Path(self.settings["app_repo"]).resolve()

    def sha(self) -> str:
        if "sha" not in self._cache:
            repo = self.app_repo
            result = self._runner.run(
                [
                    "git",
                    "-C",
                    str(repo),
                    "rev-parse",
                    "--verify",
                    f"{self.settings['ref']}^{{commit}}",
                ],
                timeout=15,
            )
            if not result.ok:
                raise SettingError(
                    f"setting 'ref' ({self.settings['ref']!r}, from "
                    f"{self.settings.sources['ref']}): cannot resolve it in "
                    f"app_repo {repo}: {result.tail(2) or 'git failed'}"
                )
            self._cache["sha"] = result.stdout.strip()
        return self._cache["sha"]

    def sha_or(self, placeholder: str = "<sha>") -> str:
        try:
            return self.sha()
        except SettingError:
            return placeholder

    def tag(self) -> str:
        return str(self.settings.get("tag") or self.sha()[:7])

    def tag_or(self, placeholder: str = "<short-sha>") -> str:
        try:
            return self.tag()
        except SettingError:
            return placeholder

    def file_hash(self, *relative: str) -> str:
        """sha256 over the named files/directories of the app repo (missing ones count); a
        path outside the app repo (an absolute chart path) is hashed where it is."""
        key = "hash:" + ":".join(relative)
        if key not in self._cache:
            digest = hashlib.sha256()
            for rel in relative:
                base = self.app_repo / rel
                paths = (
                    sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else [base]
                )
                for p in paths:
                    name = p.relative_to(self.app_repo) if p.is_relative_to(self.app_repo) else p
                    digest.update(str(name).encode())
                    digest.update(p.read_bytes() if p.is_file() else b"<missing>")
            self._cache[key] = digest.hexdigest()
        return self._cache[key]

"""Project-level fixtures for the exit-criteria suite in tests/ (policy).

The mechanism lives in the pytest-irp plugin (loaded through its entry point); this file
only gives the criteria convenient access to the application repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def app_repo(irp_settings) -> Path:  # type: ignore[no-untyped-def]
    """The application's repository on this machine."""
    path = Path(irp_settings["app_repo"]).resolve()
    if not (path / ".git").exists() and not (path / "flake.nix").exists():
        pytest.fail(
            f"app_repo {path} is not the application's repository (no .git or flake.nix)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def read_app_file(app_repo: Path):  # type: ignore[no-untyped-def]
    """Read a file of the app repo, failing the check with a clear message if missing."""

    def read(relative: str) -> str:
        path = app_repo / relative
        if not path.is_file():
            pytest.fail(f"{relative} is missing from {app_repo}", pytrace=False)
        return path.read_text(encoding="utf-8")

    return read

"""The app repository the criteria check: an IHP application's git repository, or a
refusal before any stage (one paragraph naming the setting to give).

The default ``app_repo`` is the current directory, so ``pytest --irp-host NAME`` run in
the plugin's own checkout would check the plugin (T02-T05 failing on "flake.nix:
missing", the plan bundling the plugin's SHA); a path that does not exist used to reach
the source stage and fail there over ssh, blaming the ref.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .settings import Resolved

# the files at the top of every IHP application (IHP's boilerplate, the workplan's app)
IHP_FILES = ("flake.nix", "Application/Schema.sql")
# the stages that read the app repository on this machine (git, the chart)
READS_REPO = frozenset({"source", "chart", "render"})
# the fixtures of checks that read the app's files directly (conftest.py of tests/)
REPO_FIXTURES = frozenset({"app_repo", "read_app_file"})
PLUGIN_CHECKOUT = Path(__file__).resolve().parent.parent


def needed(stages: Iterable[str], fixtures: Iterable[str]) -> bool:
    return bool(READS_REPO & set(stages)) or bool(REPO_FIXTURES & set(fixtures))


def problem(path: Path) -> str | None:
    """Why ``path`` is not an IHP application's git repository (None: it is one)."""
    if not path.exists():
        return "does not exist"
    if not path.is_dir():
        return "is not a directory"
    if (path / "pytest_irp" / "plugin.py").is_file() or path == PLUGIN_CHECKOUT:
        return "is the checkout of pytest-irp itself, not the application it checks"
    missing = [name for name in IHP_FILES if not (path / name).is_file()]
    if missing:
        return f"is not an IHP application (no {' and no '.join(missing)})"
    if not (path / ".git").exists():
        return "is not a git repository (no .git): the SHA under test comes from git"
    return None


def refusal(settings: Resolved) -> str | None:
    """The usage error's one paragraph when the app repository cannot be checked."""
    raw = str(settings["app_repo"])
    path = Path(raw).expanduser().resolve()
    why = problem(path)
    if why is None:
        return None
    source = settings.sources.get("app_repo", "default")
    if source == "default":
        what = f"No app repository is configured, and the current directory {path} {why}."
    else:
        what = f"The app repository {path} (setting 'app_repo', from {source}) {why}."
    return (
        f"pytest-irp: {what} The criteria check an IHP application's git repository "
        f"(with {' and '.join(IHP_FILES)}). Give its path with --irp-app-repo=PATH, "
        f"IRP_APP_REPO, or app_repo in [tool.irp] of a --irp-config file; no stage ran."
    )

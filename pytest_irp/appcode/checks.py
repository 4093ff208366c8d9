"""The app-side static checks of T02-T05 on an app tree: what tests/ asserts and what the
corpus in testing/corpus/ is judged with. Each returns a :class:`~pytest_irp.appcode.
Verdict`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from . import Verdict

if TYPE_CHECKING:
    from .testrun import TestChoice

SCAFFOLD = (
    "flake.nix",
    "Main.hs",
    "Config/Config.hs",
    "Web/FrontController.hs",
    "Web/Routes.hs",
    "Web/Types.hs",
    "Application/Schema.sql",
)


def _read(app: Path, relative: str) -> str | None:
    path = app / relative
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return None


def _tree(app: Path, folder: str) -> dict[str, str]:
    out = {}
    for path in sorted((app / folder).rglob("*.hs")):
        text = _read(app, str(path.relative_to(app)))
        if text is not None:
            out[path.relative_to(app).as_posix()] = text
    return out


def t02_scaffold(app: Path) -> Verdict:
    verdict = Verdict()
    for relative in SCAFFOLD:
        if not (app / relative).is_file():
            verdict.fail(relative, 0, "missing from the IHP scaffold")
    return verdict


def t03_schema(app: Path) -> Verdict:
    from .schema import SCHEMA_FILE, schema_verdict

    text = _read(app, SCHEMA_FILE)
    if text is None:
        verdict = Verdict()
        verdict.fail(SCHEMA_FILE, 0, "missing")
        return verdict
    return schema_verdict(text)


def t03_migration(app: Path) -> Verdict:
    from .schema import migration_verdict

    folder = app / "Application" / "Migration"
    return migration_verdict(
        {
            f"Application/Migration/{p.name}": _read(app, str(p.relative_to(app))) or ""
            for p in sorted(folder.glob("*.sql"))
        }
    )


def t04_route(app: Path) -> Verdict:
    from .routes import route_verdict

    return route_verdict(_tree(app, "Web"))


def t05_spec(app: Path) -> Verdict:
    from .routes import actions_for
    from .spec import spec_verdict

    return spec_verdict(_tree(app, "Test"), actions_for(_tree(app, "Web"), "/probes"))


STATIC: dict[str, Callable[[Path], Verdict]] = {
    "T02 scaffold": t02_scaffold,
    "T03 schema": t03_schema,
    "T03 migration": t03_migration,
    "T04 route": t04_route,
    "T05 spec": t05_spec,
}


def t05_test_choice(app: Path) -> TestChoice:
    """Which command runs the app's ProbeController spec, and why (appcode.testrun)."""
    from .flake import ihp_version
    from .testrun import choose

    nix = {name: text for name in ("flake.nix", "devenv.nix") if (text := _read(app, name))}
    return choose(_tree(app, "Test"), nix, ihp_version(_read(app, "flake.lock")))

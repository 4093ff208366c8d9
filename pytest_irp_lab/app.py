"""The sample app repository: a copy of ``lab/app/`` with one variant applied, committed.

A variant is a small patch of the copy that breaks exactly one thing, for the suite's
negative tests. Commits use a fixed author, committer and date, so a variant always has
the same commit SHA.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from pytest_irp_lab.narhash import relock
from pytest_irp_lab.proc import LabError, run
from pytest_irp_lab.sources import lab_sources

MARKER: Final = "irp-lab-variant"  # file in .git/ naming the variant of a prepared repo
BRANCH: Final = "main"
SLOW_BUILD_SECONDS: Final = 8  # the slow-build variant's image build sleeps this long
MINUTE_BUILD_SECONDS: Final = 60  # the minute-build variant's (issue 16: the preflight
# decides T07 while a build of about a minute goes on)
COMMIT_DATE: Final = "2026-05-02T12:00:00+02:00"
GIT_ENV: Final[Mapping[str, str]] = {
    "GIT_AUTHOR_NAME": "IRP Lab",
    "GIT_AUTHOR_EMAIL": "lab@irp-lab.invalid",
    "GIT_AUTHOR_DATE": COMMIT_DATE,
    "GIT_COMMITTER_NAME": "IRP Lab",
    "GIT_COMMITTER_EMAIL": "lab@irp-lab.invalid",
    "GIT_COMMITTER_DATE": COMMIT_DATE,
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def template_dir() -> Path:
    """``$IRP_LAB_APP_TEMPLATE`` or ``app`` of the lab's sources (:mod:`pytest_irp_lab.sources`)."""
    override = os.environ.get("IRP_LAB_APP_TEMPLATE")
    if override:
        return Path(override)
    return lab_sources() / "app"


# ------------------------------------------------------------------------ variants


def replace_once(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in ``path`` (the template must contain it)."""
    text = path.read_text(encoding="utf-8")
    count = text.count(old)
    if count != 1:
        raise LabError(f"variant patch: expected one {old!r} in {path}, found {count}")
    path.write_text(text.replace(old, new), encoding="utf-8")


def cut_between(path: Path, begin: str, end: str) -> None:
    """Remove the lines from the one containing ``begin`` to the one containing ``end``."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if begin in line]
    ends = [i for i, line in enumerate(lines) if end in line]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise LabError(f"variant patch: markers {begin!r}/{end!r} not found once in {path}")
    path.write_text("".join(lines[: starts[0]] + lines[ends[0] + 1 :]), encoding="utf-8")


IHP_STANDIN: Final = "nix/lab-inputs/ihp"  # the stand-in IHP flake inside the app
RUN_PROD_SERVER: Final = f"{IHP_STANDIN}/NixSupport/RunProdServer.sh"
IMAGE_BUILDER: Final = f"{IHP_STANDIN}/NixSupport/image.sh"
SPEC: Final = "Test/Controller/ProbesSpec.hs"


def variants_dir() -> Path:
    """Files some variants lay over the copy (``lab/app-variants/``)."""
    return template_dir().parent / "app-variants"


def _build_fails(root: Path) -> None:
    # The front controller imports a module that does not exist: the image build (the
    # stand-in's "compile" step, compile.sh) stops with GHC's "Could not find module".
    replace_once(
        root / "Web/FrontController.hs",
        "import Web.Controller.Probes\n",
        "import Web.Controller.Probes\nimport Web.Controller.Missing\n",
    )


def _crash_at_start(root: Path) -> None:
    # The prod server (IHP's RunProdServer; here the stand-in's script) dies at start.
    # (in either environment: before the server would start)
    replace_once(
        root / RUN_PROD_SERVER,
        'if [ "${IHP_ENV:-Development}" = Development ]; then',
        'echo "RunProdServer: Prelude.head: empty list" >&2\nexit 1\n'
        'if [ "${IHP_ENV:-Development}" = Development ]; then',
    )


def _healthz_wrong(root: Path) -> None:
    replace_once(root / "Web/Controller/Health.hs", 'renderPlain "ok"', 'renderPlain "degraded"')


def _overlay_missing(root: Path) -> None:
    cut_between(root / "flake.nix", "# -- models overlay (begin)", "# -- models overlay (end)")


def _wrong_column_type(root: Path) -> None:
    for sql in (
        root / "Application/Schema.sql",
        *sorted((root / "Application/Migration").glob("*-create-probes.sql")),
    ):
        replace_once(sql, "name TEXT NOT NULL", "name INT NOT NULL")
    replace_once(root / "build/Generated/Types.hs", "name :: Text", "name :: Int")


def _route_missing(root: Path) -> None:
    # The /healthz route is gone (its routes block in Web/Routes.hs and the front
    # controller's parseRoute), as if the workplan's step 4 was never done: T04 fails; the
    # image still builds (it serves no /healthz) and the spec (ProbesAction) still passes.
    routes = root / "Web/Routes.hs"
    cut_between(routes, "-- Liveness/readiness probe", "GET /healthz HealthAction")
    replace_once(routes, "|]\n\n[routes|ProbesController", "[routes|ProbesController")
    replace_once(root / "Web/FrontController.hs", "        , parseRoute @HealthController\n", "")


def _failing_spec(root: Path) -> None:
    spec = root / SPEC
    replace_once(spec, 'it "GET /probes returns 200"', 'it "GET /probes returns 201"')
    replace_once(spec, "`responseStatusShouldBe` status200", "`responseStatusShouldBe` status201")


def _slow_build(root: Path) -> None:
    # The image build sleeps first: long enough to cut its SSH connection or start a second
    # suite run while it is still running.
    replace_once(
        root / IMAGE_BUILDER,
        "set -eu\n",
        f"set -eu\nsleep {SLOW_BUILD_SECONDS}  # slow-build variant\n",
    )


def _minute_build(root: Path) -> None:
    replace_once(
        root / IMAGE_BUILDER,
        "set -eu\n",
        f"set -eu\nsleep {MINUTE_BUILD_SECONDS}  # minute-build variant\n",
    )


def _wrong_liveness_path(root: Path) -> None:
    replace_once(root / "chart/templates/deployment.yaml", "path: /healthz", "path: /health")


def _workplan_literal(root: Path) -> None:
    # The workplan's own snippets: routes with `pathPrefix` (no such function in IHP) and a
    # spec importing IHP.HSpec (IHP's module is IHP.Hspec) with hspec-wai's get.
    # The workplan wires its spec into Test/Main.hs (no Test/Integration.hs).
    shutil.copytree(variants_dir() / "workplan-literal", root, dirs_exist_ok=True)
    (root / SPEC).unlink()
    (root / "Test/Integration.hs").unlink()


VARIANTS: Final[Mapping[str, Callable[[Path], None] | None]] = {
    "ok": None,
    "build-fails": _build_fails,
    "crash-at-start": _crash_at_start,
    "healthz-wrong": _healthz_wrong,
    "overlay-missing": _overlay_missing,
    "wrong-column-type": _wrong_column_type,
    "route-missing": _route_missing,
    "failing-spec": _failing_spec,
    "wrong-liveness-path": _wrong_liveness_path,
    "slow-build": _slow_build,
    "minute-build": _minute_build,
    "workplan-literal": _workplan_literal,
}

VARIANT_DOCS: Final[Mapping[str, str]] = {
    "ok": "the sample as in lab/app/: every check passes",
    "build-fails": "Web/FrontController.hs imports a missing module: `nix build "
    ".#optimized-docker-image` exits 1 with GHC's `Could not find module`",
    "crash-at-start": "RunProdServer prints an error and exits 1 before the server starts",
    "healthz-wrong": '/healthz answers 200 `degraded` (renderPlain "degraded")',
    "overlay-missing": "flake.nix without the models overlay (no override of the models "
    "package setting configureFlags/postUnpack; no overlays.models)",
    "wrong-column-type": "probes.name is INT (Schema.sql, migration, Generated/Types.hs)",
    "route-missing": "no /healthz route (Web/Routes.hs, FrontController): T04 fails; the image "
    "builds but answers 404 on /healthz; the spec still passes",
    "failing-spec": "the spec expects status201 from ProbesAction: `nix flake check` fails "
    "(1 example, 1 failure)",
    "wrong-liveness-path": "the chart's livenessProbe asks /health instead of /healthz",
    "slow-build": f"the image build sleeps {SLOW_BUILD_SECONDS} s first: a build long "
    "enough to cut its SSH connection or attach a second run to it",
    "minute-build": f"the image build sleeps {MINUTE_BUILD_SECONDS} s first: the "
    "preflight decides T07 while this build goes on",
    "workplan-literal": "the workplan's snippets as written (pathPrefix routes, IHP.HSpec "
    "spec): T04/T05 pass with findings; the build and the tests fail "
    "to compile, as they would with GHC",
}


# ------------------------------------------------------------------------ the repository


def git_argv(repo: Path, *args: str) -> list[str]:
    return ["git", "-C", str(repo), *args]


def _copy_template(template: Path, dest: Path) -> None:
    shutil.copytree(
        template,
        dest,
        ignore=shutil.ignore_patterns(".git", "result", "result-*", "__pycache__"),
        symlinks=True,
    )
    for path in [dest, *dest.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def template_fingerprint(template: Path | None = None) -> str:
    """A digest of the template's files (names and contents): changes when lab/app does."""
    import hashlib

    src = template or template_dir()
    digest = hashlib.sha256()
    for base in (src, src.parent / "app-variants"):
        for path in sorted(
            p
            for p in base.rglob("*")
            if p.is_file() and ".git" not in p.parts and not p.name.startswith("result")
        ):
            digest.update(path.relative_to(src.parent).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def prepared_variant(dest: Path) -> str | None:
    """The variant of a repo made by :func:`prepare_app_repo` (None for anything else)."""
    try:
        return (dest / ".git" / MARKER).read_text().strip() or None
    except OSError:
        return None


def head(repo: Path) -> str:
    return run(git_argv(repo, "rev-parse", "HEAD"), env=GIT_ENV).stdout.strip()


def prepare_app_repo(dest: Path, variant: str = "ok", *, template: Path | None = None) -> Path:
    """Copy the template into ``dest``, apply ``variant``, ``git init`` and commit.

    ``dest`` must be absent, empty, or a repo made earlier by this function (it is then
    replaced). Returns ``dest``.
    """
    if variant not in VARIANTS:
        raise LabError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    src = template or template_dir()
    if not (src / "flake.nix").is_file():
        raise LabError(f"sample app template not found at {src}")
    dest = Path(dest).absolute()
    if dest.exists() and any(dest.iterdir()):
        if prepared_variant(dest) is None:
            raise LabError(f"{dest} exists and was not made by the lab: not replacing it")
        shutil.rmtree(dest)
    _copy_template(src, dest)
    patch = VARIANTS[variant]
    if patch is not None:
        patch(dest)
        relock(dest)  # a changed stand-in input needs its new narHash in flake.lock
    run(git_argv(dest, "init", "-q", "-b", BRANCH), env=GIT_ENV)
    run(git_argv(dest, "add", "-A", "."), env=GIT_ENV)
    run(
        git_argv(
            dest, "commit", "-q", "--no-verify", "-m", f"ihp-railiance-probe sample app ({variant})"
        ),
        env=GIT_ENV,
    )
    (dest / ".git" / MARKER).write_text(variant + "\n")
    return dest


def clone_checkout(repo: Path, dest: Path) -> Path:
    """The build host's checkout: a clone of ``repo`` that accepts pushes to its branch."""
    dest = Path(dest).absolute()
    if dest.exists():
        if prepared_variant(dest) is None and any(dest.iterdir()):
            raise LabError(f"{dest} exists and was not made by the lab: not replacing it")
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    run(["git", "clone", "-q", str(repo), str(dest)], env=GIT_ENV)
    run(git_argv(dest, "config", "receive.denyCurrentBranch", "updateInstead"), env=GIT_ENV)
    variant = prepared_variant(repo) or "unknown"
    (dest / ".git" / MARKER).write_text(variant + "\n")
    return dest

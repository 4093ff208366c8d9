"""The source stage (T06): the build host's checkout is the revision under test, proven by
``git rev-parse HEAD`` on the build host (a checkout at another SHA is recorded and
:class:`~pytest_irp.stage.Unusable`: T06's check judges it, nothing builds it)."""

from __future__ import annotations

import base64
import subprocess
from typing import Any

from .. import remote
from ..childenv import child_env
from ..stage import StageContext, StageError, Step, Unusable
from ..values import SourceCheckout

UNDER_TEST_REF = "refs/irp/under-test"


def commands(s: Any, host: str, sha: str) -> Step:
    """The checkout: ``source.sh`` fetches ``sha`` from git_remote, or (without one)
    unpacks a git bundle of it sent on stdin."""
    git_remote = s.get("git_remote")
    note = "fetch from git_remote" if git_remote else f"git bundle of {sha[:12]} sent on stdin"
    argv = remote.argv("source", s["remote_dir"], sha, *([git_remote] if git_remote else []))
    return Step(host, tuple(argv), s["timeout_source"], note)


def make_bundle(repo: str, sha: str, timeout: float) -> bytes:
    """A git bundle holding ``sha`` under a private ref (the user's refs are not touched)."""
    git = ["git", "-C", repo]
    subprocess.run(
        [*git, "update-ref", UNDER_TEST_REF, sha],
        check=True,
        capture_output=True,
        timeout=timeout,
        env=child_env(),
    )
    try:
        done = subprocess.run(
            [*git, "bundle", "create", "-", UNDER_TEST_REF],
            capture_output=True,
            timeout=timeout,
            check=False,
            env=child_env(),
        )
    finally:
        subprocess.run(
            [*git, "update-ref", "-d", UNDER_TEST_REF],
            capture_output=True,
            timeout=timeout,
            check=False,
            env=child_env(),
        )
    if done.returncode != 0:
        raise StageError(
            f"git bundle of {sha[:12]} in {repo} failed: "
            f"{done.stderr.decode(errors='replace').strip()}"
        )
    return done.stdout


def plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    return [commands(s, s.get("host", "<host>"), ctx.facts.sha_or())]


def run(ctx: StageContext) -> SourceCheckout:
    s = ctx.settings
    host = s.require("host")
    sha = ctx.facts.sha()
    stdin = None
    if not s.get("git_remote"):
        stdin = base64.b64encode(
            make_bundle(str(ctx.facts.app_repo), sha, ctx.remaining())
        ).decode()
    step = commands(s, host, sha)
    result = ctx.run(host, step.argv, input=stdin, what=f"checkout of {sha[:12]} on {host}")
    head = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    value: SourceCheckout = {
        "sha": sha,
        "tag": ctx.facts.tag(),
        "remote_head": head,
        "host": host,
        "remote_dir": s["remote_dir"],
        "method": "git fetch" if s.get("git_remote") else "git bundle",
    }
    if head != sha:  # T06's check judges the facts; nothing may build this checkout
        raise Unusable(
            value, f"the build host's HEAD is {head or 'unknown'}, not the SHA under test {sha}"
        )
    return value

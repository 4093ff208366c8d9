"""The spec stage (T05): the app's Hspec tests (test_command) in the build host's
checkout, and the test report when the test command printed none."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from ..nix import LOG_TAIL_LINES
from ..remote import in_checkout
from ..stage import StageContext, StageError, Step
from ..values import SpecRun

SPEC_NAME = "ProbeController"
OUTPUT_CHARS = 8000


class Commands(NamedTuple):
    tests: Step
    report: Step


def commands(s: Any, host: str) -> Commands:
    def step(argv: Any, note: str) -> Step:
        return Step(host, tuple(in_checkout(s["remote_dir"], list(argv))), s["timeout_spec"], note)

    return Commands(
        step(s["test_command"], "T05: the Hspec tests"),
        step(s["test_report_command"], "the test report, when the test command printed none"),
    )


def plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    return list(commands(s, s.get("host", "<host>")))


def run(ctx: StageContext) -> SpecRun:
    s = ctx.settings
    host = s.require("host")
    steps = commands(s, host)
    result = ctx.run(host, steps.tests.argv, check=False)
    output = result.stdout + "\n" + result.stderr
    if not result.ok:
        ctx.save_log("tests", output)
        hint = spec_failure_hint(output, list(s["test_command"]), _local_ihp_version(ctx))
        raise StageError(
            f"test command `{' '.join(s['test_command'])}` on {host} failed: "
            f"{result.describe_failure()}{hint}",
            details=result.tail(LOG_TAIL_LINES),
        )
    report = ""
    if SPEC_NAME not in output:
        shown = ctx.run(host, steps.report.argv, check=False)
        report = shown.stdout + "\n" + shown.stderr
    ctx.save_log("tests", output + report)
    return {"rc": result.rc, "output": (output + report)[-OUTPUT_CHARS:]}


_NO_TESTS_CHECK = re.compile(
    r"does not provide attribute '[^']*checks[^']*tests'|"
    r"flake '[^']*' does not provide attribute[^\n]*tests"
)
_NO_DATABASE = re.compile(
    r"(?i)could not connect to server|connection to server .* failed|"
    r"Is the server running|psql: error|createdb: error|"
    r"libpq: failed|No such file or directory.*\.s\.PGSQL"
)


def spec_failure_hint(output: str, test_command: list[str], ihp: str | None) -> str:
    """Why the test command failed when it runs the specs through the flake's ``tests``
    check: that check exists only from IHP 1.5 (flake.lock says which IHP the app has),
    and it runs in the nix sandbox, where ``withIHPApp`` finds no PostgreSQL."""
    from ..appcode.flake import version_tuple

    through_flake = "nix" in test_command[:1] and any("check" in a for a in test_command)
    if not through_flake:
        return ""
    version = version_tuple(ihp)
    fix = (
        "set test_command to run the specs where PostgreSQL runs, as the workplan does "
        '(`test` in the devenv shell, e.g. test_command = "devenv shell -- test" with '
        "`devenv up` running)"
    )
    if _NO_TESTS_CHECK.search(output) or (version is not None and version < (1, 5)):
        which = f"IHP {ihp} (flake.lock)" if ihp else "this IHP"
        return (
            f" ({which}: checks.<system>.tests exists only from IHP 1.5 on (IHP's flake "
            f"module adds it when Test/Main.hs exists); {fix})"
        )
    if _NO_DATABASE.search(output):
        return (
            " (the flake's tests check runs the specs in the nix sandbox, which has no "
            "PostgreSQL, and withIHPApp needs one: database-backed specs cannot pass "
            f"there; {fix})"
        )
    return ""


def _local_ihp_version(ctx: StageContext) -> str | None:
    from ..appcode.flake import ihp_version

    try:
        lock = ctx.facts.app_repo / "flake.lock"
        return ihp_version(lock.read_text(encoding="utf-8"))
    except OSError:
        return None

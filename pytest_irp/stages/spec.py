"""The spec stage (T05): the app's Hspec tests in the build host's checkout, with
test_command or the command T05 chooses from the app (appcode.testrun), and the test
report when the test command printed none."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NamedTuple

from ..nix import LOG_TAIL_LINES
from ..remote import in_checkout
from ..stage import StageContext, StageError, Step
from ..values import SpecRun

if TYPE_CHECKING:
    from ..appcode.testrun import TestChoice

SPEC_NAME = "ProbeController"
OUTPUT_CHARS = 8000


class Commands(NamedTuple):
    tests: Step
    report: Step | None


def commands(s: Any, host: str, choice: TestChoice | None) -> Commands:
    """The test command (``test_command``, or the one T05 chose) and the report command
    (``test_report_command``, or ``nix log`` of the chosen flake check)."""

    def step(argv: Any, note: str) -> Step:
        return Step(host, tuple(in_checkout(s["remote_dir"], list(argv))), s["timeout_spec"], note)

    explicit = s.get("test_command")
    if explicit:
        why = "T05: the Hspec tests (test_command)"
        if choice is not None:
            why += f"; unset, T05 would run {' '.join(choice.argv)}: {choice.explain()}"
        tests = step(explicit, why)
    elif choice is not None:
        tests = step(choice.argv, f"T05: the Hspec tests ({choice.where}): {choice.explain()}")
    else:
        raise StageError("T05 could not read the app's Test/ to choose a test command")
    report = s.get("test_report_command") or (choice.report if choice is not None else ())
    return Commands(
        tests,
        step(report, "the test report, when the test command printed none") if report else None,
    )


def plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    steps = commands(s, s.get("host", "<host>"), _choice(ctx))
    return [steps.tests, *([steps.report] if steps.report else [])]


def run(ctx: StageContext) -> SpecRun:
    s = ctx.settings
    host = s.require("host")
    choice = _choice(ctx)
    steps = commands(s, host, choice)
    explicit = bool(s.get("test_command"))
    shown = " ".join(s.get("test_command") or (choice.argv if choice else ()))
    if choice is not None:
        ctx.finding(
            "warning" if choice.problem and not explicit else "info",
            f"T05 runs the specs with {'test_command' if explicit else choice.label()}",
            f"$ {shown}: {choice.explain()}"
            if not explicit
            else f"$ {shown}; unset, T05 would run {' '.join(choice.argv)}: {choice.explain()}",
            choice.problem,
        )
    result = ctx.run(host, steps.tests.argv, check=False)
    output = result.stdout + "\n" + result.stderr
    if not result.ok:
        from ..appcode.testrun import database_cause

        ctx.save_log("tests", output)
        cause = database_cause(output, choice, explicit)
        if cause:
            raise StageError(
                f"test command `{shown}` on {host} failed: {cause}",
                details=result.tail(LOG_TAIL_LINES),
            )
        hint = spec_failure_hint(output, shown.split(), _local_ihp_version(ctx))
        raise StageError(
            f"test command `{shown}` on {host} failed: {result.describe_failure()}{hint}",
            details=result.tail(LOG_TAIL_LINES),
        )
    report = ""
    if SPEC_NAME not in output and steps.report is not None:
        got = ctx.run(host, steps.report.argv, check=False)
        report = got.stdout + "\n" + got.stderr
    ctx.save_log("tests", output + report)
    return {"rc": result.rc, "output": (output + report)[-OUTPUT_CHARS:]}


def _choice(ctx: StageContext) -> TestChoice | None:
    from ..appcode.checks import t05_test_choice

    try:
        return t05_test_choice(ctx.facts.app_repo)
    except (OSError, RecursionError):
        return None


_NO_TESTS_CHECK = re.compile(
    r"does not provide attribute '[^']*checks[^']*tests'|"
    r"flake '[^']*' does not provide attribute[^\n]*tests"
)


def spec_failure_hint(output: str, test_command: list[str], ihp: str | None) -> str:
    """Why the test command failed when it runs the specs through the flake's checks:
    they exist only from IHP 1.5 (flake.lock says which IHP the app has). A run that
    failed for want of a database is told by :func:`appcode.testrun.database_cause`."""
    from ..appcode.flake import version_tuple

    through_flake = "nix" in test_command[:1] and any("check" in a for a in test_command[1:])
    if not through_flake:
        return ""
    version = version_tuple(ihp)
    fix = (
        "set test_command to run the specs where PostgreSQL runs, as the workplan does "
        '(`test` in the devenv shell, e.g. test_command = "nix develop --impure --command '
        'test" with `devenv up` running)'
    )
    if _NO_TESTS_CHECK.search(output) or (version is not None and version < (1, 5)):
        which = f"IHP {ihp} (flake.lock)" if ihp else "this IHP"
        return (
            f" ({which}: checks.<system>.tests exists only from IHP 1.5 on (IHP's flake "
            f"module adds it when Test/Main.hs exists); {fix})"
        )
    return ""


def _local_ihp_version(ctx: StageContext) -> str | None:
    from ..appcode.flake import ihp_version

    try:
        lock = ctx.facts.app_repo / "flake.lock"
        return ihp_version(lock.read_text(encoding="utf-8"))
    except OSError:
        return None

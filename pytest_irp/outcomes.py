"""Outcomes of criteria: BLOCKED beside PASS/FAIL/SKIPPED, and how tests get stage values.

A test asks for a stage's value through a fixture. If the stage did not succeed:
- the stage belongs to the test's own criterion -> the test FAILS with the cause, unless
  the stage recorded its facts before it found its product unusable
  (:class:`~pytest_irp.stage.Unusable`): then the test gets the facts and judges them;
- it belongs to another criterion (or an upstream one failed) -> the test is BLOCKED,
  reported in one line naming the stage and its cause, and counted as not proven.
"""

from __future__ import annotations

from typing import Any, NoReturn

import pytest

from .stage import StageResult

MARKER = "irp_criterion"


class Blocked(Exception):
    """A check could not run because a stage it needs did not succeed."""


class CriterionFailed(Exception):
    """The stage of the test's own criterion failed: the criterion FAILS with its cause."""


def criterion_of(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker(MARKER)
    if mark is None or not mark.args:
        return None
    return str(mark.args[0])


def require(item: pytest.Item, result: StageResult) -> dict[str, Any]:
    """The stage's value, or FAIL/BLOCKED as the test's criterion dictates."""
    __tracebackhide__ = True
    if result.ok or (result.unusable and result.criterion == criterion_of(item)):
        # an unusable stage's facts go to its own criterion's checks: each judges them
        return result.value
    root_stage = result.root_stage or result.stage
    root_criterion = result.root_criterion or result.criterion
    message = f"stage '{root_stage}' ({root_criterion}) failed: {result.cause}"
    if root_criterion == criterion_of(item):
        raise CriterionFailed(message)
    raise Blocked(f"BLOCKED by {message}")


STATUS_PASS, STATUS_FAIL, STATUS_BLOCKED, STATUS_SKIPPED = "PASS", "FAIL", "BLOCKED", "SKIPPED"
# a selected check that never ran (-x, --maxfail, --sw, Ctrl-C, pytest.exit): not proven
STATUS_NOT_RUN = "NOT RUN"
# a check marked xfail (xfailed, or xpassed without strict): an expected failure proves nothing
STATUS_XFAIL = "XFAIL"
# a check skipped through not_checked(): a setting it needs is not given, so not proven
STATUS_NOT_CHECKED = "NOT CHECKED"
_RANK = {
    STATUS_FAIL: 6,
    STATUS_BLOCKED: 5,
    STATUS_NOT_RUN: 4,
    STATUS_XFAIL: 3,
    STATUS_NOT_CHECKED: 2,
    STATUS_PASS: 1,
    STATUS_SKIPPED: 0,
}
PROVEN = frozenset({STATUS_PASS, STATUS_SKIPPED})  # a criterion that needs no exit code 1


class NotChecked(pytest.skip.Exception):  # type: ignore[name-defined,misc]
    """A check that could not be made for want of a setting (raised by :func:`not_checked`):
    reported as a skip by pytest, recorded NOT CHECKED, and its criterion is not proven."""


def not_checked(what: str, setting: str) -> NoReturn:
    """Stop a check that needs ``setting``, which is not given: ``what`` says what was not
    checked. Unlike ``pytest.skip`` (an optional criterion not asked for, like T12), the
    criterion then reads NOT CHECKED, not PASS, and the run exits non-zero."""
    __tracebackhide__ = True
    from .settings import BY_NAME

    known = BY_NAME.get(setting)
    ways = f" ({known.option}, {known.env} or `{setting}` in [tool.irp])" if known else ""
    raise NotChecked(f"NOT CHECKED: {what}; set {setting}{ways} to check it")


def xfail_cause(report: pytest.TestReport) -> str:
    """The cause of a check marked xfail, for its record and its failure."""
    reason = str(getattr(report, "wasxfail", "") or "").removeprefix("reason: ")
    what = "it failed as expected" if report.skipped else "it passed, but is marked xfail"
    return (
        f"XFAIL: an expected failure proves nothing ({what}"
        f"{': ' + reason if reason else ''}); remove the xfail mark to prove the criterion"
    )


def worst(statuses: list[str]) -> str:
    """A criterion's status from its checks: any FAIL, else any BLOCKED, else any NOT RUN,
    else any XFAIL, else any NOT CHECKED, else PASS if one passed, else SKIPPED (a skipped
    part does not hide a proven one; an optional criterion not asked for is SKIPPED)."""
    if not statuses:
        return STATUS_SKIPPED
    return max(statuses, key=lambda s: _RANK[s])

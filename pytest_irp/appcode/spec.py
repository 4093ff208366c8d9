"""T05: a spec for ``GET /probes`` in the ProbeController spec, written IHP's way
(``IHP.Hspec``: ``withIHPApp``, ``callAction``, ``response*`` assertions; IHP's Guide,
Guide/testing.markdown) or the hspec-wai way (``get "/probes"`` with
``shouldRespondWith``); and the test run's hspec summary."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import Verdict
from .haskell import Module, flatten_apply, last_name, named, parse, string_value, unwrap, walk

SPEC_FILE = "Test/ProbeControllerSpec.hs"
DESCRIBE = "ProbeController"
PATH = "/probes"
_SUMMARY = re.compile(r"^\s*(\d+) examples?, (\d+) failures?(?:, (\d+) pending)?\s*$", re.M)
_MARKS = re.compile(r"\s*(\[[^\]]*\]|✔|✘|FAILED \[\d+\]|PENDING|\(\d+(?:\.\d+)?m?s\))\s*$")


def _applications(m: Module, root: Any, head: str) -> list[tuple[Any, list[Any]]]:
    """Every ``head a b ...`` (also ``head a $ b``) under ``root``."""
    found = []
    for node in walk(root):
        if node.type == "apply" and (
            node.parent is None
            or node.parent.type != "apply"
            or node.parent.child_by_field_name("function") != node
        ):
            fn, args = flatten_apply(m, node)
            if last_name(m.code(fn)) == head:
                found.append((node, args))
    return found


def describes(m: Module, title: str) -> bool:
    """Whether the module has ``describe "title"`` in code."""
    return any(
        bool(args) and string_value(m, args[0]) == title
        for _node, args in _applications(m, m.root, "describe")
    )


def _gets_probes(m: Module, node: Any, probes_actions: set[str]) -> str:
    """How the example under ``node`` requests GET /probes ('' if it does not)."""
    for _app, args in _applications(m, node, "get"):
        if args and string_value(m, args[0]) == PATH:
            return 'hspec-wai `get "/probes"`'
    for head in ("callAction", "callActionWithParams"):
        for _app, args in _applications(m, node, head):
            target = unwrap(args[0]) if args else None
            ctor = (
                m.code(named(target)[0])
                if target is not None and target.type == "record" and named(target)
                else (m.code(target) if target is not None else "")
            )
            if ctor in probes_actions:
                return f"IHP.Hspec `{head} {ctor}`"
    for node2 in walk(node):  # callAction $ ProbesAction
        if node2.type == "infix":
            op = node2.child_by_field_name("operator")
            left = node2.child_by_field_name("left_operand")
            right = node2.child_by_field_name("right_operand")
            if (
                op is not None
                and m.code(op) == "$"
                and left is not None
                and right is not None
                and last_name(m.code(unwrap(left))) == "callAction"
                and m.code(unwrap(right)) in probes_actions
            ):
                return f"IHP.Hspec `callAction $ {m.code(unwrap(right))}`"
    return ""


def _asserts(m: Module, node: Any) -> bool:
    for n in walk(node):
        if n.type in ("variable", "operator", "qualified") and last_name(m.code(n)).strip(
            "`"
        ).startswith(("should", "response")):
            return True
    return False


@dataclass(frozen=True)
class Example:
    title: str
    line: int
    how: str


def spec_examples(m: Module, probes_actions: set[str]) -> tuple[list[Example], int]:
    """Examples of ``describe "ProbeController"`` that GET /probes and assert; the line
    of the describe (0: none)."""
    examples: list[Example] = []
    describe_line = 0
    for node, args in _applications(m, m.root, "describe"):
        if not args or string_value(m, args[0]) != DESCRIBE:
            continue
        describe_line = describe_line or m.line(node)
        scope = node.parent if node.parent is not None and node.parent.type == "infix" else node
        for it, it_args in _applications(m, scope, "it"):
            title = string_value(m, it_args[0]) if it_args else None
            body = it.parent if it.parent is not None and it.parent.type == "infix" else it
            how = _gets_probes(m, body, probes_actions)
            if title is not None and how and _asserts(m, body):
                examples.append(Example(title, m.line(it), how))
    return examples, describe_line


def spec_verdict(files: Mapping[str, str], probes_actions: set[str]) -> Verdict:
    """``files``: path -> text of the spec modules; ``probes_actions``: the actions that
    GET /probes reaches in the app (for ``callAction``)."""
    try:
        return _spec_verdict(files, probes_actions)
    except RecursionError:
        verdict = Verdict()
        verdict.fail(SPEC_FILE, 0, "the spec is nested too deeply to follow")
        return verdict


def _spec_verdict(files: Mapping[str, str], probes_actions: set[str]) -> Verdict:
    """The workplan's Test/ProbeControllerSpec.hs first, then any other module in Test/
    (IHP apps often keep specs as Test/Controller/ProbesSpec.hs)."""
    verdict = Verdict()
    order = sorted(files, key=lambda p: (p != SPEC_FILE, p))
    best: tuple[str, int] | None = None
    for path in order:
        m = parse(path, files[path])
        bad = m.syntax_error_line()
        if bad:
            if path == SPEC_FILE:
                verdict.fail(path, bad, "not valid Haskell here")
                return verdict
            continue
        _note_hspec_import(verdict, m)
        examples, line = spec_examples(m, probes_actions)
        if examples:
            return verdict
        if line and best is None:
            best = (path, line)
    if best is not None:
        verdict.fail(
            best[0],
            best[1],
            f'describe "{DESCRIBE}" has no example (`it`) that '
            f'requests GET {PATH} (hspec-wai `get "{PATH}"` or '
            f"IHP.Hspec `callAction` of "
            f"{' / '.join(sorted(probes_actions)) or 'its action'})"
            f" and asserts on the response",
        )
    elif SPEC_FILE not in files:
        verdict.fail(
            SPEC_FILE, 0, f'missing, and no other module in Test/ has `describe "{DESCRIBE}"`'
        )
    else:
        verdict.fail(SPEC_FILE, 0, f'no `describe "{DESCRIBE}"` in code')
    return verdict


def _note_hspec_import(verdict: Verdict, m: Module) -> None:
    for node in walk(m.root):
        if node.type == "import":
            mod = node.child_by_field_name("module")
            if mod is not None and m.code(mod) == "IHP.HSpec":
                verdict.note(
                    f"{m.path}:{m.line(node)}: `import IHP.HSpec` (the workplan's "
                    f"snippet) is not IHP's module: it is `IHP.Hspec` "
                    f"(withIHPApp, callAction, response* helpers); `get` and "
                    f"`shouldRespondWith` come from hspec-wai"
                )


# ------------------------------------------------------------------ the test run


@dataclass(frozen=True)
class Summary:
    examples: int
    failures: int
    pending: int


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NIX_PREFIX = re.compile(r"^[^\s>]+> ", re.M)  # `nix ... -L`: "drv-name> line"


def plain(output: str) -> str:
    """hspec's output without colours and without nix -L's ``drv-name> `` prefixes."""
    return _NIX_PREFIX.sub("", _ANSI.sub("", output.replace("\r\n", "\n")))


def hspec_summary(output: str) -> Summary | None:
    """The last ``N examples, N failures[, N pending]`` line of hspec's output."""
    found = _SUMMARY.findall(plain(output))
    if not found:
        return None
    examples, failures, pending = found[-1]
    return Summary(int(examples), int(failures), int(pending or 0))


def group_examples(output: str, group: str = DESCRIBE) -> list[str]:
    """The example titles hspec printed under the ``group`` heading."""
    lines = plain(output).splitlines()
    titles: list[str] = []
    for i, line in enumerate(lines):
        if line.strip() != group:
            continue
        indent = len(line) - len(line.lstrip())
        for nxt in lines[i + 1 :]:
            if not nxt.strip():
                break
            if len(nxt) - len(nxt.lstrip()) <= indent:
                break
            title = _MARKS.sub("", nxt.strip().removeprefix("- ")).strip()
            if title:
                titles.append(title)
    return titles


def run_verdict(output: str) -> tuple[Verdict, list[str]]:
    """Green only with examples run, none failed and none pending, and examples printed
    under ProbeController; returns the verdict and those examples' titles."""
    verdict = Verdict()
    where = "test output"
    summary = hspec_summary(output)
    titles = group_examples(output)
    if summary is None:
        verdict.fail(
            where,
            0,
            "no hspec summary line (`N examples, N failures`): the specs "
            "did not run, or their output was not captured",
        )
    elif summary.examples == 0:
        verdict.fail(where, 0, "hspec ran 0 examples")
    elif summary.failures or summary.pending:
        verdict.fail(
            where,
            0,
            f"hspec reports {summary.examples} examples, "
            f"{summary.failures} failures, {summary.pending} pending "
            f"(pending is not passing)",
        )
    if not titles:
        verdict.fail(where, 0, f"the output names no example under {DESCRIBE}")
    return verdict, titles

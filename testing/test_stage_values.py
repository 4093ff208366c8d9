"""The stage list is written once (pytest_irp.stages.SPECS) and everything about the stages
agrees with it: the pipeline, the timeout settings, the fixtures and their arguments, the
stage modules' entry points, the value types, their documentation (fixture docstrings,
docs/values.md's list) and the keys tests/ reads."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from pytest_irp import docgen, fixtures, values
from pytest_irp.pipeline import CRITERIA, KEYS, STAGES
from pytest_irp.settings import BY_NAME, STAGE_TIMEOUTS
from pytest_irp.stage import StageResult
from pytest_irp.stages import SPECS

ROOT = Path(__file__).resolve().parent.parent
NAMES = [spec.name for spec in SPECS]


def test_the_pipeline_is_the_stage_list_in_its_order() -> None:
    assert [s.name for s in STAGES] == NAMES
    for stage, spec in zip(STAGES, SPECS, strict=True):
        assert (stage.criterion, stage.title, stage.needs, stage.hosts, stage.imports) == (
            spec.criterion,
            spec.title,
            spec.needs,
            spec.hosts,
            spec.imports,
        )
        assert stage.key is KEYS.get(spec.name)
    assert set(KEYS) <= set(NAMES)


def test_a_stage_needs_only_stages_listed_before_it_and_names_a_known_criterion() -> None:
    for index, spec in enumerate(SPECS):
        assert set(spec.needs) <= set(NAMES[:index]), spec.name
        assert spec.criterion in CRITERIA, spec.name
    assert len(set(NAMES)) == len(NAMES)
    assert len({spec.fixture for spec in SPECS}) == len(SPECS)


def test_every_stage_has_its_timeout_setting_with_the_stage_lists_default() -> None:
    assert {spec.name: spec.timeout for spec in SPECS} == STAGE_TIMEOUTS
    for spec in SPECS:
        setting = BY_NAME[spec.timeout_setting]
        assert setting.default == spec.timeout
        assert setting.group == "timeouts"
    assert {n for n in BY_NAME if n.startswith("timeout_")} == {
        spec.timeout_setting for spec in SPECS
    }


def _arguments(fixture: Any) -> list[str]:
    return list(inspect.signature(fixture).parameters)


def test_the_fixtures_are_the_stage_list() -> None:
    """stage_NAME asks for the stages NAME needs (pytest's fixture graph is the
    pipeline); the value fixture asks for stage_NAME; STAGE_FIXTURES maps them back."""
    assert {f"stage_{n}": n for n in NAMES} == fixtures.STAGE_FIXTURES
    for spec in SPECS:
        stage = getattr(fixtures, spec.stage_fixture)
        assert _arguments(stage) == ["irp_pipeline", *(f"stage_{n}" for n in spec.needs)]
        assert _arguments(getattr(fixtures, spec.fixture)) == ["request", spec.stage_fixture]


def test_fixtures_run_the_stage_and_hand_over_its_value() -> None:
    class Pipeline:
        def __init__(self) -> None:
            self.asked: list[str] = []

        def result(self, name: str) -> StageResult:
            self.asked.append(name)
            return StageResult(name, "T07", "ok", value={"image": "x"})

    pipeline = Pipeline()
    stage = fixtures.stage_push._get_wrapped_function()  # type: ignore[attr-defined]
    result = stage(pipeline, stage_build=None)
    assert pipeline.asked == ["push"]
    value = fixtures.pushed_image._get_wrapped_function()  # type: ignore[attr-defined]
    node = type("Request", (), {"node": None})()
    assert value(node, stage_push=result) == {"image": "x"}


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_each_stage_module_has_commands_plan_and_run_returning_its_value_type(spec: Any) -> None:
    module = importlib.import_module(spec.module)
    for name in ("commands", "plan", "run"):
        assert callable(getattr(module, name, None)), f"{spec.module}.{name}"
    mixed = [
        n
        for n, v in vars(module).items()
        if inspect.isfunction(v)
        and v.__module__ == module.__name__
        and re.search(r"_(run|plan)$|^build_run", n)
    ]
    assert mixed == []
    assert typing.get_type_hints(module.run)["return"] is spec.value


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_the_fixture_docstring_is_generated_from_the_value_type(spec: Any) -> None:
    doc = getattr(fixtures, spec.fixture).__doc__
    assert doc == docgen.fixture_doc(spec)
    for key in docgen.keys(spec.value):
        assert f"- {key.name} (" in doc
        assert key.doc, f"{spec.value.__name__}.{key.name} has no description"


def test_the_readme_list_of_values_is_generated_from_the_types() -> None:
    text = (ROOT / "docs" / "values.md").read_text(encoding="utf-8")
    assert docgen.updated(text) == text, "run python3 -m pytest_irp.docgen"
    done = subprocess.run(
        [sys.executable, "-m", "pytest_irp.docgen", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_the_readme_check_fails_when_a_type_gains_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "docs" / "values.md").read_text(encoding="utf-8")

    class ChartLint(typing.TypedDict):
        """`helm lint --strict` of the chart."""

        lint_rc: typing.Annotated[int, "its exit code"]
        lint_output: typing.Annotated[str, "its last 10 lines"]
        lint_warnings: typing.Annotated[list[str], "a key the README does not list yet"]

    specs = tuple(
        s if s.name != "chart" else type(s)(**{**vars(s), "value": ChartLint}) for s in SPECS
    )
    monkeypatch.setattr(docgen, "SPECS", specs)
    assert docgen.updated(text) != text
    assert "`lint_warnings` (list[str])" in docgen.updated(text)


def _sample(hint: Any) -> Any:
    """A value of the type, every key filled (JSON-able by construction or not at all)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Annotated, typing.NotRequired):
        return _sample(args[0])
    if origin in (typing.Union, types.UnionType):
        return _sample(next(a for a in args if a is not type(None)))
    if origin is list:
        return [_sample(args[0]), _sample(args[0])]
    if origin is dict:
        return {"key": _sample(args[1])}
    if typing.is_typeddict(hint):
        hints = typing.get_type_hints(hint, include_extras=True)
        return {name: _sample(h) for name, h in hints.items()}
    return {str: "text", int: 7, float: 1.5, bool: True}.get(hint, {"any": [1, "x", None]})


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_values_round_trip_through_the_saved_result(spec: Any) -> None:
    """--irp-reuse and pytest's cache keep a result as JSON: a value comes back equal."""
    value = _sample(spec.value)
    assert set(value) == {key.name for key in docgen.keys(spec.value)}
    result = StageResult(spec.name, spec.criterion, "ok", value=value)
    again = StageResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again.value == value
    assert again == result


def _value_keys_read_in_tests() -> dict[str, set[str]]:
    """fixture -> the keys tests/ reads from it (``fixture["key"]``, ``fixture.get("key")``)."""
    by_fixture = {spec.fixture: spec for spec in SPECS}
    read: dict[str, set[str]] = {}
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            target, key = None, None
            if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
                target, key = node.value, node.slice.value
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                target, key = node.func.value, node.args[0].value
            if isinstance(target, ast.Name) and target.id in by_fixture and isinstance(key, str):
                read.setdefault(target.id, set()).add(key)
    return read


def test_tests_read_only_keys_their_value_types_have() -> None:
    read = _value_keys_read_in_tests()
    assert read, "no value key read in tests/: the scan is broken"
    by_fixture = {spec.fixture: spec for spec in SPECS}
    unknown = {
        fixture: sorted(keys - {k.name for k in docgen.keys(by_fixture[fixture].value)})
        for fixture, keys in read.items()
    }
    assert {f: k for f, k in unknown.items() if k} == {}


def test_the_value_types_are_all_in_the_stage_list() -> None:
    top = {spec.value for spec in SPECS}
    nested = {values.HttpAnswer, values.PodSummary}
    declared = {
        v
        for v in vars(values).values()
        if isinstance(v, type) and typing.is_typeddict(v) and v.__module__ == values.__name__
    }
    assert declared == top | nested


def test_the_report_lists_stages_in_the_stage_lists_order() -> None:
    from pytest_irp.html import model

    results = {
        name: StageResult(name, spec.criterion, "ok")
        for name, spec in ((s.name, s) for s in reversed(SPECS))
    }
    run = model.RunInfo(
        run_id="r1",
        command_line="pytest",
        selection=[],
        not_selected=[],
        full=True,
        exit_code=0,
        environment=[],
    )
    report = model.build(
        records=[],
        results=results,
        titles=CRITERIA,
        stage_titles={s.name: s.title for s in STAGES},
        run=run,
        base="/tmp",
        title="x",
    )
    assert [view.name for view in report.stages] == NAMES
    assert [view.title for view in report.stages] == [spec.title for spec in SPECS]


def test_plans_show_remote_scripts_by_file_name_and_inline_commands_as_they_are() -> None:
    from pytest_irp import remote

    inline = remote.in_checkout("app", ["nix", "flake", "check"])
    assert remote.display(inline) == inline  # no pytest_irp/remote/in-checkout.sh exists
    shown = remote.display(remote.argv("push", "work"))
    assert shown[:4] == ["sh", "-c", "<pytest_irp/remote/push.sh>", "irp-push"]


def _planned(plan: str) -> set[tuple[str, str]]:
    """(host, command line) of every command the plan lists (preflight and stages)."""
    return {
        (m.group(1), m.group(2))
        for m in re.finditer(r"^\s+\[(\S+)\] \$ (.*?)   # timeout", plan, re.M)
    }


def test_what_the_stages_run_is_what_the_plan_shows(project: Any, sound_target: list[str]) -> None:
    """Plan and run take their command lines from the same function of each stage: every
    command the run started is in the plan (argument for argument), and the commands of
    the stages that ran to the end were all started."""
    import shlex

    plan = project.run("--irp-plan", *sound_target)
    assert plan.ret == 0
    planned = _planned(plan.stdout.str())
    project.run(*sound_target)

    def shown(argv: list[str]) -> str:  # the fake runner records a script by its name
        if argv[:2] == ["sh", "-c"] and argv[2].startswith("irp-") and argv[2] != "irp-in-checkout":
            argv = ["sh", "-c", f"<pytest_irp/remote/{argv[2][4:]}.sh>", *argv[2:]]
        return shlex.join(argv)

    ran = {(call["host"], shown(call["argv"])) for call in project.calls()}
    facts = {(h, c) for h, c in ran if c.startswith("git -C ") and " rev-parse " in c}
    assert ran - facts - planned == set()
    steps = [
        (h, c)
        for h, c in planned
        if not c.startswith(("GET ", "HEAD ", "kubernetes-api", "append "))
    ]
    for needle in (
        "irp-source ",
        "irp-prebuild ",
        "irp-build start ",
        "irp-build follow ",
        "irp-build inspect ",
        "nix flake check --no-build",
        "nix flake show",
        "nix eval",
        "helm lint ",
        "helm template ",
        "k3s --version",
        "cat -- /etc/rancher/k3s/registries.yaml",
    ):
        assert any(needle in c and (h, c) in ran for h, c in steps), needle

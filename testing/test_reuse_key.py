"""--irp-reuse takes a saved stage result only when everything the stage read is unchanged
(issue 20, point 2): the settings it read (recorded while it ran), the contents of the local
files on its command lines, the local tools it ran and its upstream's tool versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_runner import FakeRunner
from scenario import rules_for

from conftest import Project, make_app_repo
from pytest_irp.pipeline import KEYS, STAGES
from pytest_irp.redact import Redactor, Secret
from pytest_irp.settings import BY_NAME, resolve
from pytest_irp.stage import Pipeline, StageResult

REGISTRY = "127.0.0.1:9/coulomb/ihp-railiance-probe"
# every stage with a key but push, whose run needs a registry (its reads are recorded the
# same way: the mechanism is the pipeline's, not the stage's)
SELF_TESTED = [name for name in KEYS if name != "push"]


class DictCache(dict[str, Any]):
    """pytest's cache as the pipeline uses it (values through JSON)."""

    def set(self, key: str, value: Any) -> None:
        self[key] = json.loads(json.dumps(value))


class Target:
    def __init__(self, tmp_path: Path) -> None:
        self.app = tmp_path / "app"
        self.sha = make_app_repo(self.app)
        self.values = self.app / "values-extra.yaml"
        self.values.write_text("replicaCount: 1\n")
        self.tmp = tmp_path
        self.cache = DictCache()
        self.base: dict[str, Any] = {
            "app_repo": str(self.app),
            "host": "haskelseed",
            "registry": REGISTRY,
            "registry_user": "tegwick",
            "reports_dir": str(tmp_path / "reports"),
            "helm_values": [str(self.values)],
        }

    def result(self, stage: str, **changed: Any) -> StageResult:
        settings = resolve({}, {}, [("test", {**self.base, **changed})])
        redactor = Redactor()
        scenario = {"sha": self.sha, "calls": str(self.tmp / "calls.jsonl")}
        pipeline = Pipeline(
            STAGES,
            settings,
            redactor,
            make_runner=lambda host: FakeRunner(host, redactor, rules_for(host, scenario)),
            log_dir=self.tmp / "logs",
            cache=self.cache,
            run_id="test",
            reuse=True,
        )
        return pipeline.result(stage)

    def saved_inputs(self, stage: str) -> dict[str, Any]:
        return dict(self.cache[f"irp/stage/{stage}"]["inputs"])


def other_value(name: str, value: Any) -> Any:
    """A different value of the setting, in the form a TOML file gives it."""
    setting = BY_NAME[name]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, tuple):
        return [*value, "--irp-changed"]
    if isinstance(value, Secret):
        return None
    example = setting.parse(setting.example) if setting.example else None
    if value is None or (example is not None and example != value):
        return example if not isinstance(example, tuple) else list(example)
    return f"{value}-changed"


@pytest.fixture
def target(tmp_path: Path) -> Target:
    return Target(tmp_path)


def _fresh_then_reused(target: Target, stage: str) -> None:
    """Put the base run's result in the cache, and check that the base is reused."""
    first = target.result(stage)
    assert first.ok, first.cause
    again = target.result(stage)
    assert again.reused_from is not None, f"{stage}: unchanged inputs must be reused"


@pytest.mark.parametrize("stage", SELF_TESTED)
def test_each_input_a_stage_read_changed_in_turn_means_no_reuse(target: Target, stage: str) -> None:
    _fresh_then_reused(target, stage)
    inputs = target.saved_inputs(stage)
    assert inputs["settings"], f"{stage} recorded no setting read"
    for name in inputs["settings"]:
        current = resolve({}, {}, [("t", target.base)]).values[name]
        changed = other_value(name, current)
        if changed is None:
            continue
        result = target.result(stage, **{name: changed})
        assert result.reused_from is None, f"{stage} reused with setting {name} changed"
        _fresh_then_reused(target, stage)
    for path in inputs["files"]:
        file = Path(path)
        if file.is_dir():
            extra = file / "irp-extra.txt"
            extra.write_text("changed\n")
            assert target.result(stage).reused_from is None, f"{stage}: new file in {path}"
            extra.unlink()
        else:
            before = file.read_bytes()
            file.write_bytes(before + b"# changed\n")
            assert target.result(stage).reused_from is None, f"{stage}: {path} changed"
            file.write_bytes(before)
        _fresh_then_reused(target, stage)


def test_what_the_chart_stages_read_is_recorded(target: Target) -> None:
    """The issue's case: helm_values' contents, release and namespace, the chart's files and
    helm itself are in the render stage's inputs, derived from what it read and ran."""
    _fresh_then_reused(target, "render")
    inputs = target.saved_inputs("render")
    assert {"helm_values", "release", "namespace", "chart", "helm", "registry"} <= set(
        inputs["settings"]
    )
    assert str(target.values) in inputs["files"]
    assert str(target.app / "chart") in inputs["files"]
    assert "helm" in inputs["tools"]


def test_a_changed_nix_version_on_the_build_host_means_no_reuse_of_the_build(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build's upstream prebuild runs every time; the nix version it reports is part of
    the build's inputs."""
    _fresh_then_reused(target, "build")
    import scenario

    original = scenario._stage_rules

    def newer_nix(host: str, sc: dict[str, Any]) -> Any:
        rules = original(host, sc)
        if host != "haskelseed":
            return rules
        answer = scenario.reply(0, "nix=nix (Nix) 2.9.0\ndisk_free_kb=99999999\n")
        return [(scenario.script_is("prebuild"), answer), *rules]

    monkeypatch.setattr(scenario, "_stage_rules", newer_nix)
    assert target.result("build").reused_from is None


def test_a_changed_values_file_is_not_reused_end_to_end(project: Project) -> None:
    """Issue 20's report: a values file's content changed, and T08 was 'reused from run'."""
    values = project.path / "app" / "values-extra.yaml"
    values.write_text("replicaCount: 1\n")
    args = ("-k", "T08", "--irp-reuse", f"--irp-helm-values={values}")
    assert project.run(*args).ret == 0
    again = project.run(*args)
    assert "irp [chart] reused from run" in again.stdout.str()
    values.write_text("replicaCount: 2\n")
    changed = project.run(*args)
    assert changed.ret == 0, changed.stdout.str()
    assert "reused from run" not in changed.stdout.str()
    renamed = project.run(*args, "--irp-release=other-release")
    assert "irp [render] reused from run" not in renamed.stdout.str()


def test_another_helm_binary_means_no_reuse(target: Target) -> None:
    """A local tool the stage ran is part of its inputs: the binary resolved on PATH (its
    path, size and modification time stand for its version)."""
    helm = target.tmp / "bin" / "helm"
    helm.parent.mkdir()
    helm.write_text("#!/bin/sh\n")
    helm.chmod(0o755)
    target.base["helm"] = [str(helm)]
    _fresh_then_reused(target, "chart")
    assert str(helm) in target.saved_inputs("chart")["tools"]
    helm.write_text("#!/bin/sh\n# a newer helm\n")
    assert target.result("chart").reused_from is None

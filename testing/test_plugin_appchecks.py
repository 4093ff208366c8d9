"""The criteria suite's app-side checks (tests/test_t02..t05) through the real plugin:
they pass on a correct tree of the corpus and fail, with the judge's message naming file
and line, on planted defects."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import Project, git

CORPUS = Path(__file__).resolve().parent / "corpus"


def lay(project: Project, *cases: str) -> None:
    app = project.path / "app"
    for child in app.iterdir():  # the corpus tree replaces the lab's sample app
        if child.name not in (".git", "build"):
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    shutil.copytree(CORPUS / "base", app, dirs_exist_ok=True)
    for case in cases:
        shutil.copytree(CORPUS / "cases" / case / "tree", app, dirs_exist_ok=True)
    git(app, "add", "-A")
    git(app, "commit", "-qm", "corpus")


def test_static_app_checks_pass_on_a_correct_tree(project: Project) -> None:
    lay(project, "routing-dsl-webroutes", "schema-pg-dump", "spec-hspec-wai")
    result = project.run(
        "-k", "T02_ihp or T03_probes or T03_migration or T04 or T05_probe_controller_spec"
    )
    result.assert_outcomes(passed=5)


def test_static_app_checks_fail_on_planted_defects(project: Project) -> None:
    lay(
        project,
        "defect-prefix-shadowed",
        "defect-schema-text-array",
        "defect-migration-comment-only",
        "defect-spec-wrong-path",
    )
    result = project.run("-k", "T03_probes or T03_migration or T04 or T05_probe_controller_spec")
    result.assert_outcomes(failed=4)
    text = result.stdout.str()
    for message in (
        "Application/Schema.sql:5: probes.name is TEXT[] NOT NULL, expected TEXT NOT NULL",
        "Application/Migration: none of the 1 migrations creates or alters table probes",
        "Web/Routes.hs: no route of HealthController (CanRoute) matches GET /healthz",
        'Test/ProbeControllerSpec.hs:9: describe "ProbeController" has no example',
    ):
        assert message in text, message

"""T12's workflow audit, rule by rule: the workplan's workflow (lab/app) fails each rule,
a workflow written to pass them (testing/data/gitea-actions/good-workflow.yml) passes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_irp import ci_audit, ci_workflow

ROOT = Path(__file__).resolve().parent.parent
WORKPLAN = (ROOT / "lab/app/.gitea/workflows/build-and-deploy.yml").read_text(encoding="utf-8")
GOOD = (ROOT / "testing/data/gitea-actions/good-workflow.yml").read_text(encoding="utf-8")
PATH = ".gitea/workflows/build-and-deploy.yml"
IHP_OUTPUTS = ["default", "optimized-docker-image", "unoptimized-docker-image", "migrate"]
ONLINE = {
    "name": "haskelseed",
    "status": "online",
    "disabled": False,
    "labels": [{"id": 0, "name": "haskelseed", "type": "custom"}],
}


def facts(**changes: Any) -> dict[str, Any]:
    """What a lab run proves: IHP's outputs, a dead realm, plain HTTP, one runner."""
    base: dict[str, Any] = {
        "flake_outputs": IHP_OUTPUTS,
        "realm": {
            "realm": "http://10.77.0.3/v2/token",
            "problem": "the registry advertises the token realm http://10.77.0.3/v2/token",
            "dead": True,
            "source": "T07's push failed on it",
            "fix": "Set ROOT_URL = http://10.77.0.3:3000/",
        },
        "build_seconds": 669,
        "registry": "10.77.0.3:3000/coulomb/ihp-railiance-probe",
        "plain_http": True,
        "namespace": "coulomb",
        "secret_name": "ihp-railiance-probe-env",
        "kube_context": "railiance01",
        "secret_state": "existing",
        "runners": [ONLINE],
        "runner_label": "haskelseed",
        "gitea_url": "http://10.77.0.3:3000",
        "ci_branch": "main",
    }
    base.update(changes)
    return base


def rules(text: str, rule: str, **changes: Any) -> list[dict[str, str]]:
    return [f for f in ci_audit.audit({PATH: text}, facts(**changes)) if f["rule"] == rule]


def errors(text: str, **changes: Any) -> list[dict[str, str]]:
    return [f for f in ci_audit.audit({PATH: text}, facts(**changes)) if f["severity"] == "error"]


def test_the_good_workflow_has_no_error_or_warning() -> None:
    found = ci_audit.audit({PATH: GOOD}, facts())
    assert [f for f in found if f["severity"] != "info"] == []


def test_the_workplans_workflow_as_the_lab_carries_it() -> None:
    """The acceptance's three at least: flake attribute, realm, runner label."""
    found = ci_audit.audit({PATH: WORKPLAN}, facts(runners=[]))
    by_rule = {f["rule"]: f for f in found if f["severity"] == "error"}
    assert set(by_rule) >= {"flake-attr", "push-realm", "runs-on", "push-creds", "deploy-kube"}
    assert by_rule["flake-attr"]["line"] == "7"  # `- run: nix build .#docker ...`
    assert "no 'docker' output" in by_rule["flake-attr"]["problem"]
    assert "optimized-docker-image" in by_rule["flake-attr"]["fix"]
    assert by_rule["push-realm"]["line"] == "8"
    assert (
        "will fail as T07 did after the build (T06 took 11 min here)"
        in (by_rule["push-realm"]["problem"])
    )
    assert by_rule["runs-on"]["line"] == "4"
    assert "no runner Gitea knows has" in by_rule["runs-on"]["problem"]


def test_flake_attribute_rule() -> None:
    assert rules(GOOD, "flake-attr") == []
    assert (
        rules(
            GOOD.replace(".#optimized-docker-image", ".#packages.x86_64-linux.migrate"),
            "flake-attr",
        )
        == []
    )
    bad = rules(GOOD.replace(".#optimized-docker-image", ".#docker"), "flake-attr")
    assert [f["severity"] for f in bad] == ["error"]
    unknown = rules(WORKPLAN, "flake-attr", flake_outputs=None, flake_note="T01 not run")
    assert [f["severity"] for f in unknown] == ["info"]
    assert "T01 not run" in unknown[0]["problem"]
    assert rules(WORKPLAN, "flake-attr", flake_outputs=[*IHP_OUTPUTS, "docker"]) == []


def test_push_credentials_rule() -> None:
    assert rules(GOOD, "push-creds") == []
    authfile = WORKPLAN.replace("skopeo copy ", 'skopeo copy --authfile "$AUTH" ')
    assert rules(authfile, "push-creds") == []
    assert [f["severity"] for f in rules(WORKPLAN, "push-creds")] == ["error"]


def test_push_realm_rule_follows_what_t07_found() -> None:
    assert rules(GOOD, "push-realm") == []
    assert rules(WORKPLAN, "push-realm", realm=None) == []  # the realm is right
    bad = rules(WORKPLAN, "push-realm")
    assert [f["severity"] for f in bad] == ["error"]
    assert "--dest-registry-token" in bad[0]["fix"]
    assert "ROOT_URL" in bad[0]["fix"]
    live = dict(facts()["realm"], dead=False)  # wrong; something answers it from here
    unproven = rules(WORKPLAN, "push-realm", realm=live)
    assert [f["severity"] for f in unproven] == ["error"]
    assert "unless the build host reaches that address" in unproven[0]["problem"]


def test_push_tls_and_destination_rules() -> None:
    assert rules(GOOD, "push-tls") == []
    assert rules(GOOD, "push-dest") == []
    assert [f["severity"] for f in rules(WORKPLAN, "push-tls")] == ["error"]
    assert rules(WORKPLAN, "push-tls", plain_http=False) == []
    other = rules(GOOD, "push-dest", registry="10.77.0.3:3000/coulomb/other")
    assert "the push goes to 10.77.0.3:3000/coulomb/ihp-railiance-probe" in other[0]["problem"]


def test_deploy_rules() -> None:
    for rule in ("deploy-kube", "deploy-namespace", "deploy-secret", "deploy-tag"):
        assert rules(GOOD, rule) == [], rule
    assert [f["severity"] for f in rules(WORKPLAN, "deploy-kube")] == ["error"]
    with_env = WORKPLAN.replace("    steps:", "    env:\n      KUBECONFIG: /etc/k.yaml\n    steps:")
    assert rules(with_env, "deploy-kube") == []
    no_ns = rules(WORKPLAN.replace("--namespace coulomb ", ""), "deploy-namespace")
    assert [f["severity"] for f in no_ns] == ["error"]
    other_ns = rules(
        WORKPLAN.replace("--namespace coulomb", "--namespace=prod"), "deploy-namespace"
    )
    assert [f["severity"] for f in other_ns] == ["warning"]
    assert rules(WORKPLAN, "deploy-secret") == []
    assert [f["severity"] for f in rules(WORKPLAN, "deploy-secret", secret_state="created")] == [
        "warning"
    ]
    untagged = rules(WORKPLAN.replace(" --set image.tag=$SHA", ""), "deploy-tag")
    assert "chart's default tag" in untagged[0]["problem"]
    other_tag = WORKPLAN.replace(
        "helm upgrade", "SHA=$(git rev-parse HEAD)\n          helm upgrade"
    ).replace(
        "          SHA=$(git rev-parse --short HEAD)\n          SHA=$(git rev-parse HEAD)",
        "          SHA=$(git rev-parse HEAD)",
    )
    mismatch = rules(other_tag, "deploy-tag")
    assert mismatch
    assert "the push wrote tag $SHA" in mismatch[0]["problem"]


def test_runs_on_rule_against_gitea_runners() -> None:
    assert rules(GOOD, "runs-on") == []
    offline = dict(ONLINE, status="offline")
    assert "not online" in rules(GOOD, "runs-on", runners=[offline])[0]["problem"]
    other = dict(ONLINE, labels=[{"name": "ubuntu-latest:docker://node:20"}])
    assert "no runner Gitea knows has" in rules(GOOD, "runs-on", runners=[other])[0]["problem"]
    unlisted = rules(GOOD, "runs-on", runners=None, runners_note="HTTP 403")
    assert [f["severity"] for f in unlisted] == ["info"]
    wrong = rules(
        GOOD.replace("runs-on: haskelseed", "runs-on: ubuntu-latest"), "runs-on", runners=None
    )
    assert [f["severity"] for f in wrong] == ["error", "info"]


def test_actions_rule_names_where_the_runner_fetches_them() -> None:
    assert rules(GOOD, "actions") == []
    found = rules(WORKPLAN, "actions")
    assert [f["severity"] for f in found] == ["warning"]
    assert "https://github.com/actions/checkout" in found[0]["problem"]
    assert "http://10.77.0.3:3000/actions/checkout" in found[0]["problem"]
    assert "node" in found[0]["problem"]


def test_workflow_directories_trigger_and_yaml() -> None:
    both = ci_audit.audit({PATH: GOOD, ".github/workflows/ci.yml": WORKPLAN}, facts())
    assert [(f["rule"], f["file"]) for f in both if f["severity"] != "info"] == [
        ("workflow-dir", ".github/workflows/ci.yml")
    ]
    only_github = ci_audit.audit({".github/workflows/ci.yml": GOOD}, facts())
    assert [f for f in only_github if f["severity"] != "info"] == []
    assert errors("on: [pull_request]\njobs: {}\n")[0]["rule"] == "trigger"
    assert errors("on: [push\n")[0]["rule"] == "yaml"
    assert ci_audit.audit({}, facts())[0]["problem"].startswith("no workflow runs on push")
    missing = errors(GOOD.replace("skopeo copy", "echo"))
    assert [f["problem"] for f in missing if f["rule"] == "steps"] == [
        "job build-push-deploy has no push step (`skopeo copy`)"
    ]


@pytest.mark.parametrize(
    ("script", "words"),
    [
        ("nix build .#docker # comment", ["nix", "build", ".#docker"]),
        ("sudo nix build -L .#x", ["nix", "build", "-L", ".#x"]),
        ("A=1 skopeo copy a \\\n  b", ["skopeo", "copy", "a", "b"]),
    ],
)
def test_commands_are_split_as_a_shell_splits_them(script: str, words: list[str]) -> None:
    assert ci_workflow.commands_in(script)[0] == words


def test_flake_outputs_from_nix_flake_show() -> None:
    show = {"packages": {"x86_64-linux": {"default": {}, "docker": {}}}, "checks": {"x": {}}}
    assert ci_audit.flake_outputs(show) == ["default", "docker"]
    assert ci_audit.flake_outputs(None) is None
    assert ci_workflow.attribute(ci_workflow.installable(["nix", "build", "-o", "r", ".#a"])) == "a"
    assert ci_workflow.attribute("") == "default"


def test_one_script_may_build_push_and_deploy() -> None:
    one = GOOD.replace(
        "        run: nix build .#optimized-docker-image --log-format raw --max-jobs 1\n",
        "        run: nix build --option cores 2 .#optimized-docker-image --max-jobs 1\n",
    )
    assert [f for f in ci_audit.audit({PATH: one}, facts()) if f["severity"] != "info"] == []
    merged = (
        "on: push\njobs:\n  all:\n    runs-on: haskelseed\n    steps:\n"
        "      - run: |\n          nix build .#docker\n          skopeo copy a b\n"
        "          helm upgrade --install r ./chart\n"
    )
    found = {f["rule"] for f in ci_audit.audit({PATH: merged}, facts()) if f["severity"] == "error"}
    assert "steps" not in found
    assert {"flake-attr", "push-creds", "deploy-kube"} <= found


def test_push_branch_filter_must_take_the_ci_branch() -> None:
    only = GOOD.replace("on: [push]", "on:\n  push:\n    branches: [release/*]")
    found = rules(only, "trigger")
    assert [f["problem"] for f in found] == [
        "the workflow runs on pushes to release/* only, not to main (setting ci_branch)"
    ]
    assert rules(GOOD.replace("on: [push]", "on:\n  push:\n    branches: [ma*]"), "trigger") == []

"""IHP's two environments (pytest_irp/ihp_env.py): which IHP_ENV a release gives its app,
and how T10 proves the app's start in each (ihp/IHP/Server.hs prints `Server started` in
Development only)."""

from __future__ import annotations

import base64

import pytest

from pytest_irp import ihp_env, rollout_judge


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


SECRETS = {"env": {"IHP_ENV": _b64("Production")}, "other": {"X": _b64("1")}}


def _secret(name: str, key: str) -> str | None:
    return ihp_env.decode(SECRETS.get(name), key)


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        (
            {"env": [{"name": "IHP_ENV", "value": "Production"}]},
            ("Production", "the container's env"),
        ),
        ({"envFrom": [{"secretRef": {"name": "env"}}]}, ("Production", "Secret env")),
        ({"envFrom": [{"secretRef": {"name": "other"}}]}, ("", "")),
        ({}, ("", "")),
        # an env entry wins over envFrom, as Kubernetes applies them
        (
            {
                "env": [{"name": "IHP_ENV", "value": "Development"}],
                "envFrom": [{"secretRef": {"name": "env"}}],
            },
            ("Development", "the container's env"),
        ),
        (
            {
                "env": [
                    {
                        "name": "IHP_ENV",
                        "valueFrom": {"secretKeyRef": {"name": "env", "key": "IHP_ENV"}},
                    }
                ]
            },
            ("Production", "Secret env"),
        ),
    ],
)
def test_release_env_as_kubernetes_sets_it(container, expected) -> None:
    assert tuple(ihp_env.release_env(container, _secret)) == expected


def test_decode_refuses_what_is_not_base64() -> None:
    assert ihp_env.decode({"IHP_ENV": "!!"}) is None
    assert ihp_env.decode(None) is None


def _log(log: str):
    return lambda line: rollout_judge.startup_problem(log, line)


def test_production_proves_the_start_by_the_first_answer_not_a_line() -> None:
    verdict = ihp_env.judge_startup("Production", None, _log("GET /healthz 200\n"), "")
    assert verdict.problem == ""
    assert "only in Development" in verdict.proof
    assert "answered ok" in verdict.proof
    # the lab's old setting: "Server started" expected in Production is not a FAIL
    assert ihp_env.judge_startup("Production", "Server started", _log(""), "").problem == ""
    failed = ihp_env.judge_startup("Production", None, _log(""), "HTTP 503")
    assert "GET /healthz through the cluster: HTTP 503" in failed.problem


def test_production_with_a_line_of_the_users_own_checks_that_line() -> None:
    verdict = ihp_env.judge_startup("Production", "Migrations done", _log("boot\n"), "")
    assert "'Migrations done' not in the pod log" in verdict.problem


def test_development_and_unset_expect_server_started() -> None:
    assert ihp_env.judge_startup("", None, _log("Server started\n"), "").problem == ""
    verdict = ihp_env.judge_startup("Development", None, _log("boot\n"), "")
    assert (
        verdict.problem
        == "startup line 'Server started' not in the pod log (IHP_ENV is Development)"
    )


def test_unknown_environment_is_a_problem() -> None:
    verdict = ihp_env.judge_startup("production", None, _log(""), "")
    assert "accepts only 'Development' or 'Production'" in verdict.problem


def test_a_release_not_in_production_gets_a_finding() -> None:
    assert ihp_env.development_finding(ihp_env.EnvSource("Production", "x")) is None
    found = ihp_env.development_finding(ihp_env.EnvSource("", ""))
    assert found is not None
    _, detail, fix = found
    assert "sets no IHP_ENV" in detail
    assert "IHP_ENV=Production" in fix
    _, detail, _ = ihp_env.development_finding(ihp_env.EnvSource("Development", "Secret s"))  # type: ignore[misc]
    assert "'Development' (from Secret s)" in detail

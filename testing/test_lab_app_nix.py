"""The lab's sample app under this machine's nix, without the lab (no network, no SSH):
the flake's outputs judged by T01's outputs check, its tests check's report by T05's run
check, the image built, for the variants that change them. Skipped without nix."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_irp.appcode.flake import ihp_version, outputs_verdict
from pytest_irp.appcode.spec import run_verdict
from pytest_irp_lab import app
from pytest_irp_lab.narhash import seed_argvs
from pytest_irp_lab.nixconf import write_nix_conf

pytestmark = pytest.mark.skipif(
    shutil.which("nix") is None or not os.access("/nix" if os.path.isdir("/nix") else "/", os.W_OK),
    reason="needs nix with a writable local store (nix-bin, as root)",
)


@pytest.fixture(scope="module")
def nix_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    conf = write_nix_conf(tmp_path_factory.mktemp("nixconf"))  # offline: no substituters
    return {**os.environ, "NIX_CONF_DIR": str(conf)}


def nix(env: dict[str, str], repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nix", "--extra-experimental-features", "nix-command flakes", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def prepared(tmp_path: Path, variant: str, env: dict[str, str]) -> Path:
    repo = app.prepare_app_repo(tmp_path / variant, variant)
    for argv in seed_argvs(repo):
        subprocess.run(argv, env=env, check=True, capture_output=True, timeout=60)
    return repo


@pytest.mark.parametrize(
    ("variant", "spec_ok", "builds"),
    [
        ("ok", True, True),
        ("failing-spec", False, True),
        ("route-missing", True, True),
        ("crash-at-start", True, True),  # a changed stand-in: re-locked and seeded
        ("workplan-literal", False, False),
    ],
)
def test_flake_outputs_tests_and_image(
    nix_env: dict[str, str], tmp_path: Path, variant: str, spec_ok: bool, builds: bool
) -> None:
    repo = prepared(tmp_path, variant, nix_env)
    show = nix(nix_env, repo, "flake", "show", "--json", "--impure")
    assert show.returncode == 0, show.stderr
    lock = (repo / "flake.lock").read_text(encoding="utf-8")
    outputs = outputs_verdict(
        json.loads(show.stdout), ".#optimized-docker-image", ihp_version(lock)
    )
    assert outputs.ok, outputs.cause()
    assert not outputs_verdict(json.loads(show.stdout), ".#docker", None).ok

    check = nix(nix_env, repo, "flake", "check", "--impure", "-L")
    assert (check.returncode == 0) == spec_ok, check.stderr
    if variant != "workplan-literal":
        report = (
            nix(nix_env, repo, "log", ".#checks.x86_64-linux.integration-tests").stdout
            if spec_ok
            else check.stderr
        )
        verdict, examples = run_verdict(report)
        assert verdict.ok == spec_ok, verdict.cause()
        assert examples == [f"GET /probes returns {200 if spec_ok else 201}"]
    else:
        assert "Could not find module 'IHP.HSpec'" in check.stderr

    build = nix(nix_env, repo, "build", ".#optimized-docker-image", "-o", str(tmp_path / "result"))
    assert (build.returncode == 0) == builds, build.stderr
    if not builds:
        assert "Variable not in scope: pathPrefix" in build.stderr


def test_a_database_spec_in_the_tests_check_fails_for_want_of_a_database(
    nix_env: dict[str, str], tmp_path: Path
) -> None:
    """The workplan's layout (the withIHPApp spec run by Test/Main.hs): IHP's tests check has
    no PostgreSQL, so the spec fails there with libpq's message, and T05 says so."""
    from pytest_irp.appcode.checks import t05_test_choice
    from pytest_irp.appcode.testrun import database_cause

    repo = prepared(tmp_path, "ok", nix_env)
    (repo / "Test/Integration.hs").rename(repo / "Test/Main.hs")
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, capture_output=True)
    choice = t05_test_choice(repo)
    assert choice.where == "tests"
    assert choice.problem
    check = nix(nix_env, repo, "build", "--impure", "-L", "--no-link", choice.argv[-1])
    assert check.returncode != 0
    assert "NetworkingConnectionError" in check.stderr, check.stderr
    cause = database_cause(check.stderr, choice, explicit=False)
    assert "failed for want of a database: no PostgreSQL answers on the socket" in cause
    assert "move the spec to Test/Integration.hs" in cause

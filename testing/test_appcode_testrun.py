"""T05's choice of test command (appcode.testrun.choose) and its reading of a run that
failed for want of a database (database_failure / database_cause). The cases are written
here from IHP's own source (flake-module.nix v1.5.0 L317-370: `tests` runs Test/Main.hs with
no PostgreSQL, `integration-tests` runs Test/Integration.hs with a temporary one;
ihp-hspec/IHP/Hspec.hs v1.5.0: withIHPApp creates a database) and the error texts from
libpq (fe-connect.c; psql 15.18 here), hasql 1.10.2.3 (Hasql/Errors.hs, a derived Show)
and postgresql-simple (SqlError)."""

from __future__ import annotations

import pytest

from pytest_irp.appcode.testrun import choose, database_cause, database_failure, devenv_test_script

MAIN_IMPORTING = """module Main where

import Test.Hspec
import IHP.Prelude

import {mod}

main :: IO ()
main = hspec do
    {mod}.tests
"""

DB_SPEC = """module Test.Controller.ProbesSpec where

import IHP.Prelude
import IHP.Hspec
import Test.Hspec
import Config

tests :: Spec
tests = aroundAll (withIHPApp WebApplication config) do
    describe "ProbeController" do
        it "GET /probes returns 200" $ withContext do
            response <- callAction ProbesAction
            response `responseStatusShouldBe` status200
"""

PURE_SPEC = """module Test.ProbeControllerSpec where

import Test.Hspec

-- withIHPApp is not used here: this comment does not count
tests :: Spec
tests = describe "ProbeController" do
    it "names /probes" $ pathTo ProbesAction `shouldBe` "/probes"
"""

FLAKE = """{
  outputs = inputs: inputs.flake-parts.lib.mkFlake { inherit inputs; } {
    perSystem = { pkgs, ... }: {
      ihp.appName = "app";
      # scripts.test.exec = "runghc Test/Main.hs";  (a comment: no script)
    };
  };
}
"""

FLAKE_WITH_TEST = """{
  outputs = inputs: inputs.flake-parts.lib.mkFlake { inherit inputs; } {
    perSystem = { pkgs, ... }: {
      devenv.shells.default = {
        scripts = {
          test.exec = "runghc $(make print-ghc-extensions) -i. -ibuild -iConfig Test/Main.hs";
        };
      };
    };
  };
}
"""

DEVENV_NIX = """{ pkgs, ... }: {
  services.postgres.enable = true;
  scripts.test.exec = "runghc Test/Main.hs";
}
"""

SPEC = "Test/Controller/ProbesSpec.hs"
PURE = "Test/ProbeControllerSpec.hs"


def app_tests(entry: str, spec: str = SPEC, text: str = DB_SPEC) -> dict[str, str]:
    mod = spec.removesuffix(".hs").replace("/", ".")
    return {entry: MAIN_IMPORTING.format(mod=mod), spec: text}


def test_a_database_spec_under_integration_runs_in_the_integration_tests_check() -> None:
    choice = choose(app_tests("Test/Integration.hs"), {"flake.nix": FLAKE}, "v1.5.0")
    assert choice.where == "integration-tests"
    assert choice.argv[-1] == ".#checks.x86_64-linux.integration-tests"
    assert choice.report == ("nix", "log", "--impure", ".#checks.x86_64-linux.integration-tests")
    assert choice.needs_db
    assert not choice.problem
    assert "temporary PostgreSQL" in choice.reason
    assert SPEC in choice.reason


def test_a_pure_spec_under_main_runs_in_the_tests_check() -> None:
    choice = choose(app_tests("Test/Main.hs", PURE, PURE_SPEC), {"flake.nix": FLAKE}, "v1.6.0")
    assert choice.where == "tests"
    assert choice.argv[-1] == ".#checks.x86_64-linux.tests"
    assert not choice.needs_db
    assert not choice.problem


def test_a_database_spec_under_main_without_devenv_test_cannot_pass_and_says_what_to_do() -> None:
    choice = choose(app_tests("Test/Main.hs"), {"flake.nix": FLAKE}, "v1.5.0")
    assert choice.where == "tests"
    assert choice.needs_db
    assert "no PostgreSQL" in choice.problem
    assert "Test/Integration.hs" in choice.problem
    assert "devenv up" in choice.problem
    assert "Cannot pass" in choice.explain()


@pytest.mark.parametrize(
    ("nix", "argv"),
    [
        ({"flake.nix": FLAKE_WITH_TEST}, ("nix", "develop", "--impure", "--command", "test")),
        ({"flake.nix": FLAKE, "devenv.nix": DEVENV_NIX}, ("devenv", "shell", "test")),
    ],
)
def test_a_database_spec_under_main_runs_in_the_users_devenv_test(
    nix: dict[str, str], argv: tuple[str, ...]
) -> None:
    choice = choose(app_tests("Test/Main.hs"), nix, "v1.5.0")
    assert choice.where == "devenv test"
    assert choice.argv == argv
    assert choice.report == ()
    assert not choice.problem
    assert "devenv up" in choice.reason


def test_ihp_before_1_5_has_no_checks() -> None:
    choice = choose(app_tests("Test/Main.hs"), {"flake.nix": FLAKE}, "v1.4.1")
    assert choice.where == "flake check"
    assert "IHP v1.4.1" in choice.reason
    assert "scripts.test" in choice.problem
    with_devenv = choose(app_tests("Test/Main.hs"), {"flake.nix": FLAKE_WITH_TEST}, "v1.4.1")
    assert with_devenv.where == "devenv test"
    assert not with_devenv.problem


def test_a_spec_no_entry_imports_is_run_by_no_check() -> None:
    choice = choose({SPEC: DB_SPEC}, {"flake.nix": FLAKE}, None)
    assert choice.where == "flake check"
    assert "no check runs the spec" in choice.problem


def test_the_spec_is_found_through_modules_the_entry_imports() -> None:
    files = {
        "Test/Integration.hs": MAIN_IMPORTING.format(mod="Test.All"),
        "Test/All.hs": "module Test.All where\nimport Test.Controller.ProbesSpec\n",
        SPEC: DB_SPEC,
    }
    assert choose(files, {"flake.nix": FLAKE}, "v1.5.0").where == "integration-tests"


def test_devenv_test_script_is_read_as_nix_not_as_text() -> None:
    assert devenv_test_script({"flake.nix": FLAKE}) == ""
    assert devenv_test_script({"flake.nix": FLAKE_WITH_TEST}) == "flake.nix"
    assert devenv_test_script({"devenv.nix": DEVENV_NIX}) == "devenv.nix"
    assert devenv_test_script({"devenv.nix": '{ scripts.start.exec = "test"; }'}) == ""


# ------------------------------------------------------------------ failed runs

# libpq 15.18 through psql here (Debian 12), and the same through hasql's derived Show
SOCKET = (
    'connection to server on socket "/build/source/build/db/.s.PGSQL.5432" failed: '
    "No such file or directory\n\tIs the server running locally and accepting connections "
    "on that socket?"
)
HASQL = (
    "  1) ProbeController GET /probes returns 200\n"
    "       uncaught exception: ErrorCall\n"
    '       NetworkingConnectionError "connection to server on socket '
    '\\"/build/source/build/db/.s.PGSQL.5432\\" failed: No such file or directory\\n\\tIs '
    'the server running locally and accepting connections on that socket?\\n"\n'
)
TCP = (
    'SqlError {sqlState = "", sqlExecStatus = FatalError, sqlErrorMsg = "connection to '
    'server at \\"127.0.0.1\\", port 5432 failed: Connection refused\\n\\tIs the server '
    'running on that host and accepting TCP/IP connections?\\n", sqlErrorDetail = ""}'
)
OLD_LIBPQ = (
    "could not connect to server: No such file or directory\n\tIs the server running "
    'locally and accepting\n\tconnections on Unix domain socket "/tmp/.s.PGSQL.5432"?'
)


@pytest.mark.parametrize(
    ("output", "says"),
    [
        (f"psql: error: {SOCKET}", 'socket "/build/source/build/db/.s.PGSQL.5432"'),
        (HASQL, "No such file or directory; libpq"),
        (TCP, "at 127.0.0.1, port 5432 (Connection refused"),
        (OLD_LIBPQ, "no PostgreSQL answers (No such file or directory"),
        (
            'AuthenticationConnectionError "FATAL:  password authentication failed for '
            'user \\"app\\"\\n"',
            "refused the login of app",
        ),
        ('ServerError "42501" "permission denied to create database"', "CREATE DATABASE"),
        (
            "callCommand: psql postgresql:///test_db_1?host=/tmp < Application/Schema.sql "
            "(exit 127): failed",
            "exit 127",
        ),
    ],
)
def test_database_failures_are_recognised(output: str, says: str) -> None:
    assert says in database_failure(output)


@pytest.mark.parametrize(
    "output",
    [
        "1 example, 1 failure\n  expected: Status {statusCode = 201}\n but got: 200",
        "Test/Controller/ProbesSpec.hs:4:1: error: Could not find module 'IHP.HSpec'",
        "-- could not connect to servers is not what this line says",
    ],
)
def test_other_failures_are_not_blamed_on_the_database(output: str) -> None:
    assert database_failure(output) == ""


def test_the_cause_gives_the_next_step_for_where_the_spec_ran() -> None:
    in_tests = choose(app_tests("Test/Main.hs"), {"flake.nix": FLAKE}, "v1.5.0")
    cause = database_cause(HASQL, in_tests, explicit=False)
    assert cause.startswith(f"{SPEC} failed for want of a database: no PostgreSQL answers")
    assert "move the spec to Test/Integration.hs" in cause
    assert "run it in devenv where PostgreSQL is up" in cause
    in_devenv = choose(app_tests("Test/Main.hs"), {"flake.nix": FLAKE_WITH_TEST}, "v1.5.0")
    assert "`devenv up`" in database_cause(HASQL, in_devenv, explicit=False)
    assert "test_command" in database_cause(HASQL, in_tests, explicit=True)
    assert database_cause("1 example, 1 failure", in_tests, explicit=False) == ""

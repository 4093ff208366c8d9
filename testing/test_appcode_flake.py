"""T01's flake judges (tree-sitter's Nix grammar), T01's flake commands and options, and
T05's test-run judges and causes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_irp.appcode.flake import flake_verdict, ihp_version, outputs_verdict
from pytest_irp.appcode.spec import group_examples, hspec_summary, run_verdict
from pytest_irp.stages import flake, spec

REPO = Path(__file__).resolve().parent.parent
LAB_FLAKE = (REPO / "lab" / "app" / "flake.nix").read_text()
APP = "ihp-railiance-probe"

IHP_FLAKE = """{
  outputs = inputs@{ self, nixpkgs, ihp, flake-parts, ... }:
    flake-parts.lib.mkFlake { inherit inputs; } {
      perSystem = { pkgs, ... }: {
        ihp = {
          appName = "ihp-railiance-probe";
          haskellPackages = p: with p; [
            p.ihp
            cabal-install
            base
            # aeson  (removed by the workplan)
            text
          ];
        };
      };
      flake.overlays.models = final: prev: {
        haskellPackages = prev.haskellPackages.override (old: {
          overrides = hself: hsuper: {
            ihp-railiance-probe-models = final.haskell.lib.overrideCabal
              hsuper.ihp-railiance-probe-models (drv: {
                configureFlags = [ "--ghc-option=-fomit-interface-pragmas" ];
                postUnpack = "sed -i ... build/Generated/ActualTypes.hs";
              });
          };
        });
      };
    };
}
"""


def test_lab_and_ihp_style_flakes_pass() -> None:
    assert flake_verdict(LAB_FLAKE, None, APP).ok
    verdict = flake_verdict(IHP_FLAKE, None, APP)
    assert verdict.ok, verdict.cause()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "            text\n",
            "            p.aeson\n",
            "flake.nix:12: haskellPackages still lists aeson",
        ),
        (
            "haskellPackages = p: with p; [",
            "haskellPackages = p: let extra = [ p.yaml ]; in with p; extra ++ [",
            "flake.nix:7: haskellPackages still lists yaml",
        ),
        ("            base\n", "            base http-conduit\n", "lists http-conduit"),
        ('appName = "ihp-railiance-probe"', 'appName = "inter-hub"', "appName is 'inter-hub'"),
        (
            "postUnpack =",
            "postPatch =",
            "flake.nix:19: the models package override does not set postUnpack",
        ),
        (
            "ihp-railiance-probe-models = final.haskell.lib.overrideCabal\n              "
            "hsuper.ihp-railiance-probe-models",
            "other = final.haskell.lib.overrideCabal hsuper.other",
            "the models overlay with configureFlags and postUnpack",
        ),
        (
            "        };\n      };\n      flake",
            "        };\n        inter-hub-lib = 1;\n      };\n      flake",
            "inter-hub-lib overlay is still present",
        ),
    ],
)
def test_flake_defects_fail_naming_the_line(old: str, new: str, expected: str) -> None:
    text = IHP_FLAKE.replace(old, new)
    assert text != IHP_FLAKE
    verdict = flake_verdict(text, None, APP)
    assert expected in verdict.cause()


def test_words_in_comments_and_strings_do_not_satisfy_the_overlay_check() -> None:
    start = IHP_FLAKE.index("      flake.overlays")
    end = IHP_FLAKE.index("    };\n}")
    words = (
        "      # configureFlags postUnpack models overrideCabal\n"
        '      description = "models: configureFlags and postUnpack";\n'
    )
    text = IHP_FLAKE[:start] + words + IHP_FLAKE[end:]
    cause = flake_verdict(text, None, APP).cause()
    assert "no override (overrideCabal / overrideAttrs) of the models package" in cause


def test_evaluated_package_list_is_judged_too() -> None:
    evaluated = {"appName": APP, "haskellPackages": ["base", "aeson"]}
    assert "haskellPackages still lists aeson" in flake_verdict(LAB_FLAKE, evaluated, APP).cause()


def test_outputs_name_ihp_image_outputs_and_the_build_attr_to_set() -> None:
    show = {
        "packages": {
            "x86_64-linux": {
                "default": {},
                "optimized-docker-image": {},
                "unoptimized-docker-image": {},
            }
        },
        "checks": {"x86_64-linux": {"tests": {}}},
    }
    cause = outputs_verdict(show, ".#docker", "v1.5.0").cause()
    assert "has IHP's image outputs optimized-docker-image, unoptimized-docker-image" in cause
    assert 'set build_attr = ".#optimized-docker-image"' in cause
    assert outputs_verdict(show, ".#optimized-docker-image", "v1.5.0").ok
    del show["checks"]
    assert (
        "IHP v1.4.1 (flake.lock) has none"
        in outputs_verdict(show, ".#optimized-docker-image", "v1.4.1").cause()
    )
    assert not outputs_verdict(None, ".#docker", None).ok


def test_ihp_version_from_flake_lock() -> None:
    lock = {
        "nodes": {
            "root": {"inputs": {"ihp": "ihp_2"}},
            "ihp_2": {
                "original": {
                    "owner": "digitallyinduced",
                    "ref": "v1.4.1",
                    "repo": "ihp",
                    "type": "github",
                },
                "locked": {"rev": "0123456789abcdef0123"},
            },
        },
        "root": "root",
        "version": 7,
    }
    assert ihp_version(json.dumps(lock)) == "v1.4.1"
    del lock["nodes"]["ihp_2"]["original"]["ref"]  # type: ignore[attr-defined]
    assert ihp_version(json.dumps(lock)) == "rev 0123456789ab"
    assert ihp_version("not json") is None
    assert ihp_version(None) is None


def test_flake_commands_take_flake_options() -> None:
    settings = {"flake_options": ("--impure",), "remote_dir": "app", "timeout_flake": 60}
    steps = flake.commands(settings, "haskelseed")
    assert [list(step.argv[5:]) for step in steps] == [
        ["nix", "flake", "check", "--no-build", "--impure"],
        ["nix", "flake", "show", "--json", "--impure"],
        ["nix", "eval", "--json", "--impure", ".#irp"],
    ]
    assert steps.check.argv[4] == "app"  # run in the checkout
    pure = flake.commands({**settings, "flake_options": ()}, "haskelseed")
    assert list(pure.check.argv[5:]) == ["nix", "flake", "check", "--no-build"]


def test_flake_check_hint_names_the_setting_only_when_impure_is_missing() -> None:
    out = "error: access to absolute path '/home' is forbidden in pure evaluation mode"
    assert "set flake_options to --impure" in flake.flake_check_hint(out, {"flake_options": ()})
    assert flake.flake_check_hint(out, {"flake_options": ("--impure",)}) == ""


def test_spec_failure_hints() -> None:
    cmd = ["nix", "flake", "check", "-L"]
    no_check = "error: flake 'git+file:///x' does not provide attribute 'checks.x86_64-linux.tests'"
    assert "exists only from IHP 1.5" in spec.spec_failure_hint(no_check, cmd, None)
    assert "IHP v1.4.1 (flake.lock)" in spec.spec_failure_hint("", cmd, "v1.4.1")
    # a database error is appcode.testrun's (testing/test_appcode_testrun.py)
    db = 'psql: error: connection to server on socket "/tmp/.s.PGSQL.5432" failed'
    assert spec.spec_failure_hint(db, cmd, "v1.5.0") == ""
    assert spec.spec_failure_hint("", ["devenv", "shell", "--", "test"], "v1.4.1") == ""
    assert spec.spec_failure_hint("some compile error", cmd, "v1.5.0") == ""


HSPEC_OK = """Test.ProbeControllerSpec
ProbeController
  GET /probes answers 200 [✔]
  lists newest first [✔]

Finished in 0.0101 seconds
2 examples, 0 failures
"""


def test_run_verdict_names_the_examples() -> None:
    verdict, titles = run_verdict(HSPEC_OK)
    assert verdict.ok
    assert titles == ["GET /probes answers 200", "lists newest first"]
    old_format = "ProbeController\n  - GET /probes answers 200\n\n1 example, 0 failures\n"
    assert run_verdict(old_format)[1] == ["GET /probes answers 200"]
    # `nix flake check -L` prefixes each builder line with the derivation's name; colours
    nix_l = "".join(f"app-tests> {line}\n" for line in HSPEC_OK.splitlines())
    coloured = HSPEC_OK.replace("[✔]", "\x1b[32m[✔]\x1b[0m")
    for text in (nix_l, coloured):
        verdict, titles = run_verdict(text)
        assert verdict.ok, verdict.cause()
        assert titles == ["GET /probes answers 200", "lists newest first"]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            HSPEC_OK.replace("2 examples, 0 failures", "1 example, 0 failures, 1 pending"),
            "1 pending (pending is not passing)",
        ),
        (HSPEC_OK.replace("2 examples, 0 failures", "0 examples, 0 failures"), "ran 0 examples"),
        (HSPEC_OK.replace("2 examples, 0 failures", "2 examples, 1 failure"), "1 failures"),
        (HSPEC_OK.replace("2 examples, 0 failures\n", ""), "no hspec summary line"),
        (HSPEC_OK.replace("ProbeController\n", "OtherController\n"), "names no example under"),
    ],
)
def test_run_verdict_is_not_green_without_proof(output: str, expected: str) -> None:
    verdict, _ = run_verdict(output)
    assert expected in verdict.cause()


@given(st.text(max_size=300))
def test_judges_never_raise_on_any_text(text: str) -> None:
    hspec_summary(text)
    group_examples(text)
    run_verdict(text)
    flake_verdict(text, None, APP)

"""The app-side static checks of T01-T05 on the lab's sample app and each of its variants
(no lab, no nix): the sample is an IHP app, and every variant gets its intended verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_irp.appcode import Verdict
from pytest_irp.appcode.checks import STATIC
from pytest_irp.appcode.flake import flake_verdict
from pytest_irp_lab import app

# variant -> {check: text its cause must contain}; every other check passes
FAILS: dict[str, dict[str, str]] = {
    "healthz-wrong": {"T04 route": 'does not render plain "ok"'},
    "overlay-missing": {"T01 flake": "the models overlay with configureFlags and postUnpack"},
    "wrong-column-type": {"T03 schema": "probes.name is INT (int4) NOT NULL"},
    "route-missing": {"T04 route": "HealthController is not wired into the front controller"},
}
# variant -> (check, text of a finding it must give)
FINDINGS: dict[str, list[tuple[str, str]]] = {
    "workplan-literal": [("T04 route", "`pathPrefix`"), ("T05 spec", "`import IHP.HSpec`")],
}


def verdicts(repo: Path) -> dict[str, Verdict]:
    flake = flake_verdict(
        (repo / "flake.nix").read_text(encoding="utf-8"), None, "ihp-railiance-probe"
    )
    return {"T01 flake": flake, **{name: judge(repo) for name, judge in STATIC.items()}}


@pytest.mark.parametrize("variant", list(app.VARIANTS))
def test_variant_gets_its_intended_static_verdicts(variant: str, tmp_path: Path) -> None:
    got = verdicts(app.prepare_app_repo(tmp_path / variant, variant))
    fails = FAILS.get(variant, {})
    for check, verdict in got.items():
        if check in fails:
            assert not verdict.ok, f"{variant}: {check} passed"
            assert fails[check] in verdict.cause(), verdict.cause()
        else:
            assert verdict.ok, f"{variant}: {check}: {verdict.cause()}"
    wanted = FINDINGS.get(variant, [])
    for check, text in wanted:
        assert any(text in f for f in got[check].findings), (check, got[check].findings)
    if not wanted:
        assert all(not v.findings for v in got.values()), {
            c: v.findings for c, v in got.items() if v.findings
        }


def test_the_sample_is_written_the_way_ihp_writes_apps() -> None:
    sample = app.template_dir()
    flake = (sample / "flake.nix").read_text(encoding="utf-8")
    for part in (
        "flake-parts.lib.mkFlake",
        "ihp.flakeModules.default",
        "perSystem",
        "projectPath = ./.;",
        "haskellPackages = p: with p; [",
    ):
        assert part in flake
    assert "[routes|HealthController" in (sample / "Web/Routes.hs").read_text(encoding="utf-8")
    spec = (sample / app.SPEC).read_text(encoding="utf-8")
    assert "import IHP.Hspec" in spec
    assert "withIHPApp WebApplication config" in spec
    assert "pathPrefix" not in (sample / "Web/Routes.hs").read_text(encoding="utf-8")

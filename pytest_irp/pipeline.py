"""The pipeline of IRP-WP-0001 as stages, in order.

source -> prebuild -> build (T06) -> push (T07) -> chart, render (T08) -> mirror, pull (T09) ->
release (T10) -> live (T11); flake (T01) and spec (T05) beside them on the build host;
ci (T12) on its own. App-side checks T02-T04 read the repository directly (no stage).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import deploy, nix, registry, source
from .stage import Facts, Stage


def _target(f: Facts, *names: str) -> dict[str, Any]:
    return {n: f.settings.get(n) for n in names}


def _key_source(f: Facts) -> Mapping[str, Any]:
    return {"sha": f.sha(), **_target(f, "host", "remote_dir", "git_remote")}


def _key_build(f: Facts) -> Mapping[str, Any]:
    return {"sha": f.sha(), "flake": f.file_hash("flake.nix", "flake.lock"),
            **_target(f, "host", "build_attr", "nix_options")}


def _key_push(f: Facts) -> Mapping[str, Any]:
    return {"sha": f.sha(), "tag": f.tag(), **_target(f, "registry", "registry_user")}


def _key_chart(f: Facts) -> Mapping[str, Any]:
    return {"chart": f.file_hash(str(f.settings["chart"])), "tag": f.tag(),
            **_target(f, "registry", "helm_values")}


STAGES: tuple[Stage, ...] = (
    Stage("source", "T06", "checkout of the SHA under test on the build host", (),
          source.run, source.plan, _key_source),
    Stage("flake", "T01", "nix flake check on the build host", ("source",),
          nix.flake_run, nix.flake_plan, _key_build),
    Stage("spec", "T05", "Hspec tests on the build host", ("source",),
          nix.spec_run, nix.spec_plan, _key_build),
    Stage("prebuild", "T06", "pre-build checklist on the build host", ("source",),
          nix.prebuild_run, nix.prebuild_plan, None),
    Stage("build", "T06", "nix build of the image on the build host", ("prebuild",),
          nix.build_run, nix.build_plan, _key_build),
    Stage("push", "T07", "skopeo push to the registry", ("build",),
          registry.run, registry.plan, _key_push),
    Stage("chart", "T08", "helm lint of the chart", (),
          deploy.chart_run, deploy.chart_plan, _key_chart),
    Stage("render", "T08", "chart rendered and checked against the key notes", ("chart",),
          deploy.render_run, deploy.render_plan, _key_chart),
    Stage("mirror", "T09", "node registry mirror configuration", (),
          deploy.mirror_run, deploy.mirror_plan, None),
    Stage("pull", "T09", "image pull on the node", ("push", "mirror"),
          deploy.pull_run, deploy.pull_plan, None),
    Stage("release", "T10", "helm release on the cluster", ("push", "render"),
          deploy.release_run, deploy.release_plan, None),
    Stage("live", "T11", "live HTTP checks and log watch", ("release",),
          deploy.live_run, deploy.live_plan, None),
    Stage("ci", "T12", "Gitea Actions workflow", (),
          deploy.ci_run, deploy.ci_plan, None),
)

CRITERIA: dict[str, str] = {
    "T01": "flake.nix with overlay from inter-hub",
    "T02": "IHP scaffold; devenv up serves /",
    "T03": "probes table in the schema; code-gen present",
    "T04": "/healthz routed to a plain `ok`",
    "T05": "Hspec tests exit 0",
    "T06": "nix build .#docker on the build host succeeds",
    "T07": "image pushed and visible in the registry",
    "T08": "helm lint passes; chart renders as planned",
    "T09": "the node can pull from the HTTP registry",
    "T10": "pod Running on the cluster",
    "T11": "smoke tests pass; log entry written",
    "T12": "CI pipeline automated (optional)",
}
CRITERION_ORDER = {c: i for i, c in enumerate(CRITERIA)}

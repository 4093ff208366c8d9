"""The pipeline of IRP-WP-0001 as stages, in order.

source -> prebuild -> build (T06) -> push (T07) -> chart, render (T08) -> mirror, pull (T09) ->
release (T10) -> live (T11); flake (T01) and spec (T05) beside them on the build host;
ci (T12) on its own. App-side checks T02-T04 read the repository directly (no stage).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from .stage import Facts, Stage


def _lazy(module: str, name: str) -> Callable[..., Any]:
    """``pytest_irp.<module>.<name>``, imported at its first call: a run imports the code
    of the stages it runs only (``-k T06`` never loads the helm and Kubernetes stages)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(f"{__package__}.{module}"), name)(*args,
                                                                                 **kwargs)

    call.__name__ = call.__qualname__ = f"{module}.{name}"
    return call


def _target(f: Facts, *names: str) -> dict[str, Any]:
    return {n: f.settings.get(n) for n in names}


def _key_source(f: Facts) -> Mapping[str, Any]:
    return {"sha": f.sha(), **_target(f, "host", "remote_dir", "git_remote")}


def _key_build(f: Facts) -> Mapping[str, Any]:
    return {"sha": f.sha(), "flake": f.file_hash("flake.nix", "flake.lock"),
            **_target(f, "host", "build_attr", "nix_options")}


def _key_flake(f: Facts) -> Mapping[str, Any]:
    return {**_key_build(f), **_target(f, "flake_options")}


def _key_push(f: Facts) -> Mapping[str, Any]:
    return {"sha": f.sha(), "tag": f.tag(), **_target(f, "registry", "registry_user")}


def _key_chart(f: Facts) -> Mapping[str, Any]:
    return {"chart": f.file_hash(str(f.settings["chart"])), "tag": f.tag(),
            **_target(f, "registry", "helm_values")}


BUILD_HOST = ("host",)  # Stage.hosts: the settings naming the hosts a stage runs commands on

STAGES: tuple[Stage, ...] = (
    Stage("source", "T06", "checkout of the SHA under test on the build host", (),
          _lazy("source", "run"), _lazy("source", "plan"), _key_source, hosts=BUILD_HOST),
    Stage("flake", "T01", "nix flake check on the build host", ("source",),
          _lazy("nix", "flake_run"), _lazy("nix", "flake_plan"), _key_flake, hosts=BUILD_HOST),
    Stage("spec", "T05", "Hspec tests on the build host", ("source",),
          _lazy("nix", "spec_run"), _lazy("nix", "spec_plan"), _key_build, hosts=BUILD_HOST),
    Stage("prebuild", "T06", "pre-build checklist on the build host", ("source",),
          _lazy("nix", "prebuild_run"), _lazy("nix", "prebuild_plan"), None, hosts=BUILD_HOST),
    Stage("build", "T06", "nix build of the image on the build host", ("prebuild",),
          _lazy("nix", "build_run"), _lazy("nix", "build_plan"), _key_build, hosts=BUILD_HOST),
    Stage("push", "T07", "skopeo push to the registry", ("build",),
          _lazy("registry", "run"), _lazy("registry", "plan"), _key_push,
          hosts=BUILD_HOST, imports=("requests",)),
    Stage("chart", "T08", "helm lint of the chart", (),
          _lazy("deploy", "chart_run"), _lazy("deploy", "chart_plan"), _key_chart),
    Stage("render", "T08", "chart rendered and checked against the key notes", ("chart",),
          _lazy("deploy", "render_run"), _lazy("deploy", "render_plan"), _key_chart),
    Stage("mirror", "T09", "node registry mirror configuration", (),
          _lazy("deploy", "mirror_run"), _lazy("deploy", "mirror_plan"), None),
    Stage("pull", "T09", "image pull on the node", ("push", "mirror"),
          _lazy("deploy", "pull_run"), _lazy("deploy", "pull_plan"), None),
    Stage("release", "T10", "helm release on the cluster", ("push", "render"),
          _lazy("deploy", "release_run"), _lazy("deploy", "release_plan"), None,
          imports=("kubernetes.client", "kubernetes.config")),
    Stage("live", "T11", "live HTTP checks and log watch", ("release",),
          _lazy("deploy", "live_run"), _lazy("deploy", "live_plan"), None,
          imports=("requests", "kubernetes.client", "kubernetes.config")),
    Stage("ci", "T12", "Gitea Actions workflow", (),
          _lazy("deploy", "ci_run"), _lazy("deploy", "ci_plan"), None,
          imports=("requests",)),
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

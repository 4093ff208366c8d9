"""The pipeline of IRP-WP-0001 as stages, in order, built from the stage list
:data:`pytest_irp.stages.SPECS` (the stage code: one module per stage in
:mod:`pytest_irp.stages`), with what each result depends on for reuse, and the criteria.

source -> prebuild -> build (T06) -> push (T07) -> chart, render (T08) -> mirror, pull (T09) ->
release (T10) -> live (T11); flake (T01) and spec (T05) beside them on the build host;
ci (T12) on its own. App-side checks T02-T04 read the repository directly (no stage).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from .facts import Facts
from .stage import Stage
from .stages import SPECS


def _lazy(module: str, name: str) -> Callable[..., Any]:
    """``<module>.<name>``, imported at its first call: a run imports the code of the
    stages it runs only (``-k T06`` never loads the helm and Kubernetes stages)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = f"{module}.{name}"
    return call


def _target(f: Facts, *names: str) -> dict[str, Any]:
    return {n: f.settings.get(n) for n in names}


def _key_source(f: Facts) -> Mapping[str, Any]:
    return {"sha": f.sha(), **_target(f, "host", "remote_dir", "git_remote")}


def _key_build(f: Facts) -> Mapping[str, Any]:
    return {
        "sha": f.sha(),
        "flake": f.file_hash("flake.nix", "flake.lock"),
        **_target(f, "host", "build_attr", "nix_options"),
    }


def _key_flake(f: Facts) -> Mapping[str, Any]:
    return {**_key_build(f), **_target(f, "flake_options")}


def _key_push(f: Facts) -> Mapping[str, Any]:
    return {"sha": f.sha(), "tag": f.tag(), **_target(f, "registry", "registry_user")}


def _key_chart(f: Facts) -> Mapping[str, Any]:
    return {
        "chart": f.file_hash(str(f.settings["chart"])),
        "tag": f.tag(),
        **_target(f, "registry", "helm_values"),
    }


KEYS: dict[str, Callable[[Facts], Mapping[str, Any]]] = {
    "source": _key_source,
    "flake": _key_flake,
    "spec": _key_build,
    "build": _key_build,
    "push": _key_push,
    "chart": _key_chart,
    "render": _key_chart,
}
"""What a stage's saved result depends on (for --irp-reuse); a stage without a key is
never reused."""

STAGES: tuple[Stage, ...] = tuple(
    Stage(
        spec.name,
        spec.criterion,
        spec.title,
        spec.needs,
        _lazy(spec.module, "run"),
        _lazy(spec.module, "plan"),
        KEYS.get(spec.name),
        hosts=spec.hosts,
        imports=spec.imports,
    )
    for spec in SPECS
)
"""The stages, in pipeline order (:data:`pytest_irp.stages.SPECS`): the order of plans,
of the terminal's and the reports' stage lists."""

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

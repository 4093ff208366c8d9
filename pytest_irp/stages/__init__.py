"""The stages of IRP-WP-0001, written once: name, criterion, what it needs, its time limit,
its fixtures and the type of its value. Everything else is derived from :data:`SPECS`:
the ``stage_*`` and value fixtures (:mod:`pytest_irp.fixtures`), the ``timeout_*``
settings (:data:`pytest_irp.settings.STAGE_TIMEOUTS`), the pipeline's stages and their
order (:data:`pytest_irp.pipeline.STAGES`, the order of plans and reports) and the
documentation of the values (:mod:`pytest_irp.docgen`).

Each stage's code is one module of this package, named like the stage, with the same
entry points: ``commands(...)`` (the one place its command lines are built, for the plan
and for the run), ``plan(ctx)`` and ``run(ctx)``. A module is imported when its stage
first runs or is planned (``-k T06`` never loads the helm and Kubernetes stages).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import values


@dataclass(frozen=True)
class StageSpec:
    """One stage. ``hosts`` names the settings of the hosts it runs commands on;
    ``imports`` the slow modules its run imports (prefetched in a background thread)."""

    name: str
    criterion: str
    title: str
    needs: tuple[str, ...]
    timeout: float  # default of the setting timeout_NAME, in seconds
    fixture: str  # the value fixture checks ask for
    value: type
    hosts: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return f"{__name__}.{self.name}"

    @property
    def stage_fixture(self) -> str:
        return f"stage_{self.name}"

    @property
    def timeout_setting(self) -> str:
        return f"timeout_{self.name}"


BUILD_HOST = ("host",)
KUBERNETES = ("kubernetes.client", "kubernetes.config")

SPECS: tuple[StageSpec, ...] = (
    StageSpec(
        "source",
        "T06",
        "checkout of the SHA under test on the build host",
        (),
        120,
        "source_checkout",
        values.SourceCheckout,
        hosts=BUILD_HOST,
    ),
    StageSpec(
        "flake",
        "T01",
        "nix flake check on the build host",
        ("source",),
        600,
        "flake_report",
        values.FlakeReport,
        hosts=BUILD_HOST,
    ),
    StageSpec(
        "spec",
        "T05",
        "Hspec tests on the build host",
        ("source",),
        3600,
        "spec_run",
        values.SpecRun,
        hosts=BUILD_HOST,
    ),
    StageSpec(
        "prebuild",
        "T06",
        "pre-build checklist on the build host",
        ("source",),
        60,
        "prebuild_facts",
        values.PrebuildFacts,
        hosts=BUILD_HOST,
    ),
    StageSpec(
        "build",
        "T06",
        "nix build of the image on the build host",
        ("prebuild",),
        5400,
        "built_image",
        values.BuiltImage,
        hosts=BUILD_HOST,
    ),
    StageSpec(
        "push",
        "T07",
        "skopeo push to the registry",
        ("build",),
        900,
        "pushed_image",
        values.PushedImage,
        hosts=BUILD_HOST,
        imports=("requests",),
    ),
    StageSpec("chart", "T08", "helm lint of the chart", (), 120, "chart_lint", values.ChartLint),
    StageSpec(
        "render",
        "T08",
        "chart rendered and checked against the key notes",
        ("chart",),
        120,
        "rendered_chart",
        values.RenderedChart,
    ),
    StageSpec(
        "mirror",
        "T09",
        "node registry mirror configuration",
        (),
        60,
        "node_mirror",
        values.NodeMirror,
    ),
    StageSpec(
        "pull",
        "T09",
        "image pull on the node",
        ("push", "mirror"),
        300,
        "pulled_image",
        values.PulledImage,
    ),
    StageSpec(
        "release",
        "T10",
        "helm release on the cluster",
        ("push", "render"),
        600,
        "deployed_release",
        values.DeployedRelease,
        imports=KUBERNETES,
    ),
    StageSpec(
        "live",
        "T11",
        "live HTTP checks and log watch",
        ("release",),
        300,
        "live_app",
        values.LiveApp,
        imports=("requests", *KUBERNETES),
    ),
    StageSpec(
        "ci",
        "T12",
        "Gitea Actions workflow",
        (),
        60,
        "ci_workflow",
        values.CiWorkflow,
        imports=("requests",),
    ),
)
BY_NAME: dict[str, StageSpec] = {spec.name: spec for spec in SPECS}

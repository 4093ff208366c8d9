"""For every check in tests/: recorded facts on which its criterion holds (``passing``) and
sets on which it does not (``failing``), as the values of the check's fixtures.

Read by :mod:`test_every_check_can_fail`. A fact set is a function of an :class:`Env`
(a scratch directory, a loopback HTTP answer) returning fixture name -> value. Facts are
written as a stage records them (the values of :mod:`pytest_irp.values`, made by the stages
of :mod:`pytest_irp.stages`), or, for
the app-code checks, as an app repository (the lab's app, and one with a file missing).
The checks whose stage also holds what needs it on the same predicate (T06's source,
prebuild and build, T07's tag and digest, T08's key notes) fail on real stage output too:
:mod:`test_checks_on_stage_facts`.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from scenario import HOSTS_TOML, OUT, REGISTRIES_YAML, FakeHost, _template

from pytest_irp import judge, rollout_judge

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "lab" / "app"
K8S = Path(__file__).resolve().parent / "data" / "k8s"
DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
IMAGE = "127.0.0.1:9/coulomb/ihp-railiance-probe:0123456"


class Env(Protocol):
    tmp: Path

    def serve(self, status: int, body: str) -> str:
        """The URL of a loopback HTTP server answering ``status`` and ``body``."""


Facts = Callable[[Env], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    passing: Facts
    failing: tuple[Facts, ...]


def _with(base: dict[str, Any], **changes: Any) -> Facts:
    """``base`` (deep-copied) with top-level fixture values replaced or patched: a
    ``dict`` change for a fixture holding a dict is merged into it."""

    def facts(_env: Env) -> dict[str, Any]:
        out = copy.deepcopy(base)
        for name, value in changes.items():
            if isinstance(value, dict) and isinstance(out.get(name), dict):
                out[name].update(value)
            else:
                out[name] = value
        return out

    return facts


def _same(base: dict[str, Any]) -> Facts:
    return _with(base)


# ---- app code (T01-T05): the lab's app, and the same app with a file removed -----------


def _app(without: str = "", replace: tuple[str, str, str] | None = None) -> Callable[[Env], Path]:
    def repo(env: Env) -> Path:
        if not without and replace is None:
            return APP
        copy_ = env.tmp / "app"
        if not copy_.exists():
            shutil.copytree(APP, copy_)
        if without:
            (copy_ / without).unlink()
        if replace is not None:
            path, old, new = replace
            text = (copy_ / path).read_text(encoding="utf-8")
            assert old in text, f"{path} has no {old!r}"
            (copy_ / path).write_text(text.replace(old, new), encoding="utf-8")
        return copy_

    return repo


def _reader(repo: Path) -> Callable[[str], str]:
    return lambda relative: (repo / relative).read_text(encoding="utf-8")


def _app_case(check_files: tuple[str, ...], *edits: tuple[str, str, str]) -> Case:
    def with_repo(make: Callable[[Env], Path]) -> Facts:
        def facts(env: Env) -> dict[str, Any]:
            repo = make(env)
            return {"app_repo": repo, "irp_settings": SETTINGS}

        return facts

    return Case(
        with_repo(_app()),
        tuple(with_repo(_app(without=f)) for f in check_files)
        + tuple(with_repo(_app(replace=edit)) for edit in edits),
    )


SETTINGS: dict[str, Any] = {
    "app_name": "ihp-railiance-probe",
    "build_attr": ".#docker",
    "generated_types": "build/Generated/Types.hs",
    "registry_plain_http": True,
    "ci": True,
}

SHOW: dict[str, Any] = {
    "packages": {"x86_64-linux": {"docker": {}}},
    "checks": {"x86_64-linux": {"tests": {}}},
}
FLAKE = {
    "flake_report": {
        "check_rc": 0,
        "check_output": "",
        "show": SHOW,
        "eval": None,
        "eval_error": "",
    },
    "irp_settings": SETTINGS,
}

HSPEC_OK = (
    "Test.ProbeControllerSpec\nProbeController\n  GET /probes answers 200 [✔]\n\n"
    "Finished in 0.0101 seconds\n1 example, 0 failures\n"
)
SPEC = {"spec_run": {"rc": 0, "output": HSPEC_OK}, "record_property": lambda *_: None}


def _flake_text(env: Env, old: str = "", new: str = "") -> dict[str, Any]:
    repo = _app(replace=("flake.nix", old, new) if old else None)(env)
    return {
        "read_app_file": _reader(repo),
        "irp_settings": SETTINGS,
        "flake_report": FLAKE["flake_report"],
    }


def _outputs(show: Any) -> Facts:
    def facts(env: Env) -> dict[str, Any]:
        return {
            "app_repo": env.tmp,
            "irp_settings": SETTINGS,
            "flake_report": {**FLAKE["flake_report"], "show": show},
        }

    return facts


def _dev_server(status: int) -> Facts:
    return lambda env: {"irp_settings": {**SETTINGS, "dev_url": env.serve(status, "ok")}}


# ---- pipeline stages (T06-T12): the values the stages record ---------------------------

SOURCE = {
    "source_checkout": {
        "sha": "0123456789ab",
        "remote_head": "0123456789ab",
        "tag": "0123456",
        "host": "build.invalid",
        "remote_dir": "probe",
        "method": "git",
    }
}
PREBUILD = {
    "prebuild_facts": {
        "nix": "nix (Nix) 2.24.9",
        "disk_free_kb": "99999999",
        "mem_available_kb": "9999999",
        "cpus": "2",
    },
    "source_checkout": SOURCE["source_checkout"],
    "irp_settings": {"libhsghc_size": 289295782, "min_free_disk_mb": 2048, "min_free_mem_mb": 512},
}
BUILT = {
    "built_image": {
        "out_path": OUT,
        "layers": ["layer.tar"],
        "diff_ids": ["sha256:aa"],
        "config": {"Cmd": ["/bin/busybox", "httpd"]},
    },
    "build_host": FakeHost(),
    "irp_settings": {"remote_dir": "/root/probe"},
}


class _NoResult(FakeHost):
    """The build host with no ``result`` symlink (or one to another store path)."""

    def __init__(self, target: str | None) -> None:
        self.target = target

    def file(self, path: str) -> FakeHost._File:
        found = FakeHost._File(path)
        if path.endswith("/result"):
            found.is_symlink = self.target is not None
            found.linked_to = self.target or path
        return found


PUSHED = {
    "pushed_image": {
        "image": IMAGE,
        "tag": "0123456",
        "digest": DIGEST,
        "served_digest": DIGEST,
        "registry_tags": ["latest", "0123456"],
        "inspect_ok": True,
        "inspect_digest": DIGEST,
        "inspect_error": "",
        "repository": "coulomb/ihp-railiance-probe",
        "package_versions": ["latest", "0123456"],
    }
}
LINT = {"chart_lint": {"lint_rc": 0, "lint_output": "1 chart(s) linted, 0 chart(s) failed"}}
_MANIFESTS = judge.load_manifests(_template({"sha": "0123456789ab"}))
RENDERED = {
    "rendered_chart": {
        "kinds": [m["kind"] for m in _MANIFESTS],
        "problems": [],
        "manifests": _MANIFESTS,
        "expected_image": IMAGE,
    }
}


def _manifests(change: Callable[[list[dict[str, Any]]], None]) -> Facts:
    def facts(_env: Env) -> dict[str, Any]:
        manifests = copy.deepcopy(_MANIFESTS)
        change(manifests)
        return {"rendered_chart": {**RENDERED["rendered_chart"], "manifests": manifests}}

    return facts


def _container(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    dep = next(m for m in manifests if m["kind"] == "Deployment")
    container: dict[str, Any] = dep["spec"]["template"]["spec"]["containers"][0]
    return container


MIRROR = {
    "node_mirror": {
        "problems": [],
        "registries_yaml": REGISTRIES_YAML,
        "hosts_toml": HOSTS_TOML,
        "hostport": "127.0.0.1:9",
        "k3s_version_output": "k3s version v1.29.1+k3s1 (abc)\n",
        "k3s_version": "1.29.1",
    }
}
PULLED = {
    "pulled_image": {
        "image": IMAGE,
        "digest": DIGEST,
        "hosts_toml": HOSTS_TOML,
        "plain_http": True,
    },
    **PUSHED,
}
HTTPS_FALLBACK = (
    'server = "https://127.0.0.1:9"\n[host."https://127.0.0.1:9/v2"]\n'
    '  capabilities = ["pull", "resolve"]\n'
)


def _pod(name: str) -> dict[str, Any]:
    recorded: dict[str, Any] = json.loads((K8S / f"{name}.json").read_text(encoding="utf-8"))
    return rollout_judge.pod_facts(recorded)


def _release(**changes: Any) -> dict[str, Any]:
    ready = _pod("pod-ready")
    for cs in ready["status"]["containerStatuses"]:
        cs["imageID"] = f"{IMAGE.rsplit(':', 1)[0]}@{DIGEST}"
    value = {
        "status": "deployed",
        "pod_facts": [ready],
        "startup_line_seen": True,
        "startup_problem": "",
        "healthz_via_cluster": {"status": 200, "body": "ok\n", "error": "", "service": "probe"},
    }
    value.update(changes)
    return {"deployed_release": value, **PUSHED}


def _other_digest() -> list[dict[str, Any]]:
    pods = _release()["deployed_release"]["pod_facts"]
    second = copy.deepcopy(pods[0])
    second["status"]["containerStatuses"][0]["imageID"] = f"x@{OTHER}"
    return [*pods, second]


LIVE = {
    "live_app": {
        "healthz": {"status": 200, "body": "ok", "error": ""},
        "probes": {"status": 200, "body": "<html/>", "error": ""},
        "log_problems": [],
        "watched_seconds": 30.0,
    }
}


class _Request:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def getfixturevalue(self, name: str) -> Any:
        return self.values[name]


WORKFLOW = (REPO / "testing" / "data" / "gitea-actions" / "good-workflow.yml").read_text(
    encoding="utf-8"
)
WORKPLAN_WORKFLOW = (
    REPO / "lab" / "app" / ".gitea" / "workflows" / "build-and-deploy.yml"
).read_text(encoding="utf-8")
CI_SHA = "6bbfd7430b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
RUNS = {
    "workflow_runs": [
        {
            "id": 7,
            "run_number": 7,
            "head_sha": CI_SHA,
            "head_branch": "main",
            "status": "completed",
            "conclusion": "success",
            "started_at": "2026-12-01T10:00:00Z",
        }
    ]
}


def _ci(
    texts: dict[str, str] | None = None,
    latest: dict[str, Any] | None = RUNS,
    sha: str = CI_SHA,
) -> Facts:
    value = {
        "workflow_texts": {".gitea/workflows/build-and-deploy.yml": WORKFLOW}
        if texts is None
        else texts,
        "runner_label": "haskelseed",
        "latest_runs": latest,
        "ci_branch": "main",
        "workflow_source": "Gitea http://127.0.0.1:3000 (coulomb/ihp-railiance-probe)",
        "sha": sha,
        "audit_facts": {"flake_outputs": ["optimized-docker-image"], "runner_label": "haskelseed"},
        "jobs": None,
        "job_logs": {},
        "api_notes": [],
    }
    return lambda _env: {"irp_settings": SETTINGS, "request": _Request({"ci_workflow": value})}


def _failed_run() -> dict[str, Any]:
    runs = copy.deepcopy(RUNS)
    runs["workflow_runs"][0]["conclusion"] = "failure"
    return runs


def _queued_run() -> dict[str, Any]:
    runs = copy.deepcopy(RUNS)
    runs["workflow_runs"][0].update(status="queued", conclusion="")
    return runs


def _live(**changes: Any) -> Facts:
    return _with(LIVE, live_app=changes)


CASES: dict[str, Case] = {
    "test_T01_flake_content_matches_workplan": Case(
        _flake_text,
        (
            lambda env: _flake_text(
                env, 'appName = "ihp-railiance-probe"', 'appName = "another-app"'
            ),
            lambda env: _flake_text(env, "{", "{ {"),
        ),
    ),
    "test_T01_nix_flake_check_passes_on_build_host": Case(
        _same(FLAKE), (_with(FLAKE, flake_report={"check_rc": 1}),)
    ),
    "test_T01_flake_outputs_include_image_and_tests": Case(
        _outputs(SHOW),
        (
            _outputs({"packages": SHOW["packages"]}),
            _outputs({"packages": {"x86_64-linux": {"default": {}}}, "checks": SHOW["checks"]}),
            _outputs(None),
        ),
    ),
    "test_T02_ihp_scaffold_present": _app_case(("Main.hs", "Config/Config.hs")),
    "test_T02_dev_server_answers": Case(_dev_server(200), (_dev_server(500), _dev_server(404))),
    "test_T03_probes_table_as_specified": _app_case(
        ("Application/Schema.sql",),
        ("Application/Schema.sql", "CREATE TABLE probes", "CREATE TABLE probez"),
        ("Application/Schema.sql", "    name TEXT NOT NULL,\n", ""),
    ),
    "test_T03_migration_exists": _app_case(("Application/Migration/1746180000-create-probes.sql",)),
    "test_T03_generated_types_contain_probe": Case(
        lambda env: {"read_app_file": _reader(APP), "irp_settings": SETTINGS},
        (
            lambda env: {
                "read_app_file": lambda _path: "module Generated.Types where\n",
                "irp_settings": SETTINGS,
            },
        ),
    ),
    "test_T04_healthz_route_controller_and_wiring": _app_case(
        ("Web/Routes.hs", "Web/Controller/Health.hs"),
        ("Web/Controller/Health.hs", 'renderPlain "ok"', 'renderPlain "fine"'),
    ),
    "test_T05_probe_controller_spec_present": _app_case(("Test/Controller/ProbesSpec.hs",)),
    "test_T05_test_command_passes_and_names_spec": Case(
        _same(SPEC),
        (
            _with(SPEC, spec_run={"output": HSPEC_OK.replace("0 failures", "1 failure")}),
            _with(SPEC, spec_run={"output": HSPEC_OK.replace("ProbeController", "Other")}),
            _with(SPEC, spec_run={"output": ""}),
        ),
    ),
    "test_T06_source_on_build_host_is_the_sha_under_test": Case(
        _same(SOURCE), (_with(SOURCE, source_checkout={"remote_head": "fedcba987654"}),)
    ),
    "test_T06_prebuild_checklist": Case(
        _same(PREBUILD),
        (
            _with(PREBUILD, prebuild_facts={"nix": ""}),
            lambda env: {**_same(PREBUILD)(env), "prebuild_facts": {}},
            _with(PREBUILD, prebuild_facts={"disk_free_kb": "1024"}),
            _with(PREBUILD, prebuild_facts={"lock_alive": "1", "lock_sha": "fedcba9876"}),
        ),
    ),
    "test_T06_nix_build_succeeds": Case(
        _same(BUILT),
        (
            _with(BUILT, built_image={"out_path": ""}),
            _with(BUILT, built_image={"out_path": "/tmp/result"}),
        ),
    ),
    "test_T06_result_is_a_docker_archive": Case(
        _same(BUILT),
        (
            _with(BUILT, built_image={"layers": [], "diff_ids": []}),
            _with(BUILT, built_image={"diff_ids": []}),
            _with(BUILT, built_image={"config": {"Env": ["A=1"]}}),
        ),
    ),
    "test_T06_result_symlink_present_on_build_host": Case(
        _same(BUILT),
        (
            _with(BUILT, build_host=_NoResult(None)),
            _with(BUILT, build_host=_NoResult("/nix/store/other-image.tar")),
        ),
    ),
    "test_T07_tag_listed_in_registry": Case(
        _same(PUSHED),
        (
            _with(PUSHED, pushed_image={"registry_tags": ["latest", "01234567"]}),
            _with(PUSHED, pushed_image={"registry_tags": []}),
        ),
    ),
    "test_T07_registry_digest_equals_pushed_digest": Case(
        _same(PUSHED),
        (
            _with(PUSHED, pushed_image={"served_digest": OTHER}),
            _with(PUSHED, pushed_image={"served_digest": None}),
            _with(PUSHED, pushed_image={"digest": "", "served_digest": ""}),
        ),
    ),
    "test_T07_skopeo_inspect_of_pushed_reference_succeeds": Case(
        _same(PUSHED),
        (
            _with(
                PUSHED,
                pushed_image={
                    "inspect_ok": False,
                    "inspect_digest": "",
                    "inspect_error": "manifest unknown",
                },
            ),
            _with(PUSHED, pushed_image={"inspect_digest": OTHER}),
        ),
    ),
    "test_T07_image_visible_in_gitea_packages": Case(
        _same(PUSHED),
        (
            _with(PUSHED, pushed_image={"package_versions": None}),
            _with(PUSHED, pushed_image={"package_versions": ["latest"]}),
        ),
    ),
    "test_T08_helm_lint_strict_passes": Case(
        _same(LINT), (_with(LINT, chart_lint={"lint_rc": 1}),)
    ),
    "test_T08_deployment_matches_key_notes": Case(
        _same(RENDERED),
        (
            _manifests(lambda ms: _container(ms).update(imagePullPolicy="IfNotPresent")),
            _manifests(lambda ms: _container(ms)["livenessProbe"].update(initialDelaySeconds=5)),
            _manifests(lambda ms: _container(ms).update(image="127.0.0.1:9/other:latest")),
            _manifests(lambda ms: ms.remove(next(m for m in ms if m["kind"] == "Service"))),
            _manifests(lambda ms: ms.remove(next(m for m in ms if m["kind"] == "Ingress"))),
        ),
    ),
    "test_T09_registries_yaml_has_http_mirror": Case(
        _same(MIRROR),
        (
            _with(MIRROR, node_mirror={"registries_yaml": "mirrors: {}\n"}),
            _with(
                MIRROR,
                node_mirror={"registries_yaml": REGISTRIES_YAML.replace("http://", "https://")},
            ),
            _with(MIRROR, node_mirror={"hosts_toml": None}),
        ),
    ),
    "test_T09_node_pulls_pushed_digest": Case(
        _same(PULLED),
        (_with(PULLED, pulled_image={"digest": OTHER}), _with(PULLED, pulled_image={"digest": ""})),
    ),
    "test_T09_pull_went_over_http_mirror": Case(
        _same(PULLED),
        (
            _with(PULLED, pulled_image={"hosts_toml": HTTPS_FALLBACK}),
            _with(PULLED, pulled_image={"hosts_toml": ""}),
        ),
    ),
    "test_T10_release_deployed": Case(
        _same(_release()),
        (_same(_release(status="failed")), _same(_release(status="pending-install"))),
    ),
    "test_T10_pods_running_ready": Case(
        _same(_release()),
        (
            _same(_release(pod_facts=[])),
            _same(_release(pod_facts=[_pod("pod-crashloop")])),
            _same(_release(pod_facts=[_pod("pod-ready"), _pod("pod-imagepull")])),
        ),
    ),
    "test_T10_running_image_is_pushed_digest": Case(
        _same(_release()),
        (_same(_release(pod_facts=[])), _same(_release(pod_facts=_other_digest()))),
    ),
    "test_T10_ihp_startup_in_last_log_lines": Case(
        _same(_release()),
        (_same(_release(startup_line_seen=False, startup_problem="not in the pod log")),),
    ),
    "test_T10_healthz_ok_via_cluster": Case(
        _same(_release()),
        (
            _same(
                _release(
                    healthz_via_cluster={"status": 503, "body": "", "error": "", "service": "probe"}
                )
            ),
            _same(_release(healthz_via_cluster={"status": 200, "body": "not ok", "error": ""})),
            _same(
                _release(
                    healthz_via_cluster={
                        "status": 0,
                        "body": "",
                        "error": "no Service with port 80",
                    }
                )
            ),
        ),
    ),
    "test_T11_healthz_answers_ok": Case(
        _same(LIVE),
        (
            _live(healthz={"status": 500, "body": "ok", "error": ""}),
            _live(healthz={"status": 200, "body": "", "error": ""}),
            _live(healthz={"status": 0, "body": "", "error": "refused"}),
        ),
    ),
    "test_T11_probes_answers_200": Case(
        _same(LIVE),
        (
            _live(probes={"status": 404, "body": "", "error": ""}),
            _live(probes={"status": 0, "body": "", "error": "timed out"}),
        ),
    ),
    "test_T11_no_panic_or_leaked_secret_in_logs": Case(
        _same(LIVE), (_live(log_problems=["panic/exception in the pod log: boom"]),)
    ),
    "test_T12_workflow_builds_pushes_deploys": Case(
        _ci(),
        (
            _ci(latest=_failed_run()),
            _ci(latest=_queued_run()),
            _ci(latest={"workflow_runs": []}),
            _ci(latest=None),
            _ci(sha="0" * 40),  # the green run is another SHA's
            _ci(texts={}, latest=_failed_run()),
            _ci(
                texts={".gitea/workflows/build-and-deploy.yml": WORKPLAN_WORKFLOW},
                latest=_failed_run(),
            ),
        ),
    ),
}

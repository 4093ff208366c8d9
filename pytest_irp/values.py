"""The value of each stage, as a TypedDict: what its fixture returns to a check, what the
reports read, and what is saved for ``--irp-reuse`` (plain JSON: a value round-trips
through ``json.dumps``/``json.loads`` unchanged).

Every key is ``Annotated[TYPE, "what it holds"]``: :mod:`pytest_irp.docgen` writes the
fixture documentation and the README's list of values from these types, and
``testing/test_stage_values.py`` fails when they drift.
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired, TypedDict


class SourceCheckout(TypedDict):
    """The build host's checkout of the revision under test."""

    sha: Annotated[str, "the SHA under test (resolved from `ref` in app_repo)"]
    tag: Annotated[str, "the image tag (setting `tag`, or the short SHA)"]
    remote_head: Annotated[str, "`git rev-parse HEAD` on the build host"]
    host: Annotated[str, "the build host"]
    remote_dir: Annotated[str, "the checkout's path on the build host"]
    method: Annotated[str, "`git fetch` (git_remote set) or `git bundle` (sent on stdin)"]


class FlakeReport(TypedDict):
    """`nix flake check`, `nix flake show` and the flake's `irp` data."""

    check_rc: Annotated[int, "exit code of `nix flake check --no-build`"]
    check_output: Annotated[str, "its last 20 lines"]
    show: Annotated[Any, "`nix flake show --json` (None: it failed)"]
    eval: Annotated[Any, "`nix eval --json .#irp` (None: the flake exposes no irp data)"]
    eval_error: Annotated[str, "the last lines of a failed `nix eval` ('' when it worked)"]


class SpecRun(TypedDict):
    """The Hspec test command on the build host."""

    rc: Annotated[int, "exit code of test_command"]
    output: Annotated[str, "its output and the test report (last 8000 characters)"]


class PrebuildFacts(TypedDict, total=False):
    """The build host's pre-build facts (`remote/prebuild.sh`, `key=value` lines; a key
    seen twice holds a list)."""

    nix: Annotated[str, "`nix --version` ('' when nix is missing)"]
    disk_free_kb: Annotated[str, "KiB free for /nix"]
    mem_available_kb: Annotated[str, "MemAvailable in KiB"]
    cpus: Annotated[str, "number of processors"]
    lib_size: Annotated[str, "size of libhsghc_path in bytes, or `missing` (only when set)"]
    lock_pid: Annotated[str, "pid in the app's build lock (only when locked)"]
    lock_sha: Annotated[str, "SHA in the app's build lock (only when locked)"]
    lock_alive: Annotated[str, "`1` when the lock's process is alive, else `0`"]
    build_process: Annotated[str | list[str], "other nix builds running (pid and command)"]


class BuiltImage(TypedDict):
    """The docker archive `nix build` produced, as `result` shows it."""

    out_path: Annotated[str, "the nix store path `result` points to"]
    compressed: Annotated[bool, "the archive is gzip-compressed"]
    size: Annotated[int, "its size in bytes"]
    layers: Annotated[list[str], "the layers manifest.json names (all present)"]
    diff_ids: Annotated[list[str], "the config's rootfs diff_ids (one per layer)"]
    repo_tags: Annotated[list[str], "the RepoTags of manifest.json"]
    config: Annotated[dict[str, Any], "the image config's `config` (Cmd, Env, ...)"]
    attached: Annotated[bool, "the stage attached to a build already running for this SHA"]
    sha: Annotated[str, "the SHA built"]


class PushedImage(TypedDict):
    """The image skopeo pushed and what the registry serves for it."""

    image: Annotated[str, "REGISTRY/OWNER/NAME:TAG pushed"]
    tag: Annotated[str, "the tag pushed"]
    digest: Annotated[str, "the digest skopeo reported for the push"]
    served_digest: Annotated[
        str | None,
        "Docker-Content-Digest the registry serves for the tag (None: the tag is unknown)",
    ]
    registry_tags: Annotated[list[str], "the registry's own tags/list (every page)"]
    tags_total: Annotated[int, "how many tags it lists"]
    registry: Annotated[str, "the registry's host:port"]
    repository: Annotated[str, "OWNER/NAME"]
    realm: Annotated[str, "the token realm the registry advertises"]
    realm_problem: Annotated[str, "why that realm is not the registry's address ('': it is)"]
    realm_answers: Annotated[bool | None, "something answers at a wrong realm (None: not probed)"]
    realm_fix: Annotated[str, "the fix for a wrong realm, for the registry's Gitea version"]
    gitea_version: Annotated[str, "the registry's Gitea version ('' for other registries)"]
    token_workaround: Annotated[
        bool,
        "the push passed the token on skopeo's command line "
        "(registry_token_workaround with a wrong realm)",
    ]
    skopeo_version: Annotated[str, "`skopeo --version` on the build host"]
    inspect_ok: Annotated[bool, "`skopeo inspect` of the pushed image printed its JSON"]
    inspect_digest: Annotated[str, "the digest `skopeo inspect` reported"]
    inspect_tags: Annotated[list[str], "the RepoTags `skopeo inspect` reported"]
    inspect_error: Annotated[str, "the last line of a failed `skopeo inspect`"]
    package_versions: Annotated[
        list[str] | None,
        "the versions Gitea's packages API lists for the image (None: not a Gitea)",
    ]


class ChartLint(TypedDict):
    """`helm lint --strict` of the chart."""

    lint_rc: Annotated[int, "its exit code"]
    lint_output: Annotated[str, "its last 10 lines"]


class RenderedChart(TypedDict):
    """`helm template` of the chart, judged against the workplan's key notes; the
    stage fails when they are broken."""

    kinds: Annotated[list[str | None], "the kinds of the rendered manifests, in order"]
    problems: Annotated[list[str], "the key notes the manifests break (empty: none)"]
    manifests: Annotated[list[dict[str, Any]], "the rendered manifests (Secret values masked)"]
    expected_image: Annotated[
        str | None, "REGISTRY:TAG the Deployment must run (None: no registry set)"
    ]


class NodeMirror(TypedDict):
    """The node's k3s registry mirror configuration."""

    problems: Annotated[list[str], "what the mirror judge found wrong (empty: none)"]
    registries_yaml: Annotated[str, "the node's registries.yaml"]
    hosts_toml: Annotated[str | None, "containerd's hosts.toml for the registry (None: not there)"]
    hostport: Annotated[str, "the registry's host:port"]
    k3s_version_output: Annotated[str, "what `k3s --version` printed ('' when it failed)"]
    k3s_version: Annotated[str, "k3s's version, e.g. `1.34.4` ('' when unknown)"]


class PulledImage(TypedDict):
    """The image pulled on the node with crictl, through the mirror."""

    image: Annotated[str, "the image pulled (the pushed reference)"]
    digest: Annotated[str, "the repo digest `crictl inspecti` reported"]
    output: Annotated[str, "the last lines of `crictl pull`"]
    route: Annotated[str, "`http` when the pull can only have used the http mirror, else ''"]
    route_why: Annotated[str, "why (or why not)"]
    hosts_toml: Annotated[str, "the hosts.toml the pull went through ('' when absent)"]
    plain_http: Annotated[bool, "setting registry_plain_http"]


class HttpAnswer(TypedDict):
    """One HTTP answer (the last one, after bounded retries)."""

    status: Annotated[int, "the HTTP status (0: no answer)"]
    body: Annotated[str, "the body (at most 2000 characters)"]
    error: Annotated[str, "why there was no answer ('' when there was one)"]
    service: NotRequired[Annotated[str, "the Service asked (through the cluster only)"]]


class PodSummary(TypedDict):
    """A pod as the report shows it."""

    name: str
    phase: str | None
    ready: bool
    containers: list[dict[str, Any]]


class DeployedRelease(TypedDict):
    """The helm release and its rollout on the cluster."""

    status: Annotated[str | None, "helm's status of the release (`deployed`)"]
    revision: Annotated[int | None, "the release's revision"]
    secret: Annotated[str, "the env Secret was `existing` or `created`"]
    helm_version: Annotated[str, "`helm version --short`"]
    helm_major: Annotated[int, "helm's major version (3 or 4)"]
    pods: Annotated[list[PodSummary], "the Ready pods of the current ReplicaSet"]
    pod_facts: Annotated[
        list[dict[str, Any]],
        "those pods as the API server gave them: name, phase, conditions, containers' imageID",
    ]
    pod_problems: Annotated[list[str], "what the pod judge found wrong (empty: none)"]
    running_digest: Annotated[str, "the digest of the first running container"]
    deployment: Annotated[str, "the Deployment's name"]
    startup_line_seen: Annotated[
        bool | None, "startup_line found in the pod's log (None: no startup_line set)"
    ]
    startup_problem: Annotated[str, "why the startup line was not found"]
    healthz_via_cluster: Annotated[
        HttpAnswer, "GET /healthz through the Service (the API server's service proxy)"
    ]
    log_excerpt: Annotated[str, "the last 2000 characters of the pod's log (masked)"]


class LiveApp(TypedDict):
    """The live app at base_url and the watch of its pods' logs."""

    healthz: Annotated[HttpAnswer, "GET base_url/healthz"]
    probes: Annotated[HttpAnswer, "GET base_url/probes"]
    log_problems: Annotated[
        list[str],
        "what the log judge found in the pods' logs (the "
        "logs themselves may hold the session secret)",
    ]
    watched_seconds: Annotated[float, "how long the logs were watched (log_watch)"]
    pipeline_log: NotRequired[
        Annotated[
            str, "the PIPELINE_LOG.md row written at the end of a green run (pipeline_log set)"
        ]
    ]


class CiWorkflow(TypedDict):
    """The Gitea Actions workflows, what the run proved that they depend on, and the run of
    the SHA under test."""

    workflows: Annotated[list[str], "the workflow files (paths in the repository)"]
    workflow_texts: Annotated[dict[str, str], "path -> its text"]
    workflow_source: Annotated[str, "where they were read (Gitea's API or the app repo)"]
    runner_label: Annotated[str, "setting runner_label"]
    ci_branch: Annotated[str, "setting ci_branch"]
    sha: Annotated[str, "the SHA under test ('' when it cannot be resolved)"]
    audit_facts: Annotated[
        dict[str, Any],
        "what the workflow audit judges against: flake outputs (T01), token realm (T07), "
        "build time (T06), env Secret (T10), Gitea's runners, settings",
    ]
    latest_runs: Annotated[
        dict[str, Any] | None, "Gitea's Actions runs (None: Gitea's API not asked)"
    ]
    jobs: Annotated[dict[str, Any] | None, "the jobs of the failed run of the SHA (None: not read)"]
    job_logs: Annotated[
        dict[str, list[str]], "job id -> the last lines of the failed job's log (masked)"
    ]
    api_notes: Annotated[list[str], "what Gitea's API could not give, and why (its version)"]
    gitea_version: Annotated[str, "Gitea's version ('' when the API was not asked)"]
    problems: Annotated[list[str], "what the CI judges found wrong (empty: none)"]

"""The ci stage (T12): the Gitea Actions workflows (through Gitea's API when gitea_api_url
and gitea_token are set and T12 is asked for, else from the app repository), audited
against what this run proved (:mod:`pytest_irp.ci_audit`: each finding with its file:line),
and, through the API, the run of the SHA under test with its failed job, step and log
(:mod:`pytest_irp.ci_runs`). Without --irp-ci the stage only audits the local workflow
files with the results the run already has (no network, nothing run for it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .. import ci_audit, ci_runs
from ..ci_workflow import WORKFLOW_DIRS
from ..gitea_api import GiteaApi, gitea_repo
from ..kube import secret_name
from ..stage import StageContext, StageResult, Step
from ..values import CiWorkflow

API_TIMEOUT = 10.0


def _uses_api(s: Any) -> bool:
    return bool(s["ci"] and s.get("gitea_api_url") and s.get("gitea_token"))


def commands(s: Any) -> list[Step]:
    """The Gitea API requests, or the read of the workflow files."""
    if not _uses_api(s):
        dirs = " and ".join(f"{d}/*.yml" for d in WORKFLOW_DIRS)
        return [Step("local", ("read", dirs), 5, "workflow audit (no network)")]
    api = str(s["gitea_api_url"]).rstrip("/")
    repo = f"{api}/repos/{gitea_repo(s)}"

    def get(url: str, note: str) -> Step:
        return Step("local", ("GET", url), API_TIMEOUT, note)

    return [
        get(f"{api}/version", "Gitea's version (which Actions routes it has)"),
        *(
            get(f"{repo}/contents/{d}?ref={s['ci_branch']}", "workflow files (token auth)")
            for d in WORKFLOW_DIRS
        ),
        get(f"{repo}/actions/runners", "runners: online, labels (1.24+; also org, admin)"),
        get(f"{repo}/actions/runs?limit=30", "runs (1.25+; else /actions/tasks, 1.23+)"),
        get(f"{repo}/actions/runs/<run>/jobs", "the failed run's jobs and steps (1.25+)"),
        get(f"{repo}/actions/jobs/<job_id>/logs", "the failed job's log (1.24+), masked"),
    ]


def plan(ctx: StageContext) -> list[Step]:
    return commands(ctx.settings)


def local_workflows(repo: Path) -> dict[str, str]:
    texts = {}
    for folder in WORKFLOW_DIRS:
        for path in sorted((repo / folder).glob("**/*.y*ml")):
            if path.is_file() and path.suffix in (".yml", ".yaml"):
                texts[str(path.relative_to(repo))] = path.read_text(encoding="utf-8")
    return texts


def run(ctx: StageContext) -> CiWorkflow:
    s = ctx.settings
    asked = bool(s["ci"])
    api: GiteaApi | None = None
    if _uses_api(s):
        ctx.redactor.add(s["gitea_token"])  # a Secret: registered by its value
        api = GiteaApi(s)
        api.read_version()
        texts = api.workflows(s["ci_branch"])
        source = f"Gitea {s['gitea_api_url']} ({gitea_repo(s)} at {s['ci_branch']})"
        if texts:
            ctx.finding(
                "info",
                "CI workflows read through Gitea's API",
                f"{', '.join(sorted(texts))} from {source}",
            )
    else:
        texts = local_workflows(ctx.facts.app_repo)
        source = str(ctx.facts.app_repo)
        if asked:
            ctx.finding(
                "info",
                "Latest CI run not checked",
                "gitea_api_url and gitea_token are not both set, so only the workflow "
                "files were audited.",
                "Set both to check that the SHA under test has a green run.",
            )
    facts = audit_facts(ctx, asked, api) if (texts or asked) else {}
    if texts or asked:
        for f in ci_audit.audit(texts, facts):
            ctx.finding(
                f["severity"],  # type: ignore[arg-type]
                ci_audit.title(f),
                f["problem"],
                f["fix"],
            )
    value: CiWorkflow = {
        "workflows": sorted(texts),
        "problems": [],
        "latest_runs": None,
        "workflow_source": source,
        "workflow_texts": texts,
        "runner_label": s["runner_label"],
        "ci_branch": s["ci_branch"],
        "sha": ctx.facts.sha_or(""),
        "audit_facts": facts,
        "jobs": None,
        "job_logs": {},
        "api_notes": [],
        "gitea_version": api.version if api else "",
    }
    if api is not None:
        _runs(ctx, api, value)
        value["api_notes"] = list(api.notes)
    value["problems"] = (
        ci_runs.ci_problems(dict(value))
        if asked
        else [
            f"{f['file']}:{f['line']}: {f['problem']}"
            for f in ci_audit.audit(texts, facts)
            if f["severity"] == "error" and texts
        ]
    )
    return value


def _runs(ctx: StageContext, api: GiteaApi, value: CiWorkflow) -> None:
    """The runs; for a failed run of the SHA under test its jobs and the failed job's log
    (the last lines, tokens masked; the whole log saved beside the report, masked)."""
    value["latest_runs"] = api.runs()
    run = ci_runs.run_for(value["latest_runs"], value["sha"])
    if run is None or ci_runs.outcome(run) != "failure" or "conclusion" not in run:
        return
    value["jobs"] = api.jobs(run.get("id"))
    job = ci_runs.failed_job(value["jobs"])
    if job is None:
        return
    text = api.job_log(job.get("id"))
    if text is None:
        return
    for token in ci_runs.tokens_in(text):
        ctx.redactor.add(token)
    ctx.save_log(f"job-{job.get('id')}", text)
    value["job_logs"] = {
        str(job.get("id")): [ctx.redactor.redact(line) for line in ci_runs.log_lines(text)]
    }


# --------------------------------------------------------------------------- what the run proved


def audit_facts(ctx: StageContext, asked: bool, api: GiteaApi | None) -> dict[str, Any]:
    """What the audit judges against: T01's flake outputs (its stage is run for --irp-ci,
    else only what it found already), T07's realm (or the stage's own probe for
    --irp-ci), T06's build time, T10's Secret, Gitea's runners; settings for the rest."""
    s = ctx.settings
    facts: dict[str, Any] = {
        "registry": str(s.get("registry") or ""),
        "plain_http": bool(s["registry_plain_http"]),
        "namespace": s["namespace"],
        "secret_name": secret_name(s),
        "kube_context": s.get("kube_context") or "",
        "runner_label": s["runner_label"],
        "ci_branch": s["ci_branch"],
        "gitea_url": _gitea_url(s),
    }
    flake = ctx.known("flake") or (ctx.results("flake") if asked else None)
    facts["flake_outputs"], facts["flake_note"] = _outputs(flake)
    facts["realm"] = _realm(ctx, asked)
    build = ctx.known("build")
    facts["build_seconds"] = round(build.duration) if build and build.ok else None
    release = ctx.known("release")
    facts["secret_state"] = release.value.get("secret") if release and release.ok else None
    facts["runners"] = api.runners() if api else None
    facts["runners_note"] = (
        "; ".join(api.notes)
        if api
        else "Gitea's runners are listed with --irp-ci, gitea_api_url and gitea_token"
    )
    return facts


def _gitea_url(s: Any) -> str:
    if s.get("gitea_api_url"):
        return re.sub(r"/api/v1/?$", "", str(s["gitea_api_url"]))
    if s.get("registry"):
        scheme = "http" if s["registry_plain_http"] else "https"
        return f"{scheme}://{str(s['registry']).split('/', 1)[0]}"
    return ""


def _outputs(flake: StageResult | None) -> tuple[list[str] | None, str]:
    if flake is None:
        return None, "T01's flake stage did not run in this session"
    if not flake.ok:
        return None, f"T01's flake stage {flake.status}: {flake.cause}"
    outputs = ci_audit.flake_outputs(flake.value.get("show"))
    return outputs, "" if outputs is not None else "`nix flake show` gave no usable answer"


def _realm(ctx: StageContext, asked: bool) -> dict[str, Any] | None:
    """The registry's token realm as T07 found it, or (for --irp-ci) as a probe finds
    it now (``GET /v2/`` and a connection to the realm; the push stage's own checks)."""
    push = ctx.known("push")
    if push is not None and push.ok:
        v = push.value
        if not v.get("realm_problem") or not v.get("token_workaround"):
            return None  # right, or T07 pushed through it from the build host
        return {
            "realm": v.get("realm"),
            "problem": v.get("realm_problem"),
            "dead": True,
            "source": "T07 pushed only with the token workaround",
            "fix": v.get("realm_fix"),
        }
    if push is not None and push.status == "failed":
        m = re.search(
            r"token realm (\S+) does not answer|failed at the registry's token realm", push.cause
        )
        if m:
            return {
                "realm": m.group(1) or "(see T07)",
                "problem": push.cause,
                "dead": True,
                "source": "T07's push failed on it",
                "fix": "",
            }
    if not asked or not ctx.settings.get("registry"):
        return None
    from ..registry import ImageRef, RegistryClient, realm_problem
    from ..registry_facts import realm_fix
    from ..stage import StageError

    s = ctx.settings
    ref = ImageRef.parse(s["registry"])
    plain = bool(s["registry_plain_http"])
    try:
        client = RegistryClient(ref, plain)
        challenge = client.challenge()
    except StageError as exc:
        ctx.finding("info", "Registry realm not probed", exc.cause)
        return None
    realm = challenge.get("realm", "")
    problem = realm_problem(realm, ref.hostport, plain) if challenge["scheme"] == "bearer" else None
    if not problem:
        return None
    answers = client.realm_answers(realm)
    return {
        "realm": realm,
        "problem": problem,
        "dead": answers is False,
        "source": (
            "probed by T12: nothing answers there"
            if answers is False
            else "probed by T12 from this machine, not from the build host"
        ),
        "fix": realm_fix(client.version(), ref.hostport),
    }

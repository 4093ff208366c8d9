"""T12's verdict over Gitea's Actions runs (pure): the run of the SHA under test, its
failed job and step, the last lines of that job's log and the known cause they show.

The shapes are Gitea's API types (modules/structs/repo_actions.go): the run listing
``{"workflow_runs": [ActionWorkflowRun], "total_count"}`` (``GET .../actions/runs``,
Gitea 1.25+; ``.../actions/tasks`` since 1.23 lists ActionTask entries under the same
key), the job listing ``{"jobs": [ActionWorkflowJob], "total_count"}`` (``GET
.../actions/runs/{run}/jobs``, 1.25+) with ``steps`` [ActionWorkflowStep], and a job's log
as plain text, one ``TIMESTAMP content`` line per row (``GET .../actions/jobs/{id}/logs``,
1.24+). Up to Gitea 1.26.1 every step of a job reports the job's own status and
conclusion (services/convert ``ToActionWorkflowJob``; fixed by #37592 in 1.26.2), so the
failed step is then inferred from the log's cause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .ci_audit import audit
from .ci_workflow import Step, Workflow, effective_files, kinds, parse

UNFINISHED = ("queued", "waiting", "in_progress", "running", "blocked", "pending")
LOG_LINES = 40
# a row of a Gitea Actions log: "2006-01-02T15:04:05.0000000Z content" (modules/actions/log.go)
_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d) ?")


@dataclass(frozen=True)
class Cause:
    name: str
    kind: str  # the step kind it happens in (build, push, deploy, checkout, any)
    pattern: re.Pattern[str]
    why: str
    fix: str


CAUSES = (
    Cause(
        "flake attribute",
        "build",
        re.compile(r"does not provide attribute"),
        "the flake has no output of that name (IHP's flake module has no `docker`)",
        "build .#optimized-docker-image, or define the output in flake.nix",
    ),
    Cause(
        "GHC out of memory",
        "build",
        re.compile(
            r"(?i)heap exhausted|out of memory|cannot allocate memory|getMBlocks|"
            r"\bkilled\b.*\bghc|\bghc\b.*\bkilled\b|signal 9|exit code 137"
        ),
        "GHC ran out of memory on the 2-CPU/3.8 GB build host (GHCRTS set outside the "
        "build does not reach GHC inside nix's sandbox)",
        "build with --max-jobs 1 --cores 2 (the workplan's -j1), add swap, or build the "
        "image where there is more memory",
    ),
    Cause(
        "token realm",
        "push",
        re.compile(
            r"v2/token.*(?:connection refused|no such host|i/o timeout|no route to host)"
            r"|(?:connection refused|no such host).*v2/token"
        ),
        "skopeo followed the registry's token realm and nothing answers there (T07's realm "
        "problem: Gitea builds the realm from ROOT_URL without the registry's port)",
        "fix Gitea's ROOT_URL (with the port) or its PUBLIC_URL_DETECTION; or pass a token "
        "fetched from /v2/token with --dest-registry-token, as the workplan's T07 did",
    ),
    Cause(
        "plain-HTTP registry",
        "push",
        re.compile(r"server gave HTTP response to HTTPS client"),
        "skopeo spoke HTTPS to the plain-HTTP registry",
        "add --dest-tls-verify=false to skopeo copy",
    ),
    Cause(
        "credentials",
        "push",
        re.compile(
            r"(?i)unauthorized|authentication required|invalid username/password|"
            r"requested access to the resource is denied|401 Unauthorized|status code 401|"
            r"HTTP/1\.[01] 401"
        ),
        "the registry refused the push's credentials (none given, or wrong)",
        "give skopeo the registry user and a token from repository secrets "
        "(--dest-creds or an authfile)",
    ),
    Cause(
        "kube access",
        "deploy",
        re.compile(
            r"Kubernetes cluster unreachable|localhost:8080|127\.0\.0\.1:8080|"
            r"context \"[^\"]*\" does not exist|no configuration has been provided|"
            r"forbidden: User|the server has asked for the client to provide credentials"
        ),
        "helm had no working kubeconfig on the build host's runner",
        "give the deploy step a kubeconfig (repository secret written to a 0600 file, "
        "--kubeconfig and --kube-context)",
    ),
    Cause(
        "tool missing",
        "any",
        re.compile(
            r"(?:\b(?:nix|skopeo|helm|git|node)\b: (?:command )?not found)|"
            r"exec: \"[^\"]+\": executable file not found"
        ),
        "a program the step calls is not on the runner's PATH on the build host",
        "install it for the runner's user (host mode runs the steps in the runner's "
        "environment), or call it by its full path",
    ),
    Cause(
        "action fetch",
        "checkout",
        re.compile(
            r"(?i)(?:github\.com|actions/checkout).*(?:could not resolve|unable to access|"
            r"dial tcp|connection refused|timed out)"
        ),
        "the runner could not fetch the action (host mode clones it from "
        "DEFAULT_ACTIONS_URL: github.com unless Gitea says `self`)",
        "let the build host reach that address, or mirror the action into Gitea and use "
        "its full URL in `uses:`",
    ),
)


def log_lines(text: str, limit: int = LOG_LINES) -> list[str]:
    """The last ``limit`` lines of a job log, without Gitea's timestamps."""
    lines = [_STAMP.sub("", line).rstrip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    return lines[-limit:]


def match_causes(lines: list[str]) -> list[dict[str, str]]:
    """Known causes in the log, the last line first (the failure is near the end)."""
    found: list[dict[str, str]] = []
    seen: set[str] = set()
    for line in reversed(lines):
        for cause in CAUSES:
            m = cause.pattern.search(line) if cause.name not in seen else None
            if m:
                seen.add(cause.name)
                start = max(0, m.start() - 60)
                found.append(
                    {
                        "cause": cause.name,
                        "kind": cause.kind,
                        "line": ("..." if start else "") + line[start : m.end() + 160].strip(),
                        "why": cause.why,
                        "fix": cause.fix,
                    }
                )
    return found


# --------------------------------------------------------------------------- runs


def runs_of(listing: dict[str, Any] | None) -> list[dict[str, Any]]:
    return list((listing or {}).get("workflow_runs") or [])


def _order(run: dict[str, Any]) -> tuple[str, int]:
    when = run.get("created_at") or run.get("started_at") or run.get("run_started_at") or ""
    return str(when), int(run.get("id") or 0)


def run_for(listing: dict[str, Any] | None, sha: str) -> dict[str, Any] | None:
    """The latest run of ``sha`` (a full or short SHA), else None."""

    def same(head: str) -> bool:
        return bool(head and sha) and (head.startswith(sha) or sha.startswith(head))

    mine = [r for r in runs_of(listing) if same(str(r.get("head_sha") or ""))]
    return max(mine, key=_order) if mine else None


def latest_on(listing: dict[str, Any] | None, branch: str) -> dict[str, Any] | None:
    on_branch = [
        r for r in runs_of(listing) if r.get("head_branch") in (branch, f"refs/heads/{branch}")
    ]
    return max(on_branch, key=_order) if on_branch else None


def outcome(run: dict[str, Any]) -> str:
    """success, failure, cancelled, skipped, or the unfinished state (queued ...).
    ActionTask (``/actions/tasks``) has only ``status``, which then holds the result."""
    conclusion = str(run.get("conclusion") or "")
    return conclusion or str(run.get("status") or "unknown")


def _number(run: dict[str, Any]) -> str:
    return f"#{run.get('run_number', run.get('id'))}"


# --------------------------------------------------------------------------- jobs


def failed_job(jobs: dict[str, Any] | None) -> dict[str, Any] | None:
    for job in (jobs or {}).get("jobs") or []:
        if outcome(job) == "failure":
            return dict(job)
    return None


def workflow_job(texts: dict[str, str], run: dict[str, Any], name: str) -> list[Step]:
    """The steps of the workflow job a run's job came from (by the job's name)."""
    files, _ = effective_files(texts)
    path = str(run.get("path") or "").split("@")[0]
    for file, text in sorted(files.items(), key=lambda kv: not kv[0].endswith("/" + path)):
        wf: Workflow = parse(file, text)
        for job in wf.jobs:
            if job.name == name:
                return job.steps
    return []


def failed_step(
    job: dict[str, Any], steps: list[Step], causes: list[dict[str, str]]
) -> tuple[str, str]:
    """(the failed step as the user sees it, how it was found)."""
    api = list(job.get("steps") or [])
    conclusions = {str(s.get("conclusion") or "") for s in api}
    if len(conclusions) > 1:
        for s in api:
            if s.get("conclusion") == "failure":
                index = int(s.get("number") or 0)
                return _describe(index, str(s.get("name") or ""), steps), "Gitea's step status"
    if causes:
        want = causes[0]["kind"]
        if want == "any":  # a missing program: the step that calls it
            program = re.search(r"\b(nix|skopeo|helm|node)\b", causes[0]["line"])
            want = {"nix": "build", "skopeo": "push", "helm": "deploy", "node": "checkout"}.get(
                program.group(1) if program else "", "any"
            )
        for step in steps:
            if want in kinds(step):
                return (
                    _describe(step.index, "", steps),
                    f"inferred from the log's cause ({causes[0]['cause']}): Gitea before "
                    f"1.26.2 gives every step the job's status",
                )
    return "step unknown", "Gitea gives no failed step and the log shows no known cause"


def _describe(index: int, name: str, steps: list[Step]) -> str:
    step = steps[index] if 0 <= index < len(steps) else None
    label = name or (step.label if step else "")
    where = f" ({step.where})" if step else ""
    return f"step {index + 1} `{label}`{where}"


def explain(value: dict[str, Any]) -> dict[str, Any]:
    """What the run of the SHA under test says: {run, state, job, step, how, lines,
    causes}; run None when Gitea lists no run of it."""
    listing = value.get("latest_runs")
    run = run_for(listing, str(value.get("sha") or ""))
    out: dict[str, Any] = {"run": run, "state": outcome(run) if run else "none"}
    if not run or out["state"] != "failure":
        return out
    job = failed_job(value.get("jobs"))
    if job is None:
        return out
    logs = value.get("job_logs") or {}
    lines = list(logs.get(str(job.get("id")), []))
    causes = match_causes(lines)
    steps = workflow_job(value.get("workflow_texts") or {}, run, str(job.get("name") or ""))
    step, how = failed_step(job, steps, causes)
    out.update(job=job.get("name"), step=step, how=how, lines=lines, causes=causes)
    return out


def run_problem(value: dict[str, Any]) -> str:
    """Why the SHA under test has no green run ('' when it has one)."""
    sha = str(value.get("sha") or "")
    branch = str(value.get("ci_branch") or "main")
    short = sha[:7] or "?"
    if value.get("latest_runs") is None:
        notes = "; ".join(value.get("api_notes") or [])
        return f"no CI run of {short} could be seen: Gitea's Actions API was not read" + (
            f" ({notes})" if notes else " (set gitea_api_url and gitea_token)"
        )
    found = explain(value)
    run, state = found["run"], found["state"]
    if run is None:
        last = latest_on(value.get("latest_runs"), branch)
        seen = (
            f"; the latest run on {branch} ({_number(last)}, {last.get('head_sha', '')[:7]}) "
            f"is {outcome(last)}"
            if last
            else f"; no CI run on {branch} yet"
        )
        return f"Gitea lists no CI run of {short} (the SHA under test){seen}"
    if state == "success":
        return ""
    if state in UNFINISHED:
        return (
            f"the CI run {_number(run)} of {short} is {state} and has not finished (a "
            f"queued run that never starts: no online Actions runner has its labels)"
        )
    if state != "failure" or "job" not in found:
        notes = "; ".join(value.get("api_notes") or [])
        return f"the CI run {_number(run)} of {short} ended {state}" + (
            f" ({notes})" if notes else ""
        )
    text = f"the CI run {_number(run)} of {short} failed in job {found['job']}, {found['step']}"
    text += f" [{found['how']}]"
    if found["causes"]:
        cause = found["causes"][0]
        text += f": {cause['cause']}: {cause['why']} (log: {cause['line']}). Fix: {cause['fix']}"
    elif found["lines"]:
        text += f"; last log lines: {' | '.join(found['lines'][-5:])}"
    return text


_TOKENS = (
    re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}"),  # a JWT (Gitea's registry tokens)
    re.compile(
        r"(?:--(?:dest-|src-)?registry-token|--password|--dest-password)[= ]+[\"']?([^\s\"']+)"
    ),
    re.compile(r"(?:--(?:dest-|src-)?creds)[= ]+[\"']?[^\s:\"']+:([^\s\"']+)"),
    re.compile(r"(?i)\b(?:bearer|token)\s+([A-Za-z0-9._~+/=-]{16,})"),
)


def tokens_in(text: str) -> set[str]:
    """Tokens and passwords a CI log shows (for the redactor to mask everywhere)."""
    found: set[str] = set()
    for pattern in _TOKENS:
        for m in pattern.finditer(text):
            value = m.group(1) if m.groups() else m.group(0)
            if len(value) >= 8 and not value.startswith(("$", "***")):
                found.add(value)
    return found


def ci_problems(value: dict[str, Any]) -> list[str]:
    """T12 (asked for): a green run of the SHA under test; otherwise why not, then the
    workflow audit's errors, each with its file:line and fix."""
    problem = run_problem(value)
    if not problem:
        return []
    errors = [
        f"{f['file']}:{f['line']}: {f['problem']}. Fix: {f['fix']}"
        for f in audit(value.get("workflow_texts") or {}, value.get("audit_facts") or {})
        if f["severity"] == "error"
    ]
    return [problem, *errors]

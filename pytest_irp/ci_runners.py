"""T12's audit rules about where a job runs (pure): its ``runs-on`` labels against the
runners Gitea reports (online, enabled, all labels: models/actions/runner.go
``CanMatchLabels``), and the actions the runner fetches at run time (``DEFAULT_ACTIONS_URL``:
github.com or the Gitea itself, modules/setting/actions.go; act's ``CloneURL``)."""

from __future__ import annotations

from typing import Any

from .ci_workflow import ERROR, INFO, WARNING, Step, finding

# --------------------------------------------------------------------------- runners


def runs_on_findings(
    file: str, line: int, job: str, labels: list[str], facts: dict[str, Any]
) -> list[dict[str, str]]:
    where = f"{file}:{line}"
    if not labels:
        return [
            finding(where, "runs-on", ERROR, f"job {job} has no runs-on", "add `runs-on: LABEL`")
        ]
    runners = facts.get("runners")
    wanted = ", ".join(labels)
    if runners is None:
        label = facts.get("runner_label") or ""
        out = []
        if label and label not in labels:
            out.append(
                finding(
                    where,
                    "runs-on",
                    ERROR,
                    f"job {job} runs on {wanted}; the build host's runner has the label "
                    f"{label} (setting runner_label), so no runner takes the job",
                    f"runs-on: {label}",
                )
            )
        note = facts.get("runners_note") or "Gitea's runners were not listed"
        out.append(
            finding(
                where,
                "runs-on",
                INFO,
                f"runs-on {wanted} not checked against Gitea's runners: {note}",
                "set gitea_api_url and a gitea_token of the repository's owner "
                "(GET /repos/O/R/actions/runners, Gitea 1.24+)",
            )
        )
        return out
    fits = [r for r in runners if set(labels) <= set(runner_labels(r))]
    online = [r for r in fits if r.get("status") == "online" and not r.get("disabled")]
    if online:
        return []
    listed = (
        "; ".join(
            f"{r.get('name')} ({r.get('status')}{', disabled' if r.get('disabled') else ''}: "
            f"{', '.join(runner_labels(r)) or 'no labels'})"
            for r in runners
        )
        or "none"
    )
    if fits:
        problem = (
            f"job {job} runs on {wanted}: the runners with that label are not online "
            f"({listed}); the run stays queued until one is"
        )
        fix = "start the runner on the build host (`act_runner daemon`) and enable it"
    else:
        problem = (
            f"job {job} runs on {wanted}, which no runner Gitea knows has (runners: "
            f"{listed}); the run stays queued forever"
        )
        fix = (
            f"register the build host's runner with that label (`act_runner register "
            f"--labels {labels[0]}:host ...`, host mode) and start it, or change runs-on"
        )
    return [finding(where, "runs-on", ERROR, problem, fix)]


def runner_labels(runner: dict[str, Any]) -> list[str]:
    """A runner's label names (act_runner's ``name:schema:arg`` form cut to the name)."""
    out = []
    for label in runner.get("labels") or []:
        name = label.get("name") if isinstance(label, dict) else label
        if name:
            out.append(str(name).split(":", 1)[0])
    return out


# --------------------------------------------------------------------------- actions


def action_finding(step: Step, facts: dict[str, Any]) -> dict[str, str]:
    uses = step.uses
    if uses.startswith(("./", "docker://")):
        return finding(step.where, "actions", INFO, f"uses {uses} (local)", "")
    if uses.startswith(("http://", "https://")):
        source = uses.split("@")[0]
        where_from = f"{source} (absolute URL)"
    else:
        repo = uses.split("@")[0]
        gitea = str(facts.get("gitea_url") or "GITEA_ROOT_URL").rstrip("/")
        where_from = (
            f"https://github.com/{repo} (Gitea's [actions] DEFAULT_ACTIONS_URL = github, "
            f"the default) or {gitea}/{repo} (DEFAULT_ACTIONS_URL = self)"
        )
    return finding(
        step.where,
        "actions",
        WARNING,
        f"`uses: {uses}`: the runner clones {where_from} on every run and, in host mode, "
        f"runs a JavaScript action with `node` from the build host's PATH",
        "make sure the build host reaches that address and has node; offline, mirror the "
        "action into Gitea and write `uses: " + _self_url(uses, facts) + "`, or replace "
        "checkout with a `run:` step (`git clone`/`git fetch` of the repository)",
    )


def _self_url(uses: str, facts: dict[str, Any]) -> str:
    gitea = str(facts.get("gitea_url") or "http://GITEA").rstrip("/")
    return uses if uses.startswith("http") else f"{gitea}/{uses}"

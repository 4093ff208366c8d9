"""T12's static audit of the Gitea Actions workflows, judged against what the run proved
(pure). Each finding names the workflow's file:line, what will go wrong and the fix.

``facts`` (what the ci stage gathered, plain JSON; every key optional):
``flake_outputs`` (the attribute names of T01's ``nix flake show``, None: unknown) and
``flake_note``; ``realm`` ({realm, problem, dead, source, fix} from T07's push stage or
the ci stage's own probe; None: not known) and ``build_seconds`` (T06); ``registry``,
``plain_http``, ``namespace``, ``secret_name``, ``kube_context``, ``secret_state`` (T10:
``existing``/``created``); ``runners`` (Gitea's runners [{name, status, disabled, labels}],
None: not listed) and ``runners_note``; ``runner_label``; ``gitea_url``; ``ci_branch``.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from .ci_runners import action_finding, runs_on_findings
from .ci_workflow import (
    ERROR,
    INFO,
    WARNING,
    Step,
    Workflow,
    attribute,
    destination,
    effective_files,
    expand,
    find_command,
    finding,
    installable,
    kinds,
    option,
    parse,
    set_values,
)

CREDENTIAL_OPTIONS = (
    "--dest-creds",
    "--creds",
    "--authfile",
    "--dest-authfile",
    "--dest-registry-token",
    "--registry-token",
    "--dest-username",
)
KUBE_OPTIONS = ("--kube-context", "--kubeconfig")
IHP_IMAGE_OUTPUTS = ("optimized-docker-image", "unoptimized-docker-image")
HEADLINES = {
    "workflow-dir": "a workflow Gitea ignores",
    "yaml": "an invalid workflow",
    "trigger": "no workflow runs on push",
    "steps": "a missing step",
    "runs-on": "no runner takes the job",
    "actions": "an action fetched at run time",
    "flake-attr": "the flake has no such output",
    "push-creds": "a push without credentials",
    "push-realm": "a push without the realm workaround",
    "push-tls": "HTTPS to a plain-HTTP registry",
    "push-dest": "a push to another registry",
    "deploy-kube": "a deploy without kube access",
    "deploy-namespace": "the deploy's namespace",
    "deploy-secret": "the env Secret",
    "deploy-tag": "the deployed tag is not the pushed one",
}


def title(f: dict[str, str]) -> str:
    """A finding's one-line title: where, the rule, what (info: not checked)."""
    what = "not checked" if f["severity"] == INFO else HEADLINES.get(f["rule"], f["rule"])
    return f"CI workflow {f['file']}:{f['line']} ({f['rule']}): {what}"


def audit(texts: dict[str, str], facts: dict[str, Any]) -> list[dict[str, str]]:
    """Every finding over the workflow files (path -> text)."""
    files, ignored = effective_files(texts)
    out: list[dict[str, str]] = []
    for path in ignored:
        out.append(
            finding(
                f"{path}:1",
                "workflow-dir",
                WARNING,
                f"Gitea ignores {path}: it reads only the first workflow directory that "
                f"exists, and {next(iter(files)).rsplit('/', 1)[0]} does",
                "keep every workflow in one directory (.gitea/workflows)",
            )
        )
    workflows = [parse(path, text) for path, text in sorted(files.items())]
    for wf in workflows:
        if wf.error:
            out.append(
                finding(
                    f"{wf.file}:1",
                    "yaml",
                    ERROR,
                    f"{wf.error}: Gitea ignores the file (it logs a warning and starts no run)",
                    "fix the file's YAML",
                )
            )
    pushed = [wf for wf in workflows if not wf.error and wf.on_push and wf.jobs]
    if not pushed:
        where = f"{workflows[0].file}:1" if workflows else ".gitea/workflows/:0"
        out.append(
            finding(
                where,
                "trigger",
                ERROR,
                "no workflow runs on push"
                + ("" if workflows else " (no workflow file in .gitea/workflows/)"),
                "add .gitea/workflows/build-and-deploy.yml with `on: [push]`",
            )
        )
    branch = str(facts.get("ci_branch") or "")
    for wf in pushed:
        allowed = wf.push_branches
        if (
            branch
            and allowed is not None
            and not any(fnmatch.fnmatchcase(branch, b) for b in allowed)
        ):
            out.append(
                finding(
                    f"{wf.file}:1",
                    "trigger",
                    ERROR,
                    f"the workflow runs on pushes to {', '.join(allowed)} only, "
                    f"not to {branch} (setting ci_branch)",
                    f"add {branch} to `on: push: branches:`",
                )
            )
        out += _workflow(wf, facts)
    return out


def _workflow(wf: Workflow, facts: dict[str, Any]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for job in wf.jobs:
        out += runs_on_findings(job.file, job.runs_on_line, job.name, job.runs_on, facts)
        by_kind = {k: [s for s in job.steps if k in kinds(s)] for k in ("build", "push", "deploy")}
        for what, program in (
            ("build", "nix build"),
            ("push", "skopeo copy"),
            ("deploy", "helm upgrade"),
        ):
            if not by_kind[what]:
                out.append(
                    finding(
                        f"{job.file}:{job.line}",
                        "steps",
                        ERROR,
                        f"job {job.name} has no {what} step (`{program}`)",
                        f"add a `run:` step calling `{program}`",
                    )
                )
        env = {**wf.env, **job.env}
        for step in job.steps:
            step_env = {**env, **step.env}
            does = kinds(step)
            if "checkout" in does or "action" in does:
                out.append(action_finding(step, facts))
            if "build" in does:
                out += _build(step, facts)
            if "push" in does:
                out += _push(step, step_env, facts)
            if "deploy" in does:
                out += _deploy(step, step_env, facts, by_kind["push"])
    return out


# --------------------------------------------------------------------------- build


def _build(step: Step, facts: dict[str, Any]) -> list[dict[str, str]]:
    words = find_command(step, "nix", "build") or []
    target = installable(words) or "."
    attr = attribute(target)
    outputs = facts.get("flake_outputs")
    where = f"{step.file}:{step.run_line}"
    if outputs is None:
        return [
            finding(
                where,
                "flake-attr",
                INFO,
                f"`nix build {target}` not checked against the flake's outputs: "
                f"{facts.get('flake_note') or 'T01 did not list them'}",
                "run T01 (or --irp-ci, which runs its flake stage)",
            )
        ]
    if attr in outputs:
        return []
    images = [o for o in IHP_IMAGE_OUTPUTS if o in outputs]
    fix = (
        f"build .#{images[0]} (IHP's image output), or define packages.<system>.{attr} in flake.nix"
        if images
        else f"define packages.<system>.{attr} in flake.nix, or build an attribute it has"
    )
    return [
        finding(
            where,
            "flake-attr",
            ERROR,
            f"`nix build {target}` fails at once: the flake has no {attr!r} output (T01's "
            f"`nix flake show`: {', '.join(sorted(outputs)) or 'none'}); IHP's flake "
            f"module has no `docker` output",
            fix,
        )
    ]


# --------------------------------------------------------------------------- push


def _push(step: Step, env: dict[str, str], facts: dict[str, Any]) -> list[dict[str, str]]:
    words = find_command(step, "skopeo", "copy") or []
    where = f"{step.file}:{step.run_line}"
    out = []
    creds = [o for o in CREDENTIAL_OPTIONS if option(words, o) is not None]
    if not creds and "REGISTRY_AUTH_FILE" not in env:
        out.append(
            finding(
                where,
                "push-creds",
                ERROR,
                "`skopeo copy` gives no credentials (no --dest-creds, --authfile or "
                "--dest-registry-token): Gitea's registry refuses an anonymous push (401), "
                "unless the runner's user has a `skopeo login` in its default auth.json",
                "pass the registry user and a token from repository secrets: "
                '`--dest-creds "$REGISTRY_USER:$REGISTRY_PASSWORD"` with '
                "`env: {REGISTRY_USER: ${{ secrets.REGISTRY_USER }}, REGISTRY_PASSWORD: "
                "${{ secrets.REGISTRY_PASSWORD }}}`, or an authfile written from them (0600)",
            )
        )
    realm = facts.get("realm") or {}
    has_token = option(words, "--dest-registry-token") is not None
    if realm.get("problem") and not has_token:
        dead = bool(realm.get("dead"))
        minutes = facts.get("build_seconds")
        after = (
            f" after the build (T06 took {float(minutes) / 60:.0f} min here)"
            if minutes
            else " after the build"
        )
        out.append(
            finding(
                where,
                "push-realm",
                ERROR,
                (
                    f"this push will fail as T07 did{after}: skopeo asks the token realm "
                    f"{realm.get('realm')} for every push (credentials or authfile), and "
                    f"nothing answers there ({realm.get('source') or 'T07'})"
                    if dead
                    else f"the registry advertises a wrong token realm {realm.get('realm')} "
                    f"({realm.get('problem')}; {realm.get('source') or 'T07'}): the runner's "
                    f"push on the build host follows it and fails, after the build, unless "
                    f"the build host reaches that address"
                ),
                f"{realm.get('fix') or 'fix the realm (Gitea ROOT_URL with the port)'}; or, "
                f"as the workplan's T07 did, fetch a token from /v2/token and pass it with "
                f"--dest-registry-token (visible in the build host's process list)",
            )
        )
    if facts.get("plain_http") and option(words, "--dest-tls-verify") not in ("false", ""):
        out.append(
            finding(
                where,
                "push-tls",
                ERROR,
                "`skopeo copy` speaks HTTPS to the registry, which is plain HTTP: it fails "
                "with `http: server gave HTTP response to HTTPS client`",
                "add --dest-tls-verify=false",
            )
        )
    registry = str(facts.get("registry") or "")
    dest = expand(destination(words), env)
    repo = dest[: dest.rfind(":")] if dest.rfind(":") > dest.rfind("/") else dest
    if registry and repo and "$" not in repo and repo != registry:
        out.append(
            finding(
                where,
                "push-dest",
                WARNING,
                f"the push goes to {repo}, the suite's registry is {registry}",
                f"push to docker://{registry}:TAG",
            )
        )
    return out


# --------------------------------------------------------------------------- deploy


def _tag_expr(step: Step, text: str, env: dict[str, str]) -> str:
    """A tag expression with the step's own ``VAR=$(...)`` assignments and env put in."""
    assigned = dict(env)
    for m in re.finditer(r"^\s*(?:export\s+)?(\w+)=(\S.*)$", step.run, re.M):
        assigned[m.group(1)] = m.group(2).strip()
    return expand(text, assigned)


def _deploy(
    step: Step, env: dict[str, str], facts: dict[str, Any], pushes: list[Step]
) -> list[dict[str, str]]:
    words = find_command(step, "helm", ("upgrade", "install")) or []
    where = f"{step.file}:{step.run_line}"
    out = []
    scripted_kubeconfig = re.search(r"\bKUBECONFIG=", step.run)
    if (
        not any(option(words, o) for o in KUBE_OPTIONS)
        and "KUBECONFIG" not in env
        and not scripted_kubeconfig
    ):
        context = facts.get("kube_context") or "(current context)"
        out.append(
            finding(
                where,
                "deploy-kube",
                ERROR,
                f"helm gets no --kube-context, --kubeconfig or KUBECONFIG: on the build "
                f"host's runner it reads the runner user's ~/.kube/config there, which "
                f"nothing in this run shows exists (T10 deployed from this machine, "
                f"context {context}); without it helm fails with `Kubernetes cluster "
                f"unreachable`",
                "store a kubeconfig for the cluster as a repository secret, write it to a "
                "0600 file in the step and pass --kubeconfig FILE --kube-context CONTEXT",
            )
        )
    namespace = option(words, "--namespace", "-n")
    want = str(facts.get("namespace") or "")
    if not namespace:
        out.append(
            finding(
                where,
                "deploy-namespace",
                ERROR,
                "helm gets no --namespace: the release goes to the kubeconfig's default "
                "namespace, where the env Secret is not",
                f"add --namespace {want or 'NAMESPACE'}",
            )
        )
    elif want and namespace != want:
        out.append(
            finding(
                where,
                "deploy-namespace",
                WARNING,
                f"helm deploys to namespace {namespace}, the suite checks {want}",
                f"--namespace {want}",
            )
        )
    secret = str(facts.get("secret_name") or "")
    if secret and secret not in step.run and facts.get("secret_state") == "created":
        out.append(
            finding(
                where,
                "deploy-secret",
                WARNING,
                f"the deploy relies on Secret {secret} in {namespace or want}, which T10 "
                f"found missing and created: a fresh cluster's first CI deploy gets a pod "
                f"that cannot start (envFrom a missing Secret)",
                f"create {secret} once per cluster (kubectl create secret generic ...), or "
                f"from repository secrets in the workflow",
            )
        )
    values = set_values(words)
    tag = values.get("image.tag")
    if tag is None:
        out.append(
            finding(
                where,
                "deploy-tag",
                ERROR,
                "helm sets no image.tag: the chart's default tag is deployed, not the image "
                "this run pushed",
                "add --set image.tag=$SHA with SHA computed as in the push step",
            )
        )
    elif pushes:
        push = pushes[0]
        pushed = destination(find_command(push, "skopeo", "copy") or [])
        pushed_tag = (
            pushed[pushed.rfind(":") + 1 :] if pushed.rfind(":") > pushed.rfind("/") else ""
        )
        a = _tag_expr(push, pushed_tag, {**env, **push.env})
        b = _tag_expr(step, tag, env)
        if a and a != b:
            out.append(
                finding(
                    where,
                    "deploy-tag",
                    ERROR,
                    f"helm sets image.tag={tag} ({b}); the push wrote tag {pushed_tag} ({a}) "
                    f"({push.file}:{push.run_line})",
                    "compute the tag the same way in both steps (or once, in a job output)",
                )
            )
    return out


def flake_outputs(show: Any) -> list[str] | None:
    """The attribute names ``nix build .#NAME`` finds in ``nix flake show --json``
    (``packages.<system>.NAME``, ``legacyPackages.<system>.NAME``); None: no answer."""
    if not isinstance(show, dict):
        return None
    names = {
        name
        for output in ("packages", "legacyPackages")
        for per_system in (show.get(output) or {}).values()
        if isinstance(per_system, dict)
        for name in per_system
    }
    return sorted(names)

"""The push stage (T07): skopeo pushes the built archive from the build host to the
registry, and the registry's own answers are recorded: its tags/list and the digest it
serves for the tag. A push those answers contradict (the tag not listed, another digest
served: :func:`pytest_irp.registry_facts.tag_problem`, ``digest_problem``, the predicates
the T07 checks assert) is recorded and :class:`~pytest_irp.stage.Unusable`: the T07
checks judge it, the pull and the release are BLOCKED. The registry's API
and its token realm: :mod:`pytest_irp.registry`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

from .. import remote
from ..registry import (
    HTTP_TIMEOUT,
    ImageRef,
    RegistryClient,
    authfile,
    credentials,
    manifest_url,
    packages_url,
    realm_problem,
    tags_url,
    token_url,
)
from ..registry_facts import (
    _block,
    digest_problem,
    inspect_facts,
    realm_fix,
    realm_refusal,
    tag_problem,
)
from ..stage import StageContext, StageError, Step, Unusable
from ..values import PushedImage

REALM_FINDING = "Registry token realm points to the wrong address"
EXPOSURE_FINDING = "Registry token was visible in the build host's process list"
PLACEHOLDER_REGISTRY = "<registry-host:port>/<owner>/<name>"


class Commands(NamedTuple):
    challenge: Step
    token: Step
    skopeo_version: Step
    push: Step
    tags: Step
    digest: Step
    packages: Step


def push_argv(settings: Any, dest: str, mode: str = "authfile") -> list[str]:
    """The push script; ``mode`` ``authfile`` (stdin: containers-auth.json) or ``token``
    (stdin: the registry token, which the script passes to skopeo's argv)."""
    tls = "false" if settings["registry_plain_http"] else "true"
    return remote.argv("push", settings["remote_dir"], dest, tls, mode, *settings["skopeo"])


def commands(s: Any, host: str, registry: str, tag: str, mode: str = "authfile") -> Commands:
    """The push and the registry requests around it (``mode``: see :func:`push_argv`)."""
    ref = ImageRef.parse(registry)
    plain = bool(s["registry_plain_http"])
    name = ref.path.split("/")[-1]
    how = (
        "an authfile read from stdin (0600, removed)"
        if mode == "authfile"
        else "the registry token read from stdin and put on skopeo's argv "
        "(registry_token_workaround with a wrong realm)"
    )
    if mode == "authfile" and s.get("registry_token_workaround"):
        how += (
            "; with a wrong realm (registry_token_workaround): mode token, the token on "
            "skopeo's argv"
        )
    return Commands(
        Step(
            "local",
            ("GET", f"{ref.base_url(plain)}/v2/"),
            HTTP_TIMEOUT,
            "read the advertised token realm (anonymous)",
        ),
        Step(
            "local",
            ("GET", token_url(ref, plain)),
            HTTP_TIMEOUT,
            "fetch a token from the registry's own endpoint (basic auth: registry_user)",
        ),
        Step(
            host,
            (*s["skopeo"], "--version"),
            HTTP_TIMEOUT,
            "skopeo's version, for the report (the push keeps to what 1.9 and 1.22 do)",
        ),
        Step(
            host,
            tuple(push_argv(s, ref.with_tag(tag), mode)),
            s["timeout_push"],
            f"skopeo copy + inspect with {how}",
        ),
        Step("local", ("GET", tags_url(ref, plain)), HTTP_TIMEOUT, "the tag is listed"),
        Step(
            "local",
            ("HEAD", manifest_url(ref, plain, tag)),
            HTTP_TIMEOUT,
            "Docker-Content-Digest equals the pushed digest",
        ),
        Step(
            "local",
            ("GET", f"{packages_url(ref, plain)}?type=container&q={name}"),
            HTTP_TIMEOUT,
            "Gitea lists the image and the tag (when the registry is a Gitea)",
        ),
    )


def plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    return list(
        commands(
            s,
            s.get("host", "<host>"),
            s.get("registry") or PLACEHOLDER_REGISTRY,
            ctx.facts.tag_or(),
        )
    )


def run(ctx: StageContext) -> PushedImage:
    s = ctx.settings
    host = s.require("host")
    ref = ImageRef.parse(s.require("registry"))
    plain = bool(s["registry_plain_http"])
    user, password = credentials(ctx)
    tag = ctx.facts.tag()
    client = RegistryClient(ref, plain)
    challenge = client.challenge()
    realm = challenge.get("realm", "")
    problem = realm_problem(realm, ref.hostport, plain) if challenge["scheme"] == "bearer" else None
    version = client.version() if problem else None
    fix = realm_fix(version, ref.hostport)
    answers = client.realm_answers(realm) if problem else True
    if problem:
        seen = {
            False: " Nothing answers there (connection refused).",
            True: " Something answers there, seen from this machine (a forward?).",
            None: "",
        }[answers]
        ctx.finding(
            "warning",
            REALM_FINDING,
            f"{problem}.{seen} Gitea {version or '(version unknown)'}.",
            fix,
        )
    workaround = bool(problem) and bool(s["registry_token_workaround"])
    if problem and answers is False and not workaround:
        raise StageError(
            f"the registry's token realm {realm} does not answer (connection refused); "
            f"skopeo asks it for every push (an authfile's `auth` and `identitytoken` both go "
            f"there), so the push cannot succeed. Fix: {fix} (Or opt in to the workplan's "
            f"workaround, registry_token_workaround = true: the token on skopeo's command "
            f"line.)"
        )
    token = client.token(user, password)
    ctx.redactor.add(token)  # before any command line holding it is built
    steps = commands(s, host, s["registry"], tag, "token" if workaround else "authfile")
    dest = ref.with_tag(tag)
    skopeo = ctx.run(
        host, steps.skopeo_version.argv, timeout=steps.skopeo_version.timeout, check=False
    )
    skopeo_version = (
        skopeo.stdout.strip().splitlines()[0]
        if skopeo.ok and skopeo.stdout.strip()
        else f"unknown ({skopeo.describe_failure()})"
    )
    if workaround:
        result = ctx.run(host, steps.push.argv, input=token, check=False)
        ctx.finding(
            "warning",
            EXPOSURE_FINDING,
            f"registry_token_workaround is on and the realm is wrong: the push of "
            f"{dest} passed the registry token to `skopeo copy --dest-registry-token` "
            f"and `skopeo inspect --registry-token` on {host}, so it was visible in "
            f"{host}'s process list (ps, /proc/PID/cmdline: every user of that host) "
            f"for the push's duration (valid 24 h on Gitea). It is masked in every "
            f"output here.",
            f"Fix the realm ({fix}); then the push uses an authfile "
            f"(0600, removed afterwards) and the workaround is not needed.",
        )
    else:
        result = ctx.run(
            host, steps.push.argv, input=authfile(ref.hostport, user, password), check=False
        )
    # push.sh's watchdog writes an empty line to stderr every 2 s (to notice a dead session)
    result = replace(result, stderr=without_blank_lines(result.stderr))
    if not result.ok:
        at_realm = realm_refusal(result.stderr, realm) if problem else None
        if at_realm:
            raise StageError(
                f"skopeo push of {dest} from {host} failed at the registry's token realm: "
                f"{at_realm}. Fix: {fix}"
                + (
                    ""
                    if workaround
                    else " (Or opt in to the workplan's workaround, "
                    "registry_token_workaround = true: the token on skopeo's command line.)"
                ),
                details=result.tail(40),
            )
        raise StageError(
            f"skopeo push of {dest} from {host} failed: {result.describe_failure()}.",
            details=result.tail(40),
        )
    pushed = _marker(result.stdout, "@@digest")
    inspected = inspect_facts(_block(result.stdout, "@@inspect"))
    tags = client.tags(token)
    for link in client.foreign_links:
        ctx.finding(
            "warning",
            "the registry pages its tag list to another address",
            f"tags/list of {ref.path} answered with a Link to {link}, not on "
            f"{client.base}: not followed (the registry token goes to the registry only); "
            "tags on later pages were not seen",
            "Check the registry's configured public URL (Gitea: ROOT_URL) and any proxy "
            "in front of it.",
        )
    served = client.digest(tag, token)
    name = ref.path.partition("/")[2]
    gitea = version or client.version()  # None: not a Gitea (no packages API to ask)
    packages = client.package_versions(user, password, name, tag) if gitea else None
    value: PushedImage = {
        "image": dest,
        "tag": tag,
        "digest": pushed,
        "registry": ref.hostport,
        "repository": ref.path,
        "realm": realm,
        "realm_problem": problem or "",
        "realm_answers": answers,
        "realm_fix": fix if problem else "",
        "gitea_version": gitea or "",
        "token_workaround": workaround,
        "skopeo_version": skopeo_version,
        "inspect_ok": inspected["ok"],
        "inspect_digest": inspected["digest"],
        "inspect_tags": inspected["tags"],
        "inspect_error": inspected["error"],
        "package_versions": packages,
        "registry_tags": tags,
        "tags_total": len(tags),
        "served_digest": served,
    }
    problems = [
        tag_problem(tag, tags, f"{ref.hostport}/{ref.path}"),
        digest_problem(pushed, served, tag),
    ]
    if any(problems):  # T07's checks judge the facts; nothing pulls or deploys this push
        raise Unusable(value, "; ".join(p for p in problems if p))
    return value


def without_blank_lines(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if line.strip())


def _marker(text: str, marker: str) -> str:
    for line in text.splitlines():
        if line.startswith(marker + " "):
            return line[len(marker) + 1 :].strip()
    return ""

"""The pull stage (T09): ``crictl pull`` of the pushed image on the node, through the
registry mirror, with the pulled digest (``crictl inspecti``) and the route the pull can
have taken (:func:`pytest_irp.mirror_judge.pull_route`)."""

from __future__ import annotations

from typing import Any, NamedTuple, cast

from .. import mirror_judge
from ..registry import REALM_FIX
from ..stage import StageContext, StageError, Step
from ..values import NodeMirror, PulledImage, PushedImage


class Commands(NamedTuple):
    pull: Step
    inspect: Step


def commands(s: Any, image: str) -> Commands:
    node = s["node_host"]
    crictl = [*s["node_sudo"], *s["crictl"]]
    return Commands(
        Step(node, (*crictl, "pull", image), s["timeout_pull"], "pull through the mirror"),
        Step(
            node, (*crictl, "inspecti", "-o", "json", image), s["timeout_pull"], "the pulled digest"
        ),
    )


def plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    return list(commands(s, f"{s.get('registry', '<registry>')}:{ctx.facts.tag_or()}"))


def run(ctx: StageContext) -> PulledImage:
    s = ctx.settings
    node = s["node_host"]
    sudo = list(s["node_sudo"])
    push = cast(PushedImage, ctx.upstream("push"))
    mirror = cast(NodeMirror, ctx.upstream("mirror"))
    image = push["image"]
    steps = commands(s, image)
    realm = push.get("realm_problem")
    if realm:
        ctx.finding(
            "warning",
            "Pulls follow the registry's token realm",
            f"containerd asks the advertised realm for a pull token even with an "
            f"http:// mirror: {realm}. A pull works only while something answers "
            f"there.",
            push.get("realm_fix") or REALM_FIX,
        )
    pull = ctx.run(node, steps.pull.argv, check=False)
    if not pull.ok:
        sudo_problem = (
            mirror_judge.node_read_problem(node, "crictl", sudo, pull.rc, pull.stderr)
            if sudo
            else ""
        )
        if sudo_problem.startswith("sudo on"):
            raise StageError(sudo_problem, details=pull.tail(10))
        hint = f" Likely cause: {realm}" if realm and "token" in pull.stderr.lower() else ""
        why = mirror_judge.crictl_error(pull.stderr) or pull.describe_failure()
        raise StageError(
            f"`crictl pull {image}` on {node} failed: {why}"
            f"{mirror_judge.pull_error_hint(why)}" + hint,
            details=pull.tail(40),
        )
    inspect = ctx.run(node, steps.inspect.argv, what=f"crictl inspecti {image}")
    digest = mirror_judge.pulled_digest(inspect.stdout, image.rsplit(":", 1)[0])
    hostport = image.split("/")[0]
    hosts_toml = str(mirror.get("hosts_toml") or "")
    plain_http = bool(s["registry_plain_http"])
    route, route_why = mirror_judge.pull_route(hosts_toml, hostport, plain_http)
    return {
        "image": image,
        "digest": digest,
        "output": pull.tail(3),
        "route": route,
        "route_why": route_why,
        "hosts_toml": hosts_toml,
        "plain_http": plain_http,
    }

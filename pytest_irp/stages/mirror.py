"""The mirror stage (T09): the node's k3s registries.yaml, k3s's version and the
hosts.toml containerd was given for the registry, judged by
:func:`pytest_irp.mirror_judge.mirror_problems` (the checks assert it over the same files)."""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import mirror_judge
from ..stage import StageContext, StageError, Step
from ..values import NodeMirror

NODE_READ_TIMEOUT = 30.0
PLACEHOLDER_HOSTPORT = "<registry-host:port>"


class Commands(NamedTuple):
    registries_yaml: Step
    k3s_version: Step
    hosts_toml: Step


def commands(s: Any, hostport: str) -> Commands:
    node, sudo = s["node_host"], list(s["node_sudo"])
    return Commands(
        Step(
            node,
            (*sudo, "cat", "--", s["registries_yaml"]),
            NODE_READ_TIMEOUT,
            "k3s registries.yaml",
        ),
        Step(
            node,
            ("k3s", "--version"),
            NODE_READ_TIMEOUT,
            "k3s's version (hosts.toml is written from v1.26.13/1.27.10/1.28.6/1.29.1)",
        ),
        Step(
            node,
            (*sudo, "cat", "--", f"{s['certs_dir']}/{hostport}/hosts.toml"),
            NODE_READ_TIMEOUT,
            "containerd's rendered mirror (proof the node took it)",
        ),
    )


def plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    registry = s.get("registry")
    return list(commands(s, str(registry).split("/")[0] if registry else PLACEHOLDER_HOSTPORT))


def read_node_file(ctx: StageContext, step: Step) -> str | None:
    """The text of the file ``step`` cats on the node, None when it does not exist; a
    StageError naming the cause when it cannot be read (sudo asking for a password,
    permission denied)."""
    s = ctx.settings
    path = step.argv[-1]
    result = ctx.run(
        step.host,
        step.argv,
        timeout=step.timeout,
        check=False,
        what=f"reading {path} on {step.host}",
    )
    if result.ok:
        return result.stdout
    problem = mirror_judge.node_read_problem(
        step.host, path, list(s["node_sudo"]), result.rc, result.stderr
    )
    if problem:
        raise StageError(problem, details=result.tail(10))
    return None


def run(ctx: StageContext) -> NodeMirror:
    s = ctx.settings
    node = s["node_host"]
    hostport = str(s.require("registry")).split("/")[0]
    steps = commands(s, hostport)
    text = read_node_file(ctx, steps.registries_yaml)
    if text is None:
        raise StageError(
            f"no {s['registries_yaml']} on {node}: registries.yaml lacks the "
            f"mirror (k3s reads it at start; setting 'registries_yaml')"
        )
    version_out = ctx.run(
        node, steps.k3s_version.argv, timeout=steps.k3s_version.timeout, check=False
    )
    version = mirror_judge.parse_k3s_version(version_out.stdout) if version_out.ok else None
    if version is None:
        ctx.finding(
            "info",
            f"k3s version on {node} unknown",
            f"`k3s --version` answered: {version_out.tail(2) or 'nothing'}",
            "Without it T09 cannot tell an old k3s (no hosts.toml) from one that was "
            "not restarted.",
        )
    hosts = read_node_file(ctx, steps.hosts_toml)
    problems, findings = mirror_judge.mirror_problems(text, hostport, hosts, version)
    for title, detail, fix in findings:
        ctx.finding("warning", title, detail, fix)
    return {
        "problems": problems,
        "registries_yaml": text,
        "hosts_toml": hosts,
        "hostport": hostport,
        "k3s_version_output": version_out.stdout if version_out.ok else "",
        "k3s_version": ".".join(map(str, version)) if version else "",
    }

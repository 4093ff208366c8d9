"""helm's command lines (chart T08, release T10) and its version.

Flags with their values joined by ``=``, the release and chart after ``--``, so no
user-supplied value is ever read as an option (helm parses with cobra/pflag).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .stage import StageContext


def chart_path(ctx: StageContext) -> str:
    chart = Path(ctx.settings["chart"])
    return str(chart if chart.is_absolute() else ctx.facts.app_repo / chart)


def image_sets(ctx: StageContext, tag: str) -> list[str]:
    """The image's ``--set`` flags and the helm_values files (``-f``)."""
    s = ctx.settings
    sets = ["--set", f"image.tag={tag}"]
    if s.get("registry"):
        sets += ["--set", f"image.repository={s['registry']}"]
    for values in s["helm_values"]:
        path = Path(values)
        sets += ["-f", str(path if path.is_absolute() else ctx.facts.app_repo / path)]
    return sets


def version_argv(helm: Any) -> list[str]:
    return [*helm, "version", "--short"]


def helm_version(ctx: StageContext) -> str:
    """``helm version --short`` (e.g. ``v4.0.5+g1b6053d``), '' when it does not answer."""
    result = ctx.run(
        "local", version_argv(ctx.settings["helm"]), timeout=30, check=False, what="helm version"
    )
    return result.stdout.strip().splitlines()[0] if result.ok and result.stdout.strip() else ""


def helm_major(version: str) -> int:
    match = re.search(r"v(\d+)\.", version)
    return int(match.group(1)) if match else 3


def kube_args(s: Any) -> list[str]:
    args = [f"--kube-context={s['kube_context']}"]
    if s.get("kubeconfig"):
        args.append(f"--kubeconfig={s['kubeconfig']}")
    return args


def lint_argv(helm: Any, chart: str, sets: list[str]) -> list[str]:
    return [*helm, "lint", "--strict", *sets, "--", chart]


def template_argv(helm: Any, s: Any, chart: str, sets: list[str]) -> list[str]:
    return [*helm, "template", f"--namespace={s['namespace']}", *sets, "--", s["release"], chart]


def upgrade_argv(helm: Any, s: Any, chart: str, sets: list[str]) -> list[str]:
    """The release command, the same on every helm 3 and 4 release line: no ``--wait``, so
    helm waits for hooks only and the suite judges the rollout itself (it fails fast on
    CrashLoopBackOff and friends). helm 3's ``--wait`` is a bool, false by default; helm 4's
    default strategy without ``--wait`` is ``hookOnly`` (pkg/cmd/flags.go AddWaitFlag,
    v4.0.0+). ``--wait=hookOnly`` is NOT used: helm 4.0.0-4.0.5 reject it ("invalid wait
    input"), only 4.1.0+ accept it (helm PR #31421). ``--timeout`` bounds the hooks."""
    return [
        *helm,
        "upgrade",
        "--install",
        f"--namespace={s['namespace']}",
        *kube_args(s),
        *sets,
        f"--timeout={int(s['timeout_release'])}s",
        "--",
        s["release"],
        chart,
    ]


def release_argv(helm: Any, command: str, s: Any, *flags: str) -> list[str]:
    """``helm status|history`` of the release."""
    return [
        *helm,
        command,
        f"--namespace={s['namespace']}",
        *kube_args(s),
        *flags,
        "--",
        s["release"],
    ]

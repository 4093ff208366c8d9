"""The flake stage (T01): ``nix flake check`` in the build host's checkout, with the
flake's outputs (``nix flake show``) and its ``irp`` data (``nix eval .#irp``) for the
checks of the flake's content."""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from ..nix import LOG_TAIL_LINES
from ..remote import in_checkout
from ..stage import StageContext, StageError, Step
from ..values import FlakeReport


class Commands(NamedTuple):
    check: Step
    show: Step
    eval: Step


def commands(s: Any, host: str) -> Commands:
    """T01's nix commands in the checkout, each with the flake_options setting
    (``--impure`` for IHP's devenv-based flakes) before the installable."""
    opts = list(s["flake_options"])

    def step(argv: list[str], note: str) -> Step:
        return Step(host, tuple(in_checkout(s["remote_dir"], argv)), s["timeout_flake"], note)

    return Commands(
        step(["nix", "flake", "check", "--no-build", *opts], "T01 exit criterion"),
        step(["nix", "flake", "show", "--json", *opts], "outputs of the flake"),
        step(
            ["nix", "eval", "--json", *opts, ".#irp"],
            "flake data: appName, packages, overlays (if the flake exposes them)",
        ),
    )


def plan(ctx: StageContext) -> list[Step]:
    s = ctx.settings
    return list(commands(s, s.get("host", "<host>")))


def run(ctx: StageContext) -> FlakeReport:
    s = ctx.settings
    host = s.require("host")
    steps = commands(s, host)
    check = ctx.run(host, steps.check.argv, check=False)
    if not check.ok:
        shown = " ".join(steps.check.argv[5:])  # the nix command, without in_checkout's sh
        raise StageError(
            f"`{shown}` on {host} failed: "
            f"{check.describe_failure()}{flake_check_hint(check.tail(20), s)}",
            details=check.tail(LOG_TAIL_LINES),
        )
    show = ctx.run(host, steps.show.argv, check=False)
    data = ctx.run(host, steps.eval.argv, check=False)
    return {
        "check_rc": check.rc,
        "check_output": check.tail(20),
        "show": _json_or_none(show.stdout) if show.ok else None,
        "eval": _json_or_none(data.stdout) if data.ok else None,
        "eval_error": "" if data.ok else data.tail(3),
    }


def flake_check_hint(output: str, s: Any) -> str:
    """What to do when `nix flake check` fails the way IHP's devenv flakes fail pure."""
    if "--impure" not in s["flake_options"] and re.search(
        r"access to absolute path|--impure|builtins\.getEnv|currentSystem|"
        r"devenv was not able to determine",
        output,
    ):
        return (
            " (IHP apps are devenv-based flakes that evaluate impurely: set "
            "flake_options to --impure, as IHP's CI runs `nix flake check --impure`)"
        )
    return ""


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None

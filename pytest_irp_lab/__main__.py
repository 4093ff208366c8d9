"""``python -m pytest_irp_lab up|down|status|env``: drive the embedded lab by hand."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence

from pytest_irp_lab.app import VARIANT_DOCS, VARIANTS
from pytest_irp_lab.hostns import DEFAULT_SUDO_MODE, SUDO_MODES
from pytest_irp_lab.orchestrator import Lab
from pytest_irp_lab.proc import LabError
from pytest_irp_lab.registry_config import DEFAULT_REALM_MODE, REALM_MODES
from pytest_irp_lab.scenarios import SCENARIO_DOCS, SCENARIOS


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pytest_irp_lab", description="The pytest-irp embedded lab."
    )
    p.add_argument("--lab-dir", help="lab directory (default: $IRP_LAB_DIR or /var/tmp/irp-lab)")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="bring the lab up (idempotent); prints irp-lab.toml's path")
    up.add_argument(
        "--variant", default="ok", choices=list(VARIANTS), help="sample app variant (default: ok)"
    )
    up.add_argument("--with-cluster", action="store_true", help="also start Kubernetes")
    up.add_argument("--no-registry", action="store_true", help="leave the registry out")
    up.add_argument(
        "--realm-mode",
        choices=REALM_MODES,
        help=f"Gitea's realm mode (default: {DEFAULT_REALM_MODE})",
    )
    up.add_argument(
        "--node-sudo",
        choices=SUDO_MODES,
        default=DEFAULT_SUDO_MODE,
        help="the node user's sudo rule: NOPASSWD, or asking for a password "
        f"(default: {DEFAULT_SUDO_MODE})",
    )
    up.add_argument(
        "--scenario",
        choices=SCENARIOS,
        help="set the lab up with a scenario's problems (implies --with-cluster); "
        "without it, up restores the normal lab",
    )
    down = sub.add_parser("down", help="stop and remove what the lab started")
    down.add_argument("--purge", action="store_true", help="also delete the lab directory")
    sub.add_parser("status", help="print the lab's state as JSON")
    sub.add_parser("env", help="print `export IRP_...=...` lines for the lab's settings")
    sub.add_parser("variants", help="list the sample app variants")
    sub.add_parser("scenarios", help="list the lab scenarios")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    scenario = getattr(args, "scenario", None)
    with_cluster = bool(getattr(args, "with_cluster", False)) or scenario is not None
    lab = Lab(
        args.lab_dir,
        with_cluster=with_cluster,
        with_registry=not getattr(args, "no_registry", False),
        realm_mode=getattr(args, "realm_mode", None),
        node_sudo=getattr(args, "node_sudo", DEFAULT_SUDO_MODE),
    )
    try:
        if args.command == "up":
            path = lab.up(args.variant, scenario=scenario)
            for note in lab.notes:
                print(f"note: {note}", file=sys.stderr)
            print(path)
        elif args.command == "down":
            lab.down(purge=args.purge)
        elif args.command == "status":
            print(json.dumps(lab.status(), indent=2, sort_keys=True, default=str))
        elif args.command == "env":
            for key, value in lab.env_exports().items():
                print(f"export {key}={shlex.quote(value)}")
        elif args.command == "variants":
            for name in VARIANTS:
                print(f"{name}: {VARIANT_DOCS[name]}")
        elif args.command == "scenarios":
            for name in SCENARIOS:
                print(f"{name}: {SCENARIO_DOCS[name]}")
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

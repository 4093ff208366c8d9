"""--irp-lab: bring the embedded lab up (build host, registry, Kubernetes node) and use its
settings as a config layer. The cluster binaries and Gitea are built once into the cache
(``lab/build-cluster.sh``, ``lab/build-gitea.sh``: minutes cold, instant when cached); helm
comes from PyPI."""

from __future__ import annotations

import os
from typing import Any

import pytest

from pytest_irp.fileio import write_atomic
from pytest_irp.settings import SettingError, load_file
from pytest_irp_lab import helmbin
from pytest_irp_lab.orchestrator import Lab
from pytest_irp_lab.proc import LabError, run
from pytest_irp_lab.sources import require_lab_sources

BUILD_SCRIPTS = (("cluster binaries", "build-cluster.sh"), ("Gitea", "build-gitea.sh"))


def lab_layer(config: pytest.Config) -> tuple[Any, dict[str, Any]]:
    """The lab, brought up, and its settings table (the plugin imports this module lazily,
    only for --irp-lab)."""
    try:
        sources = require_lab_sources()
    except LabError as exc:
        raise SettingError(str(exc)) from None
    variant = config.getoption("irp_lab_variant", None) or os.environ.get("IRP_LAB_VARIANT") or "ok"
    scenario = (
        config.getoption("irp_lab_scenario", None) or os.environ.get("IRP_LAB_SCENARIO") or None
    )
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for what, name in BUILD_SCRIPTS:
        script = sources / name
        if reporter is not None:
            reporter.write_line(f"irp lab: {what} (built once into the cache) ...")
        done = run(["bash", str(script)], check=False, timeout=None)
        if not done.ok:
            raise SettingError(
                f"building the lab's {what} failed ({script.name}): "
                f"{done.stdout[-400:]}{done.stderr[-400:]}"
            )
    lab = Lab(with_cluster=True)
    try:
        toml_path = lab.up(variant=variant, scenario=scenario)
        helm = helmbin.ensure(3)
    except Exception as exc:
        raise SettingError(f"the embedded lab could not start: {exc}") from None
    table = load_file(toml_path, section_required=False)
    if scenario is None:  # a scenario's settings are the user's (first-contact: no helm)
        table.setdefault("helm", [str(helm)])
    if "database_url_file" not in table:  # secrets never come from a settings table
        url_file = toml_path.parent / "database-url"
        write_atomic(url_file, "postgresql://probe@127.0.0.1:5432/probe\n", 0o600)
        table["database_url_file"] = str(url_file)
    table.setdefault("log_watch", "10s")
    return lab, table

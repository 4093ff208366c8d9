"""Where the lab's non-Python sources are: the ``lab/`` directory beside this package in a
checkout (the Go modules, the app template, the build scripts), or ``$IRP_LAB_SOURCES``."""

from __future__ import annotations

import os
from pathlib import Path

from pytest_irp_lab.proc import LabError

PACKAGE_DIR = Path(__file__).resolve().parent
MARKER = "build-cluster.sh"


def lab_sources() -> Path:
    """``$IRP_LAB_SOURCES`` or ``../lab`` from this package; not checked (see
    :func:`require_lab_sources`)."""
    override = os.environ.get("IRP_LAB_SOURCES")
    return Path(override) if override else PACKAGE_DIR.parent / "lab"


def require_lab_sources() -> Path:
    """:func:`lab_sources`, refused with one paragraph when it holds no lab sources."""
    where = lab_sources()
    if not (where / MARKER).is_file():
        raise LabError(
            f"the lab's sources are not at {where} (no {MARKER} there): the lab runs from a "
            "checkout of pytest-irp, whose lab/ directory sits beside pytest_irp_lab/; set "
            "IRP_LAB_SOURCES to that lab/ directory if it lives elsewhere"
        )
    return where

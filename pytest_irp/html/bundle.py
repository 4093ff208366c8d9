"""The report's folder: ``reports/irp-<run id>/index.html`` beside the run's logs and
summary.json, every link relative, so that copying the one folder keeps them working.

A full run also replaces ``reports/latest/`` (a copy of its folder, swapped in with
renames) and ``reports/latest.html`` (the same page, its links pointing into
``latest/``). A partial run leaves both alone: they stay the last full run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..fileio import write_atomic

LATEST_DIR = "latest"


def write_page(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.html"
    write_atomic(path, text)
    return path


def publish_latest(report_dir: Path, folder: Path, latest_page: str) -> Path:
    """Copy ``folder`` to ``report_dir/latest`` (old copy swapped out, then removed) and
    write ``report_dir/latest.html``; reruns and a killed earlier run are safe."""
    tag = f"{os.getpid()}"
    tmp = report_dir / f".{LATEST_DIR}.new-{tag}"
    old = report_dir / f".{LATEST_DIR}.old-{tag}"
    for stale in (tmp, old):
        shutil.rmtree(stale, ignore_errors=True)
    shutil.copytree(folder, tmp)
    latest = report_dir / LATEST_DIR
    if latest.is_symlink() or latest.is_file():
        latest.unlink()
    elif latest.exists():
        latest.rename(old)
    tmp.rename(latest)
    shutil.rmtree(old, ignore_errors=True)
    page = report_dir / "latest.html"
    write_atomic(page, latest_page)
    return page

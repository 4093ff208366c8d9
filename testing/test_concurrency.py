"""Parallel runs sharing a reports directory and an app repository (issue 10, point 8):
latest.html and latest/summary.json always come from the same run, no writer fails on another's
temporary file, and parallel PIPELINE_LOG.md appends keep every row. Bounded: a few
processes, a few dozen rounds each."""

from __future__ import annotations

import json
import multiprocessing
import re
import types
from pathlib import Path
from typing import Any

import pytest

from conftest import Project
from pytest_irp.fileio import locked
from pytest_irp.redact import Redactor

WRITERS, ROUNDS = 4, 40
CTX = multiprocessing.get_context("fork")


def _fake_run(report_dir: Path, n: int) -> Any:
    """What htmlreport.publish_run reads of an IrpRun, for run number ``n``."""
    run_id = f"run-{n}"
    folder = report_dir / f"irp-{run_id}"
    folder.mkdir()
    (folder / "index.html").write_text(f"<html><title>{run_id}</title></html>")
    (folder / "summary.json").write_text(json.dumps({"run_id": run_id}))
    return types.SimpleNamespace(
        run_id=run_id, report_dir=report_dir, own_html=True, redactor=Redactor(())
    )


def _page(n: int) -> str:
    return f"<html><title>run-{n}</title>" + "x" * 50_000 + "</html>"


def _writer(report_dir: Path, n: int, start: Any, errors: Any) -> None:
    from pytest_irp.htmlreport import publish_run

    run = _fake_run(report_dir, n)
    start.wait()
    for _ in range(ROUNDS):
        try:
            publish_run(run, _page(n))
        except Exception as exc:  # reported to the test, which fails on any
            errors.put(f"writer {n}: {type(exc).__name__}: {exc}")


def _pair(report_dir: Path) -> tuple[str, str, str]:
    html = (report_dir / "latest.html").read_text()
    found = re.search(r"<title>(run-\d+)</title>", html)
    latest = json.loads((report_dir / "latest" / "summary.json").read_text())
    last = json.loads((report_dir / "summary.json").read_text())
    return (found.group(1) if found else "?"), str(latest["run_id"]), str(last["run_id"])


def _reader(report_dir: Path, stop: Any, errors: Any) -> None:
    while not stop.is_set():
        if not (report_dir / "summary.json").exists():
            continue
        with locked(report_dir, shared=True):
            html_run, latest_run, last_run = _pair(report_dir)
        if not html_run == latest_run == last_run:  # every run here is a full one
            errors.put(
                f"latest.html of {html_run} beside latest/summary.json of "
                f"{latest_run} and summary.json of {last_run}"
            )


def test_parallel_runs_publish_latest_html_and_summary_json_as_one_pair(tmp_path: Path) -> None:
    start, stop, errors = CTX.Barrier(WRITERS), CTX.Event(), CTX.Queue()
    writers = [
        CTX.Process(target=_writer, args=(tmp_path, n, start, errors)) for n in range(WRITERS)
    ]
    reader = CTX.Process(target=_reader, args=(tmp_path, stop, errors))
    reader.start()
    for p in writers:
        p.start()
    for p in writers:
        p.join(timeout=120)
    stop.set()
    reader.join(timeout=30)
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert problems == []
    assert all(p.exitcode == 0 for p in [*writers, reader])
    html_run, latest_run, last_run = _pair(tmp_path)
    assert html_run == latest_run == last_run
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no temporary file left behind


def test_a_partial_run_keeps_latest_and_publishes_its_summary(tmp_path: Path) -> None:
    from pytest_irp.htmlreport import publish_run

    publish_run(_fake_run(tmp_path, 1), _page(1))
    publish_run(_fake_run(tmp_path, 2), None)  # partial (-k) or --html: latest untouched
    assert "<title>run-1</title>" in (tmp_path / "latest.html").read_text()
    assert json.loads((tmp_path / "latest" / "summary.json").read_text())["run_id"] == "run-1"
    assert json.loads((tmp_path / "summary.json").read_text())["run_id"] == "run-2"


class _Facts:
    def __init__(self, repo: Path, n: int) -> None:
        self.app_repo = repo
        self._sha = f"{n:07x}" + "0" * 33

    def sha(self) -> str:
        return self._sha


def _appender(repo: Path, n: int, start: Any) -> None:
    from pytest_irp.pipeline_log import append_pipeline_log

    start.wait()
    append_pipeline_log(
        {
            "registry": "127.0.0.1:9/coulomb/app",
            "host": "haskelseed",
            "kube_context": "railiance01",
        },
        _Facts(repo, n),
    )  # type: ignore[arg-type]  # what it reads of Facts


@pytest.mark.parametrize("existing", [False, True])
def test_eight_parallel_pipeline_log_appends_keep_eight_rows(
    tmp_path: Path, existing: bool
) -> None:
    from pytest_irp import judge

    for attempt in range(3):  # a race lost once in three tries would still be seen
        repo = tmp_path / f"repo{attempt}"
        repo.mkdir()
        if existing:
            (repo / "PIPELINE_LOG.md").write_text(judge.PIPELINE_LOG_HEADER + "\n\n")
        start = CTX.Barrier(8)
        procs = [CTX.Process(target=_appender, args=(repo, n + 1, start)) for n in range(8)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=60)
        assert [p.exitcode for p in procs] == [0] * 8
        text = (repo / "PIPELINE_LOG.md").read_text()
        rows = [line for line in text.splitlines() if "Smoke: PASS" in line]
        assert len(rows) == 8, text
        assert sorted(r.split("|")[2].strip() for r in rows) == [f"{n:07x}" for n in range(1, 9)]
        assert text.count(judge.PIPELINE_LOG_HEADER.strip().splitlines()[0]) == 1
        assert "\n\n" not in text.split("| Date")[1].rstrip("\n")  # one table, no gap


def test_three_parallel_suite_runs_leave_one_runs_summary(project: Project) -> None:
    """Three real (fake-runner) suite runs sharing one reports directory."""
    import os
    import subprocess
    import sys

    project.scenario_path.write_text(json.dumps(project.scenario))
    reports = project.path / "reports"
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "tests",
        "--irp-host",
        "haskelseed",
        f"--irp-app-repo={project.path / 'app'}",
        f"--irp-reports-dir={reports}",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        "-k",
        "T08",
        "-q",
    ]
    procs = [
        subprocess.Popen(
            argv,
            cwd=project.path,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    summary = json.loads((reports / "summary.json").read_text())
    run_ids = {p.name[len("irp-") :] for p in reports.glob("irp-*") if p.is_dir()}
    assert len(run_ids) == 3
    assert summary["run_id"] in run_ids
    # partial runs (-k): latest.html and latest/ stay the last full run (none here); the
    # pairing of a full run's latest.html and latest/summary.json is tested above
    assert not (reports / "latest.html").exists()
    assert not (reports / "latest").exists()
    leftovers = [p.name for p in reports.iterdir() if p.name.startswith(".")]
    assert leftovers == []

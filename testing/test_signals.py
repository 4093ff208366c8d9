"""A clean stop on every signal (issue 20, points 9 and 10), with real local processes: a
pytest run of the criteria suite in a subprocess, the real runners (SshRunner with its
ControlPath directory in a private TMPDIR), and a stand-in ``ssh`` on PATH that starts a
``sleep 300`` and waits (it never connects anywhere). While the source stage's and the
preflight's ssh run, the test sends SIGTERM, SIGHUP or SIGINT (Ctrl-C) to pytest alone.

The run must end within seconds with a non-zero exit code, every check it did not reach
NOT RUN, no stand-in (nor its sleep) left running, ``ssh -O exit`` called and no
``irp-ssh-*`` directory left behind. Before: SIGTERM and SIGHUP killed pytest at once and
left all of that; after Ctrl-C the preflight's ssh ran to its timeout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, Project

STAND_IN = """#!/bin/sh
# stand-in for ssh: `-O exit` is recorded; anything else starts a long sleep and waits
case " $* " in
  *" -O exit "*) echo "$*" >> {dir}/ssh-exit.log; exit 0 ;;
esac
sleep 300 &
echo "$$ $!" >> {dir}/ssh.pids
wait
"""
WAIT = 30.0
WITHIN = 12.0  # seconds from the signal to pytest's exit (the stand-ins sleep 300)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


def _pids(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [int(p) for line in path.read_text().splitlines() for p in line.split()]


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: signal.Signals(s).name
)
def test_a_signal_stops_every_child_and_reports_not_run(
    project: Project, tmp_path: Path, sig: signal.Signals
) -> None:
    (project.path / "conftest.py").write_text((REPO / "conftest.py").read_text())  # real runners
    bindir = tmp_path / "bin"
    bindir.mkdir()
    ssh = bindir / "ssh"
    ssh.write_text(STAND_IN.format(dir=tmp_path))
    ssh.chmod(0o755)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRP_")}
    env.update(
        PATH=f"{bindir}:{os.environ['PATH']}",
        TMPDIR=str(tmp),
        PYTHONPATH=str(REPO),
        KUBECONFIG=str(project.path / "no-kubeconfig"),
    )
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "tests",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        "-k",
        "T06",
        "--irp-host=haskelseed",
        f"--irp-app-repo={project.path / 'app'}",
        "--irp-registry=127.0.0.1:9/coulomb/ihp-railiance-probe",
        "--irp-registry-user=tegwick",
        f"--irp-reports-dir={project.path / 'reports'}",
    ]
    pids_file = tmp_path / "ssh.pids"
    proc = subprocess.Popen(
        argv,
        cwd=project.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + WAIT
        # the source stage's ssh and at least one of the preflight's
        while len(_pids(pids_file)) < 4 and proc.poll() is None:
            assert time.monotonic() < deadline, "the stand-in ssh did not start twice"
            time.sleep(0.05)
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(sig)
        try:
            out, _ = proc.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        took = time.monotonic() - sent
        assert proc.returncode not in (0, None), out[-3000:]
        assert took < WITHIN, f"pytest exited {took:.1f}s after {sig.name}: {out[-2000:]}"
        pids = _pids(pids_file)
        settle = time.monotonic() + 5
        while any(_alive(p) for p in pids) and time.monotonic() < settle:
            time.sleep(0.05)
        assert [p for p in pids if _alive(p)] == [], out[-3000:]
        assert (tmp_path / "ssh-exit.log").exists(), "ssh -O exit was not called"
        assert list(tmp.glob("irp-ssh-*")) == []
        summary = json.loads((project.path / "reports" / "summary.json").read_text())
        statuses = {c["status"] for c in summary["checks"]}
        assert statuses == {"NOT RUN"}, statuses
        assert summary["exit_code"] != 0
        if sig != signal.SIGINT:
            assert f"{sig.name} received" in out
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in _pids(pids_file):  # never leave a stand-in behind, even on failure
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_after_stop_all_the_runs_threads_start_no_child() -> None:
    """At the session's end a preflight thread that goes on to its next command starts
    nothing (it ran each to its timeout); the main thread and other threads still can."""
    import threading

    from pytest_irp import runners, signals
    from pytest_irp.redact import Redactor

    runner = runners.LocalRunner(Redactor())
    results: dict[str, runners.CommandResult] = {}

    def run(name: str) -> None:
        results[name] = runner.run(["true"], timeout=10)

    signals.stop_all()
    try:
        for name in ("irp-preflight_0", "other"):
            thread = threading.Thread(target=run, args=(name,), name=name)
            thread.start()
            thread.join()
        assert results["irp-preflight_0"].rc == -15
        assert "the run is ending" in results["irp-preflight_0"].stderr
        assert results["other"].ok
        assert runner.run(["true"], timeout=10).ok  # the main thread
    finally:
        signals.install()  # a new run: the flag is cleared
        signals.uninstall()
    thread = threading.Thread(target=run, args=("irp-preflight_0",), name="irp-preflight_0")
    thread.start()
    thread.join()
    assert results["irp-preflight_0"].ok

"""The SSH runner's background handshake, the choice of hosts to warm up, and the lazy
stage table.

The runner tests put a stand-in ``ssh`` first on PATH: it records each call and runs the
remote command locally (or fails like ssh does when it cannot connect), so what is tested is
how many times the runner calls ssh and what it reports. Real ssh against the lab's sshd is
covered in testing/lab/ (unknown alias, host down, SSH cut mid-build).
"""

from __future__ import annotations

import importlib
import os
import stat
import time
from pathlib import Path

import pytest

from pytest_irp.pipeline import STAGES
from pytest_irp.plugin import hosts_to_warm
from pytest_irp.redact import Redactor
from pytest_irp.runners import SSH_CONNECTION_ERROR, SshRunner
from pytest_irp.settings import resolve

FAKE_SSH = """#!/bin/sh
case " $* " in *" -O exit "*) exit 0 ;; esac  # close(): stop the shared connection
echo call >> "$IRP_FAKE_SSH_CALLS"
sleep 0.3
if [ -n "$IRP_FAKE_SSH_REFUSE" ]; then
  echo "ssh: connect to host buildhost port 22: Connection refused" >&2
  exit 255
fi
for last; do :; done
exec sh -c "$last"
"""


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ssh = bin_dir / "ssh"
    ssh.write_text(FAKE_SSH)
    ssh.chmod(ssh.stat().st_mode | stat.S_IXUSR)
    calls = tmp_path / "calls"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("IRP_FAKE_SSH_CALLS", str(calls))
    return calls


def _calls(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_warm_up_connects_once_in_the_background_then_commands_run(fake_ssh: Path) -> None:
    runner = SshRunner("buildhost", Redactor())
    started = time.monotonic()
    runner.warm_up()
    assert time.monotonic() - started < 0.25, "warm_up must not wait for the handshake"
    result = runner.run(["echo", "built"], timeout=10)
    runner.close()
    assert result.ok and result.stdout == "built\n"
    assert _calls(fake_ssh) == 2  # the warm-up's `true`, then the command


def test_a_host_that_refused_the_warm_up_is_not_tried_twice(
        fake_ssh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRP_FAKE_SSH_REFUSE", "1")
    runner = SshRunner("buildhost", Redactor())
    runner.warm_up()
    result = runner.run(["nix", "build", ".#docker"], timeout=10)
    assert result.rc == SSH_CONNECTION_ERROR
    assert "Connection refused" in result.stderr
    assert result.argv == ("nix", "build", ".#docker")  # reported as the command's failure
    assert _calls(fake_ssh) == 1
    again = runner.run(["true"], timeout=10)  # later commands try again (the host may be back)
    runner.close()
    assert again.rc == SSH_CONNECTION_ERROR and _calls(fake_ssh) == 2


def test_without_warm_up_each_command_is_one_ssh_call(fake_ssh: Path) -> None:
    runner = SshRunner("buildhost", Redactor())
    assert runner.run(["true"], timeout=10).ok
    runner.close()
    assert _calls(fake_ssh) == 1


def test_hosts_to_warm_follows_the_selected_checks() -> None:
    settings = resolve({"host": "haskelseed", "node_host": "railiance01"}, {}, [])
    t06 = ["irp_pipeline", "stage_source", "stage_prebuild", "stage_build", "build_host"]
    t09 = ["irp_pipeline", "stage_mirror", "cluster_node"]
    t08 = ["irp_pipeline", "stage_chart"]
    assert hosts_to_warm([t08], settings) == []
    assert hosts_to_warm([t06, t09], settings) == ["haskelseed", "railiance01"]
    assert hosts_to_warm([t09, t06, t06], settings) == ["railiance01", "haskelseed"]
    no_host = resolve({}, {}, [])
    assert hosts_to_warm([t06], no_host) == []


def test_every_stage_names_functions_that_exist() -> None:
    """The stage table imports its modules lazily: a misspelt name would only show when the
    stage runs, so resolve them all here."""
    for stage in STAGES:
        for fn in (stage.run, stage.plan):
            module, name = fn.__name__.split(".")
            target = getattr(importlib.import_module(f"pytest_irp.{module}"), name)
            assert callable(target), f"{stage.name}: {fn.__name__}"

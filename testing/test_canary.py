"""Acceptance of issue 10: a canary run with ``-x`` against an unreachable build host (an
ssh config alias for 127.0.0.1 on a closed port; the real ssh client and runners, no fake)
shows no PASS for the checks that never ran, no canary secret in any file the run wrote,
and leaves no unclosed pipe (``-W error``)."""

from __future__ import annotations

import json
import shutil
import socket

import pytest

from conftest import REPO, Project

CANARIES = {
    "IRP_REGISTRY_PASSWORD": "Canary-Registry-Pw-7f3a91",
    "IRP_SESSION_SECRET": "Canary-Session-Secret-0c2d58",
    "IRP_GITEA_TOKEN": "Canary-Gitea-Token-9b14e6",
}


def closed_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client")
def test_canary_run_with_x_against_an_unreachable_host(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(REPO / "conftest.py", project.path / "conftest.py")  # real runners
    ssh_config = project.path / "ssh_config"
    ssh_config.write_text(
        f"Host haskelseed\n  HostName 127.0.0.1\n  Port {closed_loopback_port()}\n  User irp\n"
    )
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    junit = project.path / "junit.xml"
    result = project.run(
        "-x",
        "-W",
        "error",
        f"--irp-ssh-config={ssh_config}",
        "--irp-connect-timeout=2",
        f"--junitxml={junit}",
    )
    terminal = result.stdout.str() + result.stderr.str()
    assert result.ret == 1, terminal
    assert "Connection refused" in terminal
    data = json.loads((project.path / "reports" / "summary.json").read_text())
    statuses = {c["nodeid"].split("::")[1]: c["status"] for c in data["checks"]}
    assert len(statuses) > 20
    assert "PASS" not in statuses.values(), statuses
    assert "PASS" not in {row["status"] for row in data["criteria"].values()}
    assert list(statuses.values()).count("NOT RUN") >= len(statuses) - 2
    table = [line for line in result.stdout.lines if line[:1] == "T" and line[3:5] == "  "]
    assert table
    assert not any(" PASS " in line for line in table), table
    assert "ResourceWarning" not in terminal
    assert "Unraisable" not in terminal
    outputs = {"terminal": terminal, str(junit): junit.read_text()}
    for path in (project.path / "reports").rglob("*"):
        if path.is_file():
            outputs[str(path)] = path.read_text(errors="replace")
    leaks = [
        (name, secret)
        for name, text in outputs.items()
        for secret in CANARIES.values()
        if secret in text
    ]
    assert leaks == []

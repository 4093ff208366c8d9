"""The remote scripts (pytest_irp/remote/*.sh) under busybox ``sh`` with only busybox's
applets, as on the workplan's Alpine build host: Debian's busybox-static /bin/busybox.

Every script passes ``busybox sh -n``; each then runs for real with PATH holding only
symlinks to busybox applets plus these stand-ins (nothing here is contacted; all local):

- ``nix``: a busybox sh script; ``nix build`` writes a small gzipped docker-archive and a
  ``result`` symlink to it (prebuild's process check sees it while it sleeps),
- ``skopeo``: a busybox sh script that records its arguments and the authfile's content
  and mode, and writes a digest to ``--digestfile``,
- ``git``: the real git (source.sh drives git itself; busybox has none).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from pytest_irp import remote

BUSYBOX = Path("/bin/busybox")
pytestmark = pytest.mark.skipif(
    not BUSYBOX.exists(),
    reason="busybox-static not installed (scripts/install-system-packages.sh installs it)",
)
SCRIPTS = ("build", "prebuild", "push", "source")

NIX = """#!/bin/busybox sh
# stand-in for nix: `nix build ATTR` makes ./result -> a gzipped docker archive
case "$1" in
--version) echo "nix (Nix) 2.28.3" ;;
build)
  [ -n "${IRP_FAKE_NIX_SLEEP:-}" ] && sleep "$IRP_FAKE_NIX_SLEEP"
  cp "$IRP_FAKE_ARCHIVE" ./image.tar.gz && ln -sfn "$PWD/image.tar.gz" result
  echo "built $2"
  ;;
*) exit 1 ;;
esac
"""
SKOPEO = """#!/bin/busybox sh
# stand-in for skopeo copy: record argv, the authfile and its mode; write a digest
out=$IRP_FAKE_SKOPEO_OUT
case " $* " in *" inspect "*)  # push.sh's inspect after the copy: answer, record nothing
  echo '{"Digest": "sha256:7", "RepoTags": ["x"]}'; exit 0 ;;
esac
printf '%s\\n' "$@" > "$out/argv"
while [ $# -gt 0 ]; do
  case "$1" in
  --authfile) cat "$2" > "$out/auth"; stat -c %a "$2" > "$out/auth_mode" ;;
  --digestfile) echo "sha256:$(printf %064d 7)" > "$2" ;;
  esac
  shift
done
"""


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Only busybox applets, and the stand-ins."""
    path = tmp_path_factory.mktemp("busybox-bin")
    applets = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        (path / applet).symlink_to(BUSYBOX)
    for name, text in (("nix", NIX), ("skopeo", SKOPEO)):
        (path / name).write_text(text)
        (path / name).chmod(0o755)
    git = shutil.which("git")
    if git:
        (path / "git").symlink_to(git)
    return path


def archive(tmp_path: Path) -> Path:
    """A tiny gzipped docker-archive: manifest.json, its config, one layer."""
    config = json.dumps({"config": {"Cmd": ["/bin/app"]}}).encode()
    manifest = json.dumps(
        [{"Config": "abc.json", "RepoTags": ["app:x"], "Layers": ["l1/layer.tar"]}]
    ).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in (
            ("manifest.json", manifest),
            ("abc.json", config),
            ("l1/layer.tar", b"\0" * 512),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "image.tar.gz"
    path.write_bytes(gzip.compress(buffer.getvalue()))
    return path


def run(
    bin_dir: Path,
    tmp_path: Path,
    name: str,
    *args: str,
    stdin: str = "",
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``busybox sh -c SCRIPT irp-NAME ARGS`` (the argv the stages build, with busybox's sh
    instead of the host's sh) in an environment that has only ``bin_dir`` on PATH."""
    argv = remote.argv(name, *args)
    assert argv[0] == "sh"
    full_env = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path / "home"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        **(env or {}),
    }
    (tmp_path / "home").mkdir(exist_ok=True)
    return subprocess.run(
        [str(BUSYBOX), *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
        cwd=tmp_path,
    )


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_parses_under_busybox_sh(name: str) -> None:
    done = subprocess.run(
        [str(BUSYBOX), "sh", "-n", "-c", remote.script(name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_prebuild_facts_and_another_nix_build(bin_dir: Path, tmp_path: Path) -> None:
    done = run(bin_dir, tmp_path, "prebuild", "app")
    assert done.returncode == 0, done.stderr
    facts = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert facts["nix"] == "nix (Nix) 2.28.3"
    assert int(facts["disk_free_kb"]) > 0
    assert int(facts["mem_available_kb"]) > 0
    assert int(facts["cpus"]) >= 1
    other = subprocess.Popen(
        [str(bin_dir / "nix"), "build", ".#other"],
        env={"PATH": str(bin_dir), "IRP_FAKE_NIX_SLEEP": "30", "IRP_FAKE_ARCHIVE": "/nonexistent"},
        cwd=tmp_path,
    )
    try:
        for _ in range(50):  # until ps shows it
            lines = run(bin_dir, tmp_path, "prebuild", "app").stdout.splitlines()
            seen = [
                line
                for line in lines
                if line.startswith("build_process=")
                and f"{other.pid} " in line.replace("build_process=", "", 1) + " "
            ]
            if seen:
                break
            time.sleep(0.1)
        assert seen, lines
        assert ".#other" in seen[0]
    finally:
        other.kill()
        other.wait()


def test_build_start_follow_inspect(bin_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "checkout"
    work.mkdir()
    env = {"IRP_FAKE_ARCHIVE": str(archive(tmp_path))}
    sha = "a" * 40
    started = run(bin_dir, tmp_path, "build", "start", str(work), "app", sha, ".#docker", env=env)
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("IRP started ")
    followed = run(bin_dir, tmp_path, "build", "follow", str(work), "app", sha, env=env)
    assert followed.returncode == 0, followed.stderr
    assert "built .#docker" in followed.stdout
    assert followed.stdout.rstrip().endswith("@@IRP-EXIT 0")
    inspected = run(bin_dir, tmp_path, "build", "inspect", str(work), "app", sha, env=env)
    assert inspected.returncode == 0, inspected.stderr
    out = inspected.stdout
    assert f"@@out {work / 'image.tar.gz'}" in out
    assert "@@compressed z" in out
    assert '"Config": "abc.json"' in out
    assert '"Cmd": ["/bin/app"]' in out
    assert "l1/layer.tar" in out.split("@@list", 1)[1]


def test_push_reads_the_authfile_from_stdin_and_prints_the_digest(
    bin_dir: Path, tmp_path: Path
) -> None:
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "result").symlink_to(archive(tmp_path))
    out = tmp_path / "skopeo"
    out.mkdir()
    auth = '{"auths": {"10.77.0.3:3000": {"auth": "dTpw"}}}'
    done = run(
        bin_dir,
        tmp_path,
        "push",
        str(work),
        "10.77.0.3:3000/coulomb/app:x",
        "false",
        "authfile",
        "skopeo",
        stdin=auth,
        env={"IRP_FAKE_SKOPEO_OUT": str(out)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"@@digest sha256:{'0' * 63}7",
        "@@inspect-begin",
        '{"Digest": "sha256:7", "RepoTags": ["x"]}',
        "@@inspect-end",
    ]
    argv = (out / "argv").read_text().splitlines()
    assert argv[:3] == ["--insecure-policy", "copy", "--authfile"] or argv[0] == "copy"
    assert "--dest-tls-verify=false" in argv
    assert argv[-2:] == [
        f"docker-archive:{tmp_path / 'image.tar.gz'}",
        "docker://10.77.0.3:3000/coulomb/app:x",
    ]
    assert (out / "auth").read_text() == auth
    assert (out / "auth_mode").read_text().strip() == "600"


def test_push_token_mode_hands_the_token_to_skopeo_and_keeps_no_file(
    bin_dir: Path, tmp_path: Path
) -> None:
    """registry_token_workaround: the token arrives on stdin (not on the script's argv) and
    goes to skopeo's --dest-registry-token (the workplan's workaround); no file remains."""
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "result").symlink_to(archive(tmp_path))
    out = tmp_path / "skopeo"
    out.mkdir()
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0In0.c2lnbmF0dXJl"
    before = set(Path("/tmp").glob("irp-push.*"))
    done = run(
        bin_dir,
        tmp_path,
        "push",
        str(work),
        "10.77.0.3:3000/coulomb/app:x",
        "false",
        "token",
        "skopeo",
        stdin=token,
        env={"IRP_FAKE_SKOPEO_OUT": str(out)},
    )
    assert done.returncode == 0, done.stderr
    argv = (out / "argv").read_text().splitlines()
    assert argv[argv.index("--dest-registry-token") + 1] == token
    assert "--authfile" not in argv
    assert not (out / "auth").exists()
    assert done.stdout.splitlines()[0] == f"@@digest sha256:{'0' * 63}7"
    assert set(Path("/tmp").glob("irp-push.*")) <= before


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_source_checks_out_the_bundled_revision(bin_dir: Path, tmp_path: Path) -> None:
    import base64

    repo = tmp_path / "repo"
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "irp",
        "GIT_AUTHOR_EMAIL": "irp@example.invalid",
        "GIT_COMMITTER_NAME": "irp",
        "GIT_COMMITTER_EMAIL": "irp@example.invalid",
    }

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env
        ).stdout.strip()

    repo.mkdir()
    git("init", "-q")
    (repo / "f").write_text("x")
    git("add", "f")
    git("commit", "-qm", "one")
    sha = git("rev-parse", "HEAD")
    git("update-ref", "refs/irp/under-test", sha)
    bundle = tmp_path / "b.bundle"
    git("bundle", "create", str(bundle), "refs/irp/under-test")
    done = run(
        bin_dir,
        tmp_path,
        "source",
        str(tmp_path / "remote"),
        sha,
        stdin=base64.b64encode(bundle.read_bytes()).decode(),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == sha
    assert (tmp_path / "remote" / "f").read_text() == "x"

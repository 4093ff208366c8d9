"""The remote scripts (pytest_irp/remote/*.sh) run on this machine under the two POSIX
shells a build host may have as ``sh``: dash (Debian) and busybox sh (Alpine, the
workplan's build host). Under busybox the PATH holds busybox's applets only (plus git, for
the source script), as on Alpine.

Commands the scripts call that are not available here or must not run for real (skopeo,
nix) are **stand-ins**: small sh scripts on PATH that record how they were called and
behave as the test needs. They prove what the scripts do around those commands (files,
signals, pipes), not what the real tools do.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_irp import remote

WAIT = 20.0  # upper bound of every wait below (they end as soon as the condition holds)
AUTH = '{"auths": {"127.0.0.1:9": {"auth": "dGVnd2ljazpUcjB1YjRkb3JcQ0FOQVJZ"}}}'

SKOPEO_STANDIN = r"""#!/bin/sh
# stand-in for skopeo (records its arguments and the authfile it was given, then waits
# until the test releases it; never talks to a registry)
d=$IRP_TEST_DIR
case " $* " in *" inspect "*)  # push.sh's inspect after the copy: answer, record nothing
  printf '{"Digest": "sha256:%064d", "RepoTags": ["abc"]}\n' 0; exit 0 ;;
esac
echo $$ > "$d/skopeo.pid"
printf '%s\n' "$@" > "$d/skopeo.args"
auth=; digest=; prev=
for a in "$@"; do
  case $prev in --authfile) auth=$a ;; --digestfile) digest=$a ;; esac
  prev=$a
done
echo "$auth" > "$d/authfile.path"
cat "$auth" > "$d/authfile.seen"
stat -c %a "$auth" > "$d/authfile.mode"
touch "$d/running"
n=0
while [ ! -e "$d/release" ]; do
  n=$((n + 1)); [ $n -gt 400 ] && exit 9
  sleep 0.05
done
[ -n "${STANDIN_PRINT:-}" ] && echo "Writing manifest to image destination"
[ -e "$d/fail" ] && { echo "FATA[0000] writing blob: unauthorized" >&2; exit 1; }
printf 'sha256:%064d' 0 > "$digest"
exit 0
"""


@dataclass
class Shell:
    name: str
    argv: list[str]
    path: str  # PATH for the script


@pytest.fixture(scope="module", params=["dash", "busybox"])
def shell(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Shell:
    standins = tmp_path_factory.mktemp("standins")
    skopeo = standins / "skopeo"
    skopeo.write_text(SKOPEO_STANDIN)
    skopeo.chmod(0o755)
    if request.param == "dash":
        if shutil.which("dash") is None:
            pytest.skip("dash is not installed")
        return Shell("dash", ["dash"], f"{standins}:/usr/bin:/bin")
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox is not installed")
    applets = tmp_path_factory.mktemp("busybox-bin")
    listed = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True)
    for applet in listed.stdout.split():
        (applets / applet).symlink_to(busybox)
    git = shutil.which("git")
    extra = [str(Path(git).parent)] if git else []
    # git's own directory comes last: every other command is busybox's, as on Alpine
    return Shell("busybox", [busybox, "sh"], ":".join([str(standins), str(applets), *extra]))


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    dir: Path  # the test's directory (stand-in records)
    tmpdir: Path  # TMPDIR of the script: where its temporary files go

    def wait_for(self, name: str) -> None:
        deadline = time.monotonic() + WAIT
        while not (self.dir / name).exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{name} never appeared (script rc {self.proc.poll()})")
            time.sleep(0.02)

    def close_pipes(self) -> None:
        """What sshd does to the command's pipes when the SSH session is gone."""
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def finish(self) -> int:
        try:
            return self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError("the script did not end") from None

    def leftovers(self) -> list[str]:
        return sorted(str(p.relative_to(self.tmpdir)) for p in self.tmpdir.rglob("*"))

    def standin_alive(self) -> bool:
        pid = int((self.dir / "skopeo.pid").read_text())
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"


def start(
    shell: Shell,
    tmp_path: Path,
    name: str,
    args: list[str],
    stdin: bytes | None,
    env: dict[str, str] | None = None,
) -> Run:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir(exist_ok=True)
    argv = remote.argv(name, *args)
    full_env = {
        "PATH": shell.path,
        "HOME": str(tmp_path / "home"),
        "TMPDIR": str(tmpdir),
        "IRP_TEST_DIR": str(tmp_path),
        **(env or {}),
    }
    (tmp_path / "home").mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [*shell.argv, *argv[1:]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=full_env,
        start_new_session=True,
    )
    assert proc.stdin is not None
    if stdin is not None:
        proc.stdin.write(stdin)
    proc.stdin.close()
    proc.stdin = None
    return Run(proc, tmp_path, tmpdir)


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    archive = tmp_path / "image.tar"
    archive.write_bytes(b"not really an image")
    (work / "result").symlink_to(archive)
    return work


@pytest.fixture
def push(shell: Shell, tmp_path: Path, build_dir: Path) -> Iterator[Run]:
    run = start(
        shell,
        tmp_path,
        "push",
        [str(build_dir), "127.0.0.1:9/coulomb/app:abc", "false", "authfile", "skopeo"],
        AUTH.encode(),
    )
    yield run
    if run.proc.poll() is None:
        os.killpg(run.proc.pid, signal.SIGKILL)
        run.proc.wait()


def test_push_gives_skopeo_a_private_authfile_and_removes_it(push: Run) -> None:
    (push.dir / "release").touch()
    out, err = push.proc.communicate(timeout=WAIT)
    assert push.proc.returncode == 0, err
    assert out.decode().splitlines() == [
        f"@@digest sha256:{'0' * 64}",
        "@@inspect-begin",
        f'{{"Digest": "sha256:{"0" * 64}", "RepoTags": ["abc"]}}',
        "@@inspect-end",
    ]
    assert (push.dir / "authfile.seen").read_text() == AUTH
    assert (push.dir / "authfile.mode").read_text().strip() == "600"
    args = (push.dir / "skopeo.args").read_text().splitlines()
    assert args[-3:] == [
        "--",
        f"docker-archive:{push.dir / 'image.tar'}",
        "docker://127.0.0.1:9/coulomb/app:abc",
    ]
    assert push.leftovers() == []


def test_the_next_push_removes_what_a_killed_push_left(
    shell: Shell, tmp_path: Path, build_dir: Path
) -> None:
    """SIGKILL runs no trap: the directory of a push whose script is gone is removed by
    the next push; that of a running push (a live pid) is kept."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    stale = tmpdir / "irp-push.dead00"
    stale.mkdir()
    (stale / "auth").write_text(AUTH)
    done = subprocess.Popen(["true"])
    done.wait()
    (stale / "pid").write_text(f"{done.pid}\n")
    running = tmpdir / "irp-push.live00"
    running.mkdir()
    (running / "pid").write_text(f"{os.getpid()}\n")
    old = tmpdir / "irp-push.nopid0"  # killed before it wrote its pid, ten minutes ago
    old.mkdir()
    (old / "auth").write_text(AUTH)
    os.utime(old, (time.time() - 600, time.time() - 600))
    starting = tmpdir / "irp-push.new000"  # a push that is just starting
    starting.mkdir()
    (tmp_path / "release").touch()
    run = start(
        shell,
        tmp_path,
        "push",
        [str(build_dir), "127.0.0.1:9/coulomb/app:abc", "false", "authfile", "skopeo"],
        AUTH.encode(),
    )
    _, err = run.proc.communicate(timeout=WAIT)
    assert run.proc.returncode == 0, err
    assert not stale.exists()
    assert not old.exists()
    assert run.leftovers() == ["irp-push.live00", "irp-push.live00/pid", "irp-push.new000"]


def test_a_failed_push_keeps_skopeos_message_and_leaves_no_file(push: Run) -> None:
    (push.dir / "fail").touch()
    (push.dir / "release").touch()
    out, err = push.proc.communicate(timeout=WAIT)
    assert push.proc.returncode == 1
    assert b"@@digest" not in out
    assert b"unauthorized" in err
    assert push.leftovers() == []


def assert_skopeo_stopped(push: Run) -> None:
    """The stand-in skopeo ends within WAIT seconds of the push script."""
    deadline = time.monotonic() + WAIT
    while push.standin_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not push.standin_alive(), "skopeo was left running"


@pytest.mark.parametrize("sig", ["HUP", "INT", "TERM", "PIPE"])
def test_no_authfile_remains_when_a_signal_ends_the_push(push: Run, sig: str) -> None:
    push.wait_for("running")
    auth = Path((push.dir / "authfile.path").read_text().strip())
    assert auth.exists()
    push.close_pipes()
    os.kill(push.proc.pid, getattr(signal, f"SIG{sig}"))
    assert push.finish() != 0
    assert not auth.exists()
    assert push.leftovers() == []
    assert_skopeo_stopped(push)


def test_no_authfile_remains_when_the_session_died_before_skopeo_finished(push: Run) -> None:
    """The channel is gone while skopeo finishes: the script's own output then gets
    SIGPIPE (the hole: dash died in `echo` with the authfile still there)."""
    push.wait_for("running")
    auth = Path((push.dir / "authfile.path").read_text().strip())
    push.close_pipes()
    (push.dir / "release").touch()
    push.finish()
    assert not auth.exists()
    assert push.leftovers() == []


def test_a_closed_session_stops_a_silent_skopeo(push: Run) -> None:
    """No signal at all (ssh without a tty gets none): the watchdog's write fails on the
    closed pipe and the script stops skopeo and removes the authfile."""
    push.wait_for("running")
    auth = Path((push.dir / "authfile.path").read_text().strip())
    push.close_pipes()
    assert push.finish() != 0
    assert not auth.exists()
    assert push.leftovers() == []
    assert_skopeo_stopped(push)


# --------------------------------------------------------------------------- source.sh


def _git(repo: Path, *args: str) -> str:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(repo),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "irp",
        "GIT_AUTHOR_EMAIL": "irp@example.invalid",
        "GIT_COMMITTER_NAME": "irp",
        "GIT_COMMITTER_EMAIL": "irp@example.invalid",
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


@pytest.fixture
def upstream(tmp_path: Path) -> tuple[Path, str]:
    repo = tmp_path / "upstream"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "flake.nix").write_text("{ }\n")
    _git(repo, "add", "flake.nix")
    _git(repo, "commit", "-qm", "app")
    return repo, _git(repo, "rev-parse", "HEAD")


def test_a_git_remote_is_never_read_as_an_option(
    shell: Shell, tmp_path: Path, upstream: tuple[Path, str]
) -> None:
    """The issue's attack: `--upload-pack=...` as git_remote ran a command on the build
    host. After `--` it is a repository name: nothing runs, the fetch fails."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    _, sha = upstream
    marker = tmp_path / "pwned"
    run = start(
        shell,
        tmp_path,
        "source",
        [str(tmp_path / "checkout"), sha, f"--upload-pack=touch {marker};"],
        None,
    )
    rc = run.finish()
    assert rc != 0
    assert not marker.exists()


def test_source_fetches_from_a_remote_and_from_a_bundle(
    shell: Shell, tmp_path: Path, upstream: tuple[Path, str]
) -> None:
    """`--` did not break the two ways the source stage works, and the bundle's temp
    file is gone afterwards."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    import base64

    repo, sha = upstream
    fetched = start(
        shell, tmp_path, "source", [str(tmp_path / "-a checkout"), sha, str(repo)], None
    )
    out, err = fetched.proc.communicate(timeout=WAIT)
    assert fetched.proc.returncode == 0, err
    assert out.decode().split()[-1] == sha
    _git(repo, "update-ref", "refs/irp/under-test", sha)
    bundle = subprocess.run(
        ["git", "-C", str(repo), "bundle", "create", "-", "refs/irp/under-test"],
        capture_output=True,
        check=True,
    ).stdout
    sent = start(
        shell, tmp_path, "source", [str(tmp_path / "bundled"), sha], base64.b64encode(bundle)
    )
    out, err = sent.proc.communicate(timeout=WAIT)
    assert sent.proc.returncode == 0, err
    assert out.decode().split()[-1] == sha
    assert sent.leftovers() == []


@pytest.mark.parametrize("name", ["source", "build", "push", "prebuild"])
def test_every_user_value_in_the_remote_scripts_comes_after_dashdash(name: str) -> None:
    """A guard against regressions the run tests above cannot see: every `cd`, `mkdir`
    and `git fetch` of a value in the scripts has `--` before it."""
    lines = remote.script(name).splitlines()
    for line in (x for x in lines if not x.lstrip().startswith("#")):
        for command in ("cd ", "mkdir -p ", "git fetch -q "):
            at = line.find(command)
            if at >= 0 and '"$' in line[at:]:
                assert line[at + len(command) :].startswith("-- "), line


# --------------------------------------------------------------------------- build.sh

NIX_STANDIN = """#!/bin/sh
# stand-in for nix (never builds anything): records its arguments, makes `result`
printf '%s\\n' "$@" > "$IRP_TEST_DIR/nix.args"
echo "building (stand-in)"
ln -sfn "$IRP_TEST_DIR/image.tar" result
"""


def _dead_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def test_follow_reports_a_build_whose_process_died_holding_the_lock(
    shell: Shell, tmp_path: Path
) -> None:
    """An interrupted or killed build leaves its lock (pid of a dead process) and no exit
    code: follow says so (@@IRP-LOST) instead of waiting for timeout_build."""
    state = tmp_path / "cache" / "irp" / "app"
    (state / "lock").mkdir(parents=True)
    (state / "lock" / "pid").write_text(f"{_dead_pid()}\n")
    (state / "lock" / "sha").write_text("abc\n")
    (state / "abc.log").write_text("building\n")
    run = start(
        shell,
        tmp_path,
        "build",
        ["follow", str(tmp_path), "app", "abc"],
        None,
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    out, _ = run.proc.communicate(timeout=WAIT)
    assert out.decode().split()[-1] == "@@IRP-LOST"


def test_the_next_start_recovers_a_dead_builds_lock(shell: Shell, tmp_path: Path) -> None:
    """...and the next run's start removes that lock, builds (a stand-in nix), and its
    follow gets the exit code. The installable comes after `--`."""
    standins = tmp_path / "nixbin"
    standins.mkdir()
    (standins / "nix").write_text(NIX_STANDIN)
    (standins / "nix").chmod(0o755)
    (tmp_path / "image.tar").write_bytes(b"x")
    work = tmp_path / "work"
    work.mkdir()
    state = tmp_path / "cache" / "irp" / "app"
    (state / "lock").mkdir(parents=True)
    (state / "lock" / "pid").write_text(f"{_dead_pid()}\n")
    (state / "lock" / "sha").write_text("old\n")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": f"{standins}:{shell.path}"}
    from pytest_irp.stages.build import build_args

    args = build_args({"build_attr": ".#docker", "nix_options": ("-j1",)})
    begun = start(
        shell, tmp_path, "build", ["start", str(work), "app", "abc", *args], None, env=env
    )
    out, err = begun.proc.communicate(timeout=WAIT)
    assert begun.proc.returncode == 0, err
    assert out.decode().startswith("IRP started ")
    follow = start(shell, tmp_path, "build", ["follow", str(work), "app", "abc"], None, env=env)
    out, _ = follow.proc.communicate(timeout=WAIT)
    assert out.decode().split()[-2:] == ["@@IRP-EXIT", "0"]
    assert (tmp_path / "nix.args").read_text().splitlines() == [
        "build",
        "-L",
        "--log-format",
        "internal-json",
        "-j1",
        "--",
        ".#docker",
    ]
    assert not (state / "lock").exists()

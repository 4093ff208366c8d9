"""The lab core for real: network namespaces, private sshd, offline nix, the sample app.

Needs root and the Debian packages of scripts/install-system-packages.sh; skipped with the
reason otherwise. The whole module takes a few seconds (the sample image builds in <1 s).
The last test tears the lab down and checks nothing is left.
"""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_irp import remote
from pytest_irp.nix import judge_prebuild, parse_facts
from pytest_irp.settings import load_file, resolve
from pytest_irp_lab import app, hostns, net
from pytest_irp_lab.layout import APP_NAME
from pytest_irp_lab.orchestrator import LIBHSGHC_SIZE, Lab
from pytest_irp_lab.proc import LabError, Proc, alive, cmdline, proc_of, read_json

pytestmark = pytest.mark.lab_core


def ssh(lab: Lab, host: str, command: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        lab.ssh_argv(host, command),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def read_image(archive: Path) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, bytes]]:
    """(manifest, config, files of the single layer) of a docker-archive (gzip or not)."""
    with tarfile.open(archive, "r:*") as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        config = json.load(outer.extractfile(manifest[0]["Config"]))
        layer = outer.extractfile(manifest[0]["Layers"][0]).read()
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(layer)) as inner:
        for member in inner.getmembers():
            if member.isfile():
                files[member.name] = inner.extractfile(member).read()
            elif member.issym():
                files[member.name] = b"-> " + member.linkname.encode()
    return manifest, config, files


def unpack_rootfs(archive: Path, dest: Path) -> Path:
    with tarfile.open(archive, "r:*") as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        layer = outer.extractfile(manifest[0]["Layers"][0]).read()
    with tarfile.open(fileobj=io.BytesIO(layer)) as inner:
        inner.extractall(dest, filter="tar")
    # what a container runtime provides
    (dest / "dev").mkdir(exist_ok=True)
    os.mknod(dest / "dev" / "urandom", stat.S_IFCHR | 0o666, os.makedev(1, 9))
    return dest


def nix(
    env: dict[str, str], *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["nix", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:  # lab address only
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# ------------------------------------------------------------------------ network + ssh


def test_network_is_up_with_the_design_addresses(lab_up: Lab):
    status = net.status()
    assert status["bridge"]
    assert all(status["netns"].values())
    assert all(status["veth"].values())
    for host in net.HOSTS:
        out = subprocess.run(
            ["ip", "-n", host.netns, "-j", "addr", "show", "dev", "irp0"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        addrs = [
            a["local"] for i in json.loads(out) for a in i["addr_info"] if a["family"] == "inet"
        ]
        assert addrs == [host.address]
        route = subprocess.run(
            ["ip", "-n", host.netns, "route", "show", "default"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "via 10.77.0.1" in route


def test_ssh_to_build_host_runs_nix_with_lab_config(lab_up: Lab):
    res = ssh(lab_up, "haskelseed", "nix --version; echo $NIX_CONF_DIR; hostname")
    assert res.returncode == 0, res.stderr
    version, conf_dir, hostname = res.stdout.splitlines()
    assert version.startswith("nix (Nix) ")
    assert conf_dir == str(lab_up.layout.nix_conf_dir)
    assert hostname == "haskelseed"
    res = ssh(lab_up, "railiance01", "hostname; ip -4 -o addr show dev irp0")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("railiance01\n")
    assert "10.77.0.4/24" in res.stdout


def test_node_survives_a_package_rewriting_this_machines_etc_by_rename(lab_up: Lab):
    """What ``apt-get install`` of a package adding a system user does to /etc/passwd and
    /etc/group (a new file renamed over the old one, as shadow's ``adduser``/``useradd``
    do): a single-file bind of the node would be detached (Linux >= 3.18) and its user
    gone ("Invalid user irp"). The node keeps its user and sudo, and sees the machine's
    new file for every other name."""
    before = ssh(lab_up, "railiance01", "id -un; sudo -n true && echo sudo-ok")
    assert before.stdout.split() == ["irp", "sudo-ok"], before.stderr
    renamed = []
    try:
        for name in ("passwd", "group", "hostname"):
            path = Path("/etc") / name
            if not path.exists():
                continue
            copy = path.with_name(f".{name}.irp-lab-test")
            copy.write_bytes(path.read_bytes())
            st = path.stat()
            os.chown(copy, st.st_uid, st.st_gid)
            copy.chmod(stat.S_IMODE(st.st_mode))
            os.rename(copy, path)  # same content, new inode: what a package does
            renamed.append(name)
        assert "passwd" in renamed
        after = ssh(
            lab_up, "railiance01", "id -un; sudo -n true && echo sudo-ok; cat /etc/hostname"
        )
        assert after.returncode == 0, after.stderr
        assert after.stdout.split()[:2] == ["irp", "sudo-ok"], after.stdout + after.stderr
        if "hostname" in renamed:
            assert after.stdout.splitlines()[2:] == Path("/etc/hostname").read_text().splitlines()
    finally:
        for name in renamed:
            Path("/etc", f".{name}.irp-lab-test").unlink(missing_ok=True)


def test_dev_server_serves_the_welcome_view_on_8000_like_devenv_up(lab_up: Lab):
    """T02's live part: ``devenv up`` serves the app's start page on port 8000, in the
    Development environment (IHP prints ``Server started`` there)."""
    with urllib.request.urlopen("http://10.77.0.1:8000/", timeout=10) as answer:
        page = answer.read().decode()
        assert answer.status == 200
    assert "<h1>ihp-railiance-probe</h1>" in page
    assert '<a href="/probes">/probes</a>' in page
    with urllib.request.urlopen("http://10.77.0.1:8000/healthz", timeout=10) as answer:
        assert answer.read() == b"ok"
    status = lab_up.status()["dev_server"]
    assert status["running"]
    assert status["url"] == "http://10.77.0.1:8000"
    log = (lab_up.layout.root / "devserver" / "devserver.log").read_text()
    assert log.splitlines()[0] == "Server started"
    # a dev server whose record was lost is still found and stopped; up starts it again
    server = lab_up.dev_server()
    pid = status["pid"]
    server.pid_file.unlink()
    server.stop()
    assert proc_of(pid) is None
    assert not lab_up.status()["dev_server"]["running"]
    lab_up.up()
    assert lab_up.status()["dev_server"]["running"]


def test_up_repairs_a_node_that_lost_its_user(lab_up: Lab):
    """A node whose own /etc is gone (as a node made by older lab code, with file binds a
    rename had detached): ``up`` sees its user missing and starts the node anew."""
    old = Proc.from_json(read_json(lab_up.layout.state_file)["sshd"]["railiance01"])
    assert old is not None
    assert hostns.user_present(old)
    init = hostns.init_of(old)
    subprocess.run(["nsenter", "-t", str(init), "-m", "-p", "umount", "-l", "/etc"], check=True)
    assert not hostns.user_present(old)
    lab_up.up()
    new = Proc.from_json(read_json(lab_up.layout.state_file)["sshd"]["railiance01"])
    assert new is not None
    assert new != old
    assert hostns.user_present(new)
    assert ssh(lab_up, "railiance01", "id -un").stdout.strip() == "irp"


def test_ssh_rejects_unknown_host_keys_and_never_touches_home(lab_up: Lab, tmp_path):
    cfg = lab_up.layout.ssh_config.read_text().replace(
        str(lab_up.layout.known_hosts), str(tmp_path / "empty_known_hosts")
    )
    (tmp_path / "config").write_text(cfg)
    res = subprocess.run(
        ["ssh", "-F", str(tmp_path / "config"), "haskelseed", "true"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 255
    assert "Host key verification failed" in res.stderr
    home_known = Path.home() / ".ssh" / "known_hosts"
    if home_known.exists():
        assert "10.77.0." not in home_known.read_text()


def test_sshd_allows_keys_only(lab_up: Lab):
    res = subprocess.run(
        [
            "ssh",
            "-F",
            str(lab_up.layout.ssh_config),
            "-o",
            "IdentityFile=none",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "PreferredAuthentications=password",
            "haskelseed",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 255
    assert "Permission denied" in res.stderr


def test_lab_toml_points_at_the_lab(lab_up: Lab):
    table = load_file(lab_up.toml_path, section_required=True)
    resolved = resolve({}, {}, [("lab", table)])
    assert resolved["host"] == "haskelseed"
    assert resolved["ssh_config"] == str(lab_up.layout.ssh_config)
    assert resolved["registry"] == "10.77.0.3:3000/coulomb/ihp-railiance-probe"
    assert resolved["base_url"] == "http://10.77.0.1:30080"
    assert resolved["dev_url"] == "http://10.77.0.1:8000"
    assert Path(resolved["libhsghc_path"]).stat().st_size == LIBHSGHC_SIZE
    assert resolved["libhsghc_size"] == LIBHSGHC_SIZE
    repo = Path(resolved["app_repo"])
    remote = Path(resolved["remote_dir"])
    assert (
        app.head(repo) == app.head(remote) == read_json(lab_up.layout.state_file)["app"]["commit"]
    )
    assert tomllib.loads(lab_up.toml_path.read_text())["tool"]["irp"]["registry_plain_http"]


# ------------------------------------------------------------------------ the sample image


def test_sample_builds_on_build_host_into_a_docker_archive(lab_up: Lab, tmp_path):
    remote = lab_up.layout.remote_dir
    started = time.monotonic()
    res = ssh(
        lab_up,
        "haskelseed",
        f"cd {remote} && nix build .#optimized-docker-image --log-format raw && readlink -f result",
    )
    elapsed = time.monotonic() - started
    assert res.returncode == 0, res.stderr
    out_path = Path(res.stdout.strip().splitlines()[-1])
    assert out_path.name.endswith("docker-image-ihp-railiance-probe.tar")
    assert elapsed < 60
    manifest, config, files = read_image(remote / "result")
    assert manifest[0]["RepoTags"] == ["ihp-railiance-probe:latest"]
    assert config["config"]["Cmd"] == ["/bin/RunProdServer"]
    assert config["config"]["ExposedPorts"] == {"8000/tcp": {}}
    # like IHP's images (flake-module.nix): the release, not the image, sets IHP_ENV
    assert config["config"]["Env"] == ["PATH=/bin", "PORT=8000"]
    assert config["architecture"] == "amd64"
    assert files["www/healthz"] == b"ok"
    assert files["www/probes"] == b"[]"
    assert "bin/busybox" in files
    # bit-for-bit reproducible: --rebuild compares a fresh build with the stored one
    res = ssh(lab_up, "haskelseed", f"cd {remote} && nix build .#optimized-docker-image --rebuild")
    assert res.returncode == 0, res.stderr


def test_image_serves_healthz_and_probes_in_the_build_host_netns(lab_up: Lab, tmp_path):
    remote = lab_up.layout.remote_dir
    if not (remote / "result").exists():
        built = ssh(lab_up, "haskelseed", f"cd {remote} && nix build .#optimized-docker-image")
        assert built.returncode == 0
    root = unpack_rootfs(remote / "result", tmp_path / "rootfs")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PORT": "8000", "IHP_SESSION_SECRET": "x" * 128}
    proc = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            "irp-haskelseed",
            "/usr/sbin/chroot",
            str(root),
            "/bin/RunProdServer",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "Server started"
        deadline = time.monotonic() + 5
        status, body = 0, b""
        while time.monotonic() < deadline:
            try:
                status, body = http_get("http://10.77.0.2:8000/healthz")
                break
            except OSError:
                time.sleep(0.05)
        assert (status, body) == (200, b"ok")
        assert http_get("http://10.77.0.2:8000/probes") == (200, b"[]")
        assert http_get("http://10.77.0.2:8000/nope")[0] == 404
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    # IHP's environments (ihp/IHP/Server.hs, EnvVar.hs): no start line in Production, and
    # a value IHP does not know stops the app
    chroot = ["ip", "netns", "exec", "irp-haskelseed", "/usr/sbin/chroot", str(root)]
    prod = subprocess.Popen(
        [*chroot, "/bin/RunProdServer"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**env, "IHP_ENV": "Production"},
        text=True,
    )
    try:
        deadline = time.monotonic() + 5
        status = 0
        while time.monotonic() < deadline and not status:
            try:
                status = http_get("http://10.77.0.2:8000/healthz")[0]
            except OSError:
                time.sleep(0.05)
        assert status == 200
    finally:
        prod.terminate()
        out, _ = prod.communicate(timeout=5)
    assert "Server started" not in out
    bad = subprocess.run(
        [*chroot, "/bin/RunProdServer"],
        capture_output=True,
        env={**env, "IHP_ENV": "production"},
        text=True,
        timeout=10,
    )
    assert bad.returncode == 1
    assert "Env var 'IHP_ENV' is invalid" in bad.stderr


def test_image_without_valid_session_secret_prints_one_like_ihp(lab_up: Lab, tmp_path):
    remote = lab_up.layout.remote_dir
    if not (remote / "result").exists():
        built = ssh(lab_up, "haskelseed", f"cd {remote} && nix build .#optimized-docker-image")
        assert built.returncode == 0
    root = unpack_rootfs(remote / "result", tmp_path / "rootfs")
    script = (root / "bin/RunProdServer").read_text().replace("exec /bin/busybox httpd", "exit 0;")
    (root / "bin/check").write_text(script)
    for env in ({"PATH": "/bin"}, {"PATH": "/bin", "IHP_SESSION_SECRET": "not-a-valid-key"}):
        res = subprocess.run(
            ["/usr/sbin/chroot", str(root), "/bin/busybox", "sh", "/bin/check"],
            capture_output=True,
            text=True,
            env=env,
            timeout=10,
        )
        first = res.stdout.splitlines()[0]
        assert first.startswith("IHP_SESSION_SECRET="), env
        assert len(first) > len("IHP_SESSION_SECRET=") + 100


def test_build_host_pushes_to_the_lab_registry(lab_up: Lab, tmp_path):
    """The pipeline's first two hops inside the lab: nix build on haskelseed, skopeo push
    from there to the lab's Gitea in irp-gitea (authfile 0600, no secret on a command line;
    realm mode `correct`: the default one refuses the build host at the realm, see
    test_criteria_on_lab.py for that)."""
    from pytest_irp_lab.registry import missing_tools

    missing = missing_tools()
    if missing:
        pytest.skip(f"missing: {', '.join(missing)}")
    lab_up.with_registry = True
    lab_up.realm_mode = "correct"
    lab_up.up()
    table = load_file(lab_up.toml_path, section_required=True)
    resolved = resolve({}, {}, [("lab", table)])
    user, password = resolved["registry_user"], resolved["registry_password"].reveal()
    authfile = lab_up.layout.host_dir("haskelseed") / "test-authfile.json"
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    fd = os.open(authfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, json.dumps({"auths": {"10.77.0.3:3000": {"auth": auth}}}).encode())
    os.close(fd)
    ref = f"docker://{resolved['registry']}:lab-test"
    try:
        res = ssh(
            lab_up,
            "haskelseed",
            f"cd {lab_up.layout.remote_dir} && nix build .#optimized-docker-image && "
            f"skopeo copy --authfile {authfile} --dest-tls-verify=false "
            f"docker-archive:result {ref} && "
            f"skopeo inspect --authfile {authfile} --tls-verify=false {ref}",
        )
    finally:
        authfile.unlink()
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout[res.stdout.index("{") :])
    assert info["RepoTags"] == ["lab-test"]
    assert info["Digest"].startswith("sha256:")


# ------------------------------------------------------------------------ variants with nix

EXPECT_BUILD_FAILS = {
    "build-fails": "Could not find module 'Web.Controller.Missing'",
    "workplan-literal": "Variable not in scope: pathPrefix",
}
EXPECT_CHECK_FAILS = {
    "failing-spec": "1 example, 1 failure",
    "workplan-literal": "Could not find module 'IHP.HSpec'",
}


# minute-build is slow-build with a 60 s sleep; the preflight lab test builds it
@pytest.mark.parametrize("variant", [v for v in app.VARIANTS if v != "minute-build"])
def test_variant_builds_and_checks_as_intended(lab_up: Lab, nix_env, tmp_path, variant):
    from pytest_irp_lab.narhash import seed_argvs

    repo = app.prepare_app_repo(tmp_path / "repo", variant)
    for argv in seed_argvs(repo):  # nix 2.8 and relative path inputs (narhash.py)
        subprocess.run(argv, env={**os.environ, **nix_env}, check=True, capture_output=True)
    check = nix(nix_env, "flake", "check", "--impure", cwd=repo)
    if variant in EXPECT_CHECK_FAILS:
        assert check.returncode != 0
        assert EXPECT_CHECK_FAILS[variant] in check.stderr
    else:
        assert check.returncode == 0, check.stderr
        tests = nix(
            nix_env,
            "build",
            ".#checks.x86_64-linux.integration-tests",
            "-o",
            str(tmp_path / "tests"),
            cwd=repo,
        )
        assert tests.returncode == 0
        report = (tmp_path / "tests" / "test-report.txt").read_text()
        assert "ProbeController\n  GET /probes returns 200" in report
        assert report.rstrip().endswith("1 example, 0 failures")

    show = nix(nix_env, "flake", "show", "--json", "--impure", cwd=repo)
    assert show.returncode == 0, show.stderr
    outputs = json.loads(show.stdout)
    assert {"default", "optimized-docker-image", "unoptimized-docker-image"} <= set(
        outputs["packages"]["x86_64-linux"]
    )
    assert ("models" in outputs.get("overlays", {})) == (variant != "overlay-missing")

    build = nix(
        nix_env, "build", ".#optimized-docker-image", "-o", str(tmp_path / "result"), cwd=repo
    )
    if variant in EXPECT_BUILD_FAILS:
        assert build.returncode != 0
        assert EXPECT_BUILD_FAILS[variant] in build.stderr
        return
    assert build.returncode == 0, build.stderr
    _, config, files = read_image(tmp_path / "result")
    assert config["config"]["ExposedPorts"] == {"8000/tcp": {}}
    healthz = {"healthz-wrong": b"degraded", "route-missing": None}.get(variant, b"ok")
    assert files.get("www/healthz") == healthz
    assert files.get("www/probes") == b"[]"

    if variant == "crash-at-start":
        root = unpack_rootfs(tmp_path / "result", tmp_path / "rootfs")
        run = subprocess.run(
            ["/usr/sbin/chroot", str(root), "/bin/RunProdServer"],
            capture_output=True,
            text=True,
            timeout=10,
            env={"PATH": "/bin", "IHP_SESSION_SECRET": "x" * 128},
        )
        assert run.returncode == 1
        assert "Server started" not in run.stdout
        assert "Prelude.head" in run.stderr


# ------------------------------------------------------------------------ lifecycle


def test_up_twice_is_idempotent(lab_up: Lab):
    before = read_json(lab_up.layout.state_file)
    started = time.monotonic()
    lab_up.up()
    elapsed = time.monotonic() - started
    after = read_json(lab_up.layout.state_file)
    assert after["sshd"] == before["sshd"]
    assert after["net"] == before["net"]
    assert after["app"] == before["app"]
    assert lab_up.healthy()
    assert elapsed < 10
    assert ssh(lab_up, "haskelseed", "true").returncode == 0


def test_up_keeps_the_app_repo_when_the_suite_moved_the_checkout(lab_up: Lab):
    """The suite checks the SHA under test out on the build host (--irp-ref may name a
    commit beside HEAD): the next up must not re-make the app repo and lose that commit."""
    repo, remote = lab_up.layout.app_repo, lab_up.layout.remote_dir
    before = read_json(lab_up.layout.state_file)["app"]

    def git(where: Path, *args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(where), *args],
            check=True,
            text=True,
            capture_output=True,
            env={**os.environ, **app.GIT_ENV},
        ).stdout.strip()

    side = git(
        repo,
        "commit-tree",
        git(repo, "rev-parse", "HEAD^{tree}"),
        "-p",
        "HEAD",
        "-m",
        "side commit under test",
    )
    git(repo, "update-ref", "refs/irp-test/side", side)
    git(remote, "fetch", "-q", str(repo), "refs/irp-test/side")
    git(remote, "checkout", "-q", "-f", "--detach", side)
    try:
        lab_up.up()
        assert read_json(lab_up.layout.state_file)["app"] == before
        assert git(repo, "rev-parse", "refs/irp-test/side") == side
        assert app.head(remote) == side
    finally:
        git(remote, "checkout", "-q", "-f", "--detach", before["commit"])
        git(repo, "update-ref", "-d", "refs/irp-test/side")


def test_up_with_another_variant_replaces_only_the_app(lab_up: Lab):
    before = read_json(lab_up.layout.state_file)
    lab_up.up("healthz-wrong")
    mid = read_json(lab_up.layout.state_file)
    assert mid["app"]["variant"] == "healthz-wrong"
    assert mid["app"]["commit"] != before["app"]["commit"]
    assert app.head(lab_up.layout.remote_dir) == mid["app"]["commit"]
    assert mid["sshd"] == before["sshd"]
    lab_up.up("ok")
    assert read_json(lab_up.layout.state_file)["app"] == before["app"]


def test_up_repairs_a_host_namespace_deleted_behind_its_back(lab_up: Lab):
    old = Proc.from_json(read_json(lab_up.layout.state_file)["sshd"]["haskelseed"])
    subprocess.run(["ip", "netns", "del", "irp-haskelseed"], check=True)
    assert not lab_up.healthy()
    lab_up.up()
    new = Proc.from_json(read_json(lab_up.layout.state_file)["sshd"]["haskelseed"])
    assert old is not None
    assert not alive(old)
    assert new != old
    assert lab_up.healthy()
    assert ssh(lab_up, "haskelseed", "hostname").stdout.strip() == "haskelseed"


def test_a_second_lab_is_refused_while_one_is_up(lab_up: Lab, tmp_path):
    other = Lab(tmp_path / "other", with_registry=False)
    assert other.holder() == str(lab_up.layout.root)
    with pytest.raises(LabError, match="held by the lab in"):
        other.up()
    assert not (tmp_path / "other" / "state.json").exists() or not read_json(
        tmp_path / "other" / "state.json"
    ).get("up")
    assert lab_up.healthy()


# ---------------------------------------------------------------- hosts in own namespaces
# Each lab host in namespaces of its own (issue 13, item 5) and the node's user who needs
# sudo (issue 16): ``ps`` on a host shows only that host's processes, so a ``nix build``
# running elsewhere on this machine is no "other build" for the build host's pre-build
# check, while one started on the build host is; the node is reached as a user who is not
# root, whose sudo rule the lab sets (NOPASSWD by default, or one that asks for a password,
# which ``sudo -n`` refuses at once); that user exists inside the node only.

FAKE_NIX = "#!/bin/sh\n# a stand-in for a long `nix build`: its comm is `nix`\nsleep 60\n"


def prebuild_problems(lab: Lab) -> list[str]:
    res = subprocess.run(
        lab.ssh_argv("haskelseed", *remote.argv("prebuild", APP_NAME)),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 0, res.stderr
    return judge_prebuild(
        parse_facts(res.stdout),
        sha="0" * 40,
        lib_path=None,
        lib_size=0,
        min_disk_mb=0,
        min_mem_mb=0,
    )


@pytest.fixture
def fake_nix(tmp_path: Path) -> Iterator[Path]:
    """An executable named ``nix`` (same file on this machine and on the lab hosts)."""
    tmp_path.chmod(0o755)
    path = tmp_path / "nix"
    path.write_text(FAKE_NIX)
    path.chmod(0o755)
    yield path
    subprocess.run(["pkill", "-f", f"{path} build"], check=False)


def test_build_host_sees_its_own_processes_only(lab_up: Lab, fake_nix: Path) -> None:
    elsewhere = subprocess.Popen([str(fake_nix), "build", ".#docker"])
    try:
        time.sleep(0.2)
        listing = ssh(lab_up, "haskelseed", "ps -eo pid=,args=")
        assert listing.returncode == 0, listing.stderr
        assert str(fake_nix) not in listing.stdout
        assert listing.stdout.split()[0] == "1"  # PID 1: the host's init, not this machine's
        assert prebuild_problems(lab_up) == []
    finally:
        elsewhere.kill()
        elsewhere.wait()
    started = ssh(
        lab_up, "haskelseed", f"setsid {fake_nix} build .#docker </dev/null >/dev/null 2>&1 &"
    )
    assert started.returncode == 0, started.stderr
    deadline = time.monotonic() + 10
    while str(fake_nix) not in ssh(lab_up, "haskelseed", "ps -eo args=").stdout:
        assert time.monotonic() < deadline, "the build host's fake nix build did not start"
        time.sleep(0.1)
    problems = prebuild_problems(lab_up)
    assert len(problems) == 1, problems
    assert problems[0].startswith("another nix build is running on the build host: ")
    assert f"{fake_nix} build .#docker" in problems[0]
    ssh(lab_up, "haskelseed", f"pkill -f '{fake_nix} build'")


def test_node_user_is_not_root_and_needs_sudo(lab_up: Lab) -> None:
    res = ssh(
        lab_up,
        "railiance01",
        "id -un; cat /etc/shadow >/dev/null 2>&1 || echo denied; "
        "sudo -n cat /etc/shadow >/dev/null && echo sudo-ok",
    )
    assert res.stdout.split() == [hostns.NODE_USER, "denied", "sudo-ok"], res.stderr
    assert hostns.NODE_USER not in [
        row.split(":")[0] for row in Path("/etc/passwd").read_text().splitlines()
    ]
    assert not Path(f"/etc/sudoers.d/{hostns.SUDOERS_FILE}").exists()


def test_node_sudo_asking_for_a_password_is_refused_at_once(lab_up: Lab) -> None:
    lab_up.set_node_sudo("password")
    try:
        started = time.monotonic()
        res = ssh(lab_up, "railiance01", "sudo -n true")
        assert res.returncode == 1
        assert "a password is required" in res.stderr
        assert time.monotonic() - started < 10
    finally:
        lab_up.set_node_sudo("nopasswd")
    assert ssh(lab_up, "railiance01", "sudo -n true").returncode == 0


def test_down_stops_lab_processes_that_lost_their_records(lab_up: Lab) -> None:
    """A teardown by older code (whose records this one cannot read) or a deleted state
    file leaves processes without records: down() still stops what names the lab's files,
    and never a Python process (the suite, the lab's own command line)."""
    stray = subprocess.Popen(["sh", "-c", "sleep 300", str(lab_up.layout.root / "stray")])
    suite_like = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(300)",
            str(lab_up.layout.root / "irp-lab.toml"),
        ]
    )
    try:
        time.sleep(0.2)
        from pytest_irp_lab.proc import leftover_processes

        assert stray.pid in leftover_processes(lab_up.layout.root)
        assert suite_like.pid not in leftover_processes(lab_up.layout.root)
        lab_up.down()
        assert stray.wait(timeout=10) is not None
        assert any(
            "stopped 1 lab processes that no record named: sh -c sleep 300" in n
            for n in lab_up.notes
        ), lab_up.notes
        assert suite_like.poll() is None
    finally:
        for p in (stray, suite_like):
            p.kill()
            p.wait()
    lab_up.up()


def test_down_leaves_nothing_behind(lab_up: Lab):
    # a session process that outlives its ssh connection must not survive the lab
    res = ssh(lab_up, "haskelseed", "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!")
    assert res.returncode == 0, res.stderr
    in_host = [proc_of(pid) for pid in net.netns_pids("irp-haskelseed")]
    assert len(in_host) >= 2  # sshd + the sleeper
    state = read_json(lab_up.layout.state_file)
    procs = [Proc.from_json(p) for p in state["sshd"].values()]
    created = [tuple(c) for c in state["net"]["created"]]
    lab_up.down()
    after = net.observe()
    for kind, name in created:
        if kind == "netns":
            assert name not in after.netns
        else:
            assert name not in after.links
    for proc in procs:
        assert proc is not None
        assert not alive(proc)
    lab_dir = str(lab_up.layout.root)
    leftovers = [
        pid
        for pid in os.listdir("/proc")
        if pid.isdigit() and lab_dir in " ".join(cmdline(int(pid)))
    ]
    assert leftovers == []
    assert not any(p is not None and alive(p) for p in in_host)
    assert lab_up.holder() is None
    assert not lab_up.toml_path.exists()
    assert lab_up.status()["up"] is False
    lab_up.down()  # idempotent

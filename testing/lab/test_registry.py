"""The lab's Gitea (pytest_irp_lab.registry): pure builders, and a real Gitea 1.26.0 on
loopback (free ports; the realm's "port 80" is a free port too), in each realm mode.

The Gitea tests need the binary built by ``lab/build-gitea.sh`` (skipped otherwise, with
that reason), skopeo and nginx. They never leave 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

# The suite's RegistryClient uses requests, imported lazily; importing it here, at collection,
# keeps one http.cookiejar for the session (an in-process pytester run elsewhere restores
# sys.modules afterwards, and requests imported inside it then fails with "You can only
# merge into CookieJar").
import requests  # noqa: F401

from pytest_irp import registry as suite_registry
from pytest_irp_lab import registry as reg
from pytest_irp_lab import registry_config as rc
from pytest_irp_lab.authfile import temporary_authfile
from pytest_irp_lab.images import ImageFile, build_image_archive

# the default mode refuses the build host's address: it needs the lab network
LOOPBACK_MODES = tuple(m for m in rc.REALM_MODES if m != "wrong-port-dead-for-build-host")

# --------------------------------------------------------------------------- pure


def _spec(mode: rc.RealmMode) -> rc.GiteaSpec:
    return rc.GiteaSpec(
        address="10.77.0.3",
        port=3000,
        root_url=rc.root_url(mode, "10.77.0.3", 3000, 80),
        work_dir=Path("/w"),
        static_root=Path("/s"),
        log_dir=Path("/l"),
        **rc.new_secrets(),
    )


@pytest.mark.parametrize(
    ("mode", "root"),
    [
        ("wrong-port-dead-for-build-host", "http://10.77.0.3/"),
        ("wrong-port-dead", "http://10.77.0.3/"),
        ("wrong-port-forwarded", "http://10.77.0.3/"),
        ("correct", "http://10.77.0.3:3000/"),
    ],
)
def test_app_ini_sets_the_realm_through_root_url(mode: rc.RealmMode, root: str) -> None:
    text = rc.app_ini(_spec(mode))
    assert f"ROOT_URL = {root}\n" in text
    assert "PUBLIC_URL_DETECTION = legacy\n" in text  # the realm follows ROOT_URL
    assert "[packages]\nENABLED = true\n" in text
    assert "[actions]\nENABLED = true\nDEFAULT_ACTIONS_URL = github\n" in text  # T12
    assert "DB_TYPE = sqlite3\n" in text
    assert rc.realm_url(mode, "10.77.0.3", 3000, 80) == root + "v2/token"


def test_default_mode_is_the_workplans_realm_dead_for_the_build_host() -> None:
    assert rc.DEFAULT_REALM_MODE == "wrong-port-dead-for-build-host"
    checks = rc.ready_checks("wrong-port-dead", "10.77.0.3", 3000, 80)
    assert rc.Check("http://10.77.0.3/api/v1/version", 0) in checks  # refused
    assert rc.firewall_argv("-I", "10.77.0.2", 80) == [
        "iptables",
        "-w",
        "-I",
        "INPUT",
        "-p",
        "tcp",
        "-s",
        "10.77.0.2",
        "--dport",
        "80",
        "-j",
        "REJECT",
        "--reject-with",
        "tcp-reset",
    ]  # refused like a closed port


def test_build_host_mode_needs_the_lab_network(tmp_path: Path) -> None:
    lab = reg.LabRegistry(tmp_path, netns=None, address="127.0.0.1", port=reg.free_port())
    with pytest.raises(reg.RegistryError, match="needs the lab network"):
        lab.start()


def test_generated_password_is_read_from_gitea_output() -> None:
    out = (
        "generated random password is 'a-B_c9'\nNew user 'tegwick' has been successfully created!\n"
    )
    assert rc.parse_generated_password(out) == "a-B_c9"
    assert rc.parse_generated_password("nothing") is None
    log = "2026/12/01 22:02:21 modules/setting/setting.go:190:loadRunModeFrom() [E] root\n"
    assert rc.parse_raw_token(log + "ab" * 20 + "\n") == "ab" * 20
    assert rc.parse_raw_token(log) is None
    assert "--random-password" in rc.create_user_command()
    assert not any(
        "password=" in a for a in rc.create_user_command() if a != "--must-change-password=false"
    )


def test_git_and_gitea_environments() -> None:
    env = rc.git_auth_env("Basic eHl6")
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert env["GIT_CONFIG_VALUE_0"] == "Authorization: Basic eHl6"
    genv = rc.gitea_env({"GITEA__server__ROOT_URL": "x", "PATH": "/bin"}, Path("/w"))
    assert "GITEA__server__ROOT_URL" not in genv
    assert genv["GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT"] == "true"


def test_forward_is_a_plain_proxy() -> None:
    spec = rc.ForwardSpec(
        "10.77.0.3:80", "10.77.0.3:3000", Path("/p"), Path("/a"), Path("/e"), Path("/t"), None
    )
    text = rc.forward_config(spec)
    assert "listen 10.77.0.3:80;" in text
    assert "proxy_pass http://10.77.0.3:3000;" in text
    assert "X-Forwarded" not in text  # else Gitea's legacy detection would use the Host


# --------------------------------------------------------------------------- real Gitea


def _skip_reason() -> str | None:
    missing = reg.missing_tools()
    return f"missing: {', '.join(missing)}" if missing else None


@pytest.fixture(scope="module")
def gitea(tmp_path_factory: pytest.TempPathFactory) -> Iterator[reg.LabRegistry]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("gitea")
    lab = reg.LabRegistry(
        state,
        netns=None,
        address="127.0.0.1",
        port=reg.free_port(),
        wrong_port=reg.free_port(),
        realm_mode="wrong-port-dead",
    )
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def in_mode(gitea: reg.LabRegistry, request: pytest.FixtureRequest) -> reg.LabRegistry:
    gitea.set_realm_mode(request.param)
    return gitea


def _get(url: str, **kw: object) -> tuple[int, list[str], bytes]:
    return reg.http_request(url, **kw)  # type: ignore[arg-type]


def test_gitea_answers_its_version(gitea: reg.LabRegistry) -> None:
    status, _, body = _get(f"{gitea.base_url}/api/v1/version")
    assert status == 200
    assert json.loads(body) == {"version": reg.GITEA_VERSION}


def test_user_org_repo_and_secrets_exist(gitea: reg.LabRegistry) -> None:
    for path in (
        "/orgs/coulomb",
        "/orgs/irp",
        "/repos/coulomb/ihp-railiance-probe",
        "/users/tegwick",
    ):
        assert gitea.api("GET", path)[0] == 200, path
    for secret in (gitea.layout.password_file, gitea.layout.token_file, gitea.layout.app_ini):
        assert secret.stat().st_mode & 0o077 == 0, secret
    password = gitea.layout.password_file.read_text().strip()
    token = gitea.layout.token_file.read_text().strip()
    for log in gitea.layout.log_dir.rglob("*.log"):
        text = log.read_text(errors="replace")
        assert password not in text, log
        assert token not in text, log


def test_start_is_idempotent_and_keeps_the_credentials(gitea: reg.LabRegistry) -> None:
    password = gitea.layout.password_file.read_text()
    gitea.start()
    assert gitea.is_running()
    assert gitea.layout.password_file.read_text() == password


@pytest.mark.parametrize("in_mode", LOOPBACK_MODES, indirect=True)
def test_realm_mode_through_gitea_config(in_mode: reg.LabRegistry) -> None:
    status, www, _ = _get(f"{in_mode.base_url}/v2/")
    assert status == 401
    assert www == [rc.challenge(in_mode.realm_url), rc.BASIC_CHALLENGE]  # two challenges
    assert suite_registry.parse_challenge(", ".join(www))["realm"] == in_mode.realm_url
    wrong = rc.host_url(in_mode.address, in_mode.wrong_port) + "/api/v1/version"
    forwarded = _get(wrong)[0]
    assert forwarded == (200 if in_mode.realm_mode == "wrong-port-forwarded" else 0)
    problem = suite_registry.realm_problem(in_mode.realm_url, in_mode.hostport, True)
    assert (problem is None) == (in_mode.realm_mode == "correct")


def test_token_endpoint_like_the_domain_notes_say(gitea: reg.LabRegistry) -> None:
    assert gitea.token("repository:coulomb/x:pull,push").count(".") == 2  # a JWT
    status, _, body = _get(
        gitea.token_url, headers={"Authorization": rc.basic_header("tegwick", "wrong-password")}
    )
    assert status == 401
    # Gitea 1.26.0 answers with the registry error document (not plain text)
    assert json.loads(body) == {"errors": [{"code": "UNAUTHORIZED", "message": ""}]}
    assert suite_registry.first_line(body.decode()) == "UNAUTHORIZED"  # the suite's cause
    assert _get(gitea.token_url, method="POST")[0] == 404


def _archive(tmp_path: Path, ref: str) -> Path:
    return build_image_archive(
        tmp_path / "img.tar", ref, [ImageFile("/hello", data=b"hello\n")], ["/hello"]
    )


def _skopeo_push(
    lab: reg.LabRegistry, archive: Path, ref: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    user, pw_file = lab.credentials
    with temporary_authfile(lab.hostport, user, pw_file, tmp_path) as authfile:
        return subprocess.run(
            [
                "skopeo",
                "--insecure-policy",
                "copy",
                "--authfile",
                str(authfile),
                "--dest-tls-verify=false",
                f"docker-archive:{archive}",
                f"docker://{ref}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.mark.parametrize("in_mode", LOOPBACK_MODES, indirect=True)
def test_skopeo_authfile_push_follows_the_realm(in_mode: reg.LabRegistry, tmp_path: Path) -> None:
    ref = f"{in_mode.hostport}/coulomb/tiny:{in_mode.realm_mode}"
    done = _skopeo_push(in_mode, _archive(tmp_path, ref), ref, tmp_path)
    if in_mode.realm_mode == "wrong-port-dead":
        assert done.returncode != 0
        assert "connection refused" in done.stderr
        assert f"{in_mode.realm_url}?" in done.stderr  # skopeo went to the realm
    else:
        assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("in_mode", ["wrong-port-dead"], indirect=True)
def test_token_push_works_with_the_dead_realm_and_gitea_lists_the_package(
    in_mode: reg.LabRegistry, tmp_path: Path
) -> None:
    ref = f"{in_mode.hostport}/coulomb/tokenpush:t1"
    token = in_mode.token()
    done = subprocess.run(
        [
            "skopeo",
            "--insecure-policy",
            "copy",
            "--dest-registry-token",
            token,
            "--dest-tls-verify=false",
            f"docker-archive:{_archive(tmp_path, ref)}",
            f"docker://{ref}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.replace(token, "***")
    status, rows = in_mode.api("GET", "/packages/coulomb?type=container&q=tokenpush")
    assert status == 200
    assert [(r["name"], r["version"]) for r in rows] == [("tokenpush", "t1")]


@pytest.mark.parametrize("in_mode", ["correct"], indirect=True)
def test_tag_list_longer_than_one_page_is_read_whole(
    in_mode: reg.LabRegistry, tmp_path: Path
) -> None:
    tags = [f"p{i}" for i in range(5)]
    archive = _archive(tmp_path, f"{in_mode.hostport}/coulomb/paged:p0")
    for tag in tags:
        done = _skopeo_push(in_mode, archive, f"{in_mode.hostport}/coulomb/paged:{tag}", tmp_path)
        assert done.returncode == 0, done.stderr
    token = in_mode.token("repository:coulomb/paged:pull")
    status, _, body = _get(
        f"{in_mode.base_url}/v2/coulomb/paged/tags/list?n=2",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert status == 200
    assert len(json.loads(body)["tags"]) == 2  # really paged
    client = suite_registry.RegistryClient(
        suite_registry.ImageRef.parse(f"{in_mode.hostport}/coulomb/paged"), True
    )
    assert sorted(client.tags(token, page_size=2)) == tags
    assert sorted(client.tags(token)) == tags  # one page, then Gitea's Link to an empty one


def test_stop_leaves_nothing(tmp_path: Path) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    lab = reg.LabRegistry(
        tmp_path,
        netns=None,
        address="127.0.0.1",
        port=reg.free_port(),
        wrong_port=reg.free_port(),
        realm_mode="wrong-port-forwarded",
    )
    lab.start()
    pids = [i.pid for i in lab.pids.values() if i is not None]
    assert len(pids) == 2
    lab.stop()
    assert not lab.is_running()
    assert all(
        not Path(f"/proc/{p}").exists()
        or Path(f"/proc/{p}/stat").read_text().split(") ")[1][0] == "Z"
        for p in pids
    )
    assert _get(f"{lab.base_url}/api/v1/version")[0] == 0


def test_missing_binary_is_one_clear_error(tmp_path: Path) -> None:
    lab = reg.LabRegistry(
        tmp_path,
        netns=None,
        address="127.0.0.1",
        port=reg.free_port(),
        cache_dir=tmp_path / "empty-cache",
        realm_mode="correct",
    )
    with pytest.raises(reg.RegistryError, match=r"build-gitea\.sh"):
        lab.start()
    assert not lab.is_running()


def test_cli_status_is_json(tmp_path: Path) -> None:
    env = {**os.environ, "IRP_LAB_DIR": str(tmp_path)}
    done = subprocess.run(
        [
            shutil.which("python3") or "python3",
            "-m",
            "pytest_irp_lab.registry",
            "status",
            "--loopback",
            "--mode",
            "correct",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 3
    assert json.loads(done.stdout)["running"] is False

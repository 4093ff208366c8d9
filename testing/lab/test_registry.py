"""The lab's Gitea-like registry: pure parts always, real processes when root + tools exist.

The integration tests run in loopback mode (``netns=None``, free ports chosen at random), so
they need neither the lab network nor any address beyond 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from pytest_irp.lab import registry as reg
from pytest_irp.lab import tokenserver as ts

# =========================================================================== helpers


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, claims, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(claims))


def tar_member(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tf.addfile(info, io.BytesIO(data))


def make_docker_archive(path: Path, repo_tag: str, payload: bytes) -> None:
    """A one-layer docker-archive (``docker save`` format) with ``/hello.txt``."""
    layer_buf = io.BytesIO()
    with tarfile.open(fileobj=layer_buf, mode="w", format=tarfile.USTAR_FORMAT) as layer:
        tar_member(layer, "hello.txt", payload)
    layer_bytes = layer_buf.getvalue()
    diff_id = hashlib.sha256(layer_bytes).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/hello.txt"]},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
            "history": [{"created_by": "pytest-irp test"}],
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [repo_tag], "Layers": [f"{diff_id}/layer.tar"]}]
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tf:
        tar_member(tf, config_name, config)
        tar_member(tf, f"{diff_id}/layer.tar", layer_bytes)
        tar_member(tf, "manifest.json", json.dumps(manifest).encode())


# =========================================================================== pure: tokens


def test_libtrust_key_id_shape() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    kid = ts.libtrust_key_id(key.public_key())
    groups = kid.split(":")
    assert len(groups) == 12
    assert all(len(g) == 4 and set(g) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for g in groups)
    assert ts.libtrust_key_id(key.public_key()) == kid


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (
            "repository:tegwick/app:push,pull",
            ts.Access("repository", "tegwick/app", ("push", "pull")),
        ),
        ("repository:a/b/c:pull", ts.Access("repository", "a/b/c", ("pull",))),
        ("repository:host:5000/a:pull", ts.Access("repository", "host:5000/a", ("pull",))),
        ("registry:catalog:*", ts.Access("registry", "catalog", ("*",))),
        ("*", None),
        ("repository:name", None),
        ("", None),
    ],
)
def test_parse_scope(scope: str, expected: ts.Access | None) -> None:
    assert ts.parse_scope(scope) == expected


def test_parse_scopes_repeated_and_space_separated() -> None:
    got = ts.parse_scopes(
        ["repository:a/b:pull repository:c/d:push", "bogus", "repository:e/f:pull"]
    )
    assert [a.name for a in got] == ["a/b", "c/d", "e/f"]


def test_grant_user_gets_push_pull_anonymous_pull_only() -> None:
    asked = [ts.Access("repository", "o/n", ("pull", "push", "delete"))]
    assert ts.grant(asked, authenticated=True) == [ts.Access("repository", "o/n", ("pull", "push"))]
    assert ts.grant(asked, authenticated=False) == [ts.Access("repository", "o/n", ("pull",))]


def test_grant_star_and_non_repository() -> None:
    asked = [ts.Access("repository", "o/n", ("*",)), ts.Access("registry", "catalog", ("*",))]
    assert ts.grant(asked, authenticated=True) == [ts.Access("repository", "o/n", ("pull", "push"))]
    assert ts.grant([ts.Access("repository", "o/n", ("push",))], authenticated=False) == []


def test_signed_token_verifies_and_carries_what_distribution_checks() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    kid = ts.libtrust_key_id(key.public_key())
    access = [ts.Access("repository", "tegwick/app", ("pull", "push"))]
    claims = ts.make_claims(
        issuer="iss-x", service="container_registry", subject="tegwick", access=access, now=1000.0
    )
    token = ts.sign_es256(key, kid, claims)
    header, body = jwt_parts(token)
    assert header == {"typ": "JWT", "alg": "ES256", "kid": kid}
    assert body["aud"] == "container_registry"
    assert body["iss"] == "iss-x"
    assert body["exp"] == 1000 + ts.TOKEN_TTL_SECONDS
    assert body["nbf"] <= 1000 <= body["exp"]
    assert body["access"] == [
        {"type": "repository", "name": "tegwick/app", "actions": ["pull", "push"]}
    ]
    signing_input, _, sig = token.rpartition(".")
    raw = b64url_decode(sig)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.public_key().verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic " + base64.b64encode(b"u:p:w").decode(), ("u", "p:w")),
        ("basic " + base64.b64encode(b"u:").decode(), ("u", "")),
        ("Basic " + base64.b64encode(b"nocolon").decode(), None),
        ("Basic !!!", None),
        ("Bearer abc", None),
        (None, None),
        ("", None),
    ],
)
def test_decode_basic(header: str | None, expected: tuple[str, str] | None) -> None:
    assert ts.decode_basic(header) == expected


def test_credentials_match() -> None:
    assert ts.credentials_match(("u", "p"), "u", "p")
    assert not ts.credentials_match(("u", "x"), "u", "p")
    assert not ts.credentials_match(("x", "p"), "u", "p")


# =========================================================================== pure: registry


def test_realm_urls_per_mode() -> None:
    assert (
        reg.realm_url("wrong-port-forwarded", "10.77.0.3", 3000, 80) == "http://10.77.0.3/v2/token"
    )
    assert reg.realm_url("wrong-port-dead", "10.77.0.3", 3000, 80) == "http://10.77.0.3/v2/token"
    assert reg.realm_url("correct", "10.77.0.3", 3000, 80) == "http://10.77.0.3:3000/v2/token"
    assert (
        reg.realm_url("wrong-port-dead", "127.0.0.1", 3000, 3080)
        == "http://127.0.0.1:3080/v2/token"
    )


def test_challenge_is_giteas() -> None:
    assert reg.challenge("http://h/v2/token") == (
        'Bearer realm="http://h/v2/token",service="container_registry",scope="*"'
    )


def test_check_mode_rejects_unknown() -> None:
    assert reg.check_mode("correct") == "correct"
    with pytest.raises(ValueError, match="wrong-port-forwarded"):
        reg.check_mode("wrong")


def test_front_ports_and_bind_address() -> None:
    assert reg.front_ports("wrong-port-forwarded", 3000, 80) == [3000, 80]
    assert reg.front_ports("wrong-port-dead", 3000, 80) == [3000]
    assert reg.front_ports("correct", 3000, 80) == [3000]
    assert reg.bind_address("irp-gitea", "10.77.0.3") == "10.77.0.3"
    assert reg.bind_address(None, "10.77.0.3") == "127.0.0.1"
    assert reg.bind_address(None, "127.0.0.5") == "127.0.0.5"


def test_registry_config_is_private_and_token_authenticated(tmp_path: Path) -> None:
    cfg = reg.registry_config(
        storage=tmp_path / "s",
        listen_port=5000,
        secret="sec",
        realm="http://10.77.0.3/v2/token",
        cert_bundle=tmp_path / "c.pem",
    )
    assert cfg["http"]["addr"] == "127.0.0.1:5000"
    assert cfg["storage"]["filesystem"]["rootdirectory"] == str(tmp_path / "s")
    assert cfg["auth"]["token"] == {
        "realm": "http://10.77.0.3/v2/token",
        "service": "container_registry",
        "issuer": reg.ISSUER,
        "rootcertbundle": str(tmp_path / "c.pem"),
    }


def nginx_spec(tmp_path: Path, ports: tuple[int, ...]) -> reg.NginxSpec:
    return reg.NginxSpec(
        address="127.0.0.1",
        ports=ports,
        registry_port=5000,
        token_port=5001,
        challenge=reg.challenge("http://127.0.0.1/v2/token"),
        pid_file=tmp_path / "nginx.pid",
        access_log=tmp_path / "access.log",
        error_log=tmp_path / "error.log",
        temp_dir=tmp_path / "tmp",
        worker_user=None,
    )


def test_nginx_config_routes_and_streams(tmp_path: Path) -> None:
    text = reg.nginx_config(nginx_spec(tmp_path, (3000, 80)))
    assert "listen 127.0.0.1:3000;" in text
    assert "listen 127.0.0.1:80;" in text
    assert "client_max_body_size 0;" in text
    assert "proxy_request_buffering off;" in text
    assert "proxy_buffering off;" in text
    assert "daemon off;" in text
    assert "location = /v2/token {\n            proxy_pass http://127.0.0.1:5001;" in text
    assert "proxy_pass http://127.0.0.1:5000;" in text
    assert 'scope="*"' in text
    one_port = reg.nginx_config(nginx_spec(tmp_path, (3000,)))
    assert "listen 127.0.0.1:80;" not in one_port


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx not installed")
def test_nginx_accepts_generated_config(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(reg.nginx_config(nginx_spec(tmp_path, (3000, 3080))))
    argv = [*reg.nginx_argv(tmp_path, conf, tmp_path / "error.log"), "-t"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_argument_lists() -> None:
    assert reg.netns_argv(None, ["a", "b"]) == ["a", "b"]
    assert reg.netns_argv("irp-gitea", ["a"]) == ["ip", "netns", "exec", "irp-gitea", "a"]
    assert reg.registry_argv(Path("/c.yml")) == ["docker-registry", "serve", "/c.yml"]
    assert reg.nginx_argv(Path("/p"), Path("/c"), Path("/e")) == [
        "nginx", "-p", "/p", "-c", "/c", "-e", "/e",
    ]  # fmt: skip
    assert reg.token_argv("py", Path("/t.json")) == [
        "py",
        "-m",
        "pytest_irp.lab.tokenserver",
        "/t.json",
    ]
    checks = [reg.Check("http://h/v2/", 401, "x")]
    argv = reg.probe_argv("py", checks, 3.0)
    assert argv[:4] == ["py", "-m", "pytest_irp.lab.registry", "probe"]
    assert [reg.Check.from_json(c) for c in json.loads(argv[argv.index("--checks") + 1])] == checks


def test_ready_checks_per_mode() -> None:
    fwd = reg.ready_checks("wrong-port-forwarded", "127.0.0.1", 3000, 3080)
    assert fwd[0] == reg.Check(
        "http://127.0.0.1:3000/v2/", 401, reg.challenge("http://127.0.0.1:3080/v2/token")
    )
    assert reg.Check("http://127.0.0.1:3080/v2/token", 200) in fwd
    assert reg.Check("http://127.0.0.1:3080/v2/token", 0) in reg.ready_checks(
        "wrong-port-dead", "127.0.0.1", 3000, 3080
    )
    assert len(reg.ready_checks("correct", "127.0.0.1", 3000, 3080)) == 2


def test_check_problem() -> None:
    check = reg.Check("u", 401, "c")
    assert reg.check_problem(check, 401, "c") is None
    assert "status 502" in (reg.check_problem(check, 502, None) or "")
    assert "WWW-Authenticate" in (reg.check_problem(check, 401, "other") or "")
    assert "connection refused" in (reg.check_problem(reg.Check("u", 200), 0, None) or "")
    assert reg.check_problem(reg.Check("u", 0), 0, None) is None


def test_authfile_json_and_child_env() -> None:
    data = json.loads(reg.authfile_json("10.77.0.3:3000", "tegwick", "pw:x"))
    assert base64.b64decode(data["auths"]["10.77.0.3:3000"]["auth"]) == b"tegwick:pw:x"
    env = reg.child_env({"REGISTRY_HTTP_ADDR": "0.0.0.0:5000", "PATH": "/bin"}, Path("/src"))
    assert "REGISTRY_HTTP_ADDR" not in env
    assert env["PATH"] == "/bin"
    assert env["PYTHONPATH"] == "/src"


def test_route_device_and_loopback_needs_no_route() -> None:
    out = "10.77.0.3 dev irpbr0 src 10.77.0.1 uid 0 \n    cache \n"
    assert reg.route_device(out) == "irpbr0"
    assert reg.route_device("10.77.0.3 via 192.0.2.1 dev eth0 src 192.0.2.2") == "eth0"
    assert reg.route_device("RTNETLINK answers: Network is unreachable") is None
    reg.require_lab_route("127.0.0.1")  # no ip call, no error


def test_temporary_authfile_is_private_and_removed(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    with reg.temporary_authfile("h:1", "u", pw, tmp_path) as path:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        auth = json.loads(path.read_text())["auths"]["h:1"]["auth"]
        assert base64.b64decode(auth) == b"u:secret"
    assert not path.exists()


def test_write_atomic_mode(tmp_path: Path) -> None:
    target = tmp_path / "d" / "f"
    reg.write_atomic(target, "x", 0o600)
    assert target.read_text() == "x"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["f"]


def test_pid_info_round_trip() -> None:
    info = reg.PidInfo(12, 345)
    assert reg.PidInfo.parse(info.to_json()) == info
    assert reg.PidInfo.parse("12") is None
    assert reg.PidInfo.parse("garbage") is None
    assert not reg.is_alive(reg.PidInfo(os.getpid(), 1))  # same pid, other start time


# =========================================================================== real processes

needs_lab_tools = pytest.mark.skipif(
    os.geteuid() != 0 or bool(reg.missing_tools()),
    reason=(
        "needs root and docker-registry, nginx, skopeo, ip "
        f"(missing: {', '.join(reg.missing_tools()) or 'none'}; euid {os.geteuid()}); "
        "run scripts/install-system-packages.sh as root"
    ),
)


@pytest.fixture(scope="module")
def lab_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[reg.LabRegistry]:
    state = tmp_path_factory.mktemp("registry-state")
    registry = reg.LabRegistry(
        state,
        netns=None,
        address="127.0.0.1",
        port=reg.free_port(),
        wrong_port=reg.free_port(),
    )
    began = time.monotonic()
    registry.start()
    print(f"\nlab registry started in {time.monotonic() - began:.2f}s at {registry.hostport}")
    try:
        yield registry
    finally:
        pids = [p for p in registry.pids.values() if p is not None]
        registry.stop()
        assert not any(reg.is_alive(p) for p in pids)


@pytest.fixture
def in_mode(lab_registry: reg.LabRegistry) -> Iterator[reg.LabRegistry]:
    """The shared registry, put back in the default mode afterwards."""
    yield lab_registry
    lab_registry.set_realm_mode(reg.DEFAULT_REALM_MODE)


def base_url(r: reg.LabRegistry) -> str:
    return f"http://{r.hostport}"


def basic_auth(r: reg.LabRegistry) -> tuple[str, str]:
    user, pw_file = r.credentials
    return user, pw_file.read_text().strip()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("archive") / "tiny.tar"
    make_docker_archive(path, "tegwick/tiny:latest", b"hello from the irp lab\n")
    return path


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "policy.json"
    path.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    return path


def skopeo_push(
    policy: Path, authfile: Path, archive: Path, dest: str, digestfile: Path | None = None
) -> subprocess.CompletedProcess[str]:
    argv = ["skopeo", "--policy", str(policy), "copy", "--authfile", str(authfile)]
    argv += ["--dest-tls-verify=false", "--retry-times", "0"]
    if digestfile is not None:
        argv += ["--digestfile", str(digestfile)]
    argv += [f"docker-archive:{archive}", f"docker://{dest}"]
    env = {k: v for k, v in os.environ.items() if k != "REGISTRY_AUTH_FILE"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)


def private_file(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return path


@needs_lab_tools
def test_start_is_idempotent_and_state_is_private(lab_registry: reg.LabRegistry) -> None:
    pids = lab_registry.pids
    began = time.monotonic()
    lab_registry.start()
    assert time.monotonic() - began < 1.0
    assert lab_registry.pids == pids
    assert lab_registry.is_running()
    _, pw_file = lab_registry.credentials
    assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
    assert len(pw_file.read_text().strip()) >= 24
    assert stat.S_IMODE(lab_registry.layout.key_file.stat().st_mode) == 0o600


@needs_lab_tools
@pytest.mark.parametrize("mode", reg.REALM_MODES)
def test_anonymous_v2_challenge_per_mode(in_mode: reg.LabRegistry, mode: str) -> None:
    began = time.monotonic()
    in_mode.set_realm_mode(mode)
    print(f"switched to {mode} in {time.monotonic() - began:.2f}s")
    resp = requests.get(f"{base_url(in_mode)}/v2/", timeout=5)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == (
        f'Bearer realm="{in_mode.realm_url}",service="container_registry",scope="*"'
    )
    wrong = f"http://127.0.0.1:{in_mode.wrong_port}/v2/token"
    if mode == "wrong-port-dead":
        with pytest.raises(requests.ConnectionError):
            requests.get(wrong, timeout=5)
    elif mode == "wrong-port-forwarded":
        assert requests.get(wrong, timeout=5).status_code == 200


@needs_lab_tools
def test_token_with_basic_auth_grants_push_pull(lab_registry: reg.LabRegistry) -> None:
    resp = requests.get(
        f"{base_url(lab_registry)}/v2/token",
        params={"service": "container_registry", "scope": "repository:tegwick/app:push,pull"},
        auth=basic_auth(lab_registry),
        timeout=5,
    )
    assert resp.status_code == 200
    header, claims = jwt_parts(resp.json()["token"])
    assert header["alg"] == "ES256"
    assert len(header["kid"].split(":")) == 12
    assert claims["aud"] == "container_registry"
    assert claims["sub"] == "tegwick"
    assert claims["access"] == [
        {"type": "repository", "name": "tegwick/app", "actions": ["pull", "push"]}
    ]


@needs_lab_tools
def test_anonymous_token_is_pull_only(lab_registry: reg.LabRegistry) -> None:
    resp = requests.get(
        f"{base_url(lab_registry)}/v2/token",
        params={"scope": "repository:tegwick/app:push,pull"},
        timeout=5,
    )
    assert resp.status_code == 200
    _, claims = jwt_parts(resp.json()["token"])
    assert claims["access"] == [{"type": "repository", "name": "tegwick/app", "actions": ["pull"]}]


@needs_lab_tools
def test_wrong_password_is_401(lab_registry: reg.LabRegistry) -> None:
    resp = requests.get(
        f"{base_url(lab_registry)}/v2/token", auth=("tegwick", "not-the-password"), timeout=5
    )
    assert resp.status_code == 401
    assert resp.json() == {"errors": [{"code": "UNAUTHORIZED", "message": ""}]}


@needs_lab_tools
def test_post_token_is_404_like_gitea(lab_registry: reg.LabRegistry) -> None:
    resp = requests.post(
        f"{base_url(lab_registry)}/v2/token", data={"grant_type": "password"}, timeout=5
    )
    assert resp.status_code == 404


@needs_lab_tools
def test_registry_accepts_the_token(lab_registry: reg.LabRegistry) -> None:
    token = lab_registry.token("repository:tegwick/none:pull")
    resp = requests.get(
        f"{base_url(lab_registry)}/v2/tegwick/none/tags/list",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert resp.status_code == 404  # authorized; the repository just does not exist
    assert resp.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def assert_pushed(r: reg.LabRegistry, repo: str, tag: str, digestfile: Path) -> None:
    token = r.token(f"repository:{repo}:pull")
    auth = {"Authorization": f"Bearer {token}"}
    tags = requests.get(f"{base_url(r)}/v2/{repo}/tags/list", headers=auth, timeout=5)
    assert tags.status_code == 200
    assert tag in tags.json()["tags"]
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    head = requests.head(
        f"{base_url(r)}/v2/{repo}/manifests/{tag}",
        headers={**auth, "Accept": accept},
        timeout=5,
    )
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == digestfile.read_text().strip()


@needs_lab_tools
@pytest.mark.parametrize("mode", ["wrong-port-forwarded", "correct"])
def test_skopeo_push_with_authfile(
    in_mode: reg.LabRegistry, mode: str, archive: Path, policy: Path, tmp_path: Path
) -> None:
    in_mode.set_realm_mode(mode)
    user, pw_file = in_mode.credentials
    digestfile = tmp_path / "digest"
    tag = mode
    began = time.monotonic()
    with reg.temporary_authfile(in_mode.hostport, user, pw_file, tmp_path) as authfile:
        assert stat.S_IMODE(authfile.stat().st_mode) == 0o600
        done = skopeo_push(
            policy, authfile, archive, f"{in_mode.hostport}/tegwick/tiny:{tag}", digestfile
        )
    print(f"skopeo push ({mode}) took {time.monotonic() - began:.2f}s")
    assert not authfile.exists()
    assert done.returncode == 0, done.stderr
    assert_pushed(in_mode, "tegwick/tiny", tag, digestfile)


@needs_lab_tools
def test_skopeo_with_credentials_fails_on_dead_realm(
    in_mode: reg.LabRegistry, archive: Path, policy: Path, tmp_path: Path
) -> None:
    in_mode.set_realm_mode("wrong-port-dead")
    user, pw_file = in_mode.credentials
    with reg.temporary_authfile(in_mode.hostport, user, pw_file, tmp_path) as authfile:
        done = skopeo_push(policy, authfile, archive, f"{in_mode.hostport}/tegwick/tiny:dead")
    assert done.returncode != 0
    assert "connection refused" in done.stderr
    assert f"127.0.0.1:{in_mode.wrong_port}/v2/token" in done.stderr


@needs_lab_tools
def test_skopeo_ignores_registrytoken_in_authfile(
    in_mode: reg.LabRegistry, archive: Path, policy: Path, tmp_path: Path
) -> None:
    """skopeo 1.9 reads only ``auth`` (and ``identitytoken``) from an authfile: a
    ``registrytoken`` entry is not used as a bearer token, so the dead realm is still
    contacted. (The only way to hand skopeo a ready token is ``--dest-registry-token``,
    which puts it on the command line.)"""
    token = in_mode.token("repository:tegwick/tiny:push,pull")
    in_mode.set_realm_mode("wrong-port-dead")
    entry = {"auths": {in_mode.hostport: {"registrytoken": token}}}
    authfile = private_file(tmp_path / "auth.json", json.dumps(entry))
    try:
        done = skopeo_push(policy, authfile, archive, f"{in_mode.hostport}/tegwick/tiny:rt")
    finally:
        authfile.unlink()
    assert done.returncode != 0
    assert "connection refused" in done.stderr


@needs_lab_tools
def test_skopeo_identitytoken_alone_is_anonymous(
    in_mode: reg.LabRegistry, archive: Path, policy: Path, tmp_path: Path
) -> None:
    """An ``identitytoken`` without ``auth`` is dropped by skopeo 1.9 (anonymous: the push is
    denied even with the realm right)."""
    token = in_mode.token("repository:tegwick/tiny:push,pull")
    in_mode.set_realm_mode("correct")
    entry = {"auths": {in_mode.hostport: {"identitytoken": token}}}
    authfile = private_file(tmp_path / "auth.json", json.dumps(entry))
    try:
        done = skopeo_push(policy, authfile, archive, f"{in_mode.hostport}/tegwick/tiny:it")
    finally:
        authfile.unlink()
    assert done.returncode != 0
    assert "denied" in done.stderr or "unauthorized" in done.stderr


@needs_lab_tools
def test_large_chunked_upload_streams_through_front(lab_registry: reg.LabRegistry) -> None:
    """8 MiB in one chunked PATCH (nginx's default body limit is 1 MiB)."""
    repo = "tegwick/big"
    token = lab_registry.token(f"repository:{repo}:push,pull")
    auth = {"Authorization": f"Bearer {token}"}
    start = requests.post(
        f"{base_url(lab_registry)}/v2/{repo}/blobs/uploads/", headers=auth, timeout=10
    )
    assert start.status_code == 202, start.text
    location = start.headers["Location"]
    chunk = os.urandom(1 << 20)
    digest = hashlib.sha256(chunk * 8).hexdigest()
    upload_url = location if location.startswith("http") else base_url(lab_registry) + location

    def body() -> Iterator[bytes]:
        for _ in range(8):
            yield chunk

    patched = requests.patch(
        upload_url,
        data=body(),
        headers={**auth, "Content-Type": "application/octet-stream"},
        timeout=60,
    )
    assert patched.status_code == 202, patched.text
    assert patched.headers["Range"] == f"0-{8 * len(chunk) - 1}"
    next_url = patched.headers["Location"]
    next_url = next_url if next_url.startswith("http") else base_url(lab_registry) + next_url
    sep = "&" if "?" in next_url else "?"
    put = requests.put(f"{next_url}{sep}digest=sha256:{digest}", headers=auth, timeout=30)
    assert put.status_code == 201, put.text
    assert put.headers["Docker-Content-Digest"] == f"sha256:{digest}"


@needs_lab_tools
def test_cli_status_reports_running(lab_registry: reg.LabRegistry) -> None:
    argv = [
        "python3", "-m", "pytest_irp.lab.registry", "status", "--loopback",
        "--state-dir", str(lab_registry.layout.root.parent),
        "--port", str(lab_registry.port), "--wrong-port", str(lab_registry.wrong_port),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["running"] is True
    assert status["hostport"] == lab_registry.hostport


@needs_lab_tools
def test_stop_kills_exactly_what_it_started(tmp_path: Path) -> None:
    r = reg.LabRegistry(
        tmp_path, netns=None, address="127.0.0.1", port=reg.free_port(), wrong_port=reg.free_port()
    )
    r.start()
    infos = [p for p in r.pids.values() if p is not None]
    assert len(infos) == 3
    workers = {w for p in infos for w in reg.children_of(p.pid)}
    assert workers  # nginx's worker
    r.stop()
    assert not r.is_running()
    assert not any(reg.is_alive(p) for p in infos)
    assert not any(reg.proc_stat(w) and reg.proc_stat(w)[0] != "Z" for w in workers)  # type: ignore[index]
    assert not any(r.layout.pid_file(n).exists() for n in reg.PROCESS_NAMES)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{r.hostport}/v2/", timeout=2)
    r.stop()  # idempotent


def test_terminate_ignores_a_stale_pid_file(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        real = reg.proc_stat(sleeper.pid)
        assert real is not None
        reg.terminate(reg.PidInfo(sleeper.pid, real[1] + 1))  # same pid, not "ours"
        assert sleeper.poll() is None
        reg.terminate(reg.PidInfo(sleeper.pid, real[1]))
        assert not reg.is_alive(reg.PidInfo(sleeper.pid, real[1]))
    finally:
        sleeper.kill()
        sleeper.wait()


@needs_lab_tools
def test_failed_start_leaves_nothing_running(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = reg.LabRegistry(
            tmp_path, netns=None, address="127.0.0.1", port=port, wrong_port=reg.free_port()
        )
        began = time.monotonic()
        with pytest.raises(reg.RegistryError, match="not ready") as err:
            r.start()
    assert time.monotonic() - began < 5  # gives up when nginx exits, not at the timeout
    assert "Address already in use" in str(err.value)
    assert not r.is_running()
    assert all(v is None for v in r.pids.values())

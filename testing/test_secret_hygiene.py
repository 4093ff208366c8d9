"""Secret hygiene (issue 10, points 2, 4 and 9): the settings object never shows a secret,
secrets come only from the environment or from private files, URL passwords are masked,
values read from the cluster are registered, children get only the environment they need,
and a canary run under -l -vv --setup-show --debug --junitxml leaves no canary anywhere.
See docs/threat-model.md for the promises these tests prove."""

from __future__ import annotations

import ast
import base64
import html
import json
import os
import pprint
import stat
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, quote_plus

import pytest
from _pytest._io.saferepr import saferepr

from conftest import Project
from pytest_irp import redact
from pytest_irp.redact import Redactor
from pytest_irp.runners import LocalRunner, SshRunner
from pytest_irp.settings import SETTINGS, SettingError, describe, resolve

REPO = Path(__file__).resolve().parent.parent
SECRET_SETTINGS = [s.name for s in SETTINGS if s.secret]
FRAGMENT = getattr(redact, "FRAGMENT", 10)

PASSWORD = "Tr0ub4dor\\CANARY-pw'\"%+/é&<x>"
SESSION = ("CANARYsession" + "A1b2C3d4+/Ef" * 12)[:128]
DATABASE_URL = "postgresql://app:CANARY-db\\pw-4711@CANARYdb.invalid:5432/app"
GITEA_TOKEN = "CANARY-gitea-token-" + "9f3b7c1e5a2d4680" * 2
BASE_PW = "CANARY-basepw-0815"
API_PW = "CANARY-apipw-4242"
ENV_CANARIES = {
    "GH_PAT": "CANARY-gh-pat-31415926",
    "SIGNING_KEY": "CANARY-signing-key-27182",
    "CLOUD_CREDENTIALS": "CANARY-cloud-cred-16180",
    "DATABASE_URL": "postgresql://u:CANARY-envdb-14142@db.example.invalid/x",
    "UPSTREAM_MIRROR": "https://bot:CANARY-mirror-17320@mirror.example.invalid/",
}


def secret_env() -> dict[str, str]:
    return {
        "IRP_REGISTRY_PASSWORD": PASSWORD,
        "IRP_SESSION_SECRET": SESSION,
        "IRP_DATABASE_URL": DATABASE_URL,
        "IRP_GITEA_TOKEN": GITEA_TOKEN,
        "IRP_BASE_URL": f"http://probe:{quote(BASE_PW)}@probe.example.invalid",
        "IRP_GITEA_API_URL": f"http://ci:{API_PW}@git.example.invalid/api/v1",
    }


def canaries() -> list[str]:
    """Every secret value of a canary run (URLs that are not secrets: their password)."""
    return [
        PASSWORD,
        SESSION,
        DATABASE_URL,
        GITEA_TOKEN,
        BASE_PW,
        API_PW,
        ENV_CANARIES["GH_PAT"],
        ENV_CANARIES["SIGNING_KEY"],
        ENV_CANARIES["CLOUD_CREDENTIALS"],
        ENV_CANARIES["DATABASE_URL"],
        "CANARY-mirror-17320",
    ]


def encodings(secret: str, user: str = "tegwick") -> list[str]:
    b64 = base64.b64encode
    return [
        secret,
        repr(secret)[1:-1],
        repr(secret + "'\"")[1:-4],
        ascii(secret)[1:-1],
        repr(repr(secret))[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(repr(secret))[1:-1],
        html.escape(secret),
        quote(secret),
        quote(secret, safe=""),
        quote_plus(secret),
        b64(secret.encode()).decode(),
        b64(f"{user}:{secret}".encode()).decode(),
    ]


def leaks(text: str, secrets: list[str]) -> list[str]:
    """The forms of ``secrets`` found in ``text``: whole encoded forms, and any run of
    FRAGMENT characters of a secret of at least 2 * FRAGMENT characters."""
    found = []
    for secret in secrets:
        for form in encodings(secret):
            if form in text:
                found.append(form)
        # a URL is masked whole, its password also in fragments (threat-model.md)
        opaque = (
            secret.split("://", 1)[1].split("@")[0].split(":", 1)[1]
            if "://" in secret and "@" in secret
            else secret
        )
        if len(opaque) >= 2 * FRAGMENT:
            found += [
                opaque[i : i + FRAGMENT]
                for i in range(len(opaque) - FRAGMENT + 1)
                if opaque[i : i + FRAGMENT] in text
            ][:1]
    return found


def _private(path: Path, text: str, mode: int = 0o600) -> str:
    path.write_text(text + "\n")
    path.chmod(mode)
    return str(path)


# ---- the settings object (point 2) ----------------------------------------------------------


def test_resolved_settings_never_show_a_secret() -> None:
    """pytest prints a failing check's arguments (saferepr, cut to 240 characters, escaped),
    -l its locals, --debug every hook's arguments with str(): no form shows a secret."""
    settings = resolve({"host": "haskelseed"}, secret_env(), [])
    shown = {
        "repr": repr(settings),
        "str": str(settings),
        "saferepr": saferepr(settings),
        "pformat": pprint.pformat(settings),
        "values": repr(settings.values),
        "secrets": repr(settings.secrets),
        "format": f"{settings}",
        "describe": describe(settings, [s.name for s in SETTINGS]),
    }
    for name in SECRET_SETTINGS:
        value = settings[name]
        shown[name] = f"{value} {value!r} {json.dumps(value, default=str)}"
    found = {k: leaks(v, canaries()) for k, v in shown.items()}
    assert {k: v for k, v in found.items() if v} == {}
    assert settings["registry_password"].reveal() == PASSWORD


def test_urls_are_shown_with_their_userinfo_masked() -> None:
    settings = resolve({}, secret_env(), [])
    line = describe(settings, ["base_url", "gitea_api_url"])
    assert line == (
        "base_url=http://probe:***@probe.example.invalid "
        "gitea_api_url=http://ci:***@git.example.invalid/api/v1"
    )


# ---- where secrets may come from (point 9) ---------------------------------------------------


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_secret_settings_are_refused_from_a_toml_file(name: str) -> None:
    with pytest.raises(SettingError) as info:
        resolve({}, {}, [("--irp-config file irp.toml", {name: "a-long-enough-secret-1"})])
    message = str(info.value)
    with pytest.raises(SettingError):  # also when the environment sets it too
        resolve(
            {},
            {f"IRP_{name.upper()}": "from-the-environment-1"},
            [("pyproject.toml [tool.irp]", {name: "a-long-enough-secret-1"})],
        )
    assert f"'{name}'" in message
    assert f"IRP_{name.upper()}" in message
    assert f"{name}_file" in message
    assert "a-long-enough-secret-1" not in message
    assert "\n" not in message


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_every_secret_can_come_from_a_private_file(name: str, tmp_path: Path) -> None:
    path = _private(tmp_path / name, "from-a-file-secret-value-1")
    settings = resolve({}, {f"IRP_{name.upper()}_FILE": path}, [])
    assert settings[name].reveal() == "from-a-file-secret-value-1"
    assert "from-a-file" not in repr(settings)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_secret_file_readable_by_group_or_others_is_refused(mode: int, tmp_path: Path) -> None:
    path = _private(tmp_path / "pw", "file-secret-value-1", mode)
    with pytest.raises(SettingError) as info:
        resolve({}, {"IRP_REGISTRY_PASSWORD_FILE": path}, [])
    message = str(info.value)
    assert f"{path}" in message
    assert f"{stat.S_IMODE(mode):04o}" in message
    assert "chmod 600" in message
    assert "file-secret-value-1" not in message


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_a_configured_secret_shorter_than_8_characters_is_refused(name: str) -> None:
    with pytest.raises(SettingError) as info:
        resolve({}, {f"IRP_{name.upper()}": "short12"}, [])
    assert "at least 8 characters" in str(info.value)
    assert "short12" not in str(info.value)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("base_url", "http://probe:pw1@probe.example.invalid"),
        ("gitea_api_url", "http://ci:abc@git.example.invalid/api/v1"),
    ],
)
def test_a_short_url_password_is_refused(key: str, value: str) -> None:
    with pytest.raises(SettingError, match="at least 8 characters"):
        resolve({}, {f"IRP_{key.upper()}": value}, [])


def test_a_password_in_git_remote_is_refused() -> None:
    """The build host runs `git fetch <git_remote>`: a password in it would be on a command
    line there (and on this machine's ssh argv)."""
    with pytest.raises(SettingError) as info:
        resolve({}, {"IRP_GIT_REMOTE": "https://bot:CANARY-gitpw-99@git.example.invalid/a.git"}, [])
    assert "command line" in str(info.value)
    assert "CANARY" not in str(info.value)
    ok = resolve({}, {"IRP_GIT_REMOTE": "ssh://git@git.example.invalid/a.git"}, [])
    assert ok["git_remote"] == "ssh://git@git.example.invalid/a.git"


def test_a_url_password_on_the_command_line_is_refused() -> None:
    with pytest.raises(SettingError) as info:
        resolve({"base_url": "http://probe:CANARY-clipw-12@probe.example.invalid"}, {}, [])
    assert "IRP_BASE_URL" in str(info.value)
    assert "CANARY" not in str(info.value)
    ok = resolve({}, {"IRP_BASE_URL": "http://probe:CANARY-envpw-12@probe.example.invalid"}, [])
    assert ok.sources["base_url"] == "environment variable IRP_BASE_URL"


# ---- values read from the cluster (point 4) --------------------------------------------------


def test_every_value_of_an_existing_env_secret_is_registered() -> None:
    from pytest_irp.kube import ensure_namespace_and_secret, generate_session_secret

    session = generate_session_secret()
    values = {
        "IHP_SESSION_SECRET": session,
        "DATABASE_URL": "postgresql://app:cluster-db-pw-31337@db.invalid/app",
        "SMTP_PASSWORD": "cluster-smtp-value-27",
        "IHP_BASEURL": "http://p.invalid",
    }
    secret = SimpleNamespace(
        data={k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
    )
    core = SimpleNamespace(
        read_namespace=lambda ns, **kw: None, read_namespaced_secret=lambda name, ns, **kw: secret
    )
    redactor = Redactor()
    ctx = SimpleNamespace(
        settings=resolve({}, {}, []), redactor=redactor, finding=lambda *a, **kw: None
    )
    assert ensure_namespace_and_secret(ctx, core, None) == "existing"  # type: ignore[arg-type]
    log = " | ".join(values.values())
    out = redactor.redact(log)
    for key in ("IHP_SESSION_SECRET", "DATABASE_URL", "SMTP_PASSWORD"):
        assert values[key] not in out, key
    assert "http://p.invalid" in out  # the public base URL stays readable


# ---- child processes (point 9) --------------------------------------------------------------


def _fake_ssh(tmp_path: Path) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    ssh = bindir / "ssh"
    ssh.write_text("#!/bin/sh\nenv\n")
    ssh.chmod(0o755)
    return bindir


def test_children_get_only_the_environment_they_need(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bindir = _fake_ssh(tmp_path)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setenv("IRP_REGISTRY_PASSWORD", "child-env-secret-1")
    monkeypatch.setenv("GH_PAT", "child-env-pat-1")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/tmp/agent.sock")
    monkeypatch.setenv("KUBECONFIG", "/tmp/kubeconfig")
    monkeypatch.setenv("LC_TIME", "C.UTF-8")
    runner = SshRunner("host", Redactor())
    ssh_env = runner.run(["true"], timeout=10).stdout
    runner.close()
    local_env = LocalRunner(Redactor()).run(["env"], timeout=10).stdout
    for name, text in (("ssh", ssh_env), ("local", local_env)):
        names = {line.split("=", 1)[0] for line in text.splitlines() if "=" in line}
        assert "IRP_REGISTRY_PASSWORD" not in names, name
        assert "GH_PAT" not in names, name
        assert {"PATH", "HOME", "LC_TIME"} <= names, name
    assert "SSH_AUTH_SOCK=/tmp/agent.sock" in ssh_env
    assert "KUBECONFIG=/tmp/kubeconfig" in local_env  # helm and kubectl need it


def test_testinfra_hosts_start_ssh_with_child_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The build_host/cluster_node fixtures' ssh client gets the allow-listed environment
    (testinfra's own run_local inherits this process's)."""
    from pytest_irp.fixtures import ssh_backend

    monkeypatch.setenv("IRP_REGISTRY_PASSWORD", "testinfra-env-secret-1")
    monkeypatch.setenv("LC_TIME", "C.UTF-8")
    backend = ssh_backend("haskelseed", timeout=5)
    out = backend.run_local("env").stdout
    names = {line.split("=", 1)[0] for line in out.splitlines() if "=" in line}
    assert "IRP_REGISTRY_PASSWORD" not in names
    assert {"PATH", "LC_TIME"} <= names
    assert "testinfra-env-secret-1" not in out


def test_every_child_process_is_started_with_child_env() -> None:
    """Every subprocess call of the plugin (the lab's own machinery aside) passes
    env=child_env(...) or an env argument built by it."""
    missing = []
    for path in sorted((REPO / "pytest_irp").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "subprocess"
                and node.func.attr in ("run", "Popen", "check_output", "call")
            ):
                env = next((k.value for k in node.keywords if k.arg == "env"), None)
                ok = isinstance(env, ast.Name) or (
                    isinstance(env, ast.Call) and getattr(env.func, "id", "") == "child_env"
                )
                if not ok:
                    missing.append(f"{path.name}:{node.lineno}")
    assert missing == []
    source = (REPO / "pytest_irp" / "runners.py").read_text(encoding="utf-8")
    assert "env=dict(os.environ)" not in source
    assert "dict(os.environ" not in source


# ---- a canary run (points 2, 4, 9 together) -------------------------------------------------

CANARY_CHECK = """
import json, os, pytest
pytestmark = pytest.mark.irp_criterion("T03")


def test_T03_settings_in_a_failing_check(irp_settings, app_repo):
    password = os.environ["IRP_REGISTRY_PASSWORD"]
    blob = os.environ["IRP_SESSION_SECRET"] * 3
    print("printed:", password, repr(password), json.dumps(password), blob)
    assert irp_settings["generated_types"] == password, "generated types elsewhere"
"""


def test_canary_run_leaves_no_secret_in_any_file_or_output(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**secret_env(), **ENV_CANARIES}.items():
        monkeypatch.setenv(name, value)
    (project.path / "tests" / "test_t03_canary.py").write_text(CANARY_CHECK)
    before = {p: p.stat().st_mtime_ns for p in project.path.rglob("*") if p.is_file()}
    junit = project.path / "junit.xml"
    # T06 too: the fake build host prints the password in the prebuild output and the
    # build log, which are saved beside the report and kept in pytest's cache
    result = project.run(
        "-k",
        "T03 or T06",
        "-l",
        "-vv",
        "--setup-show",
        "--debug",
        f"--junitxml={junit}",
        secret=PASSWORD,
    )
    assert result.ret == 1
    outputs = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    for path in project.path.rglob("*"):
        if (
            path.is_file()
            and before.get(path) != path.stat().st_mtime_ns
            and path.name != "scenario.json"
        ):  # the fake's script, an input
            outputs[str(path.relative_to(project.path))] = path.read_bytes().decode(
                "utf-8", errors="replace"
            )
    assert "pytestdebug.log" in outputs
    assert "junit.xml" in outputs
    assert any(p.startswith("reports/") and p.endswith(".html") for p in outputs)
    assert "reports/summary.json" in outputs
    assert "irp_settings = " in outputs["stdout"]  # -l really showed the arguments
    assert any(p.endswith(".log") and p.startswith("reports/") for p in outputs)
    assert any(p.startswith(".pytest_cache/") for p in outputs)
    assert "***" in outputs["stdout"]
    found = {name: leaks(text, canaries()) for name, text in outputs.items()}
    assert {name: forms for name, forms in found.items() if forms} == {}
    mode = stat.S_IMODE((project.path / "pytestdebug.log").stat().st_mode)
    assert mode & 0o077 == 0, f"pytestdebug.log is {mode:04o}"

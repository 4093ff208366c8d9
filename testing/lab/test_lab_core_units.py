"""Pure parts of the lab core: plans, renderers, variants. No root, no network."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from pytest_irp.settings import load_file, resolve
from pytest_irp_lab import app, net, sshd
from pytest_irp_lab.layout import LabLayout
from pytest_irp_lab.nixconf import render_nix_conf
from pytest_irp_lab.orchestrator import lab_settings, session_env
from pytest_irp_lab.proc import Proc, parse_starttime, write_atomic
from pytest_irp_lab.tomlout import render_table

EMPTY = net.NetState(frozenset(), frozenset())
FULL = net.NetState(
    frozenset({"lo", net.BRIDGE, *(h.veth for h in net.HOSTS)}),
    frozenset(h.netns for h in net.HOSTS),
    {h.netns: frozenset({"lo", "irp0"}) for h in net.HOSTS},
)


def test_names_fit_the_kernel_and_the_lab_prefix():
    for host in net.HOSTS:
        assert host.veth.startswith("irp")
        assert len(host.veth) <= 15
        assert host.netns.startswith("irp-")
    assert len({h.address for h in net.HOSTS}) == len(net.HOSTS)
    with pytest.raises(ValueError, match="outside the lab"):
        net.LabHost("x", "irp-x", "192.168.1.2", "irpv-x")
    with pytest.raises(ValueError, match="bad interface"):
        net.LabHost("x", "irp-x", "10.77.0.9", "irpv-much-too-long")


def test_plan_up_from_nothing_creates_everything_once():
    steps = net.plan_up(EMPTY)
    created = [s.creates for s in steps if s.creates]
    assert created[0] == ("bridge", "irpbr0")
    assert ("netns", "irp-haskelseed") in created
    assert ("link", "irpv-rail01") in created
    assert len(created) == 1 + 2 * len(net.HOSTS)
    argvs = [s.argv for s in steps]
    assert ("ip", "addr", "replace", "10.77.0.1/24", "dev", "irpbr0") in argvs
    assert (
        "ip",
        "link",
        "add",
        "irpv-haskelseed",
        "type",
        "veth",
        "peer",
        "name",
        "irp0",
        "address",
        "02:69:72:70:00:02",
        "netns",
        "irp-haskelseed",
    ) in argvs
    assert ("ip", "-n", "irp-gitea", "route", "replace", "default", "via", "10.77.0.1") in argvs
    assert ("ip", "-n", "irp-railiance01", "link", "set", "lo", "up") in argvs


def test_plan_up_on_existing_network_creates_nothing():
    steps = net.plan_up(FULL)
    assert [s for s in steps if s.creates] == []
    # only idempotent commands remain
    assert all(s.argv[1:3] != ("link", "add") and "add" not in s.argv[:4] for s in steps)


def test_plan_up_remakes_a_veth_whose_peer_lost_its_namespace():
    # irp-gitea was deleted and made anew (or is missing): its veth is left in the root ns
    state = net.NetState(
        FULL.links,
        FULL.netns - {"irp-gitea"},
        {n: v for n, v in FULL.ns_links.items() if n != "irp-gitea"},
    )
    steps = net.plan_up(state)
    argvs = [s.argv for s in steps]
    i_del = argvs.index(("ip", "link", "del", "irpv-gitea"))
    i_add = next(i for i, a in enumerate(argvs) if a[:4] == ("ip", "link", "add", "irpv-gitea"))
    assert i_del < i_add
    assert [s.creates for s in steps if s.creates] == [
        ("netns", "irp-gitea"),
        ("link", "irpv-gitea"),
    ]


def test_plan_up_with_foreign_bridge_does_not_claim_it():
    state = net.NetState(frozenset({"irpbr0"}), frozenset())
    assert ("bridge", "irpbr0") not in [s.creates for s in net.plan_up(state)]


def test_plan_down_removes_only_what_was_created_and_still_exists():
    created = [
        ("bridge", "irpbr0"),
        ("netns", "irp-gitea"),
        ("link", "irpv-gitea"),
        ("netns", "irp-gone"),
    ]
    argvs = [s.argv for s in net.plan_down(created, FULL)]
    assert argvs == [
        ("ip", "link", "del", "irpv-gitea"),
        ("ip", "netns", "del", "irp-gitea"),
        ("ip", "link", "del", "irpbr0"),
    ]
    assert net.plan_down([("netns", "irp-haskelseed")], EMPTY) == []


def test_parsers():
    assert net.parse_links('[{"ifindex":1,"ifname":"lo"},{"ifname":"irpbr0"}]') == {"lo", "irpbr0"}
    assert net.parse_links("") == frozenset()
    assert net.parse_netns("irp-gitea (id: 1)\nirp-haskelseed\n\n") == {
        "irp-gitea",
        "irp-haskelseed",
    }


def test_parse_starttime_copes_with_odd_command_names():
    stat = "123 (we ird) proc)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4242 19 20"
    assert parse_starttime(stat) == 4242
    assert Proc.from_json({"pid": 5, "starttime": 7}) == Proc(5, 7)
    assert Proc.from_json({"pid": "x"}) is None


def test_sshd_config_is_key_only_with_lab_env(tmp_path):
    host = sshd.SshHost("haskelseed", "irp-haskelseed", "10.77.0.2")
    text = sshd.render_sshd_config(
        host,
        host_key=tmp_path / "hk",
        authorized_keys=tmp_path / "ak",
        env={"NIX_CONF_DIR": "/lab/nix"},
    )
    lines = set(text.splitlines())
    for line in (
        "ListenAddress 10.77.0.2",
        "PasswordAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "SetEnv NIX_CONF_DIR=/lab/nix",
        "PidFile none",
    ):
        assert line in lines
    argv = sshd.sshd_argv(host, Path("/c"), Path("/l"))
    assert argv[:4] == ["ip", "netns", "exec", "irp-haskelseed"]
    # its own PID, mount and UTS namespaces; sshd in the foreground under the lab's init
    assert argv[4:13] == [
        "unshare",
        "--uts",
        "--pid",
        "--mount",
        "--fork",
        "--mount-proc",
        "--propagation",
        "private",
        "--kill-child",
    ]
    assert argv[-7:] == ["--", sshd.SSHD, "-D", "-f", "/c", "-E", "/l"]


def test_client_config_and_known_hosts(tmp_path):
    hosts = [
        sshd.SshHost("haskelseed", "irp-haskelseed", "10.77.0.2"),
        sshd.SshHost("railiance01", "irp-railiance01", "10.77.0.4", port=2222),
    ]
    cfg = sshd.render_client_config(
        hosts, identity_file=tmp_path / "id", known_hosts=tmp_path / "kh"
    )
    assert "Host haskelseed\n    HostName 10.77.0.2\n" in cfg
    assert "Host railiance01\n    HostName 10.77.0.4\n    Port 2222\n    User root\n" in cfg
    for line in (
        "User root",
        "StrictHostKeyChecking yes",
        "BatchMode yes",
        "ConnectTimeout 5",
        f"UserKnownHostsFile {tmp_path / 'kh'}",
        f"IdentityFile {tmp_path / 'id'}",
    ):
        assert f"    {line}\n" in cfg
    kh = sshd.render_known_hosts(
        [(hosts[0], "ssh-ed25519 AAAAkey comment"), (hosts[1], "ssh-ed25519 BBBB")]
    )
    assert kh.splitlines() == [
        "haskelseed,10.77.0.2 ssh-ed25519 AAAAkey",
        "[railiance01]:2222,[10.77.0.4]:2222 ssh-ed25519 BBBB",
    ]


def test_nix_conf_is_offline(tmp_path):
    text = render_nix_conf(tmp_path / "registry.json")
    lines = text.splitlines()
    for line in (
        "experimental-features = nix-command flakes",
        "substituters =",
        "build-users-group =",
        "sandbox = false",
        "connect-timeout = 1",
        f"flake-registry = {tmp_path / 'registry.json'}",
    ):
        assert line in lines


def test_lab_toml_is_accepted_by_the_settings_resolver(tmp_path):
    layout = LabLayout(tmp_path)
    values = lab_settings(
        layout,
        registry_user="tegwick",
        registry_password_file=tmp_path / "pw",
        kubeconfig=tmp_path / "kc",
        registries_yaml=tmp_path / "r.yaml",
        certs_dir=tmp_path / "certs.d",
        crictl=["crictl", "--config", "/x y/crictl.yaml"],
    )
    path = tmp_path / "irp-lab.toml"
    write_atomic(path, render_table("tool.irp", values, "header\nsecond line"))
    (tmp_path / "pw").write_text("s3cret-pw\n")
    (tmp_path / "pw").chmod(0o600)  # a secret file others can read is refused
    table = tomllib.loads(path.read_text())["tool"]["irp"]
    assert table["registry"] == "10.77.0.3:3000/coulomb/ihp-railiance-probe"
    assert table["base_url"] == "http://10.77.0.1:30080"
    assert table["dev_url"] == "http://10.77.0.1:8000"  # the lab's `devenv up` (T02)
    assert table["crictl"] == ["crictl", "--config", "/x y/crictl.yaml"]
    assert table["registry_plain_http"] is True
    resolved = resolve({}, {}, [("lab", load_file(path))])
    assert resolved["host"] == "haskelseed"
    assert resolved["registry_password"].reveal() == "s3cret-pw"
    assert resolved["crictl"] == ("crictl", "--config", "/x y/crictl.yaml")
    assert resolved["libhsghc_size"] == 289295782
    # the sample app is an IHP app: IHP's image output, impure flake commands
    assert resolved["build_attr"] == ".#optimized-docker-image"
    assert resolved["flake_options"] == ("--impure",)
    assert resolved["test_command"] == ("nix", "flake", "check", "--impure", "-L")
    assert session_env(layout)["NIX_CONF_DIR"] == str(tmp_path / "nix")
    # bash run by sshd skips ~/.bashrc only from shell level 2 on (this machine's runs pyenv)
    assert session_env(layout)["SHLVL"] == "1"


# ------------------------------------------------------------------------ variants (files)


@pytest.fixture(scope="module")
def variants(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("variants")
    return {v: app.prepare_app_repo(root / v, v) for v in app.VARIANTS}


def _text(repo: Path, rel: str) -> str:
    return (repo / rel).read_text()


def test_every_variant_is_a_committed_clean_repo_with_a_stable_sha(variants, tmp_path):
    shas = {}
    for name, repo in variants.items():
        status = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert status == "", name
        shas[name] = app.head(repo)
        assert app.prepared_variant(repo) == name
    assert len(set(shas.values())) == len(shas)
    again = app.prepare_app_repo(tmp_path / "again", "ok")
    assert app.head(again) == shas["ok"]
    # re-preparing in place replaces the repo
    assert app.head(app.prepare_app_repo(again, "healthz-wrong")) == shas["healthz-wrong"]


def test_generated_code_is_tracked(variants):
    files = subprocess.run(
        ["git", "-C", str(variants["ok"]), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    for rel in (
        "build/Generated/Types.hs",
        "build/Generated/ActualTypes.hs",
        "flake.nix",
        "chart/Chart.yaml",
        ".gitea/workflows/build-and-deploy.yml",
        "PIPELINE_LOG.md",
        "Test/Controller/ProbesSpec.hs",
        "Application/Schema.sql",
        "flake.lock",
        "nix/lab-inputs/ihp/flake-module.nix",
    ):
        assert rel in files


def test_prepare_refuses_to_replace_a_foreign_directory(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(app.LabError, match="not made by the lab"):
        app.prepare_app_repo(tmp_path, "ok")
    assert (tmp_path / "mine.txt").exists()
    with pytest.raises(app.LabError, match="unknown variant"):
        app.prepare_app_repo(tmp_path / "x", "nope")


def test_variants_change_what_they_say(variants):
    ok = variants["ok"]
    assert 'renderPlain "ok"' in _text(ok, "Web/Controller/Health.hs")
    assert "import Web.Controller.Missing" in _text(
        variants["build-fails"], "Web/FrontController.hs"
    )
    assert "exit 1" in _text(variants["crash-at-start"], app.RUN_PROD_SERVER)
    assert 'renderPlain "degraded"' in _text(variants["healthz-wrong"], "Web/Controller/Health.hs")
    flake = _text(variants["overlay-missing"], "flake.nix")
    assert "configureFlags" in _text(ok, "flake.nix")
    assert "configureFlags" not in flake
    assert "postUnpack" not in flake
    assert "name INT NOT NULL" in _text(variants["wrong-column-type"], "Application/Schema.sql")
    assert "name :: Int" in _text(variants["wrong-column-type"], "build/Generated/Types.hs")
    assert "GET /healthz HealthAction" in _text(ok, "Web/Routes.hs")
    assert "/healthz" not in _text(variants["route-missing"], "Web/Routes.hs")
    assert "[routes|ProbesController\nGET /probes ProbesAction\n|]" in _text(
        variants["route-missing"], "Web/Routes.hs"
    )
    assert "HealthController" not in _text(variants["route-missing"], "Web/FrontController.hs")
    assert "\nsleep 8  # slow-build variant\n" in _text(variants["slow-build"], app.IMAGE_BUILDER)
    assert "responseStatusShouldBe` status201" in _text(variants["failing-spec"], app.SPEC)
    literal = variants["workplan-literal"]
    assert 'pathPrefix "/healthz"' in _text(literal, "Web/Routes.hs")
    assert "import IHP.HSpec" in _text(literal, "Test/ProbeControllerSpec.hs")
    assert not (literal / app.SPEC).exists()
    assert "path: /health\n" in _text(
        variants["wrong-liveness-path"], "chart/templates/deployment.yaml"
    )


def test_each_variant_differs_from_ok_in_few_files(variants):
    ok = variants["ok"]
    for name, repo in variants.items():
        diff = subprocess.run(
            ["git", "diff", "--no-index", "--name-only", str(ok), str(repo)],
            capture_output=True,
            text=True,
        ).stdout.split()
        changed = {
            Path(p).relative_to(repo).as_posix()
            for p in diff
            if ".git/" not in p and p.startswith(str(repo))
        }
        if name == "ok":
            assert changed == set()
        else:  # a changed stand-in input also changes flake.lock (its narHash)
            assert 1 <= len(changed) <= (4 if name == "workplan-literal" else 3), (name, changed)


def test_variant_locks_match_their_stand_in_inputs(variants):
    from pytest_irp_lab.narhash import relative_inputs, relock

    first = next(d for _, d in relative_inputs(variants["ok"]))
    assert first.relative_to(variants["ok"]).as_posix() == "nix/lab-inputs/ihp"
    assert not relock(app.template_dir())  # the committed lock is nix's own
    for name, repo in variants.items():
        assert not relock(repo), name
    ok_lock = _text(variants["ok"], "flake.lock")
    assert _text(variants["slow-build"], "flake.lock") != ok_lock
    assert _text(variants["healthz-wrong"], "flake.lock") == ok_lock


def _helm() -> str | None:
    """IRP_HELM, helm on PATH, or the helm 3 the lab keeps in its cache."""
    import os
    import shutil

    from pytest_irp_lab import helmbin

    cached = helmbin.binary_path(3)
    return (
        os.environ.get("IRP_HELM")
        or shutil.which("helm")
        or (str(cached) if cached.exists() else None)
    )


@pytest.mark.parametrize("variant", ["ok", "wrong-liveness-path"])
def test_chart_lints_and_renders(variants, tmp_path, variant):
    helm = _helm()
    if helm is None:
        pytest.skip("no helm binary (set IRP_HELM or put helm on PATH)")
    env = {
        "PATH": "/usr/bin:/bin",
        "HELM_CACHE_HOME": str(tmp_path / "c"),
        "HELM_CONFIG_HOME": str(tmp_path / "cf"),
        "HELM_DATA_HOME": str(tmp_path / "d"),
    }
    chart = str(variants[variant] / "chart")
    lint = subprocess.run(
        [helm, "lint", "--strict", chart], capture_output=True, text=True, env=env
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    out = subprocess.run(
        [helm, "template", "ihp-railiance-probe", chart, "-n", "coulomb"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    import yaml

    docs = {d["kind"]: d for d in yaml.safe_load_all(out) if d}
    assert set(docs) == {"Deployment", "Service", "Ingress"}
    pod = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert docs["Deployment"]["spec"]["replicas"] == 1
    assert pod["imagePullPolicy"] == "Always"
    assert pod["ports"][0]["containerPort"] == 8000
    assert pod["envFrom"] == [{"secretRef": {"name": "ihp-railiance-probe-env"}}]
    assert pod["resources"]["limits"] == {"memory": "256Mi", "cpu": "200m"}
    probe = pod["livenessProbe"]
    assert probe["initialDelaySeconds"] == 30
    assert probe["httpGet"]["path"] == (
        "/health" if variant == "wrong-liveness-path" else "/healthz"
    )
    svc = docs["Service"]["spec"]
    assert svc["ports"][0]["port"] == 80
    assert svc["ports"][0]["targetPort"] == 8000
    assert svc["ports"][0]["nodePort"] == 30080


def test_owner_is_active_only_while_its_sshd_runs(tmp_path):
    import json
    import os

    from pytest_irp_lab.orchestrator import owner_active
    from pytest_irp_lab.proc import proc_of

    me = proc_of(os.getpid())
    assert me is not None
    state = {"version": 1, "up": True, "sshd": {"haskelseed": me.as_json()}}
    (tmp_path / "state.json").write_text(json.dumps(state))
    assert owner_active({"lab_dir": str(tmp_path)})
    state["sshd"]["haskelseed"]["starttime"] += 1  # same pid, another process
    (tmp_path / "state.json").write_text(json.dumps(state))
    assert not owner_active({"lab_dir": str(tmp_path)})
    state.update(up=False, sshd={"haskelseed": me.as_json()})
    (tmp_path / "state.json").write_text(json.dumps(state))
    assert not owner_active({"lab_dir": str(tmp_path)})
    assert not owner_active({})

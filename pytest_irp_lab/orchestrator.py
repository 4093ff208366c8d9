"""The embedded lab as one object: :class:`Lab` brings everything up, reports, tears down.

``up()`` brings, in order: the network (bridge + netns per host), the offline nix config,
a private sshd for ``haskelseed`` and ``railiance01``, the sample app repo (local copy and
the build host's checkout), a stand-in GHC archive, the registry (``registry.py``), and with
``with_cluster`` the Kubernetes node (``cluster.py``). It finally writes ``irp-lab.toml``
(``[tool.irp]``) pointing the suite at the lab.

What ``up()`` creates is recorded in ``state.json`` (written atomically after each step),
so ``down()`` removes exactly that, even after a crash half-way. Both are idempotent.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from pytest_irp_lab import app as app_mod
from pytest_irp_lab import hostns, net, scenarios
from pytest_irp_lab.cluster import LabCluster
from pytest_irp_lab.devserver import DEV_URL, DevServer
from pytest_irp_lab.ingress import LabIngress, bring_up
from pytest_irp_lab.layout import APP_NAME, LabLayout, lab_dir_from_env
from pytest_irp_lab.narhash import seed_argvs
from pytest_irp_lab.nixconf import write_nix_conf
from pytest_irp_lab.proc import (
    LabError,
    Proc,
    alive,
    cmdline,
    leftover_processes,
    locked,
    proc_of,
    read_json,
    run,
    terminate,
    write_atomic,
    write_json_atomic,
)
from pytest_irp_lab.registry import LabRegistry
from pytest_irp_lab.sshd import (
    Sshd,
    SshHost,
    ensure_key,
    render_client_config,
    render_known_hosts,
)
from pytest_irp_lab.tomlout import Value, render_table

STATE_VERSION: Final = 1
SSH_HOSTS: Final = ("haskelseed", "railiance01")
NODE_HOST: Final = "railiance01"
REGISTRY_PORT: Final = 3000
REGISTRY_OWNER_NAME: Final = f"coulomb/{APP_NAME}"
NODE_PORT: Final = 30080
LIBHSGHC_SIZE: Final = 289_295_782  # the full archive of the workplan's pre-build check
# Machine-wide: which lab directory holds the lab network (names and addresses are global,
# so only one lab can be up at a time on a machine).
OWNER_DIR: Final = Path("/run/irp-lab")
REQUIRED_PROGRAMS: Final = (
    "ip",
    "ssh",
    "ssh-keygen",
    "/usr/sbin/sshd",
    "git",
    "nix",
    "tar",
    "/bin/busybox",
)


def missing_programs(programs: Sequence[str] = REQUIRED_PROGRAMS) -> list[str]:
    return [p for p in programs if shutil.which(p) is None]


def ssh_hosts() -> list[SshHost]:
    """The build host logs in as root (the workplan's ``ssh root@haskelseed``); the node as
    a user who needs sudo (the workplan's ``sudo cat``, ``sudo k3s crictl``)."""
    return [
        SshHost(
            h.name, h.netns, h.address, user=hostns.NODE_USER if h.name == NODE_HOST else "root"
        )
        for h in net.HOSTS
        if h.name in SSH_HOSTS
    ]


def session_env(layout: LabLayout) -> dict[str, str]:
    """Environment of every ssh session on the lab hosts (sshd ``SetEnv``).

    ``SHLVL=1``: Debian's bash sources ``~/.bashrc`` for a command run by sshd when its
    shell level is below 2. The lab hosts share this machine's home directory, whose
    ``.bashrc`` (a developer's, with e.g. ``pyenv init``) would then run before every
    remote command (0.14 s each here) and leak its PATH into the build host.
    """
    return {
        "NIX_CONF_DIR": str(layout.nix_conf_dir),
        "XDG_CACHE_HOME": str(layout.nix_cache_dir),
        "SHLVL": "1",
    }


def lab_settings(
    layout: LabLayout,
    *,
    registry_user: str | None,
    registry_password_file: Path | None,
    kubeconfig: Path,
    gitea_token_file: Path | None = None,
    registries_yaml: Path,
    certs_dir: Path,
    crictl: Sequence[str],
) -> dict[str, Value]:
    """The ``[tool.irp]`` table that points the suite at the lab (pure)."""
    registry_host = net.HOSTS_BY_NAME["gitea"].address
    values: dict[str, Value] = {
        "host": "haskelseed",
        "ssh_config": str(layout.ssh_config),
        "node_host": "railiance01",
        "app_repo": str(layout.app_repo),
        "remote_dir": str(layout.remote_dir),
        "app_name": APP_NAME,
        "registry": f"{registry_host}:{REGISTRY_PORT}/{REGISTRY_OWNER_NAME}",
    }
    if registry_user is not None:
        values["registry_user"] = registry_user
    if registry_password_file is not None:
        values["registry_password_file"] = str(registry_password_file)
    values.update(
        {
            "registry_plain_http": True,
            # the workplan's own workaround for its dead token realm (the lab's default mode)
            "registry_token_workaround": True,
            "kubeconfig": str(kubeconfig),
            "kube_context": "railiance01",
            "namespace": "coulomb",
            "release": APP_NAME,
            "chart": "chart",
            "secret_name": f"{APP_NAME}-env",
            "base_url": f"http://{net.BRIDGE_ADDRESS}:{NODE_PORT}",
            "dev_url": DEV_URL,  # the lab's `devenv up` (pytest_irp_lab/devserver.py)
            # no startup_line: the chart runs IHP in Production (IHP_ENV, as IHP's deployment
            # guide says), which prints no start line; T10 proves the start by the first answer
            # what an IHP app needs (the sample is one, flake.nix with IHP's flake module)
            "build_attr": ".#optimized-docker-image",
            "flake_options": ["--impure"],
            "test_command": ["nix", "flake", "check", "--impure", "-L"],
            "libhsghc_path": str(layout.libhsghc),
            "libhsghc_size": LIBHSGHC_SIZE,
            "registries_yaml": str(registries_yaml),
            "certs_dir": str(certs_dir),
            "crictl": list(crictl),
            # the node's user is not root (pytest_irp_lab/hostns.py), as the workplan's is not
            "node_sudo": ["sudo", "-n"],
            "gitea_api_url": f"http://{registry_host}:{REGISTRY_PORT}/api/v1",
            "gitea_repo": REGISTRY_OWNER_NAME,
        }
    )
    if gitea_token_file is not None:
        values["gitea_token_file"] = str(gitea_token_file)
    return values


def cluster_running(cluster: Any) -> bool:
    """Does any component of ``cluster`` run (by its pid files)?"""
    try:
        return any(pid is not None for pid in cluster.status()["components"].values())
    except Exception:  # an unfinished cluster module must not block the teardown
        return False


def owner_active(owner: Mapping[str, Any]) -> bool:
    """Is the lab named by an owner record still up (its state says so and its sshd run)?"""
    root = owner.get("lab_dir")
    if not isinstance(root, str):
        return False
    state = read_json(LabLayout(Path(root)).state_file)
    if not state.get("up"):
        return False
    # a lab whose processes were all ended (machine handed over, CI) holds nothing any more
    procs = [Proc.from_json(p) for p in state.get("sshd", {}).values()]
    return any(p is not None and alive(p) for p in procs)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Lab:
    """The embedded lab under ``lab_dir`` (default ``${IRP_LAB_DIR:-/var/tmp/irp-lab}``).

    ``with_cluster`` adds the Kubernetes node; ``realm_mode`` is passed to the registry
    (None: the registry's default); ``node_sudo`` is the node user's sudo rule
    (:data:`hostns.SUDO_MODES`, default NOPASSWD). ``with_registry=False`` leaves the
    registry out.
    """

    def __init__(
        self,
        lab_dir: Path | str | None = None,
        *,
        with_cluster: bool = False,
        with_registry: bool = True,
        realm_mode: str | None = None,
        cache_dir: Path | str | None = None,
        node_sudo: str = hostns.DEFAULT_SUDO_MODE,
    ) -> None:
        self.layout = LabLayout(Path(lab_dir).absolute() if lab_dir else lab_dir_from_env())
        self.with_cluster = with_cluster
        self.with_registry = with_registry
        self.realm_mode = realm_mode
        self.node_sudo = node_sudo
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.notes: list[str] = []

    # ------------------------------------------------------------------ state

    @property
    def owner_file(self) -> Path:
        return OWNER_DIR / "owner.json"

    def _claim_network(self) -> None:
        """Record this lab as the holder of the lab network; refuse while another is up."""
        owner = read_json(self.owner_file)
        mine = str(self.layout.root)
        if owner and owner.get("lab_dir") != mine and owner_active(owner):
            raise LabError(
                f"the lab network is held by the lab in {owner.get('lab_dir')} "
                f"(since {owner.get('since')}): bring that one down first "
                f"(IRP_LAB_DIR={owner.get('lab_dir')} python -m pytest_irp_lab down)"
            )
        if owner.get("lab_dir") != mine:
            write_json_atomic(
                self.owner_file, {"lab_dir": mine, "since": _now(), "pid": os.getpid()}
            )

    def _release_network(self) -> None:
        if read_json(self.owner_file).get("lab_dir") == str(self.layout.root):
            self.owner_file.unlink(missing_ok=True)

    def holder(self) -> str | None:
        """The lab directory that holds the lab network now, if any lab is up."""
        owner = read_json(self.owner_file)
        return str(owner["lab_dir"]) if owner and owner_active(owner) else None

    @property
    def toml_path(self) -> Path:
        return self.layout.toml_file

    def _load(self) -> dict[str, Any]:
        state = read_json(self.layout.state_file)
        if state.get("version") != STATE_VERSION:
            state = {"version": STATE_VERSION}
        return state

    def _save(self, state: dict[str, Any]) -> None:
        state["updated"] = _now()
        write_json_atomic(self.layout.state_file, state)

    # ------------------------------------------------------------------ components

    @property
    def node_etc_dir(self) -> Path:
        """The node's own /etc files (bound over this machine's inside the node)."""
        return self.layout.host_dir(NODE_HOST) / "etc"

    @property
    def node_login(self) -> hostns.Login:
        """The node's user (not root), whose home is the lab's ``railiance01/home/irp``."""
        return hostns.Login(hostns.NODE_UID, self.layout.host_dir(NODE_HOST) / "home")

    def _sshds(self, client_public: str = "") -> dict[str, Sshd]:
        env = session_env(self.layout)
        sshds = {}
        for h in ssh_hosts():
            node = h.alias == NODE_HOST
            sshds[h.alias] = Sshd(
                h,
                self.layout.sshd_dir(h.alias),
                authorized_key=client_public,
                env=env,
                binds=hostns.node_binds(self.node_etc_dir, self.node_login) if node else (),
                login=self.node_login if node else None,
            )
        return sshds

    def stop_host(self, alias: str) -> Proc | None:
        """Take one host down (its sshd and every process on it), as a host that went
        down would be; ``up()`` brings it back. Returns the process that held it."""
        sshd = self._sshds()[alias]
        holder = sshd.running()
        sshd.stop()
        return holder

    def set_node_sudo(self, mode: str) -> None:
        """The node user's sudo rule from now on (:data:`hostns.SUDO_MODES`)."""
        hostns.set_sudo_mode(self.node_etc_dir, mode)

    def registry(self, realm_mode: str | None = None) -> LabRegistry:
        """The LabRegistry of this lab (nothing is started); ``realm_mode`` overrides the
        lab's."""
        gitea = net.HOSTS_BY_NAME["gitea"]
        kwargs: dict[str, Any] = {
            "netns": gitea.netns,
            "address": gitea.address,
            "port": REGISTRY_PORT,
            "build_host": net.HOSTS_BY_NAME["haskelseed"].address,
        }
        mode = realm_mode or self.realm_mode
        if mode is not None:
            kwargs["realm_mode"] = mode
        if self.cache_dir is not None:
            kwargs["cache_dir"] = self.cache_dir
        return LabRegistry(self.layout.registry_state_dir, **kwargs)

    def dev_server(self) -> DevServer:
        """The developer's ``devenv up`` stand-in (nothing is started)."""
        return DevServer(self.layout.root / "devserver", self.layout.app_repo)

    def cluster(self) -> LabCluster:
        """The LabCluster of this lab (nothing is started)."""
        gitea = net.HOSTS_BY_NAME["gitea"]
        kwargs: dict[str, Any] = {
            "state_dir": self.layout.cluster_dir,
            "registry": f"{gitea.address}:{REGISTRY_PORT}",
        }
        if self.cache_dir is not None:
            kwargs["cache_dir"] = self.cache_dir
        return LabCluster(**kwargs)

    # ------------------------------------------------------------------ up

    def up(self, variant: str = "ok", scenario: str | None = None) -> Path:
        """Bring the lab up (or complete it); returns the path of ``irp-lab.toml``.
        ``scenario`` (:data:`scenarios.SCENARIOS`) sets the lab up with that scenario's
        problems; without it, ``up`` restores the normal lab."""
        scenarios.check(scenario)
        if variant not in app_mod.VARIANTS:
            raise LabError(f"unknown variant {variant!r}; known: {', '.join(app_mod.VARIANTS)}")
        if os.geteuid() != 0:
            raise LabError("the lab needs root (network namespaces, sshd, /nix)")
        missing = missing_programs()
        if missing:
            raise LabError(
                f"missing programs: {', '.join(missing)} (run scripts/install-system-packages.sh)"
            )
        started = time.monotonic()
        self.layout.root.mkdir(parents=True, exist_ok=True)
        with locked(OWNER_DIR / "lock"), locked(self.layout.lock_file):
            self._claim_network()
            state = self._load()
            state["lab_dir"] = str(self.layout.root)
            timings: dict[str, float] = {}

            def step(name: str, since: float) -> float:
                now = time.monotonic()
                timings[name] = round(now - since, 3)
                self._save(state)
                return now

            t = time.monotonic()
            created = [tuple(c) for c in state.get("net", {}).get("created", [])]
            for item in net.up():
                if item not in created:
                    created.append(item)
            state["net"] = {"created": [list(c) for c in created]}
            t = step("network", t)

            write_nix_conf(self.layout.nix_conf_dir)
            self.layout.nix_cache_dir.mkdir(parents=True, exist_ok=True)
            t = step("nix", t)

            self._up_ssh(state, scenarios.node_sudo(scenario, self.node_sudo))
            t = step("sshd", t)

            self._up_app(state, variant)
            self._up_libhsghc()
            t = step("app", t)

            self.dev_server().start()  # the developer's `devenv up` (T02)
            t = step("dev server", t)

            mode = scenarios.realm_mode(scenario, self.realm_mode)
            registry = self.registry(mode) if self.with_registry else None
            if registry is not None:
                registry.start()
                state["registry"] = {"started": True, "realm_mode": str(registry.realm_mode)}
                self._save(state)
                registry.publish_repo(self.layout.app_repo)  # the sample app, over HTTP git
                t = step("registry", t)

            cluster = self.cluster() if self.with_cluster else None
            if cluster is not None:
                cluster.start()
                scenarios.write_node_mirror(  # the node's mirror (a scenario's: none)
                    scenario,
                    f"{net.HOSTS_BY_NAME['gitea'].address}:{REGISTRY_PORT}",
                    Path(cluster.registries_yaml),
                    Path(cluster.certs_d),
                )
                state["cluster"] = {"started": True}
                t = step("cluster", t)
                state["ingress"] = {"started": bring_up(cluster.spec, self.notes)}  # Traefik
                t = step("ingress", t)

            state["scenario"] = scenario
            self._save(state)
            self._write_toml(registry)
            state["up"] = True
            state["notes"] = list(self.notes)
            timings["total"] = round(time.monotonic() - started, 3)
            state["timings"] = timings
            self._save(state)
        return self.toml_path

    def _up_ssh(self, state: dict[str, Any], sudo_mode: str) -> None:
        lay = self.layout
        lay.ssh_dir.mkdir(parents=True, exist_ok=True)
        client_public = ensure_key(lay.client_key, "irp-lab-client")
        hostns.write_node_etc(
            self.node_etc_dir,
            self.node_login,
            [(h.address, h.name) for h in net.HOSTS],
            sudo_mode,
        )
        sshds = self._sshds(client_public)
        entries = [(d.host, d.prepare()) for d in sshds.values()]
        write_atomic(lay.known_hosts, render_known_hosts(entries))
        write_atomic(
            lay.ssh_config,
            render_client_config(
                [d.host for d in sshds.values()],
                identity_file=lay.client_key,
                known_hosts=lay.known_hosts,
            ),
        )
        procs = state.setdefault("sshd", {})
        for alias, sshd in sshds.items():
            procs[alias] = sshd.start().as_json()
            self._save(state)

    def _up_app(self, state: dict[str, Any], variant: str) -> None:
        lay = self.layout
        recorded = state.get("app", {})
        fingerprint = app_mod.template_fingerprint()
        if (
            recorded.get("variant") == variant
            and recorded.get("template") == fingerprint
            and app_mod.prepared_variant(lay.app_repo) == variant
            and app_mod.prepared_variant(lay.remote_dir) == variant
            and recorded.get("commit") == app_mod.head(lay.app_repo)
        ):
            # the build host's checkout may sit on another commit: the suite's source stage
            # moves it to the SHA under test (--irp-ref), and a run may be building there
            return
        app_mod.prepare_app_repo(lay.app_repo, variant)
        app_mod.clone_checkout(lay.app_repo, lay.remote_dir)
        self._seed_store()
        state["app"] = {
            "variant": variant,
            "commit": app_mod.head(lay.app_repo),
            "template": fingerprint,
            "repo": str(lay.app_repo),
            "remote_dir": str(lay.remote_dir),
        }
        state["variant"] = variant

    def _seed_store(self) -> None:
        """The app's stand-in flake inputs into the store (nix 2.8: narhash.py)."""
        if shutil.which("nix") is None:
            return
        for argv in seed_argvs(self.layout.app_repo):
            run(argv, env=session_env(self.layout))

    def _up_libhsghc(self) -> None:
        """A sparse file of the full archive's size standing in for libHSghc on the host."""
        path = self.layout.libhsghc
        if path.exists() and path.stat().st_size == LIBHSGHC_SIZE:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            handle.truncate(LIBHSGHC_SIZE)

    def settings(self, registry: Any | None = None) -> dict[str, Value]:
        """The ``[tool.irp]`` values of this lab (what ``irp-lab.toml`` holds)."""
        lay = self.layout
        user: str | None = None
        password_file: Path | None = None
        token_file: Path | None = None
        if registry is not None:
            user, password_file = registry.credentials
            token_file = registry.token_file
        cluster = self.cluster()
        values = lab_settings(
            lay,
            registry_user=user,
            registry_password_file=password_file,
            gitea_token_file=token_file,
            kubeconfig=Path(cluster.kubeconfig_path),
            registries_yaml=Path(cluster.registries_yaml),
            certs_dir=Path(cluster.certs_d),
            crictl=[str(a) for a in cluster.crictl_args()],
        )
        from pytest_irp_lab import helmbin

        # the lab's helm (cached; none on PATH here): `--irp-config=irp-lab.toml` runs and
        # --irp-lab runs get the same one
        values.setdefault("helm", [str(helmbin.ensure(3))])
        scenarios.apply_settings(values, self._load().get("scenario"))
        return values

    def _write_toml(self, registry: Any | None) -> None:
        header = (
            "Written by the pytest-irp lab (python -m pytest_irp_lab up) at "
            f"{_now()}.\nUse with: pytest --irp-config {self.toml_path}"
        )
        write_atomic(self.toml_path, render_table("tool.irp", self.settings(registry), header))

    # ------------------------------------------------------------------ down

    def _sweep(self, cluster: LabCluster, errors: list[str]) -> None:
        """Stop what is still running for this lab though no record names it (started
        by code whose records another teardown could not read), then undo the cluster's
        host changes again: its mounts and links outlive a kubelet stopped this late."""
        left = [
            p for pid in leftover_processes(self.layout.root) if (p := proc_of(pid)) is not None
        ]
        if not left:
            return
        names = [" ".join(cmdline(p.pid))[:60] or str(p.pid) for p in left]
        for proc in left:
            try:
                terminate(proc)
            except LabError as exc:
                errors.append(f"leftover process {proc.pid}: {exc}")
        self.notes.append(
            f"stopped {len(left)} lab processes that no record named: " + ", ".join(names)
        )
        try:
            cluster.stop()
        except Exception as exc:  # keep tearing down the rest
            errors.append(f"cluster (after the sweep): {exc}")

    def down(self, *, purge: bool = False) -> None:
        """Stop what ``up()`` started and remove what it created; ``purge`` also deletes
        the lab directory (keys, logs, registry storage)."""
        if not self.layout.root.exists():
            return
        with locked(OWNER_DIR / "lock"), locked(self.layout.lock_file):
            state = self._load()
            errors: list[str] = []
            cluster = self.cluster()
            # the whole lab directory goes down: also a cluster started in it by hand (it
            # lives on the bridge that is about to go)
            left = leftover_processes(self.layout.root)
            cluster_left = any(
                str(self.layout.cluster_dir) + "/" in " ".join(cmdline(p)) for p in left
            )
            if (
                state.get("cluster", {}).get("started")
                or self.with_cluster
                or cluster_running(cluster)
                or cluster_left
            ):
                try:
                    LabIngress(cluster.spec).stop()
                    state.pop("ingress", None)
                    cluster.stop()
                    state.pop("cluster", None)
                except Exception as exc:  # keep tearing down the rest
                    errors.append(f"cluster: {exc}")
                self._save(state)
            self.dev_server().stop()
            registry = self.registry()
            if state.get("registry", {}).get("started") or registry.is_running():
                try:
                    registry.stop()
                    state.pop("registry", None)
                except Exception as exc:
                    errors.append(f"registry: {exc}")
                self._save(state)
            for alias, sshd in self._sshds().items():
                recorded = Proc.from_json(state.get("sshd", {}).get(alias))
                try:
                    sshd.stop(recorded)
                    # sessions outlive sshd's listener: end whatever still runs on the host
                    for pid in net.netns_pids(sshd.host.netns):
                        proc = proc_of(pid)
                        if proc is not None:
                            terminate(proc)
                except LabError as exc:
                    errors.append(f"sshd {alias}: {exc}")
            state.pop("sshd", None)
            self._save(state)
            created = [(str(k), str(n)) for k, n in state.get("net", {}).get("created", [])]
            holder = self.holder()
            if holder is not None and holder != str(self.layout.root):
                # another lab took the network over (ours had died): it is not ours to remove
                self.notes.append(f"network left in place: held by the lab in {holder}")
            else:
                net.down(created)
            self._sweep(cluster, errors)
            state.pop("net", None)
            state["up"] = False
            self.toml_path.unlink(missing_ok=True)
            self._save(state)
            self._release_network()
            if errors:
                raise LabError("lab teardown incomplete: " + "; ".join(errors))
        if purge:
            shutil.rmtree(self.layout.root, ignore_errors=True)

    # ------------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        state = self._load()
        sshd = {}
        for alias in SSH_HOSTS:
            proc = Proc.from_json(state.get("sshd", {}).get(alias))
            sshd[alias] = {"pid": proc.pid if proc else None, "running": bool(proc and alive(proc))}
        result: dict[str, Any] = {
            "lab_dir": str(self.layout.root),
            "up": bool(state.get("up")),
            "network_held_by": self.holder(),
            "variant": state.get("app", {}).get("variant"),
            "scenario": state.get("scenario"),
            "app_commit": state.get("app", {}).get("commit"),
            "network": net.status() if shutil.which("ip") else {},
            "sshd": sshd,
            "dev_server": self.dev_server().status(),
            "toml": str(self.toml_path) if self.toml_path.exists() else None,
            "timings": state.get("timings", {}),
            "notes": state.get("notes", []),
        }
        if state.get("registry", {}).get("started"):
            result["registry"] = self.registry().status()
        cluster = self.cluster()
        if state.get("cluster", {}).get("started") or cluster_running(cluster):
            result["cluster"] = cluster.status()
            result["ingress"] = LabIngress(cluster.spec).status()
        return result

    def healthy(self) -> bool:
        """Network, both sshds and the toml file are in place."""
        st = self.status()
        network = st["network"]
        return bool(
            st["up"]
            and network.get("bridge")
            and all(network["netns"].values())
            and all(s["running"] for s in st["sshd"].values())
            and st["toml"]
        )

    # ------------------------------------------------------------------ helpers

    def ssh_argv(self, host: str, *command: str) -> list[str]:
        """``ssh -F <lab config> HOST -- COMMAND...`` (no shell quoting is added)."""
        return ["ssh", "-F", str(self.layout.ssh_config), host, "--", *command]

    def env_exports(self) -> Mapping[str, str]:
        """The lab's settings as ``IRP_*`` environment variables (lists shell-joined)."""
        import shlex

        table = self.settings(self.registry() if self.with_registry else None)
        out: dict[str, str] = {"IRP_LAB_DIR": str(self.layout.root)}
        for key, value in table.items():
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, int | str):
                text = str(value)
            else:
                text = shlex.join(value)
            out["IRP_" + key.upper()] = text
        return out

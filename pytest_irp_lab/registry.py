"""The lab's registry: a real Gitea (``lab/build-gitea.sh``), its container registry,
git over HTTP and API, in the lab host ``gitea`` (netns ``irp-gitea``, 10.77.0.3:3000).

One Gitea process (``gitea web``, SQLite, packages and Actions enabled) and, in the realm
mode ``wrong-port-forwarded`` only, an nginx standing in for an operator's port-80 forward
to Gitea's port. Both are started detached through :mod:`pytest_irp_lab.proc` with pid
records under ``STATE/registry/run/``. The pure parts (app.ini, the forward's config, command
lines, parsers, readiness checks) are in :mod:`pytest_irp_lab.registry_config`.

The realm modes (``wrong-port-dead-for-build-host``, the default, ``wrong-port-dead``,
``wrong-port-forwarded``, ``correct``) are described in :mod:`pytest_irp_lab.registry_config`.

First start of a state dir: app.ini (0600, its secrets generated), ``gitea migrate``,
``gitea admin user create --random-password`` (the generated password is read from the
command's output into ``secrets/password``, 0600: it is never on a command line),
``gitea admin user generate-access-token --raw`` (``secrets/token``); then, over the API,
the organisations (``coulomb``, and ``irp`` for the cluster's own images) and the repository
``coulomb/ihp-railiance-probe``. :meth:`LabRegistry.publish_repo` pushes a git repository to
it over HTTP (the credential goes in git's environment, not its argv).

Gitea runs as root with ``GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT=true`` (Gitea refuses uid 0
otherwise, ``modules/setting/setting.go``): the whole lab runs as root in throwaway network
namespaces, and a dedicated system user would be a machine-wide change (``/etc/passwd``)
outside the lab directory that ``down`` could not take back cleanly.

With ``netns=None`` everything runs on 127.0.0.1 (free ports; the realm's "port 80" is
``wrong_port``): the registry's own self-tests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from pytest_irp.fileio import write_atomic
from pytest_irp.retry import NotYet, RetryTimeout, poll
from pytest_irp_lab import registry_config as rc
from pytest_irp_lab.layout import RegistryLayout
from pytest_irp_lab.net import http_request as http_request
from pytest_irp_lab.net import require_lab_route
from pytest_irp_lab.proc import (
    LabError,
    Proc,
    alive,
    daemon_env,
    read_json,
    read_pid_record,
    run,
    spawn,
    stop_recorded,
    tail,
)
from pytest_irp_lab.registry_config import GITEA_VERSION as GITEA_VERSION


class RegistryError(LabError):
    """The lab registry could not be started, switched or stopped."""


class _Exited(Exception):
    """A process of the registry exited while it was awaited."""


def run_checks(checks: Sequence[rc.Check]) -> str | None:
    """First unmet check, or None when all hold."""
    for check in checks:
        try:
            status, www, _ = http_request(check.url, timeout=2.0)
        except OSError as exc:
            return f"{check.url}: {exc}"
        problem = rc.check_problem(check, status, www)
        if problem:
            return problem
    return None


def missing_tools(cache_dir: Path | None = None) -> list[str]:
    """What the lab registry (and its tests) need and is missing."""
    missing = [b for b in (rc.NGINX_BIN, rc.SKOPEO_BIN, "ip", "git") if shutil.which(b) is None]
    binary = rc.gitea_home(cache_dir or rc.default_cache_dir()) / "bin" / "gitea"
    if not os.access(binary, os.X_OK):
        missing.append(f"{binary} (bash lab/build-gitea.sh)")
    return missing


# =========================================================================== the registry


class LabRegistry:
    """The lab's Gitea: see the module docstring."""

    def __init__(
        self,
        state_dir: Path,
        netns: str | None = rc.DEFAULT_NETNS,
        address: str = rc.DEFAULT_ADDRESS,
        port: int = rc.DEFAULT_PORT,
        realm_mode: str = rc.DEFAULT_REALM_MODE,
        *,
        wrong_port: int = rc.DEFAULT_WRONG_PORT,
        user: str = rc.DEFAULT_USER,
        cache_dir: Path | None = None,
        build_host: str = rc.DEFAULT_BUILD_HOST,
    ) -> None:
        self.build_host = build_host
        self.netns = netns
        self.address = rc.bind_address(netns, address)
        self.port = port
        self.wrong_port = wrong_port
        self.user = user
        self._mode = rc.check_mode(realm_mode)
        self.layout = RegistryLayout(Path(state_dir) / "registry")
        self.home = rc.gitea_home(Path(cache_dir) if cache_dir else rc.default_cache_dir())

    # ------------------------------------------------------------------ properties

    @property
    def hostport(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def base_url(self) -> str:
        return rc.host_url(self.address, self.port)

    @property
    def realm_mode(self) -> rc.RealmMode:
        return self._mode

    @property
    def realm_url(self) -> str:
        return rc.realm_url(self._mode, self.address, self.port, self.wrong_port)

    @property
    def token_url(self) -> str:
        """The token endpoint that really answers (on Gitea's own port)."""
        return f"{self.base_url}/v2/token"

    @property
    def credentials(self) -> tuple[str, Path]:
        """(user, password file); the file exists once the registry has been started."""
        return self.user, self.layout.password_file

    @property
    def token_file(self) -> Path:
        """The user's Gitea access token (scopes: all), made at the first start."""
        return self.layout.token_file

    @property
    def binary(self) -> Path:
        return self.home / "bin" / "gitea"

    @property
    def pids(self) -> dict[str, Proc | None]:
        return {n: read_pid_record(self.layout.pid_file(n)) for n in rc.PROCESS_NAMES}

    def _wanted(self) -> tuple[str, ...]:
        return rc.PROCESS_NAMES if self._mode in rc.FORWARDED_MODES else ("gitea",)

    # ------------------------------------------------------------------ lifecycle

    def is_running(self) -> bool:
        info = self.pids["gitea"]
        return info is not None and alive(info)

    def start(self) -> None:
        """Start (or, if already running, keep) Gitea in ``self.realm_mode``; idempotent."""
        if self.is_running() and self._saved_state().get("realm_mode") == self._mode:
            return
        self.stop()  # leftovers of a partial start, or another mode's processes
        self._check_prerequisites()
        self.layout.make_dirs()
        self._write_app_ini()
        try:
            if not self.layout.setup_file.exists():
                self._first_setup_offline()
            self._spawn(
                "gitea",
                rc.gitea_argv(self.binary, self.layout.app_ini, self.layout.work_dir, "web"),
            )
            if self._mode in rc.FORWARDED_MODES:
                self._spawn_forward()
            if self._mode == "wrong-port-dead-for-build-host":
                self._firewall("-I")
            self._save_state()
            self._wait_ready()
            if not self.layout.setup_file.exists():
                self._first_setup_online()
        except BaseException:
            self.stop()  # the logs stay for the error message's reader
            raise

    def stop(self) -> None:
        """Stop exactly the processes named by our pid files (and drop our firewall rule)."""
        for name in reversed(rc.PROCESS_NAMES):
            self._stop_one(name)
        if (
            self.netns is not None
            and Path("/run/netns", self.netns).exists()
            and shutil.which("iptables")
        ):
            while self._firewall("-D", check=False):  # every copy of our one rule
                pass

    def _firewall(self, action: str, *, check: bool = True) -> bool:
        """Insert (``-I``) or delete (``-D``) the rule refusing the build host's connections
        to the realm port, in the netns' own iptables (it goes with the netns)."""
        argv = rc.netns_argv(self.netns, rc.firewall_argv(action, self.build_host, self.wrong_port))
        done = run(argv, check=False, timeout=30)
        if check and not done.ok:
            raise RegistryError(
                f"iptables {action} in {self.netns} failed: {done.stderr.strip()[-300:]}"
            )
        return done.ok

    def set_realm_mode(self, mode: str) -> None:
        """Switch the realm mode as an operator would: app.ini, restart Gitea, forward on or
        off (a few seconds)."""
        self._mode = rc.check_mode(mode)
        if self.is_running():
            self.stop()
            self.start()

    def token(self, scope: str | None = None, *, authenticated: bool = True) -> str:
        """A registry token from the endpoint that really answers (no argv secret)."""
        self._require_route()
        query = {"service": rc.SERVICE, **({"scope": scope} if scope else {})}
        headers = {"Authorization": self._basic()} if authenticated else {}
        status, _, body = http_request(f"{self.token_url}?{urlencode(query)}", headers=headers)
        if status != 200:
            raise RegistryError(f"GET /v2/token: HTTP {status}")
        return str(json.loads(body)["token"])

    def api(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        """A Gitea API call (``/api/v1`` + path) with the user's access token."""
        self._require_route()
        headers = {
            "Authorization": f"token {self.token_file.read_text().strip()}",
            "Accept": "application/json",
        }
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        status, _, data = http_request(
            f"{self.base_url}/api/v1{path}", method=method, headers=headers, body=body, timeout=30
        )
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, data.decode("utf-8", "replace")

    def version(self) -> str:
        status, data = self.api("GET", "/version")
        if status != 200 or not isinstance(data, dict):
            raise RegistryError(f"GET /api/v1/version: HTTP {status}")
        return str(data.get("version"))

    def delete_tag(self, image: str, tag: str) -> None:
        """Delete one tag of a container package (``image`` = OWNER/NAME) via Gitea's API."""
        owner, _, name = image.partition("/")
        path = f"/packages/{quote(owner)}/container/{quote(name, safe='')}/{quote(tag)}"
        status, data = self.api("DELETE", path)
        if status not in (204, 404):
            raise RegistryError(f"DELETE {path}: HTTP {status} {data}")

    def publish_repo(self, source: Path, repo: str = rc.DEFAULT_REPO) -> None:
        """Push every branch of the git repository ``source`` to ``repo`` over HTTP (forced:
        the lab's sample app is re-made per variant)."""
        url = f"{self.base_url}/{repo}.git"
        argv = rc.netns_argv(
            self.netns,
            [
                "git",
                "-C",
                str(source),
                "push",
                "--force",
                "--quiet",
                "--",
                url,
                "+refs/heads/*:refs/heads/*",
            ],
        )
        done = run(
            argv,
            check=False,
            environ=daemon_env(os.environ),
            env=rc.git_auth_env(self._basic()),
            timeout=120,
        )
        if not done.ok:
            raise RegistryError(
                f"git push of {source} to {url} failed: "
                f"{(done.stderr or done.stdout).strip()[-500:]}"
            )

    def status(self) -> dict[str, Any]:
        """A JSON-able summary (CLI ``status``)."""
        pids = {n: (i.pid if i and alive(i) else None) for n, i in self.pids.items()}
        mode = rc.check_mode(str(self._saved_state().get("realm_mode", self._mode)))
        return {
            "running": self.is_running(),
            "gitea_version": GITEA_VERSION,
            "hostport": self.hostport,
            "netns": self.netns,
            "realm_mode": mode,
            "root_url": rc.root_url(mode, self.address, self.port, self.wrong_port),
            "realm_url": rc.realm_url(mode, self.address, self.port, self.wrong_port),
            "user": self.user,
            "password_file": str(self.layout.password_file),
            "token_file": str(self.layout.token_file),
            "pids": pids,
            "state_dir": str(self.layout.root),
        }

    # ------------------------------------------------------------------ internals

    def _basic(self) -> str:
        return rc.basic_header(self.user, self.layout.password_file.read_text().strip())

    def _require_route(self) -> None:
        try:
            require_lab_route(self.address)
        except LabError as exc:
            raise RegistryError(str(exc)) from None

    def _check_prerequisites(self) -> None:
        missing = (
            []
            if os.access(self.binary, os.X_OK)
            else [f"{self.binary} (run: bash lab/build-gitea.sh)"]
        )
        if self._mode == "wrong-port-dead-for-build-host" and self.netns is None:
            raise RegistryError(
                "realm mode wrong-port-dead-for-build-host needs the lab "
                "network (a netns): on loopback there is no build host "
                "address to refuse"
            )
        if self._mode == "wrong-port-dead-for-build-host" and shutil.which("iptables") is None:
            missing.append("iptables")
        if self._mode in rc.FORWARDED_MODES and shutil.which(rc.NGINX_BIN) is None:
            missing.append(rc.NGINX_BIN)
        if self.netns is not None and shutil.which("ip") is None:
            missing.append("ip")
        if shutil.which("git") is None:
            missing.append("git")
        if missing:
            raise RegistryError(
                f"missing: {', '.join(missing)} "
                "(scripts/install-system-packages.sh, lab/build-gitea.sh)"
            )
        if self.netns is not None and not Path("/run/netns", self.netns).exists():
            raise RegistryError(f"network namespace {self.netns!r} does not exist")

    def _ini_secrets(self) -> dict[str, str]:
        path = self.layout.ini_secrets_file
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text())
            if isinstance(data, dict) and set(rc.new_secrets()) <= set(data):
                return {k: str(v) for k, v in data.items()}
        fresh = rc.new_secrets()
        write_atomic(path, json.dumps(fresh) + "\n", 0o600)
        return fresh

    def _write_app_ini(self) -> None:
        lay = self.layout
        root = rc.root_url(self._mode, self.address, self.port, self.wrong_port)
        spec = rc.GiteaSpec(
            address=self.address,
            port=self.port,
            root_url=root,
            work_dir=lay.work_dir,
            static_root=self.home / "static",
            log_dir=lay.log_dir / "gitea",
            **self._ini_secrets(),
        )
        write_atomic(lay.app_ini, rc.app_ini(spec), 0o600)

    def _cli(self, *command: str, timeout: float = 120) -> str:
        """Run a Gitea admin command; its output is returned, never logged (it may hold the
        generated password or the token)."""
        lay = self.layout
        argv = rc.gitea_argv(self.binary, lay.app_ini, lay.work_dir, *command)
        done = run(
            argv,
            check=False,
            timeout=timeout,
            environ=rc.gitea_env(os.environ, lay.work_dir),
            cwd=lay.work_dir,
        )
        if not done.ok:
            raise RegistryError(
                f"gitea {' '.join(command[:3])} failed (exit "
                f"{done.returncode}): {done.stderr.strip()[-600:]}"
            )
        return done.stdout

    def _first_setup_offline(self) -> None:
        """Database, the user (password generated by Gitea) and its access token."""
        lay = self.layout
        self._cli("migrate")
        if not lay.password_file.exists():
            out = self._cli(*rc.create_user_command())
            password = rc.parse_generated_password(out)
            if password is None:
                raise RegistryError("gitea admin user create printed no generated password")
            write_atomic(lay.password_file, password + "\n", 0o600)
        if not lay.token_file.exists():
            name = f"irp-lab-{secrets.token_hex(4)}"
            token = rc.parse_raw_token(self._cli(*rc.token_command(self.user, name)))
            if token is None:
                raise RegistryError("gitea admin user generate-access-token printed no token")
            write_atomic(lay.token_file, token + "\n", 0o600)

    def _first_setup_online(self) -> None:
        """Organisations and the app repository, over the API (idempotent)."""
        for org in rc.DEFAULT_ORGS:
            status, data = self.api("POST", "/orgs", {"username": org, "visibility": "public"})
            if status not in (201, 422):
                raise RegistryError(f"POST /api/v1/orgs {org}: HTTP {status} {data}")
        owner, _, name = rc.DEFAULT_REPO.partition("/")
        status, data = self.api(
            "POST",
            f"/orgs/{owner}/repos",
            {"name": name, "default_branch": "main", "private": False},
        )
        if status not in (201, 409):
            raise RegistryError(f"POST /api/v1/orgs/{owner}/repos: HTTP {status} {data}")
        write_atomic(
            self.layout.setup_file,
            json.dumps({"user": self.user, "orgs": list(rc.DEFAULT_ORGS), "repo": rc.DEFAULT_REPO})
            + "\n",
        )

    def _saved_state(self) -> dict[str, Any]:
        return read_json(self.layout.state_file)

    def _save_state(self) -> None:
        state = {
            "realm_mode": self._mode,
            "hostport": self.hostport,
            "wrong_port": self.wrong_port,
            "netns": self.netns,
            "gitea_version": GITEA_VERSION,
        }
        write_atomic(self.layout.state_file, json.dumps(state, indent=2) + "\n")

    def _spawn(self, name: str, argv: Sequence[str]) -> None:
        spawn(
            rc.netns_argv(self.netns, argv),
            self.layout.log_file(name),
            pid_file=self.layout.pid_file(name),
            environ=rc.gitea_env(os.environ, self.layout.work_dir),
            cwd=self.layout.work_dir,
        )

    def _spawn_forward(self) -> None:
        lay = self.layout
        spec = rc.ForwardSpec(
            listen=f"{self.address}:{self.wrong_port}",
            target=self.hostport,
            pid_file=lay.run_dir / "forward-nginx.pid",
            access_log=lay.log_file("forward-access"),
            error_log=lay.log_file("forward-error"),
            temp_dir=lay.nginx_prefix / "tmp",
            worker_user="nobody nogroup" if os.geteuid() == 0 else None,
        )
        write_atomic(lay.forward_config, rc.forward_config(spec))
        self._spawn(
            "forward",
            rc.nginx_argv(lay.nginx_prefix, lay.forward_config, lay.log_file("forward-error")),
        )

    def _stop_one(self, name: str) -> None:
        # its whole process group: nginx's workers with the forward
        stop_recorded(self.layout.pid_file(name), rc.STOP_TIMEOUT, group=True)

    def _dead(self) -> str | None:
        """Which of our processes died (then waiting for readiness is pointless)."""
        dead = [
            n
            for n in self._wanted()  # alive() reaps a just-exited child first
            if (i := self.pids[n]) is None or not alive(i)
        ]
        return f"exited: {', '.join(dead)}" if dead else None

    def _wait_ready(self, timeout: float = rc.START_TIMEOUT) -> None:
        self._require_route()
        checks = rc.ready_checks(self._mode, self.address, self.port, self.wrong_port)

        def ready() -> bool | NotYet:
            problem = run_checks(checks)
            if problem is None:
                return True
            dead = self._dead()
            if dead is not None:  # waiting for readiness is pointless then
                raise _Exited(dead)
            return NotYet(problem)

        try:
            poll("lab Gitea ready", ready, every=0.1, timeout=timeout)
            return
        except RetryTimeout as exc:
            problem = exc.last.seen
        except _Exited as exc:
            problem = str(exc)
        logs = "\n".join(
            f"--- {n}.log\n{tail(self.layout.log_file(n))}"
            for n in (*self._wanted(), "forward-error")
        )
        raise RegistryError(f"lab Gitea not ready: {problem}\n{logs}")


def free_port(host: str = rc.LOOPBACK) -> int:
    """A port free right now on ``host`` (for loopback mode)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# =========================================================================== CLI


def default_state_dir() -> Path:
    return Path(os.environ.get("IRP_LAB_DIR", "/var/tmp/irp-lab"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pytest_irp_lab.registry", description="The lab's Gitea."
    )
    p.add_argument("command", choices=["start", "stop", "status"])
    p.add_argument("--state-dir", type=Path, default=default_state_dir())
    p.add_argument("--loopback", action="store_true", help="run on 127.0.0.1, no netns")
    p.add_argument("--netns", default=rc.DEFAULT_NETNS)
    p.add_argument("--address", default=rc.DEFAULT_ADDRESS)
    p.add_argument("--port", type=int, default=rc.DEFAULT_PORT)
    p.add_argument("--wrong-port", type=int, default=rc.DEFAULT_WRONG_PORT)
    p.add_argument("--mode", default=rc.DEFAULT_REALM_MODE, choices=rc.REALM_MODES)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    reg = LabRegistry(
        args.state_dir,
        netns=None if args.loopback else args.netns,
        address=args.address,
        port=args.port,
        realm_mode=args.mode,
        wrong_port=args.wrong_port,
    )
    try:
        if args.command == "start":
            began = time.monotonic()
            reg.start()
            print(f"started in {time.monotonic() - began:.2f}s")
        elif args.command == "stop":
            reg.stop()
    except RegistryError as exc:
        print(f"registry: {exc}")
        return 1
    print(json.dumps(reg.status(), indent=2))
    return 0 if args.command == "stop" or reg.is_running() else 3


if __name__ == "__main__":
    raise SystemExit(main())

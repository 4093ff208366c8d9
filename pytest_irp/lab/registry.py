"""A Gitea-like container registry for the lab.

Three processes, all started detached with pid files under ``STATE/registry/``:

* ``docker-registry`` (Debian's distribution 2.8) with its own config: filesystem storage in
  the state dir, listening on 127.0.0.1 only (inside the netns when there is one), token auth.
* a token server (:mod:`pytest_irp.lab.tokenserver`) on 127.0.0.1: Gitea's ``GET /v2/token``.
* nginx (Debian ``nginx-light``), the front on ``ADDRESS:PORT``: ``/v2/token`` to the token
  server, the rest of ``/v2/`` to the registry, ``GET /v2/``'s challenge rewritten to Gitea's
  (``scope="*"``). Uploads stream through (no body size limit, no request buffering).

The realm the registry advertises depends on the realm mode:

* ``wrong-port-forwarded`` (default): Gitea's ROOT_URL-without-port bug (realm on port 80 of
  the registry host) plus the operator's port forward (nginx also answers on port 80), so
  clients that follow the realm still work and the suite can report the bug as a finding.
* ``wrong-port-dead``: same realm, nothing on port 80: clients following it get
  ``connection refused``.
* ``correct``: realm on the real port.

With ``netns=None`` everything runs on loopback (development and unit tests); otherwise each
process runs under ``ip netns exec NETNS`` (the netns and its address belong to the lab's
network layer).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TextIO, cast, get_args
from urllib.parse import urlencode

import yaml

from pytest_irp.fileio import write_atomic

RealmMode = Literal["wrong-port-forwarded", "wrong-port-dead", "correct"]
REALM_MODES: Final[tuple[str, ...]] = get_args(RealmMode)
DEFAULT_REALM_MODE: Final[RealmMode] = "wrong-port-forwarded"

SERVICE: Final = "container_registry"  # Gitea's service name
ISSUER: Final = "irp-lab-gitea"
DEFAULT_USER: Final = "tegwick"
DEFAULT_NETNS: Final = "irp-gitea"
DEFAULT_ADDRESS: Final = "10.77.0.3"
DEFAULT_PORT: Final = 3000
DEFAULT_WRONG_PORT: Final = 80
NETNS_REGISTRY_PORT: Final = 5000  # inside the netns: its loopback is private
NETNS_TOKEN_PORT: Final = 5001
LOOPBACK: Final = "127.0.0.1"
LAB_IFACE_PREFIX: Final = "irp"  # the lab's bridge irpbr0 (and any lab interface)
REGISTRY_BIN: Final = "docker-registry"
NGINX_BIN: Final = "nginx"
SKOPEO_BIN: Final = "skopeo"
PROCESS_NAMES: Final = ("token", "registry", "nginx")
START_TIMEOUT: Final = 20.0
STOP_TIMEOUT: Final = 5.0


class RegistryError(RuntimeError):
    """The lab registry could not be started, switched or stopped."""


# =========================================================================== pure functions


def check_mode(mode: str) -> RealmMode:
    """Validate a realm mode name (the error lists the valid ones)."""
    if mode not in REALM_MODES:
        raise ValueError(f"unknown realm mode {mode!r}; expected one of {', '.join(REALM_MODES)}")
    return cast(RealmMode, mode)


def host_url(address: str, port: int) -> str:
    """``http://ADDRESS[:PORT]`` (port 80 left out, the way a ROOT_URL without port reads)."""
    return f"http://{address}" if port == 80 else f"http://{address}:{port}"


def realm_url(mode: RealmMode, address: str, port: int, wrong_port: int) -> str:
    """The token realm the registry advertises in the given mode."""
    realm_port = port if mode == "correct" else wrong_port
    return f"{host_url(address, realm_port)}/v2/token"


def challenge(realm: str) -> str:
    """Gitea's answer to anonymous ``GET /v2/``."""
    return f'Bearer realm="{realm}",service="{SERVICE}",scope="*"'


def front_ports(mode: RealmMode, port: int, wrong_port: int) -> list[int]:
    """Ports nginx listens on: the real one, plus the forwarded realm port if forwarded."""
    return [port, wrong_port] if mode == "wrong-port-forwarded" else [port]


def bind_address(netns: str | None, address: str) -> str:
    """Where the front binds: the lab address in a netns, loopback otherwise."""
    if netns is not None:
        return address
    return address if ipaddress.ip_address(address).is_loopback else LOOPBACK


def registry_config(
    *, storage: Path, listen_port: int, secret: str, realm: str, cert_bundle: Path
) -> dict[str, Any]:
    """distribution's config: loopback, filesystem storage, Gitea-like token auth."""
    return {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text", "fields": {"service": "irp-lab-registry"}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {
            "addr": f"{LOOPBACK}:{listen_port}",
            "secret": secret,
            "relativeurls": True,
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
        "auth": {
            "token": {
                "realm": realm,
                "service": SERVICE,
                "issuer": ISSUER,
                "rootcertbundle": str(cert_bundle),
            }
        },
        "health": {"storagedriver": {"enabled": False}},
    }


def token_config(
    *, listen_port: int, key_file: Path, user: str, password_file: Path
) -> dict[str, Any]:
    """The token server's config (names the password file, never the password)."""
    return {
        "listen_host": LOOPBACK,
        "listen_port": listen_port,
        "key_file": str(key_file),
        "user": user,
        "password_file": str(password_file),
        "issuer": ISSUER,
        "service": SERVICE,
    }


@dataclass(frozen=True)
class NginxSpec:
    """Everything the nginx config depends on."""

    address: str
    ports: tuple[int, ...]
    registry_port: int
    token_port: int
    challenge: str
    pid_file: Path
    access_log: Path
    error_log: Path
    temp_dir: Path
    worker_user: str | None  # only when running as root


def nginx_config(spec: NginxSpec) -> str:
    """nginx front: one host:port for registry API and token endpoint, like Gitea."""
    listens = "\n".join(f"        listen {spec.address}:{p};" for p in spec.ports)
    user = f"user {spec.worker_user};\n" if spec.worker_user else ""
    tmp = spec.temp_dir
    registry = f"http://{LOOPBACK}:{spec.registry_port}"
    token = f"http://{LOOPBACK}:{spec.token_port}"
    return f"""# written by pytest_irp.lab.registry; do not edit
{user}worker_processes 1;
daemon off;
pid {spec.pid_file};
error_log {spec.error_log} notice;
events {{
    worker_connections 512;
}}
http {{
    access_log {spec.access_log};
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server_tokens off;
    absolute_redirect off;
    client_max_body_size 0;
    chunked_transfer_encoding on;
    proxy_http_version 1.1;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_connect_timeout 10s;
    proxy_read_timeout 900s;
    proxy_send_timeout 900s;
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Real-IP $remote_addr;
    map $upstream_status $irp_v2_challenge {{
        401 '{spec.challenge}';
        default '';
    }}
    server {{
{listens}
        location = /v2/token {{
            proxy_pass {token};
        }}
        location = /v2/ {{
            proxy_pass {registry};
            proxy_hide_header WWW-Authenticate;
            add_header WWW-Authenticate $irp_v2_challenge always;
        }}
        location = /v2 {{
            return 301 /v2/;
        }}
        location /v2/ {{
            proxy_pass {registry};
        }}
        location / {{
            return 404;
        }}
    }}
}}
"""


def netns_argv(netns: str | None, argv: Sequence[str]) -> list[str]:
    """Run ``argv`` inside ``netns`` (``ip netns exec`` execs, so the pid is the program's)."""
    return list(argv) if netns is None else ["ip", "netns", "exec", netns, *argv]


def registry_argv(config: Path) -> list[str]:
    return [REGISTRY_BIN, "serve", str(config)]


def nginx_argv(prefix: Path, config: Path, error_log: Path) -> list[str]:
    return [NGINX_BIN, "-p", str(prefix), "-c", str(config), "-e", str(error_log)]


def token_argv(python: str, config: Path) -> list[str]:
    return [python, "-m", "pytest_irp.lab.tokenserver", str(config)]


def probe_argv(python: str, checks: Sequence[Check], timeout: float) -> list[str]:
    """In-netns readiness probe: this module's hidden ``probe`` command."""
    return [
        python,
        "-m",
        "pytest_irp.lab.registry",
        "probe",
        "--timeout",
        str(timeout),
        "--checks",
        json.dumps([c.as_json() for c in checks]),
    ]


def authfile_json(hostport: str, user: str, password: str) -> str:
    """A containers-auth.json for skopeo ``--authfile`` (keep it 0600, remove it after)."""
    auth = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return json.dumps({"auths": {hostport: {"auth": auth}}})


@contextlib.contextmanager
def temporary_authfile(
    hostport: str, user: str, password_file: Path, directory: Path | None = None
) -> Iterator[Path]:
    """A 0600 containers-auth.json with ``user`` and the password read from
    ``password_file``, for skopeo ``--authfile``; removed on exit."""
    password = password_file.read_text(encoding="utf-8").strip()
    fd, name = tempfile.mkstemp(prefix="irp-auth-", suffix=".json", dir=directory)
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:  # mkstemp: mode 0600
            fh.write(authfile_json(hostport, user, password))
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def child_env(environ: Mapping[str, str], package_root: Path) -> dict[str, str]:
    """Environment for the lab processes: no REGISTRY_* overrides, our package importable."""
    env = {k: v for k, v in environ.items() if not k.startswith("REGISTRY_")}
    parts = [str(package_root), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))
    return env


# --------------------------------------------------------------------------- readiness checks


@dataclass(frozen=True)
class Check:
    """One readiness condition: ``GET url`` gives ``status`` (and ``challenge`` if set), or,
    with ``status == 0``, the connection is refused."""

    url: str
    status: int
    challenge: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"url": self.url, "status": self.status, "challenge": self.challenge}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Check:
        return cls(str(data["url"]), int(data["status"]), data.get("challenge"))


def ready_checks(mode: RealmMode, address: str, port: int, wrong_port: int) -> list[Check]:
    """What must hold once the front, registry and token server serve in ``mode``."""
    base = host_url(address, port)
    wrong = host_url(address, wrong_port)
    checks = [
        Check(f"{base}/v2/", 401, challenge(realm_url(mode, address, port, wrong_port))),
        Check(f"{base}/v2/token", 200),
    ]
    if mode == "wrong-port-forwarded":
        checks.append(Check(f"{wrong}/v2/token", 200))
    elif mode == "wrong-port-dead":
        checks.append(Check(f"{wrong}/v2/token", 0))
    return checks


def check_problem(check: Check, status: int, www_authenticate: str | None) -> str | None:
    """None if the observed answer satisfies ``check``, else what was seen."""
    if status != check.status:
        return f"{check.url}: status {status or 'connection refused'}, want {check.status}"
    if check.challenge is not None and www_authenticate != check.challenge:
        return f"{check.url}: WWW-Authenticate {www_authenticate!r}, want {check.challenge!r}"
    return None


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str | None]:
    """(status, WWW-Authenticate); status 0 when the connection is refused."""
    without_scheme = url.removeprefix("http://")
    hostport, _, path = without_scheme.partition("/")
    host, _, port_text = hostport.partition(":")
    conn = http.client.HTTPConnection(host, int(port_text or 80), timeout=timeout)
    try:
        conn.request("GET", "/" + path)
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("WWW-Authenticate")
    except ConnectionRefusedError:
        return 0, None
    finally:
        conn.close()


def run_checks(checks: Sequence[Check]) -> str | None:
    """First unmet check, or None when all hold."""
    for check in checks:
        try:
            status, www = http_get(check.url)
        except OSError as exc:
            return f"{check.url}: {exc}"
        problem = check_problem(check, status, www)
        if problem:
            return problem
    return None


def wait_checks(
    checks: Sequence[Check],
    timeout: float,
    every: float = 0.05,
    abort: Callable[[], str | None] = lambda: None,
) -> str | None:
    """Poll until all checks hold (None), ``abort`` says why waiting is pointless, or the
    timeout passes (the last problem seen)."""
    deadline = time.monotonic() + timeout
    while True:
        problem = run_checks(checks)
        if problem is None:
            return None
        reason = abort()
        if reason is not None or time.monotonic() >= deadline:
            return reason or problem
        time.sleep(every)


# =========================================================================== files


@dataclass(frozen=True)
class Layout:
    """Every path under ``STATE/registry``."""

    root: Path

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def nginx_prefix(self) -> Path:
        return self.root / "nginx"

    @property
    def password_file(self) -> Path:
        return self.secrets_dir / "password"

    @property
    def key_file(self) -> Path:
        return self.secrets_dir / "token-signing-key.pem"

    @property
    def cert_file(self) -> Path:
        return self.secrets_dir / "token-signing-cert.pem"

    @property
    def http_secret_file(self) -> Path:
        return self.secrets_dir / "http-secret"

    @property
    def registry_config(self) -> Path:
        return self.config_dir / "registry.yml"

    @property
    def token_config(self) -> Path:
        return self.config_dir / "token.json"

    @property
    def nginx_config(self) -> Path:
        return self.config_dir / "nginx.conf"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def make_dirs(self) -> None:
        for d in (self.storage, self.config_dir, self.run_dir, self.log_dir, self.nginx_prefix):
            d.mkdir(parents=True, exist_ok=True)
        self.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.nginx_prefix / "tmp").mkdir(exist_ok=True)


# =========================================================================== processes


@dataclass(frozen=True)
class PidInfo:
    """A process we started: pid plus its kernel start time (guards against pid reuse)."""

    pid: int
    start_ticks: int

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "start_ticks": self.start_ticks})

    @classmethod
    def parse(cls, text: str) -> PidInfo | None:
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), int(data["start_ticks"]))
        except (ValueError, KeyError, TypeError):
            return None


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in ticks) from /proc/PID/stat; None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def is_alive(info: PidInfo) -> bool:
    """The very process we started is still there and not a zombie."""
    stat = proc_stat(info.pid)
    return stat is not None and stat[0] not in ("Z", "X") and stat[1] == info.start_ticks


def read_pid_file(path: Path) -> PidInfo | None:
    try:
        return PidInfo.parse(path.read_text())
    except OSError:
        return None


# Children started by this interpreter, kept so they can be reaped (no zombies, no
# "still running" warnings); processes started by another interpreter are found by pid file.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def reap(pid: int) -> None:
    """Collect an exited child of ours (no-op for processes we are not the parent of)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def children_of(pid: int) -> set[int]:
    """Pids whose parent is ``pid`` (from /proc)."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.add(int(entry.name))
    return found


def wait_gone(info: PidInfo, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_alive(info):
        reap(info.pid)
        if time.monotonic() >= deadline:
            return not is_alive(info)
        time.sleep(0.02)
    reap(info.pid)
    return True


def terminate(info: PidInfo, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, then SIGKILL; then SIGKILL what is left of its process group (it was started
    as a session leader, so the group is its own: nginx workers). Nothing is signalled
    unless the pid is still the very process we started (a stale pid file is ignored)."""
    if not is_alive(info):
        reap(info.pid)
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(info.pid, signal.SIGTERM)
    if not wait_gone(info, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGKILL)
        wait_gone(info, timeout)
    # The group id cannot be handed out again while members remain, so this reaches
    # only the leader's own leftovers.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(info.pid, signal.SIGKILL)
    reap(info.pid)


def spawn(argv: Sequence[str], log: Path, env: Mapping[str, str], cwd: Path) -> PidInfo:
    """Start a detached process (own session), output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[proc.pid] = proc
    stat = proc_stat(proc.pid)
    return PidInfo(proc.pid, stat[1] if stat else 0)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def route_device(route_get_output: str) -> str | None:
    """The ``dev`` of an ``ip route get ADDRESS`` answer."""
    words = route_get_output.split()
    return words[words.index("dev") + 1] if "dev" in words[:-1] else None


def require_lab_route(address: str) -> None:
    """Refuse to contact a non-loopback ``address`` unless the root netns reaches it through
    a lab interface (``irp*``): with the lab network down, 10.77.0.x would follow the default
    route off the machine."""
    if ipaddress.ip_address(address).is_loopback:
        return
    done = subprocess.run(
        ["ip", "route", "get", address], capture_output=True, text=True, check=False
    )
    device = route_device(done.stdout)
    if device is None or not device.startswith(LAB_IFACE_PREFIX):
        raise RegistryError(f"{address} is not routed through a lab interface ({device}): refusing")


def free_port(host: str = LOOPBACK) -> int:
    """A port free right now on ``host`` (for loopback mode)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def missing_tools() -> list[str]:
    """Programs the lab registry (and its tests) need that are not on PATH."""
    return [b for b in (REGISTRY_BIN, NGINX_BIN, SKOPEO_BIN, "ip") if shutil.which(b) is None]


# =========================================================================== the registry


@dataclass(frozen=True)
class Ports:
    """Internal ports (127.0.0.1, inside the netns if any)."""

    registry: int
    token: int


class LabRegistry:
    """The lab's Gitea-like registry: see the module docstring."""

    def __init__(
        self,
        state_dir: Path,
        netns: str | None = DEFAULT_NETNS,
        address: str = DEFAULT_ADDRESS,
        port: int = DEFAULT_PORT,
        realm_mode: str = DEFAULT_REALM_MODE,
        *,
        wrong_port: int = DEFAULT_WRONG_PORT,
        user: str = DEFAULT_USER,
    ) -> None:
        self.netns = netns
        self.address = bind_address(netns, address)
        self.port = port
        self.wrong_port = wrong_port
        self.user = user
        self._mode = check_mode(realm_mode)
        self.layout = Layout(Path(state_dir) / "registry")

    # ------------------------------------------------------------------ properties

    @property
    def hostport(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def realm_mode(self) -> RealmMode:
        return self._mode

    @property
    def realm_url(self) -> str:
        return realm_url(self._mode, self.address, self.port, self.wrong_port)

    @property
    def token_url(self) -> str:
        """The token endpoint that really answers (on the registry's own port)."""
        return f"{host_url(self.address, self.port)}/v2/token"

    @property
    def credentials(self) -> tuple[str, Path]:
        """(user, password file); the file exists once the registry has been started."""
        return self.user, self.layout.password_file

    @property
    def pids(self) -> dict[str, PidInfo | None]:
        return {n: read_pid_file(self.layout.pid_file(n)) for n in PROCESS_NAMES}

    # ------------------------------------------------------------------ lifecycle

    def is_running(self) -> bool:
        return all(info is not None and is_alive(info) for info in self.pids.values())

    def start(self) -> None:
        """Start (or, if already running, keep) the registry in ``self.realm_mode``."""
        if self.is_running():
            if self._saved_state().get("realm_mode") != self._mode:
                self._apply_mode()
            return
        self.stop()  # leftovers of a partial start
        self._check_prerequisites()
        self.layout.make_dirs()
        self._ensure_secrets()
        ports = self._choose_ports()
        self._write_configs(ports)
        try:
            self._spawn("token", token_argv(sys.executable, self.layout.token_config))
            self._spawn("registry", registry_argv(self.layout.registry_config))
            self._spawn_nginx()
            self._save_state(ports)
            self._wait_ready()
        except BaseException:
            self.stop()  # the logs stay for the error message's reader
            raise

    def stop(self) -> None:
        """Stop exactly the processes named by our pid files (nginx last-in, first-out)."""
        for name in reversed(PROCESS_NAMES):
            self._stop_one(name)

    def set_realm_mode(self, mode: str) -> None:
        """Switch the realm mode; when running: rewrite configs, restart the registry, reload
        nginx (a fraction of a second)."""
        self._mode = check_mode(mode)
        if self.is_running():
            self._apply_mode()

    def token(self, scope: str | None = None, *, authenticated: bool = True) -> str:
        """A token from the endpoint that really answers (for the suite's own API calls)."""
        require_lab_route(self.address)
        query = {"service": SERVICE, **({"scope": scope} if scope else {})}
        path = "/v2/token?" + urlencode(query)
        headers = {}
        if authenticated:
            raw = f"{self.user}:{self.layout.password_file.read_text().strip()}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
        conn = http.client.HTTPConnection(self.address, self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise RegistryError(f"GET {path}: HTTP {resp.status}")
        return str(json.loads(body)["token"])

    def status(self) -> dict[str, Any]:
        """A JSON-able summary (CLI ``status``)."""
        pids = {n: (i.pid if i and is_alive(i) else None) for n, i in self.pids.items()}
        mode = check_mode(str(self._saved_state().get("realm_mode", self._mode)))
        return {
            "running": self.is_running(),
            "hostport": self.hostport,
            "netns": self.netns,
            "realm_mode": mode,
            "realm_url": realm_url(mode, self.address, self.port, self.wrong_port),
            "user": self.user,
            "password_file": str(self.layout.password_file),
            "pids": pids,
            "state_dir": str(self.layout.root),
        }

    # ------------------------------------------------------------------ internals

    def _check_prerequisites(self) -> None:
        missing = [b for b in (REGISTRY_BIN, NGINX_BIN) if shutil.which(b) is None]
        if self.netns is not None and shutil.which("ip") is None:
            missing.append("ip")
        if missing:
            raise RegistryError(
                f"missing programs: {', '.join(missing)} (scripts/install-system-packages.sh)"
            )
        if self.netns is not None and not Path("/run/netns", self.netns).exists():
            raise RegistryError(f"network namespace {self.netns!r} does not exist")

    def _ensure_secrets(self) -> None:
        """Password, signing key + cert, http secret: created once per state dir."""
        from pytest_irp.lab import tokenserver  # cryptography: import only when needed

        lay = self.layout
        if not lay.password_file.exists():
            write_atomic(lay.password_file, secrets.token_urlsafe(24), 0o600)
        if not lay.http_secret_file.exists():
            write_atomic(lay.http_secret_file, secrets.token_hex(32), 0o600)
        if not (lay.key_file.exists() and lay.cert_file.exists()):
            key = tokenserver.new_signing_key()
            write_atomic(lay.key_file, tokenserver.key_pem(key), 0o600)
            write_atomic(lay.cert_file, tokenserver.self_signed_cert_pem(key, ISSUER), 0o644)

    def _choose_ports(self) -> Ports:
        if self.netns is not None:
            return Ports(NETNS_REGISTRY_PORT, NETNS_TOKEN_PORT)
        return Ports(free_port(), free_port())

    def _saved_ports(self) -> Ports:
        state = self._saved_state()
        try:
            return Ports(int(state["registry_port"]), int(state["token_port"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise RegistryError(f"{self.layout.state_file}: no saved ports") from exc

    def _saved_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.layout.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save_state(self, ports: Ports) -> None:
        state = {
            "realm_mode": self._mode,
            "registry_port": ports.registry,
            "token_port": ports.token,
            "hostport": self.hostport,
            "wrong_port": self.wrong_port,
            "netns": self.netns,
        }
        write_atomic(self.layout.state_file, json.dumps(state, indent=2) + "\n")

    def _write_configs(self, ports: Ports) -> None:
        self._write_token_config(ports)
        self._write_registry_config(ports)
        self._write_nginx_config(ports)

    def _write_token_config(self, ports: Ports) -> None:
        lay = self.layout
        cfg = token_config(
            listen_port=ports.token,
            key_file=lay.key_file,
            user=self.user,
            password_file=lay.password_file,
        )
        write_atomic(lay.token_config, json.dumps(cfg, indent=2) + "\n", 0o600)

    def _write_registry_config(self, ports: Ports) -> None:
        lay = self.layout
        cfg = registry_config(
            storage=lay.storage,
            listen_port=ports.registry,
            secret=lay.http_secret_file.read_text().strip(),
            realm=self.realm_url,
            cert_bundle=lay.cert_file,
        )
        write_atomic(lay.registry_config, yaml.safe_dump(cfg, sort_keys=False), 0o600)

    def _write_nginx_config(self, ports: Ports) -> None:
        lay = self.layout
        spec = NginxSpec(
            address=self.address,
            ports=tuple(front_ports(self._mode, self.port, self.wrong_port)),
            registry_port=ports.registry,
            token_port=ports.token,
            challenge=challenge(self.realm_url),
            pid_file=lay.run_dir / "nginx-master.pid",
            access_log=lay.log_file("nginx-access"),
            error_log=lay.log_file("nginx-error"),
            temp_dir=lay.nginx_prefix / "tmp",
            worker_user="nobody nogroup" if os.geteuid() == 0 else None,
        )
        write_atomic(lay.nginx_config, nginx_config(spec))

    def _spawn(self, name: str, argv: Sequence[str]) -> None:
        env = child_env(os.environ, Path(__file__).resolve().parents[2])
        log = self.layout.log_file(name)
        info = spawn(netns_argv(self.netns, argv), log, env, self.layout.root)
        write_atomic(self.layout.pid_file(name), info.to_json() + "\n")

    def _spawn_nginx(self) -> None:
        lay = self.layout
        argv = nginx_argv(lay.nginx_prefix, lay.nginx_config, lay.log_file("nginx-error"))
        self._spawn("nginx", argv)

    def _stop_one(self, name: str) -> None:
        path = self.layout.pid_file(name)
        info = read_pid_file(path)
        if info is not None:
            terminate(info)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def _apply_mode(self) -> None:
        """Running registry, new mode: configs, registry restart, nginx reload, wait."""
        ports = self._saved_ports()
        self._write_registry_config(ports)
        self._write_nginx_config(ports)
        self._stop_one("registry")
        self._spawn("registry", registry_argv(self.layout.registry_config))
        self._reload_nginx()
        self._save_state(ports)
        self._wait_ready()

    def _reload_nginx(self, timeout: float = START_TIMEOUT) -> None:
        """SIGHUP, then wait until the old workers are gone: until then an old worker may
        still accept a connection and answer with the old challenge."""
        nginx = read_pid_file(self.layout.pid_file("nginx"))
        if nginx is None or not is_alive(nginx):
            raise RegistryError("nginx is not running")
        old_workers = children_of(nginx.pid)
        os.kill(nginx.pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while old_workers & children_of(nginx.pid):
            if time.monotonic() >= deadline:
                log = tail(self.layout.log_file("nginx-error"))
                raise RegistryError(f"nginx reload did not retire its old workers\n{log}")
            time.sleep(0.02)

    def _dead(self) -> str | None:
        """Which of our processes died (then waiting for readiness is pointless)."""
        for _ in range(2):  # reap first, so a just-exited child does not look alive
            for info in self.pids.values():
                if info is not None:
                    reap(info.pid)
        dead = [n for n, i in self.pids.items() if i is None or not is_alive(i)]
        return f"exited: {', '.join(dead)}" if dead else None

    def _wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        checks = ready_checks(self._mode, self.address, self.port, self.wrong_port)
        problem = self._run_probe(checks, timeout) or self._dead()
        if problem is None:
            return
        logs = "\n".join(
            f"--- {n}.log\n{tail(self.layout.log_file(n))}" for n in (*PROCESS_NAMES, "nginx-error")
        )
        raise RegistryError(f"lab registry not ready: {problem}\n{logs}")

    def _run_probe(self, checks: Sequence[Check], timeout: float) -> str | None:
        if self.netns is None:
            return wait_checks(checks, timeout, abort=self._dead)
        argv = netns_argv(self.netns, probe_argv(sys.executable, checks, timeout))
        env = child_env(os.environ, Path(__file__).resolve().parents[2])
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        ) as probe:
            while probe.poll() is None:
                dead = self._dead()
                if dead is not None:
                    probe.kill()
                    return dead
                time.sleep(0.05)
            output = probe.stdout.read() if probe.stdout else ""
        return None if probe.returncode == 0 else output.strip()


# =========================================================================== CLI


def default_state_dir() -> Path:
    return Path(os.environ.get("IRP_LAB_DIR", "/var/tmp/irp-lab"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pytest_irp.lab.registry", description="The lab's Gitea-like registry."
    )
    p.add_argument("command", choices=["start", "stop", "status", "probe"])
    p.add_argument("--state-dir", type=Path, default=default_state_dir())
    p.add_argument("--loopback", action="store_true", help="run on 127.0.0.1, no netns")
    p.add_argument("--netns", default=DEFAULT_NETNS)
    p.add_argument("--address", default=DEFAULT_ADDRESS)
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--wrong-port", type=int, default=DEFAULT_WRONG_PORT)
    p.add_argument("--mode", default=DEFAULT_REALM_MODE, choices=REALM_MODES)
    p.add_argument("--checks", default="[]", help=argparse.SUPPRESS)
    p.add_argument("--timeout", type=float, default=START_TIMEOUT, help=argparse.SUPPRESS)
    return p


def _probe_command(checks_json: str, timeout: float, out: TextIO) -> int:
    checks = [Check.from_json(c) for c in json.loads(checks_json)]
    problem = wait_checks(checks, timeout)
    if problem:
        out.write(problem + "\n")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "probe":
        return _probe_command(args.checks, args.timeout, sys.stdout)
    reg = LabRegistry(
        args.state_dir,
        netns=None if args.loopback else args.netns,
        address=args.address,
        port=args.port,
        realm_mode=args.mode,
        wrong_port=args.wrong_port,
    )
    if args.command == "start":
        began = time.monotonic()
        reg.start()
        print(f"started in {time.monotonic() - began:.2f}s")
    elif args.command == "stop":
        reg.stop()
    print(json.dumps(reg.status(), indent=2))
    return 0 if args.command == "stop" or reg.is_running() else 3


if __name__ == "__main__":
    raise SystemExit(main())

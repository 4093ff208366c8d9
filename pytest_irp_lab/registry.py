"""The lab's registry: a real Gitea (``lab/build-gitea.sh``), its container registry,
git over HTTP and API, in the lab host ``gitea`` (netns ``irp-gitea``, 10.77.0.3:3000).

One Gitea process (``gitea web``, SQLite, packages and Actions enabled) and, in the realm
mode ``wrong-port-forwarded`` only, an nginx standing in for an operator's port-80 forward
to Gitea's port. Both are started detached with pid files under ``STATE/registry/``.

The realm modes are set through Gitea's own configuration (``app.ini [server]``):

* ``wrong-port-dead``: ``ROOT_URL`` without the port and ``PUBLIC_URL_DETECTION = legacy``,
  so Gitea's realm is ``http://ADDRESS/v2/token`` (port 80) and nothing listens there:
  every client following the realm (skopeo, and containerd pulling for the node) gets
  ``connection refused``.
* ``wrong-port-dead-for-build-host`` (default; the workplan's registry as it behaves): the
  same app.ini; port 80 is forwarded to Gitea for the node (the workplan's T09 pull works),
  but refused for the build host (``REJECT --reject-with tcp-reset`` for its address in the
  netns' own iptables), where the workplan's push needs its pre-fetched token.
* ``wrong-port-forwarded``: the same app.ini, plus the operator's port-80 forward to Gitea
  for everyone.
* ``correct``: ``ROOT_URL`` with the port.

(Gitea 1.26.0 ``routers/api/packages/container/container.go`` builds the realm from
``httplib.GuessCurrentHostURL`` (``modules/httplib/url.go``): with ``legacy`` that is ROOT_URL
for a request without ``X-Forwarded-Proto``; with ``auto``, the 1.26 default
(``modules/setting/server.go``), it would follow the request's Host and hide the bug.)

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
import base64
import contextlib
import http.client
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, cast, get_args
from urllib.parse import quote, urlencode

from pytest_irp.fileio import write_atomic

RealmMode = Literal["wrong-port-dead-for-build-host", "wrong-port-dead", "wrong-port-forwarded",
                    "correct"]
REALM_MODES: Final[tuple[str, ...]] = get_args(RealmMode)
DEFAULT_REALM_MODE: Final[RealmMode] = "wrong-port-dead-for-build-host"
FORWARDED_MODES: Final = ("wrong-port-dead-for-build-host", "wrong-port-forwarded")
DEFAULT_BUILD_HOST: Final = "10.77.0.2"  # haskelseed

GITEA_VERSION: Final = "1.26.0"
SERVICE: Final = "container_registry"  # Gitea's service name
BASIC_CHALLENGE: Final = 'Basic realm="Gitea Container Registry"'  # Gitea >= 1.26
DEFAULT_USER: Final = "tegwick"
DEFAULT_EMAIL: Final = "tegwick@lab.invalid"
DEFAULT_ORGS: Final = ("coulomb", "irp")  # irp: the lab cluster's own images
DEFAULT_REPO: Final = "coulomb/ihp-railiance-probe"
DEFAULT_NETNS: Final = "irp-gitea"
DEFAULT_ADDRESS: Final = "10.77.0.3"
DEFAULT_PORT: Final = 3000
DEFAULT_WRONG_PORT: Final = 80
LOOPBACK: Final = "127.0.0.1"
LAB_IFACE_PREFIX: Final = "irp"  # the lab's bridge irpbr0 (and any lab interface)
NGINX_BIN: Final = "nginx"
SKOPEO_BIN: Final = "skopeo"
PROCESS_NAMES: Final = ("gitea", "forward")
START_TIMEOUT: Final = 60.0
STOP_TIMEOUT: Final = 5.0
ACCESS_SCOPES: Final = "all"
PASSWORD_LINE: Final = re.compile(r"generated random password is '([^']+)'")


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


def root_url(mode: RealmMode, address: str, port: int, wrong_port: int) -> str:
    """Gitea's ``[server] ROOT_URL`` in the given mode (the operator's setting)."""
    return host_url(address, port if mode == "correct" else wrong_port) + "/"


def realm_url(mode: RealmMode, address: str, port: int, wrong_port: int) -> str:
    """The token realm Gitea advertises in the given mode (ROOT_URL + ``v2/token``)."""
    return root_url(mode, address, port, wrong_port) + "v2/token"


def challenge(realm: str) -> str:
    """Gitea's Bearer challenge (the first of the two on every 401 from ``/v2/``)."""
    return f'Bearer realm="{realm}",service="{SERVICE}",scope="*"'


def default_cache_dir() -> Path:
    return Path(os.environ.get("IRP_CACHE_DIR", "/var/cache/pytest-irp"))


def gitea_home(cache_dir: Path, version: str = GITEA_VERSION) -> Path:
    """Where ``lab/build-gitea.sh`` puts ``bin/gitea`` and ``static/`` (templates, options)."""
    return cache_dir / "gitea" / f"v{version}"


def bind_address(netns: str | None, address: str) -> str:
    """Where Gitea binds: the lab address in a netns, loopback otherwise."""
    if netns is not None:
        return address
    return address if ipaddress.ip_address(address).is_loopback else LOOPBACK


@dataclass(frozen=True)
class GiteaSpec:
    """Everything app.ini depends on."""

    address: str
    port: int
    root_url: str
    work_dir: Path
    static_root: Path
    log_dir: Path
    secret_key: str
    internal_token: str
    jwt_secret: str
    lfs_jwt_secret: str


def app_ini(spec: GiteaSpec) -> str:
    """Gitea's app.ini: SQLite, packages and Actions on, no SSH, no registration, realm from
    ROOT_URL (``PUBLIC_URL_DETECTION = legacy``). Holds secrets: write it 0600."""
    work = spec.work_dir
    return f"""; written by pytest_irp_lab.registry; rewritten on a realm-mode change
APP_NAME = irp lab Gitea
RUN_MODE = prod
WORK_PATH = {work}

[server]
PROTOCOL = http
HTTP_ADDR = {spec.address}
HTTP_PORT = {spec.port}
ROOT_URL = {spec.root_url}
PUBLIC_URL_DETECTION = legacy
STATIC_ROOT_PATH = {spec.static_root}
APP_DATA_PATH = {work}/data
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false
LFS_JWT_SECRET = {spec.lfs_jwt_secret}

[database]
DB_TYPE = sqlite3
PATH = {work}/data/gitea.db

[repository]
ROOT = {work}/repositories
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = {spec.secret_key}
INTERNAL_TOKEN = {spec.internal_token}

[oauth2]
JWT_SECRET = {spec.jwt_secret}

[service]
DISABLE_REGISTRATION = true
REQUIRE_SIGNIN_VIEW = false

[packages]
ENABLED = true

[actions]
ENABLED = true

[mailer]
ENABLED = false

[log]
MODE = file
LEVEL = info
ROOT_PATH = {spec.log_dir}
"""


def new_secrets() -> dict[str, str]:
    """app.ini's secrets (JWT secrets: 32 random bytes, base64url without padding)."""
    def jwt() -> str:
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return {"secret_key": secrets.token_hex(32), "internal_token": secrets.token_urlsafe(64),
            "jwt_secret": jwt(), "lfs_jwt_secret": jwt()}


@dataclass(frozen=True)
class ForwardSpec:
    """The operator's port forward (nginx): ``listen`` -> Gitea's ``target``."""

    listen: str
    target: str
    pid_file: Path
    access_log: Path
    error_log: Path
    temp_dir: Path
    worker_user: str | None  # only when running as root


def forward_config(spec: ForwardSpec) -> str:
    """A plain reverse proxy, as an operator's port forward: no X-Forwarded-* headers (so
    Gitea's legacy URL detection keeps using ROOT_URL), bodies streamed."""
    user = f"user {spec.worker_user};\n" if spec.worker_user else ""
    tmp = spec.temp_dir
    return f"""# written by pytest_irp_lab.registry; do not edit
{user}worker_processes 1;
daemon off;
pid {spec.pid_file};
error_log {spec.error_log} notice;
events {{
    worker_connections 256;
}}
http {{
    access_log {spec.access_log};
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server_tokens off;
    client_max_body_size 0;
    proxy_http_version 1.1;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_read_timeout 900s;
    proxy_send_timeout 900s;
    server {{
        listen {spec.listen};
        location / {{
            proxy_pass http://{spec.target};
            proxy_set_header Host $http_host;
        }}
    }}
}}
"""


def netns_argv(netns: str | None, argv: Sequence[str]) -> list[str]:
    """Run ``argv`` inside ``netns`` (``ip netns exec`` execs, so the pid is the program's)."""
    return list(argv) if netns is None else ["ip", "netns", "exec", netns, *argv]


def gitea_argv(binary: Path, config: Path, work_dir: Path, *command: str) -> list[str]:
    return [str(binary), "--config", str(config), "--work-path", str(work_dir), *command]


def create_user_command() -> list[str]:
    """``admin user create``: the password is generated by Gitea and printed once."""
    return ["admin", "user", "create", "--username", DEFAULT_USER, "--email", DEFAULT_EMAIL,
            "--admin", "--random-password", "--random-password-length", "32",
            "--must-change-password=false"]


def token_command(user: str, name: str) -> list[str]:
    return ["admin", "user", "generate-access-token", "--username", user, "--token-name", name,
            "--scopes", ACCESS_SCOPES, "--raw"]


def parse_generated_password(output: str) -> str | None:
    """The password ``admin user create --random-password`` printed (None: not found)."""
    match = PASSWORD_LINE.search(output)
    return match.group(1) if match else None


def parse_raw_token(output: str) -> str | None:
    """The token ``generate-access-token --raw`` printed: its last line of 40 hex digits
    (Gitea's log lines, e.g. the running-as-root warning, may come before it)."""
    lines = [ln.strip() for ln in output.splitlines()]
    tokens = [ln for ln in lines if re.fullmatch(r"[0-9a-f]{40}", ln)]
    return tokens[-1] if tokens else None


def firewall_argv(action: str, source: str, port: int) -> list[str]:
    """iptables: refuse TCP from ``source`` to ``port`` the way a closed port does (RST)."""
    return ["iptables", "-w", action, "INPUT", "-p", "tcp", "-s", source, "--dport", str(port),
            "-j", "REJECT", "--reject-with", "tcp-reset"]


def nginx_argv(prefix: Path, config: Path, error_log: Path) -> list[str]:
    return [NGINX_BIN, "-p", str(prefix), "-c", str(config), "-e", str(error_log)]


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


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def git_auth_env(header: str) -> dict[str, str]:
    """git's config from the environment (``GIT_CONFIG_COUNT``): an Authorization header for
    HTTP, so the credential is in no argv (``/proc/PID/environ`` is readable by root only)."""
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: {header}", "GIT_TERMINAL_PROMPT": "0"}


def gitea_env(environ: Mapping[str, str], work_dir: Path) -> dict[str, str]:
    """Environment of Gitea's processes: no GITEA__* overrides from the caller's
    environment (they would override app.ini), root allowed (see the module docstring)."""
    env = {k: v for k, v in environ.items() if not k.startswith("GITEA")}
    env.update({"GITEA_WORK_DIR": str(work_dir), "HOME": str(work_dir / "home"),
                "GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT": "true"})
    return env


# --------------------------------------------------------------------------- readiness


@dataclass(frozen=True)
class Check:
    """One readiness condition: ``GET url`` gives ``status`` (and, if set, a Bearer challenge
    with this realm), or, with ``status == 0``, the connection is refused."""

    url: str
    status: int
    realm: str | None = None


def ready_checks(mode: RealmMode, address: str, port: int, wrong_port: int) -> list[Check]:
    """What must hold once Gitea (and the forward) serve in ``mode``."""
    base = host_url(address, port)
    wrong = host_url(address, wrong_port)
    checks = [Check(f"{base}/api/v1/version", 200),
              Check(f"{base}/v2/", 401, realm_url(mode, address, port, wrong_port))]
    if mode in FORWARDED_MODES:  # (seen from here: for the node, the realm answers)
        checks.append(Check(f"{wrong}/api/v1/version", 200))
    elif mode == "wrong-port-dead":
        checks.append(Check(f"{wrong}/api/v1/version", 0))
    return checks


def bearer_realm(www_authenticate: Sequence[str]) -> str | None:
    """The realm of the Bearer challenge among the WWW-Authenticate header values."""
    for value in www_authenticate:
        match = re.match(r'\s*Bearer\s+realm="([^"]*)"', value, re.IGNORECASE)
        if match:
            return match.group(1)
    return None


def check_problem(check: Check, status: int, www_authenticate: Sequence[str]) -> str | None:
    """None if the observed answer satisfies ``check``, else what was seen."""
    if status != check.status:
        return f"{check.url}: status {status or 'connection refused'}, want {check.status}"
    if check.realm is not None and bearer_realm(www_authenticate) != check.realm:
        return f"{check.url}: WWW-Authenticate {list(www_authenticate)!r}, want {check.realm!r}"
    return None


def split_url(url: str) -> tuple[str, int, str]:
    without_scheme = url.removeprefix("http://")
    hostport, _, path = without_scheme.partition("/")
    host, _, port_text = hostport.partition(":")
    return host, int(port_text or 80), "/" + path


def http_request(url: str, *, method: str = "GET", headers: Mapping[str, str] | None = None,
                 body: bytes | None = None, timeout: float = 5.0
                 ) -> tuple[int, list[str], bytes]:
    """(status, WWW-Authenticate values, body); status 0 when the connection is refused."""
    host, port, path = split_url(url)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.headers.get_all("WWW-Authenticate") or [], data
    except ConnectionRefusedError:
        return 0, [], b""
    finally:
        conn.close()


def run_checks(checks: Sequence[Check]) -> str | None:
    """First unmet check, or None when all hold."""
    for check in checks:
        try:
            status, www, _ = http_request(check.url, timeout=2.0)
        except OSError as exc:
            return f"{check.url}: {exc}"
        problem = check_problem(check, status, www)
        if problem:
            return problem
    return None


# =========================================================================== files


@dataclass(frozen=True)
class Layout:
    """Every path under ``STATE/registry``."""

    root: Path

    @property
    def work_dir(self) -> Path:
        return self.root / "gitea"

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
    def token_file(self) -> Path:
        return self.secrets_dir / "token"

    @property
    def ini_secrets_file(self) -> Path:
        return self.secrets_dir / "app-ini-secrets.json"

    @property
    def app_ini(self) -> Path:
        return self.config_dir / "app.ini"

    @property
    def forward_config(self) -> Path:
        return self.config_dir / "forward-nginx.conf"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    @property
    def setup_file(self) -> Path:
        """Written once the user, its token, the orgs and the repository exist."""
        return self.run_dir / "setup.json"

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def make_dirs(self) -> None:
        for d in (self.work_dir / "data", self.work_dir / "home", self.config_dir,
                  self.run_dir, self.log_dir, self.nginx_prefix / "tmp"):
            d.mkdir(parents=True, exist_ok=True)
        self.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)


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


def missing_tools(cache_dir: Path | None = None) -> list[str]:
    """What the lab registry (and its tests) need and is missing."""
    missing = [b for b in (NGINX_BIN, SKOPEO_BIN, "ip", "git") if shutil.which(b) is None]
    binary = gitea_home(cache_dir or default_cache_dir()) / "bin" / "gitea"
    if not os.access(binary, os.X_OK):
        missing.append(f"{binary} (bash lab/build-gitea.sh)")
    return missing


# =========================================================================== the registry


class LabRegistry:
    """The lab's Gitea: see the module docstring."""

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
        cache_dir: Path | None = None,
        build_host: str = DEFAULT_BUILD_HOST,
    ) -> None:
        self.build_host = build_host
        self.netns = netns
        self.address = bind_address(netns, address)
        self.port = port
        self.wrong_port = wrong_port
        self.user = user
        self._mode = check_mode(realm_mode)
        self.layout = Layout(Path(state_dir) / "registry")
        self.home = gitea_home(Path(cache_dir) if cache_dir else default_cache_dir())

    # ------------------------------------------------------------------ properties

    @property
    def hostport(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def base_url(self) -> str:
        return host_url(self.address, self.port)

    @property
    def realm_mode(self) -> RealmMode:
        return self._mode

    @property
    def realm_url(self) -> str:
        return realm_url(self._mode, self.address, self.port, self.wrong_port)

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
    def pids(self) -> dict[str, PidInfo | None]:
        return {n: read_pid_file(self.layout.pid_file(n)) for n in PROCESS_NAMES}

    def _wanted(self) -> tuple[str, ...]:
        return PROCESS_NAMES if self._mode in FORWARDED_MODES else ("gitea",)

    # ------------------------------------------------------------------ lifecycle

    def is_running(self) -> bool:
        info = self.pids["gitea"]
        return info is not None and is_alive(info)

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
            self._spawn("gitea", gitea_argv(self.binary, self.layout.app_ini,
                                            self.layout.work_dir, "web"))
            if self._mode in FORWARDED_MODES:
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
        for name in reversed(PROCESS_NAMES):
            self._stop_one(name)
        if self.netns is not None and Path("/run/netns", self.netns).exists() and \
                shutil.which("iptables"):
            while self._firewall("-D", check=False):  # every copy of our one rule
                pass

    def _firewall(self, action: str, *, check: bool = True) -> bool:
        """Insert (``-I``) or delete (``-D``) the rule refusing the build host's connections
        to the realm port, in the netns' own iptables (it goes with the netns)."""
        argv = netns_argv(self.netns, firewall_argv(action, self.build_host, self.wrong_port))
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
        if check and done.returncode != 0:
            raise RegistryError(f"iptables {action} in {self.netns} failed: "
                                f"{done.stderr.strip()[-300:]}")
        return done.returncode == 0

    def set_realm_mode(self, mode: str) -> None:
        """Switch the realm mode as an operator would: app.ini, restart Gitea, forward on or
        off (a few seconds)."""
        self._mode = check_mode(mode)
        if self.is_running():
            self.stop()
            self.start()

    def token(self, scope: str | None = None, *, authenticated: bool = True) -> str:
        """A registry token from the endpoint that really answers (no argv secret)."""
        self._require_route()
        query = {"service": SERVICE, **({"scope": scope} if scope else {})}
        headers = {"Authorization": self._basic()} if authenticated else {}
        status, _, body = http_request(f"{self.token_url}?{urlencode(query)}", headers=headers)
        if status != 200:
            raise RegistryError(f"GET /v2/token: HTTP {status}")
        return str(json.loads(body)["token"])

    def api(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        """A Gitea API call (``/api/v1`` + path) with the user's access token."""
        self._require_route()
        headers = {"Authorization": f"token {self.token_file.read_text().strip()}",
                   "Accept": "application/json"}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        status, _, data = http_request(f"{self.base_url}/api/v1{path}", method=method,
                                       headers=headers, body=body, timeout=30)
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

    def publish_repo(self, source: Path, repo: str = DEFAULT_REPO) -> None:
        """Push every branch of the git repository ``source`` to ``repo`` over HTTP (forced:
        the lab's sample app is re-made per variant)."""
        url = f"{self.base_url}/{repo}.git"
        env = {**os.environ, **git_auth_env(self._basic())}
        argv = netns_argv(self.netns, ["git", "-C", str(source), "push", "--force", "--quiet",
                                       "--", url, "+refs/heads/*:refs/heads/*"])
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False,
                              timeout=120)
        if done.returncode != 0:
            raise RegistryError(f"git push of {source} to {url} failed: "
                                f"{(done.stderr or done.stdout).strip()[-500:]}")

    def status(self) -> dict[str, Any]:
        """A JSON-able summary (CLI ``status``)."""
        pids = {n: (i.pid if i and is_alive(i) else None) for n, i in self.pids.items()}
        mode = check_mode(str(self._saved_state().get("realm_mode", self._mode)))
        return {
            "running": self.is_running(),
            "gitea_version": GITEA_VERSION,
            "hostport": self.hostport,
            "netns": self.netns,
            "realm_mode": mode,
            "root_url": root_url(mode, self.address, self.port, self.wrong_port),
            "realm_url": realm_url(mode, self.address, self.port, self.wrong_port),
            "user": self.user,
            "password_file": str(self.layout.password_file),
            "token_file": str(self.layout.token_file),
            "pids": pids,
            "state_dir": str(self.layout.root),
        }

    # ------------------------------------------------------------------ internals

    def _basic(self) -> str:
        return basic_header(self.user, self.layout.password_file.read_text().strip())

    def _require_route(self) -> None:
        require_lab_route(self.address)

    def _check_prerequisites(self) -> None:
        missing = [] if os.access(self.binary, os.X_OK) else [
            f"{self.binary} (run: bash lab/build-gitea.sh)"]
        if self._mode == "wrong-port-dead-for-build-host" and self.netns is None:
            raise RegistryError("realm mode wrong-port-dead-for-build-host needs the lab "
                                "network (a netns): on loopback there is no build host "
                                "address to refuse")
        if self._mode == "wrong-port-dead-for-build-host" and shutil.which("iptables") is None:
            missing.append("iptables")
        if self._mode in FORWARDED_MODES and shutil.which(NGINX_BIN) is None:
            missing.append(NGINX_BIN)
        if self.netns is not None and shutil.which("ip") is None:
            missing.append("ip")
        if shutil.which("git") is None:
            missing.append("git")
        if missing:
            raise RegistryError(f"missing: {', '.join(missing)} "
                                "(scripts/install-system-packages.sh, lab/build-gitea.sh)")
        if self.netns is not None and not Path("/run/netns", self.netns).exists():
            raise RegistryError(f"network namespace {self.netns!r} does not exist")

    def _ini_secrets(self) -> dict[str, str]:
        path = self.layout.ini_secrets_file
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text())
            if isinstance(data, dict) and set(new_secrets()) <= set(data):
                return {k: str(v) for k, v in data.items()}
        fresh = new_secrets()
        write_atomic(path, json.dumps(fresh) + "\n", 0o600)
        return fresh

    def _write_app_ini(self) -> None:
        lay = self.layout
        spec = GiteaSpec(address=self.address, port=self.port,
                         root_url=root_url(self._mode, self.address, self.port,
                                           self.wrong_port),
                         work_dir=lay.work_dir, static_root=self.home / "static",
                         log_dir=lay.log_dir / "gitea", **self._ini_secrets())
        write_atomic(lay.app_ini, app_ini(spec), 0o600)

    def _cli(self, *command: str, timeout: float = 120) -> str:
        """Run a Gitea admin command; its output is returned, never logged (it may hold the
        generated password or the token)."""
        lay = self.layout
        argv = gitea_argv(self.binary, lay.app_ini, lay.work_dir, *command)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=gitea_env(os.environ, lay.work_dir), cwd=lay.work_dir,
                              check=False)
        if done.returncode != 0:
            raise RegistryError(f"gitea {' '.join(command[:3])} failed (exit "
                                f"{done.returncode}): {done.stderr.strip()[-600:]}")
        return done.stdout

    def _first_setup_offline(self) -> None:
        """Database, the user (password generated by Gitea) and its access token."""
        lay = self.layout
        self._cli("migrate")
        if not lay.password_file.exists():
            out = self._cli(*create_user_command())
            password = parse_generated_password(out)
            if password is None:
                raise RegistryError("gitea admin user create printed no generated password")
            write_atomic(lay.password_file, password + "\n", 0o600)
        if not lay.token_file.exists():
            name = f"irp-lab-{secrets.token_hex(4)}"
            token = parse_raw_token(self._cli(*token_command(self.user, name)))
            if token is None:
                raise RegistryError("gitea admin user generate-access-token printed no token")
            write_atomic(lay.token_file, token + "\n", 0o600)

    def _first_setup_online(self) -> None:
        """Organisations and the app repository, over the API (idempotent)."""
        for org in DEFAULT_ORGS:
            status, data = self.api("POST", "/orgs", {"username": org, "visibility": "public"})
            if status not in (201, 422):
                raise RegistryError(f"POST /api/v1/orgs {org}: HTTP {status} {data}")
        owner, _, name = DEFAULT_REPO.partition("/")
        status, data = self.api("POST", f"/orgs/{owner}/repos",
                                {"name": name, "default_branch": "main", "private": False})
        if status not in (201, 409):
            raise RegistryError(f"POST /api/v1/orgs/{owner}/repos: HTTP {status} {data}")
        write_atomic(self.layout.setup_file, json.dumps(
            {"user": self.user, "orgs": list(DEFAULT_ORGS), "repo": DEFAULT_REPO}) + "\n")

    def _saved_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.layout.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save_state(self) -> None:
        state = {"realm_mode": self._mode, "hostport": self.hostport,
                 "wrong_port": self.wrong_port, "netns": self.netns,
                 "gitea_version": GITEA_VERSION}
        write_atomic(self.layout.state_file, json.dumps(state, indent=2) + "\n")

    def _spawn(self, name: str, argv: Sequence[str]) -> None:
        env = gitea_env(os.environ, self.layout.work_dir)
        log = self.layout.log_file(name)
        info = spawn(netns_argv(self.netns, argv), log, env, self.layout.work_dir)
        write_atomic(self.layout.pid_file(name), info.to_json() + "\n")

    def _spawn_forward(self) -> None:
        lay = self.layout
        spec = ForwardSpec(
            listen=f"{self.address}:{self.wrong_port}", target=self.hostport,
            pid_file=lay.run_dir / "forward-nginx.pid",
            access_log=lay.log_file("forward-access"), error_log=lay.log_file("forward-error"),
            temp_dir=lay.nginx_prefix / "tmp",
            worker_user="nobody nogroup" if os.geteuid() == 0 else None)
        write_atomic(lay.forward_config, forward_config(spec))
        self._spawn("forward", nginx_argv(lay.nginx_prefix, lay.forward_config,
                                          lay.log_file("forward-error")))

    def _stop_one(self, name: str) -> None:
        path = self.layout.pid_file(name)
        info = read_pid_file(path)
        if info is not None:
            terminate(info)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def _dead(self) -> str | None:
        """Which of our processes died (then waiting for readiness is pointless)."""
        for _ in range(2):  # reap first, so a just-exited child does not look alive
            for info in self.pids.values():
                if info is not None:
                    reap(info.pid)
        dead = [n for n in self._wanted()
                if (i := self.pids[n]) is None or not is_alive(i)]
        return f"exited: {', '.join(dead)}" if dead else None

    def _wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        self._require_route()
        checks = ready_checks(self._mode, self.address, self.port, self.wrong_port)
        deadline = time.monotonic() + timeout
        problem: str | None = None
        while time.monotonic() < deadline:
            problem = run_checks(checks)
            if problem is None:
                return
            dead = self._dead()
            if dead is not None:
                problem = dead
                break
            time.sleep(0.1)
        logs = "\n".join(f"--- {n}.log\n{tail(self.layout.log_file(n))}"
                         for n in (*self._wanted(), "forward-error"))
        raise RegistryError(f"lab Gitea not ready: {problem}\n{logs}")


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


def route_device(route_get_output: str) -> str | None:
    """The ``dev`` of an ``ip route get ADDRESS`` answer."""
    words = route_get_output.split()
    return words[words.index("dev") + 1] if "dev" in words[:-1] else None


# =========================================================================== CLI


def default_state_dir() -> Path:
    return Path(os.environ.get("IRP_LAB_DIR", "/var/tmp/irp-lab"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pytest_irp_lab.registry",
                                description="The lab's Gitea.")
    p.add_argument("command", choices=["start", "stop", "status"])
    p.add_argument("--state-dir", type=Path, default=default_state_dir())
    p.add_argument("--loopback", action="store_true", help="run on 127.0.0.1, no netns")
    p.add_argument("--netns", default=DEFAULT_NETNS)
    p.add_argument("--address", default=DEFAULT_ADDRESS)
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--wrong-port", type=int, default=DEFAULT_WRONG_PORT)
    p.add_argument("--mode", default=DEFAULT_REALM_MODE, choices=REALM_MODES)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    reg = LabRegistry(args.state_dir, netns=None if args.loopback else args.netns,
                      address=args.address, port=args.port, realm_mode=args.mode,
                      wrong_port=args.wrong_port)
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

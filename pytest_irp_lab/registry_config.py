"""The lab registry's pure parts: realm modes and the URLs they give, Gitea's app.ini,
the operator's port forward (nginx), the command lines of Gitea's admin commands, of the
firewall rule and of nginx, the parsers of Gitea's output, the processes' environments,
and the readiness checks with their judge. :mod:`pytest_irp_lab.registry` runs them.

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
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, cast, get_args

from pytest_irp_lab import net
from pytest_irp_lab.proc import daemon_env

RealmMode = Literal[
    "wrong-port-dead-for-build-host", "wrong-port-dead", "wrong-port-forwarded", "correct"
]
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
NGINX_BIN: Final = "nginx"
SKOPEO_BIN: Final = "skopeo"
PROCESS_NAMES: Final = ("gitea", "forward")
START_TIMEOUT: Final = 60.0
STOP_TIMEOUT: Final = 5.0
ACCESS_SCOPES: Final = "all"
PASSWORD_LINE: Final = re.compile(r"generated random password is '([^']+)'")


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
    ROOT_URL (``PUBLIC_URL_DETECTION = legacy``). Actions: ``DEFAULT_ACTIONS_URL = github``
    (Gitea's default, written out: a runner would clone ``uses: actions/checkout@v3`` from
    github.com, which the offline lab cannot reach; T12's audit names it). Holds secrets:
    write it 0600."""
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
DEFAULT_ACTIONS_URL = github

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

    return {
        "secret_key": secrets.token_hex(32),
        "internal_token": secrets.token_urlsafe(64),
        "jwt_secret": jwt(),
        "lfs_jwt_secret": jwt(),
    }


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
    return list(argv) if netns is None else net.netns_exec(netns, argv)


def gitea_argv(binary: Path, config: Path, work_dir: Path, *command: str) -> list[str]:
    return [str(binary), "--config", str(config), "--work-path", str(work_dir), *command]


def create_user_command() -> list[str]:
    """``admin user create``: the password is generated by Gitea and printed once."""
    return [
        "admin",
        "user",
        "create",
        "--username",
        DEFAULT_USER,
        "--email",
        DEFAULT_EMAIL,
        "--admin",
        "--random-password",
        "--random-password-length",
        "32",
        "--must-change-password=false",
    ]


def token_command(user: str, name: str) -> list[str]:
    return [
        "admin",
        "user",
        "generate-access-token",
        "--username",
        user,
        "--token-name",
        name,
        "--scopes",
        ACCESS_SCOPES,
        "--raw",
    ]


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
    return [
        "iptables",
        "-w",
        action,
        "INPUT",
        "-p",
        "tcp",
        "-s",
        source,
        "--dport",
        str(port),
        "-j",
        "REJECT",
        "--reject-with",
        "tcp-reset",
    ]


def nginx_argv(prefix: Path, config: Path, error_log: Path) -> list[str]:
    return [NGINX_BIN, "-p", str(prefix), "-c", str(config), "-e", str(error_log)]


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def git_auth_env(header: str) -> dict[str, str]:
    """git's config from the environment (``GIT_CONFIG_COUNT``): an Authorization header for
    HTTP, so the credential is in no argv (``/proc/PID/environ`` is readable by root only)."""
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: {header}",
        "GIT_TERMINAL_PROMPT": "0",
    }


def gitea_env(environ: Mapping[str, str], work_dir: Path) -> dict[str, str]:
    """Environment of Gitea's processes: a lab daemon's (no proxies, no secrets of the
    caller), without GITEA* overrides from the caller's environment (they would override
    app.ini), root allowed (see the registry module's docstring)."""
    return daemon_env(
        environ,
        drop_prefixes=("GITEA",),
        extra={
            "GITEA_WORK_DIR": str(work_dir),
            "HOME": str(work_dir / "home"),
            "GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT": "true",
        },
    )


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
    checks = [
        Check(f"{base}/api/v1/version", 200),
        Check(f"{base}/v2/", 401, realm_url(mode, address, port, wrong_port)),
    ]
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

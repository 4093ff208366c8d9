"""Settings: one table of definitions, one resolver.

Every setting is available as a command-line option (``--irp-NAME``), an environment
variable (``IRP_NAME``) and a key of ``[tool.irp]`` (in ``pyproject.toml`` or in a TOML
file given with ``--irp-config``). Precedence is decided in :func:`resolve` only:
command line > environment > file > default. Secret settings never come from the
command line (a password on argv is visible to every user of the machine).
"""

from __future__ import annotations

import os
import shlex
import stat
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .redact import Secret, mask_userinfo, url_passwords
from .setting_parsers import (
    _argv,
    _bool,
    _criterion_list,
    _git_remote,
    _host,
    _int,
    _k8s_name,
    _path,
    _ref,
    _registry,
    _safe_name,
    _str,
    _tag,
    _url,
    parse_duration,
)
from .stages import SPECS


class SettingError(ValueError):
    """A setting has a bad value; the message names the setting and its source."""


# --------------------------------------------------------------------------- table


@dataclass(frozen=True)
class Setting:
    """One setting: its documentation and how to parse it."""

    name: str
    help: str
    type_name: str
    parse: Callable[[Any], Any]
    default: Any = None
    example: str = ""
    secret: bool = False
    group: str = "target"
    cli: bool = True
    multiple: bool = False

    @property
    def option(self) -> str:
        return "--irp-" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "IRP_" + self.name.upper()


def _s(name: str, help: str, type_name: str, parse: Callable[[Any], Any], default: Any = None,
       example: str = "", **kw: Any) -> Setting:
    return Setting(name, help, type_name, parse, default, example, **kw)


# the default time limit of each stage (setting timeout_NAME), from the stage list
STAGE_TIMEOUTS: dict[str, float] = {spec.name: spec.timeout for spec in SPECS}

SETTINGS: tuple[Setting, ...] = (
    # build host and source
    _s("host", "SSH destination or ssh-config alias of the build host (where `nix build` runs).",
       "str", _host, None, "haskelseed"),
    _s("ssh_config", "ssh config file passed to every ssh call with -F (aliases, keys, "
       "known_hosts). Without it, OpenSSH's own defaults apply.", "path", _path, None,
       "~/.ssh/config"),
    _s("connect_timeout", "Seconds to wait for an SSH connection before giving up.",
       "duration", parse_duration, 10.0, "5s"),
    _s("app_repo", "Local path of the application's git repository.", "path", _path, ".",
       "~/src/ihp-railiance-probe"),
    _s("app_name", "Application name (flake appName, chart name, image name): lower-case "
       "letters, digits, '.', '_', '-'.", "str", _safe_name,
       "ihp-railiance-probe", "ihp-railiance-probe"),
    _s("remote_dir", "Path of the checkout on the build host (relative to the SSH user's home "
       "unless absolute).", "str", _str, "ihp-railiance-probe", "/root/ihp-railiance-probe"),
    _s("git_remote", "Git URL the build host fetches the revision from. Unset: the tracked "
       "files are copied over SSH and committed there.", "str", _git_remote, None,
       "ssh://git@git.example.invalid/coulomb/ihp-railiance-probe.git"),
    _s("ref", "Git ref or SHA under test (resolved in app_repo).", "str", _ref, "HEAD", "main"),
    _s("tag", "Image tag. Default: the short SHA under test.", "str", _tag, None, "a1b2c3d"),
    # nix build
    _s("nix_options", "Extra options for `nix build` on the build host (the workplan requires "
       "-j1 on the 2-CPU host).", "argv", _argv, ("-j1",), "-j1 --cores 2"),
    _s("build_attr", "Flake attribute that builds the image (IHP's flake module names its "
       "images .#optimized-docker-image and .#unoptimized-docker-image).", "str", _str,
       ".#docker", ".#optimized-docker-image"),
    _s("flake_options", "Options for T01's `nix flake check`, `nix flake show` and `nix eval`. "
       "IHP apps are devenv-based flakes that need --impure (IHP's own CI and Guide run "
       "`nix flake check --impure`); set it empty for a pure flake.", "argv", _argv,
       ("--impure",), "--impure --option sandbox relaxed"),
    _s("libhsghc_path", "Path on the build host of the GHC library archive the workplan checks "
       "before building (Bug 2). Unset: the check is skipped with its reason.", "str", _str,
       None, "/nix/store/...-ghc-9.10.3/lib/.../libHSghc-9.10.3-5702.a"),
    _s("libhsghc_size", "Expected size in bytes of that archive.", "int", _int, 289295782,
       "289295782"),
    _s("min_free_disk_mb", "Free space needed in the build host's /nix, in MiB.", "int", _int,
       2048, "10240"),
    _s("min_free_mem_mb", "Available memory needed on the build host, in MiB.", "int", _int,
       512, "1500"),
    # registry
    _s("registry", "Image repository as HOST:PORT/OWNER/NAME.", "str", _registry, None,
       "registry.example.invalid:32166/coulomb/ihp-railiance-probe", group="registry"),
    _s("registry_user", "Registry user name.", "str", _str, None, "tegwick", group="registry"),
    _s("registry_password", "Registry password or API key. Environment "
       "(IRP_REGISTRY_PASSWORD) or registry_password_file only: never on the command line "
       "or in a TOML file.",
       "str", _str, None, "(from the environment)", secret=True, cli=False, group="registry"),
    _s("registry_password_file", "File holding the registry password (first line; mode "
       "0600: a file group or others can read is refused).", "path",
       _path, None, "~/.config/irp/registry-password", group="registry"),
    _s("registry_plain_http", "Talk to the registry over plain HTTP (no TLS), as the "
       "workplan's Gitea does.", "bool", _bool, False, "true", group="registry"),
    _s("registry_token_workaround", "Opt in to the workplan's workaround for a wrong token "
       "realm: the token from the registry's own /v2/token is passed to skopeo "
       "(--dest-registry-token) for that push only. It is visible in the build host's "
       "process list meanwhile (masked here, reported as a finding). Off: a realm that does "
       "not answer fails T07 with its fix.", "bool", _bool, False, "true", group="registry"),
    _s("skopeo", "skopeo command on the build host.", "argv", _argv, ("skopeo",),
       "/nix/store/...-skopeo-1.22.2/bin/skopeo", group="registry"),
    # node / cluster
    _s("node_host", "SSH destination or alias of the k3s node (for T09).", "str", _host,
       "railiance01", "railiance01", group="cluster"),
    _s("registries_yaml", "Path of k3s's registries.yaml on the node.", "str", _str,
       "/etc/rancher/k3s/registries.yaml", "/etc/rancher/k3s/registries.yaml",
       group="cluster"),
    _s("certs_dir", "Directory of containerd's rendered hosts.toml files on the node.", "str",
       _str, "/var/lib/rancher/k3s/agent/etc/containerd/certs.d",
       "/var/lib/rancher/k3s/agent/etc/containerd/certs.d", group="cluster"),
    _s("crictl", "crictl command on the node (node_sudo goes in front).", "argv", _argv,
       ("k3s", "crictl"), "k3s crictl", group="cluster"),
    _s("node_sudo", "Prefix for the node's commands that need root (reading registries.yaml "
       "and hosts.toml, crictl): `sudo -n` (fails at once when sudo wants a password), "
       "`sudo`, or empty for none (a root login).", "argv", _argv, (), "sudo -n",
       group="cluster"),
    _s("kubeconfig", "kubeconfig file. Unset: KUBECONFIG or ~/.kube/config.", "path", _path,
       None, "~/.kube/config", group="cluster"),
    _s("kube_context", "kubeconfig context of the cluster.", "str", _str, "railiance01",
       "railiance01", group="cluster"),
    _s("namespace", "Namespace of the release.", "str", _k8s_name, "coulomb", "coulomb",
       group="cluster"),
    _s("release", "Helm release name.", "str", _k8s_name, "ihp-railiance-probe",
       "ihp-railiance-probe", group="cluster"),
    _s("chart", "Chart directory, relative to app_repo unless absolute.", "str", _str, "chart",
       "chart", group="cluster"),
    _s("secret_name", "Name of the env Secret. Default: RELEASE-env.", "str", _str, None,
       "ihp-railiance-probe-env", group="cluster"),
    _s("helm", "helm command on this machine.", "argv", _argv, ("helm",),
       "/usr/local/bin/helm", group="cluster"),
    _s("helm_values", "Extra values files for the release (relative to app_repo).", "argv",
       _argv, (), "chart/values-prod.yaml", group="cluster"),
    _s("database_url", "DATABASE_URL for the env Secret when it has to be created. "
       "Environment (IRP_DATABASE_URL) or database_url_file only.", "str", _str, None,
       "(from the environment)", secret=True, cli=False, group="cluster"),
    _s("database_url_file", "File holding database_url (first line; mode 0600).", "path",
       _path, None, "~/.config/irp/database-url", group="cluster"),
    _s("session_secret", "IHP_SESSION_SECRET for the env Secret when it has to be created "
       "(base64 of 96 bytes; generated when unset). Environment (IRP_SESSION_SECRET) or "
       "session_secret_file only.", "str", _str, None, "(from the environment)", secret=True,
       cli=False, group="cluster"),
    _s("session_secret_file", "File holding session_secret (first line; mode 0600).", "path",
       _path, None, "~/.config/irp/session-secret", group="cluster"),
    # live checks
    _s("base_url", "Public base URL of the deployed app for the smoke checks.", "url", _url,
       None, "http://probe.example.invalid", group="live"),
    _s("startup_line", "A line the app prints at start (IHP prints `Server started` only in "
       "Development). Unset: not checked.", "str", _str, None, "Server started", group="live"),
    _s("log_watch", "How long T11 follows the pod logs for panics and leaked secrets.",
       "duration", parse_duration, 60.0, "60s", group="live"),
    _s("pipeline_log", "Append a PIPELINE_LOG.md row on full success.", "bool", _bool, True,
       "false", group="live"),
    # app side
    _s("test_command", "Command on the build host that runs the Hspec tests (T05). The "
       "default runs the flake's tests check as IHP's boilerplate CI does; that check exists "
       "from IHP 1.5 and has no PostgreSQL (nix sandbox): for database-backed specs run them "
       "in devenv, as the workplan does (docs/app-checks.md).", "argv",
       _argv, ("nix", "flake", "check", "--impure", "-L"), "devenv shell -- test",
       group="app"),
    _s("test_report_command", "Command on the build host that prints the test report when "
       "the test command did not (nix shows no log for an already built check).", "argv",
       _argv, ("nix", "log", "--impure", ".#checks.x86_64-linux.tests"),
       "nix log --impure .#checks.x86_64-linux.tests", group="app"),
    _s("dev_url", "URL of a running `devenv up` (T02's live part). Unset: skipped.", "url",
       _url, None, "http://127.0.0.1:8000", group="app"),
    _s("generated_types", "Generated types file (T03), relative to app_repo.", "str", _str,
       "build/Generated/Types.hs", "build/Generated/Types.hs", group="app"),
    # CI (T12)
    _s("ci", "Check T12 (Gitea Actions); otherwise skipped with its reason.", "bool", _bool,
       False, "true", group="ci"),
    _s("runner_label", "Label of the Actions runner on the build host.", "str", _str,
       "haskelseed", "haskelseed", group="ci"),
    _s("gitea_api_url", "Gitea API base URL for T12's latest-run check.", "url", _url, None,
       "http://git.example.invalid:32166/api/v1", group="ci"),
    _s("gitea_token", "Gitea API token. Environment (IRP_GITEA_TOKEN) or gitea_token_file "
       "only.", "str", _str, None, "(from the environment)", secret=True, cli=False,
       group="ci"),
    _s("gitea_token_file", "File holding gitea_token (first line; mode 0600).", "path", _path,
       None, "~/.config/irp/gitea-token", group="ci"),
    _s("gitea_repo", "OWNER/NAME of the app repository in Gitea. Default: the registry "
       "path.", "str", _str, None, "coulomb/ihp-railiance-probe", group="ci"),
    _s("ci_branch", "Branch whose latest CI run must have succeeded.", "str", _ref, "main",
       "main", group="ci"),
    # run control
    _s("reports_dir", "Where reports, logs and summary.json go.", "path", _path, "reports",
       "reports", group="run"),
    _s("reuse", "Reuse saved stage results whose inputs are unchanged.", "bool", _bool, False,
       "true", group="run"),
    _s("force", "Stages to re-run even with --irp-reuse (repeatable).", "list",
       _criterion_list, (), "build", group="run", multiple=True),
    _s("plan", "Print the stages and exact commands for the selected criteria; run nothing.",
       "bool", _bool, False, "true", group="run"),
    _s("preflight", "Run only the preflight (read-only checks of what the selected stages "
       "need: registry, cluster, node, tools, base URL, build host) and exit non-zero when "
       "one fails; no build, push or deploy.", "bool", _bool, False, "true", group="run"),
    _s("lab", "Bring the embedded lab up and run against it.", "bool", _bool, False, "true",
       group="run"),
    _s("lab_variant", "Sample app variant the lab prepares (for negative tests).", "str", _str,
       "ok", "build-fails", group="run"),
) + tuple(
    _s(f"timeout_{stage}", f"Time limit of the {stage} stage.", "duration", parse_duration,
       seconds, f"{int(seconds)}s", group="timeouts")
    for stage, seconds in STAGE_TIMEOUTS.items()
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
# what a header, a report or summary.json shows as "the target"
TARGET_SETTINGS = ("host", "registry", "kube_context", "namespace", "release", "base_url")
BOOL_FLAGS = frozenset(s.name for s in SETTINGS if s.type_name == "bool")


# --------------------------------------------------------------------------- resolution


MIN_SECRET_LEN = 8  # a configured secret shorter than this is refused (threat-model.md)


class _Values(dict[str, Any]):
    """The resolved values; their repr masks URL passwords (secrets are Secret objects)."""

    def __repr__(self) -> str:
        return mask_userinfo(super().__repr__())
URL_SETTINGS = ("base_url", "dev_url", "gitea_api_url", "git_remote")


@dataclass(frozen=True, repr=False)
class Resolved:
    """The settings in force, with where each value came from. Secret settings hold a
    :class:`~pytest_irp.redact.Secret` (``.reveal()`` gives the value); the repr shows
    the target only, with URL passwords masked."""

    values: Mapping[str, Any]
    sources: Mapping[str, str]
    secrets: tuple[Secret, ...] = field(default=())

    def __repr__(self) -> str:
        return f"Resolved({describe(self, TARGET_SETTINGS)})"

    __str__ = __repr__

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value

    def require(self, name: str, needed_by: str = "here") -> Any:
        """The value, or a SettingError saying how to give it."""
        value = self.values.get(name)
        if value is None or value == ():
            s = BY_NAME[name]
            ways = [s.env, f"`{name}` in [tool.irp]"]
            if s.secret:
                ways = [s.env, f"{name}_file"]
            elif s.cli:
                ways.insert(0, s.option)
            raise SettingError(f"setting '{name}' is required {needed_by} but not set "
                               f"(give it with {', '.join(ways)}).")
        return value

    def credentials(self) -> list[tuple[str | None, Secret]]:
        """(user or None, secret) for every configured secret and URL password: what the
        redactor must know before anything can print it."""
        found: list[tuple[str | None, Secret]] = [(None, secret) for secret in self.secrets]
        user, password = self.values.get("registry_user"), self.values.get("registry_password")
        if user and password:
            found.append((str(user), password))
        for name in URL_SETTINGS:
            for url_user, url_password in url_passwords(str(self.values.get(name) or "")):
                found.append((url_user, Secret(url_password)))
        return found


def load_file(path: Path, *, section_required: bool = False) -> dict[str, Any]:
    """The ``[tool.irp]`` table of a TOML file (a bare top-level table is accepted too
    for files given with --irp-config)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingError(f"config file {path} does not exist.") from None
    except OSError as exc:
        raise SettingError(f"config file {path} cannot be read: {exc.strerror or exc}.") \
            from None
    except UnicodeDecodeError:
        raise SettingError(f"config file {path} is not UTF-8 text (TOML).") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingError(f"config file {path} is not valid TOML: {exc}.") from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise SettingError(f"config file {path}: 'tool' must be a table ([tool.irp] holds "
                           f"the settings), got {type(tool).__name__} {tool!r}.")
    table = tool.get("irp")
    if table is None:
        if section_required:
            return {}
        table = {k: v for k, v in data.items() if k != "tool"}
    if not isinstance(table, dict):
        raise SettingError(f"config file {path}: [tool.irp] must be a table.")
    return table


def _read_secret_file(path: str, name: str, source: str) -> str:
    """The first line of a secret file that only its owner can read (like ssh's key
    files: OpenSSH authfile.c refuses a key whose mode has any of 077)."""
    try:
        mode = os.stat(path).st_mode
        text = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SettingError(f"setting '{name}' (from {source}): cannot read {path}: "
                           f"{exc.strerror}.") from None
    if mode & 0o077:
        raise SettingError(f"setting '{name}' (from {source}): {path} has mode "
                           f"{stat.S_IMODE(mode):04o}, so other users of this machine can "
                           f"read or change it; a file holding a secret must be private to "
                           f"its owner: run `chmod 600 {shlex.quote(path)}`.")
    if not text or not text[0].strip():
        raise SettingError(f"setting '{name}' (from {source}): {path} is empty.")
    return text[0].strip()


def _check_secret(name: str, value: str, source: str) -> None:
    if len(value) < MIN_SECRET_LEN:
        raise SettingError(f"setting '{name}' (from {source}): a secret must have at least "
                           f"{MIN_SECRET_LEN} characters (this one has {len(value)}); a "
                           f"shorter one could not be masked in the output without masking "
                           f"ordinary text too.")


def _check_url(name: str, value: str, source: str) -> None:
    """A password inside a URL setting: never on a command line, never short."""
    for _, password in url_passwords(value):
        if name == "git_remote":
            raise SettingError(
                f"setting 'git_remote' (from {source}) holds a password: the build host runs "
                f"`git fetch` with it, so it would be on a command line there. Use an ssh "
                f"URL with a deploy key, or a git credential helper on the build host.")
        if source.startswith("command line"):
            raise SettingError(
                f"setting '{name}' (from {source}) holds a password: a command line is "
                f"visible to every user of this machine; give it with "
                f"{BY_NAME[name].env} instead.")
        _check_secret(name, password, source)


def resolve(cli: Mapping[str, Any], env: Mapping[str, str],
            files: Iterable[tuple[str, Mapping[str, Any]]]) -> Resolved:
    """Decide every setting: CLI > environment > file(s, first wins) > default.

    ``cli`` holds only options given on the command line; ``files`` is a list of
    (label, table). Unknown keys in files are errors (typos must not pass silently).
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    file_list = list(files)
    for label, table in file_list:
        for key in table:
            if key not in BY_NAME:
                close = [n for n in BY_NAME if n.startswith(key[:4])][:3]
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise SettingError(f"unknown setting '{key}' in {label}{hint}.")
            if BY_NAME[key].secret:  # refused even when the environment also sets it
                raise SettingError(
                    f"setting '{key}' is a secret and is not accepted from {label}: a "
                    f"config file is easily shared or committed. Give it with the "
                    f"environment variable {BY_NAME[key].env} or put it in a file only you "
                    f"can read and set {key}_file.")
    for s in SETTINGS:
        raw: Any = None
        source = "default"
        if s.cli and cli.get(s.name) not in (None, [], ()):
            raw, source = cli[s.name], f"command line {s.option}"
        elif env.get(s.env, "") != "":
            raw, source = env[s.env], f"environment variable {s.env}"
        else:
            for label, table in file_list:
                if s.name in table:
                    raw, source = table[s.name], f"{label} key '{s.name}'"
                    break
        if raw is None:
            values[s.name] = s.default
        else:
            try:
                values[s.name] = s.parse(raw)
            except ValueError as exc:
                raise SettingError(f"setting '{s.name}' (from {source}): {exc}.") from None
        sources[s.name] = source
    for s in SETTINGS:
        if not s.secret:
            continue
        file_key = s.name + "_file"
        if values[s.name] is None and values.get(file_key):
            values[s.name] = _read_secret_file(values[file_key], file_key, sources[file_key])
            sources[s.name] = sources[file_key]
        if values[s.name] is not None:
            _check_secret(s.name, values[s.name], sources[s.name])
            values[s.name] = Secret(values[s.name])
    for name in URL_SETTINGS:
        if values.get(name):
            _check_url(name, str(values[name]), sources[name])
    secrets = tuple(values[s.name] for s in SETTINGS if s.secret and values[s.name])
    return Resolved(_Values(values), sources, secrets)


def describe(resolved: Resolved, names: Iterable[str]) -> str:
    """A one-line ``name=value`` summary for headers; secrets are never shown."""
    parts = []
    for name in names:
        value = resolved.values.get(name)
        if value in (None, ()):
            continue
        if BY_NAME[name].secret:
            value = "***"
        elif isinstance(value, tuple):
            value = " ".join(value)
        parts.append(f"{name}={mask_userinfo(str(value))}")
    return " ".join(parts)

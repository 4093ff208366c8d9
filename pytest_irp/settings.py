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


# the default time limit of each stage (setting timeout_NAME), from the stage list
STAGE_TIMEOUTS: dict[str, float] = {spec.name: spec.timeout for spec in SPECS}

TABLE_FILE = Path(__file__).with_name("settings.toml")  # the table, as data
PARSERS: dict[str, Callable[[Any], Any]] = {
    "argv": _argv,
    "bool": _bool,
    "criterion_list": _criterion_list,
    "git_remote": _git_remote,
    "host": _host,
    "int": _int,
    "k8s_name": _k8s_name,
    "path": _path,
    "ref": _ref,
    "registry": _registry,
    "safe_name": _safe_name,
    "str": _str,
    "tag": _tag,
    "url": _url,
    "parse_duration": parse_duration,
}


def _setting(row: Mapping[str, Any]) -> Setting:
    """One ``[[setting]]`` of settings.toml (a list default is kept as a tuple)."""
    default = row.get("default")
    return Setting(
        row["name"],
        row["help"],
        row["type"],
        PARSERS[row["parse"]],
        tuple(default) if isinstance(default, list) else default,
        row.get("example", ""),
        secret=row.get("secret", False),
        group=row.get("group", "target"),
        cli=row.get("cli", True),
        multiple=row.get("multiple", False),
    )


def load_table(path: Path = TABLE_FILE) -> tuple[Setting, ...]:
    """The settings of ``settings.toml``, then one ``timeout_<stage>`` per stage."""
    with path.open("rb") as handle:
        rows = tomllib.load(handle)["setting"]
    return tuple(_setting(row) for row in rows) + tuple(
        Setting(
            f"timeout_{stage}",
            f"Time limit of the {stage} stage.",
            "duration",
            parse_duration,
            seconds,
            f"{int(seconds)}s",
            group="timeouts",
        )
        for stage, seconds in STAGE_TIMEOUTS.items()
    )


SETTINGS: tuple[Setting, ...] = load_table()

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
            raise SettingError(
                f"setting '{name}' is required {needed_by} but not set "
                f"(give it with {', '.join(ways)})."
            )
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
        raise SettingError(f"config file {path} cannot be read: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise SettingError(f"config file {path} is not UTF-8 text (TOML).") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingError(f"config file {path} is not valid TOML: {exc}.") from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise SettingError(
            f"config file {path}: 'tool' must be a table ([tool.irp] holds "
            f"the settings), got {type(tool).__name__} {tool!r}."
        )
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
        raise SettingError(
            f"setting '{name}' (from {source}): cannot read {path}: {exc.strerror}."
        ) from None
    if mode & 0o077:
        raise SettingError(
            f"setting '{name}' (from {source}): {path} has mode "
            f"{stat.S_IMODE(mode):04o}, so other users of this machine can "
            f"read or change it; a file holding a secret must be private to "
            f"its owner: run `chmod 600 {shlex.quote(path)}`."
        )
    if not text or not text[0].strip():
        raise SettingError(f"setting '{name}' (from {source}): {path} is empty.")
    return text[0].strip()


def _check_secret(name: str, value: str, source: str) -> None:
    if len(value) < MIN_SECRET_LEN:
        raise SettingError(
            f"setting '{name}' (from {source}): a secret must have at least "
            f"{MIN_SECRET_LEN} characters (this one has {len(value)}); a "
            f"shorter one could not be masked in the output without masking "
            f"ordinary text too."
        )


def _check_url(name: str, value: str, source: str) -> None:
    """A password inside a URL setting: never on a command line, never short."""
    for _, password in url_passwords(value):
        if name == "git_remote":
            raise SettingError(
                f"setting 'git_remote' (from {source}) holds a password: the build host runs "
                f"`git fetch` with it, so it would be on a command line there. Use an ssh "
                f"URL with a deploy key, or a git credential helper on the build host."
            )
        if source.startswith("command line"):
            raise SettingError(
                f"setting '{name}' (from {source}) holds a password: a command line is "
                f"visible to every user of this machine; give it with "
                f"{BY_NAME[name].env} instead."
            )
        _check_secret(name, password, source)


def resolve(
    cli: Mapping[str, Any], env: Mapping[str, str], files: Iterable[tuple[str, Mapping[str, Any]]]
) -> Resolved:
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
                    f"can read and set {key}_file."
                )
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

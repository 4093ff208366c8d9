"""The parsers of setting values: each takes a raw value (command line, environment, TOML)
and returns the typed value or raises ValueError with what is wrong (the resolver in
:mod:`pytest_irp.settings` adds the setting's name and source)."""

from __future__ import annotations

import os
import re
import shlex
from typing import Any


def _str(raw: Any) -> str:
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise ValueError(f"expected a string, got {type(raw).__name__}")
    text = str(raw).strip()
    if not text:
        raise ValueError("expected a non-empty string")
    return text


_SAFE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$")


def _safe_name(raw: Any) -> str:
    """A name that is also one path component on the build host (its state directory,
    which build.sh removes with rm -rf): lower case, no '/', no '..'."""
    text = _str(raw)
    if not _SAFE_NAME.match(text) or ".." in text:
        raise ValueError(
            "expected a lower-case name of letters, digits, '.', '_' and '-' "
            "that starts and ends with a letter or digit (at most 63 "
            f"characters, no '..'), got {text!r}"
        )
    return text


def _path(raw: Any) -> str:
    return os.path.expanduser(_str(raw))


def _int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("expected an integer, got a boolean")
    try:
        value = int(str(raw).replace("_", ""))
    except ValueError:
        raise ValueError(f"expected an integer, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"expected a non-negative integer, got {value}")
    return value


_BOOL_WORDS = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word not in _BOOL_WORDS:
        raise ValueError(f"expected true/false, got {raw!r}")
    return _BOOL_WORDS[word]


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


MAX_DURATION = 7 * 24 * 3600.0  # a week: longer than any stage; more is a typo


def parse_duration(raw: Any) -> float:
    """``90`` / ``"90s"`` / ``"15m"`` / ``"1.5h"`` -> seconds (at most a week: a larger
    value, ``inf`` or ``nan`` from TOML is refused here, not an OverflowError later)."""
    if isinstance(raw, bool):
        raise ValueError("expected a duration, got a boolean")
    if isinstance(raw, int | float):
        seconds = float(raw)
    else:
        match = _DURATION.match(str(raw))
        if not match:
            raise ValueError(f"expected a duration like 90, 90s, 15m or 1h, got {raw!r}")
        seconds = float(match.group(1)) * _UNIT[match.group(2)]
    if not seconds > 0:  # also nan
        raise ValueError(f"expected a positive duration, got {raw!r}")
    if not seconds <= MAX_DURATION:  # also inf
        raise ValueError(
            f"expected a duration of at most 7 days ({MAX_DURATION:.0f}s; no stage or wait "
            f"needs more), got {str(raw)[:40]!r}"
        )
    return seconds


def _argv(raw: Any) -> tuple[str, ...]:
    """A list of arguments: a TOML list, or a string split like a shell would."""
    if isinstance(raw, list | tuple):
        return tuple(_str(item) for item in raw)
    if isinstance(raw, str):
        return tuple(shlex.split(raw))
    raise ValueError(f"expected a list of arguments, got {type(raw).__name__}")


_REGISTRY = re.compile(
    r"^(?P<host>[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(?P<port>\d{1,5}))?"
    r"/(?P<path>[a-z0-9._-]+(?:/[a-z0-9._-]+)+)$"
)


def _not_an_option(text: str, what: str, reader: str, spaces: bool = False) -> str:
    """Values that name hosts, refs, repositories and releases reach command lines; one
    that starts with '-' would be read as an option there (`--` guards the commands this
    suite builds, not every tool a user may wrap around them)."""
    if text.startswith("-"):
        raise ValueError(
            f"{what} cannot start with '-' ({reader} would read {text!r} as an option)"
        )
    if not spaces and any(ch.isspace() for ch in text):
        raise ValueError(f"{what} cannot contain white space, got {text!r}")
    return text


def _host(raw: Any) -> str:
    return _not_an_option(_str(raw), "an SSH destination", "ssh")


def _ref(raw: Any) -> str:
    return _not_an_option(_str(raw), "a git ref", "git")


def _git_remote(raw: Any) -> str:
    return _not_an_option(_str(raw), "a git remote", "git fetch", spaces=True)


def _k8s_name(raw: Any) -> str:
    return _not_an_option(_str(raw), "a Kubernetes or Helm name", "helm")


# the image reference grammar (distribution/reference): tag := [\w][\w.-]{0,127}; so a
# tag never starts with '-' and holds no ',' or '=' that `helm --set` would split on
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def _tag(raw: Any) -> str:
    text = _str(raw)
    if not _TAG.match(text):
        raise ValueError(
            f"expected an image tag (up to 128 letters, digits, '_', '.' and "
            f"'-', not starting with '-' or '.'), got {text!r}"
        )
    return text


def _registry(raw: Any) -> str:
    text = _not_an_option(_str(raw), "a registry", "skopeo")
    if not _REGISTRY.match(text):
        raise ValueError(f"expected HOST:PORT/OWNER/NAME (lower-case path), got {text!r}")
    return text


def _url(raw: Any) -> str:
    text = _str(raw).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", text):
        raise ValueError(f"expected an http:// or https:// URL, got {text!r}")
    return text


def _criterion_list(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, list | tuple) else re.split(r"[,\s]+", str(raw))
    return tuple(str(i).strip() for i in items if str(i).strip())

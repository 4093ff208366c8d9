"""Plain words and the next step for the common failures of a root-cause stage.

Pure: :func:`hint_for` reads a (redacted) cause and the stage's settings-level facts and
returns what happened in one sentence and what to try next. The patterns are the texts
OpenSSH, helm, nix, skopeo and this plugin's own stages print (see docs/report.md).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Hint:
    what: str
    next_step: str


def _ssh_alias(host: str, ssh_config: str) -> str:
    config = f"-F {ssh_config} " if ssh_config else ""
    return (
        f"Test the alias: `ssh {config}-G {host}` shows host, port and user; "
        f"`ssh {config}{host} true` must exit 0 without a prompt; fix the ssh config or "
        f"the setting host, node_host or ssh_config."
    )


def ssh_aliases(ssh_config: str) -> list[str]:
    """The ``Host`` names of an ssh config file (the user's ~/.ssh/config without one);
    patterns (``*``, ``?``, ``!``) left out, ``Include`` not followed."""
    path = Path(ssh_config or "~/.ssh/config").expanduser()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    names: list[str] = []
    for line in text.splitlines():
        words = line.strip().replace("=", " ", 1).split()
        if len(words) > 1 and words[0].lower() == "host":
            names += [w for w in words[1:] if not set(w) & set("*?!") and w not in names]
    return names


def did_you_mean(name: str, ssh_config: str) -> str:
    """``Did you mean 'haskelseed'?`` for an alias close to one of the ssh config's."""
    close = difflib.get_close_matches(name, ssh_aliases(ssh_config), n=1, cutoff=0.6)
    return f"Did you mean {close[0]!r} (an alias of the ssh config)?" if close else ""


_Rule = tuple[re.Pattern[str], Callable[[re.Match[str], str, str], Hint]]

_RULES: list[_Rule] = [
    (
        re.compile(r"Could not resolve hostname ([^\s:]+)"),
        lambda m, host, cfg: Hint(
            f"ssh cannot resolve the host name {m.group(1)!r}: it is neither an alias in the "
            f"ssh config nor a name DNS knows.",
            (did_you_mean(m.group(1), cfg) + " " + _ssh_alias(m.group(1), cfg)).strip(),
        ),
    ),
    (
        re.compile(r"connect to host (\S+) port (\d+): Connection refused"),
        lambda m, host, cfg: Hint(
            f"Nothing accepts SSH connections on {m.group(1)} port {m.group(2)} (connection "
            f"refused): sshd is not running there, or the alias points at the wrong "
            f"host or port.",
            _ssh_alias(host or m.group(1), cfg),
        ),
    ),
    (
        re.compile(r"connect to host (\S+) port (\d+): (Connection timed out|No route to host)"),
        lambda m, host, cfg: Hint(
            f"{m.group(1)} port {m.group(2)} cannot be reached ({m.group(3).lower()}): the "
            f"host is down or a firewall drops the connection.",
            _ssh_alias(host or m.group(1), cfg),
        ),
    ),
    (
        re.compile(r"Permission denied \(([^)]*)\)"),
        lambda m, host, cfg: Hint(
            f"The SSH server refused the login ({m.group(1)}): no key it accepts was offered.",
            "Check which key ssh offers: `ssh -v " + (host or "HOST") + " true` and the "
            "IdentityFile of the alias; the run never types a password.",
        ),
    ),
    (
        re.compile(r"Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED"),
        lambda m, host, cfg: Hint(
            "ssh does not trust the host key of the build host (unknown or changed).",
            "Verify the host's key and add it to known_hosts (`ssh-keyscan` and compare the "
            "fingerprint out of band), then re-run.",
        ),
    ),
    (
        re.compile(r"No such file or directory: '[^']*helm[^']*'|\bhelm: (?:command )?not found"),
        lambda m, host, cfg: Hint(
            "helm is not installed on this machine (or not on PATH).",
            "Install helm 3 (`helm version --short` prints v3...) or set `helm` (--irp-helm) "
            "to its binary.",
        ),
    ),
    (
        re.compile(r"\bskopeo: (?:command )?not found"),
        lambda m, host, cfg: Hint(
            "skopeo is not installed on the build host (or not on the SSH session's PATH).",
            "Install skopeo there or set `skopeo` (--irp-skopeo) to its full path, e.g. a "
            "/nix/store/...-skopeo/bin/skopeo.",
        ),
    ),
    (
        re.compile(r"\bnix: (?:command )?not found"),
        lambda m, host, cfg: Hint(
            "nix is not on the PATH of a non-interactive SSH session on the build host.",
            f"Run `ssh {host or 'HOST'} nix --version`; add nix's profile to the PATH sshd "
            f"gives (e.g. in ~/.ssh/environment or /etc/profile.d) and re-run.",
        ),
    ),
    (
        re.compile(r"builder for '([^']+)' failed with exit code (\d+)"),
        lambda m, host, cfg: Hint(
            f"`nix build` failed: the builder of {m.group(1).rsplit('/', 1)[-1]} exited "
            f"{m.group(2)}.",
            "Read the last lines of the build record below and the full build log; fix the "
            "app and re-run `pytest -k T06`.",
        ),
    ),
    (
        re.compile(r"registry (\S+) rejected the credentials"),
        lambda m, host, cfg: Hint(
            f"The registry {m.group(1)} refused the user's credentials.",
            "Check `registry_user` and the password (IRP_REGISTRY_PASSWORD or "
            "registry_password_file); try `skopeo login --tls-verify=false "
            + m.group(1)
            + "` by hand.",
        ),
    ),
    (
        re.compile(r"registry (\S+) is unreachable"),
        lambda m, host, cfg: Hint(
            f"The registry {m.group(1)} does not answer from this machine.",
            f"Try `curl -sS http://{m.group(1)}/v2/` (expect HTTP 401 with a "
            f"WWW-Authenticate header) and check the setting `registry`.",
        ),
    ),
    (
        re.compile(r"setting '(\w+)' is required [^(]*\(give it with ([^)]*)\)"),
        lambda m, host, cfg: Hint(
            f"The setting {m.group(1)} is not set.",
            f"Give {m.group(1)} ({m.group(2).replace(', ', ' or ')}); check: "
            f"`pytest --irp-preflight`.",
        ),
    ),
    (
        re.compile(r"No space left on device"),
        lambda m, host, cfg: Hint(
            "The build host ran out of disk space.",
            "Free space in /nix (`nix-collect-garbage -d`) and re-run.",
        ),
    ),
    (
        re.compile(r"timed out|ran out of time"),
        lambda m, host, cfg: Hint(
            "A command did not finish within its time limit.",
            "See the stage record below for the command; raise the stage's timeout_* setting "
            "if the host is just slow.",
        ),
    ),
]


def hint_for(cause: str, host: str = "", ssh_config: str = "") -> Hint | None:
    """What happened and the next step, for the first rule the cause matches."""
    for pattern, make in _RULES:
        match = pattern.search(cause)
        if match:
            return make(match, host, ssh_config)
    return None

"""The kubeconfig check done at activation: the ``kube_context`` setting names a context
of the kubeconfig files the Kubernetes client will read, before any stage runs."""

from __future__ import annotations

import os
from pathlib import Path

from .settings import Resolved

CLUSTER_CRITERIA = frozenset({"T10", "T11"})  # the criteria that talk to the cluster


def kube_context_problem(context: str, kubeconfigs: list[tuple[str, str]]) -> str | None:
    """Why ``context`` is not in the kubeconfig files ((path, text) of those that exist), or
    None (also when there is nothing to judge: no file, unreadable YAML)."""
    import yaml

    if not kubeconfigs:
        return None
    known: list[str] = []
    for _, text in kubeconfigs:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            return None  # the Kubernetes client reports a broken file with its own words
        for entry in (data.get("contexts") or []) if isinstance(data, dict) else []:
            if isinstance(entry, dict) and entry.get("name") not in (None, *known):
                known.append(str(entry["name"]))
    if context in known:
        return None
    import difflib

    paths = ", ".join(path for path, _ in kubeconfigs)
    close = difflib.get_close_matches(context, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (
        f"no context {context!r} in the kubeconfig {paths} (its contexts: "
        f"{', '.join(known) or 'none'}){hint}"
    )


def kubeconfig_files(settings: Resolved) -> list[tuple[str, str]]:
    """(path, text) of the kubeconfig files that exist: the ``kubeconfig`` setting, else
    ``$KUBECONFIG``'s list, else ``~/.kube/config``."""
    if settings.get("kubeconfig"):
        paths = [str(settings["kubeconfig"])]
    elif os.environ.get("KUBECONFIG"):
        paths = [p for p in os.environ["KUBECONFIG"].split(os.pathsep) if p]
    else:
        paths = [str(Path.home() / ".kube" / "config")]
    found = []
    for path in paths:
        file = Path(path).expanduser()
        if file.is_file():
            found.append((str(file), file.read_text(encoding="utf-8", errors="replace")))
    return found


def kube_context_refusal(settings: Resolved, selected: frozenset[str]) -> str | None:
    """The usage error's text when a selected criterion talks to the cluster and the
    context is not in the kubeconfig, else None."""
    if not selected & CLUSTER_CRITERIA:
        return None
    problem = kube_context_problem(str(settings["kube_context"]), kubeconfig_files(settings))
    if not problem:
        return None
    return (
        f"pytest-irp: setting 'kube_context' ({settings['kube_context']!r}, from "
        f"{settings.sources['kube_context']}): {problem}."
    )

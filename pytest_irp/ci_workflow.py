"""Gitea Actions workflow files read as YAML with the line of every job and step (pure).

Gitea reads the first of ``[actions] WORKFLOW_DIRS`` that exists in the commit (default
``.gitea/workflows``, then ``.github/workflows``; modules/setting/actions.go and
modules/actions/workflows.go ``ListWorkflows``), every ``*.yml``/``*.yaml`` below it.
A step is classified by what its ``run`` script calls: ``nix build`` (build),
``skopeo copy`` (push), ``helm upgrade``/``helm install`` (deploy), or by ``uses``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

WORKFLOW_DIRS = (".gitea/workflows", ".github/workflows")
ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True)
class Step:
    file: str
    job: str
    index: int  # 0-based, as Gitea numbers a job's steps
    line: int  # 1-based line of the step's first key
    name: str
    uses: str
    run: str
    run_line: int
    env: dict[str, str]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def label(self) -> str:
        return self.name or (f"uses: {self.uses}" if self.uses else first_line(self.run))


@dataclass(frozen=True)
class Job:
    file: str
    name: str
    line: int
    runs_on: list[str]
    runs_on_line: int
    env: dict[str, str]
    steps: list[Step]


@dataclass
class Workflow:
    file: str
    error: str = ""
    on_push: bool = False
    push_branches: list[str] | None = None  # `on: push: branches:` (None: every branch)
    env: dict[str, str] = field(default_factory=dict)
    jobs: list[Job] = field(default_factory=list)


def first_line(text: str, limit: int = 80) -> str:
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def effective_files(texts: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The files Gitea runs (those of the first workflow directory present) and the
    ones it ignores. Keys are paths relative to the repository; a bare file name counts
    as ``.gitea/workflows/NAME``."""
    by_dir: dict[str, dict[str, str]] = {}
    for path, text in texts.items():
        full = path if "/" in path else f"{WORKFLOW_DIRS[0]}/{path}"
        for folder in WORKFLOW_DIRS:
            if full.startswith(folder + "/") and full.endswith((".yml", ".yaml")):
                by_dir.setdefault(folder, {})[full] = text
    for folder in WORKFLOW_DIRS:
        if folder in by_dir:
            ignored = [p for d, files in by_dir.items() if d != folder for p in files]
            return by_dir[folder], sorted(ignored)
    return {}, []


def _mapping(node: Any) -> dict[str, tuple[Any, Any]]:
    """A YAML mapping node as {key text: (key node, value node)}."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): (k, v) for k, v in node.value}


def _strings(node: Any) -> dict[str, str]:
    import yaml

    return {
        key: str(value.value)
        for key, (_k, value) in _mapping(node).items()
        if isinstance(value, yaml.ScalarNode)
    }


def _labels(node: Any) -> list[str]:
    import yaml

    if isinstance(node, yaml.ScalarNode):
        return [str(node.value)]
    if isinstance(node, yaml.SequenceNode):
        return [str(n.value) for n in node.value if isinstance(n, yaml.ScalarNode)]
    if isinstance(node, yaml.MappingNode):  # runs-on: {group:, labels:}
        labels = _mapping(node).get("labels")
        return _labels(labels[1]) if labels else []
    return []


def _on_push(node: Any) -> bool:
    import yaml

    if isinstance(node, yaml.ScalarNode):
        return str(node.value) == "push"
    if isinstance(node, yaml.SequenceNode):
        return any(isinstance(n, yaml.ScalarNode) and n.value == "push" for n in node.value)
    return "push" in _mapping(node)


def parse(path: str, text: str) -> Workflow:
    """One workflow file; ``error`` says why it cannot be read (then no jobs)."""
    import yaml

    workflow = Workflow(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        workflow.error = f"not valid YAML: {exc}".replace("\n", " ")
        return workflow
    top = _mapping(root)
    if not top:
        workflow.error = "not a YAML mapping"
        return workflow
    # YAML 1.1 reads an unquoted `on` key as the boolean true; its text stays "on"
    workflow.on_push = "on" in top and _on_push(top["on"][1])
    push = _mapping(top["on"][1]).get("push") if "on" in top else None
    branches = _mapping(push[1]).get("branches") if push else None
    workflow.push_branches = _labels(branches[1]) if branches else None
    workflow.env = _strings(top["env"][1]) if "env" in top else {}
    for job_name, (key, job_node) in _mapping(top.get("jobs", (None, None))[1]).items():
        job = _mapping(job_node)
        runs_on = job.get("runs-on")
        steps_node = job.get("steps", (None, None))[1]
        steps = []
        for index, step_node in enumerate(getattr(steps_node, "value", None) or []):
            fields = _mapping(step_node)
            values = _strings(step_node)
            run = fields.get("run")
            steps.append(
                Step(
                    file=path,
                    job=job_name,
                    index=index,
                    line=step_node.start_mark.line + 1,
                    name=values.get("name", ""),
                    uses=values.get("uses", ""),
                    run=values.get("run", ""),
                    run_line=(run[1].start_mark.line + 1) if run else step_node.start_mark.line + 1,
                    env=_strings(fields["env"][1]) if "env" in fields else {},
                )
            )
        workflow.jobs.append(
            Job(
                file=path,
                name=job_name,
                line=key.start_mark.line + 1,
                runs_on=_labels(runs_on[1]) if runs_on else [],
                runs_on_line=(runs_on[0].start_mark.line + 1)
                if runs_on
                else key.start_mark.line + 1,
                env=_strings(job["env"][1]) if "env" in job else {},
                steps=steps,
            )
        )
    return workflow


def finding(where: str, rule: str, severity: str, problem: str, fix: str) -> dict[str, str]:
    file, _, line = where.rpartition(":")
    return {
        "file": file,
        "line": line,
        "rule": rule,
        "severity": severity,
        "problem": problem,
        "fix": fix,
    }


# --------------------------------------------------------------------------- commands


def commands_in(script: str) -> list[list[str]]:
    """The simple commands of a ``run`` script, split like a shell would split words
    (continuation lines joined; ``$(...)`` substitutions kept as words)."""
    joined = re.sub(r"\\\n", " ", script)
    out: list[list[str]] = []
    for line in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line)  # a shell comment starts a word, `.#x` is none
        for part in re.split(r"&&|\|\||;|\|", line):
            try:
                words = shlex.split(part)
            except ValueError:
                words = part.split()
            while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
                words = words[1:]  # VAR=value cmd
            if words and words[0] in ("sudo", "exec", "time", "env"):
                words = words[1:]
            if words:
                out.append(words)
    return out


def find_command(step: Step, program: str, sub: str | tuple[str, ...] = ()) -> list[str] | None:
    subs = (sub,) if isinstance(sub, str) else sub
    for words in commands_in(step.run):
        name = words[0].rsplit("/", 1)[-1]
        if name == program and (not subs or (len(words) > 1 and words[1] in subs)):
            return words
    return None


def option(words: list[str], *names: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE`` (None: absent; '' for a flag)."""
    for i, word in enumerate(words):
        for name in names:
            if word == name:
                return words[i + 1] if i + 1 < len(words) else ""
            if word.startswith(name + "="):
                return word.split("=", 1)[1]
    return None


def set_values(words: list[str]) -> dict[str, str]:
    """helm's ``--set a=b,c=d`` (and ``--set-string``) as {key: value}."""
    values: dict[str, str] = {}
    for i, word in enumerate(words):
        for flag in ("--set", "--set-string"):
            item = None
            if word == flag and i + 1 < len(words):
                item = words[i + 1]
            elif word.startswith(flag + "="):
                item = word.split("=", 1)[1]
            for pair in (item or "").split(","):
                if "=" in pair:
                    key, value = pair.split("=", 1)
                    values[key] = value
    return values


def kinds(step: Step) -> list[str]:
    """What the step does: checkout or action (a ``uses``), else build, push and deploy
    (one ``run`` script may do several), or other."""
    if step.uses:
        return ["checkout" if step.uses.split("@")[0].endswith("actions/checkout") else "action"]
    found = [
        what
        for what, program, sub in (
            ("build", "nix", ("build",)),
            ("push", "skopeo", ("copy",)),
            ("deploy", "helm", ("upgrade", "install")),
        )
        if find_command(step, program, sub)
    ]
    return found or ["other"]


def installable(words: list[str]) -> str:
    """The first installable of ``nix build`` (``.#docker``), '' when none is given."""
    values = {"-o": 1, "--out-link": 1, "--log-format": 1, "-j": 1, "--max-jobs": 1}
    values |= {"--cores": 1, "-I": 1, "--option": 2, "--arg": 2, "--argstr": 2}
    skip = 0
    for word in words[2:]:
        if skip:
            skip -= 1
        elif word in values:
            skip = values[word]
        elif not word.startswith("-"):
            return word
    return ""


def attribute(installable_text: str) -> str:
    """``.#docker`` -> docker; ``.#packages.x86_64-linux.docker`` -> docker; '' -> default."""
    attr = installable_text.split("#", 1)[1] if "#" in installable_text else ""
    attr = attr.strip("\"'")
    if attr.startswith(("packages.", "legacyPackages.")) and attr.count(".") >= 2:
        attr = attr.split(".", 2)[2]
    return attr or "default"


def expand(text: str, env: dict[str, str]) -> str:
    """``$VAR``/``${VAR}`` replaced from the workflow's env (others kept)."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return env.get(name, m.group(0))

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", sub, text)


def destination(words: list[str]) -> str:
    """skopeo copy's destination (the last non-option word), without ``docker://``."""
    args = [w for w in words[2:] if not w.startswith("-")]
    dest = args[-1] if len(args) >= 2 else ""
    return dest.removeprefix("docker://")

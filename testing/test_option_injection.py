"""No user-supplied value is ever read as an option: values that name hosts, refs,
repositories, registries and releases are refused when they start with '-', and every
command line the suite builds has `--` (or `--flag=value`) before such values. The remote
scripts' own `--` is proven by running them (test_remote_scripts.py)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Project
from pytest_irp import helm as helm_argv
from pytest_irp import remote
from pytest_irp.runners import ssh_argv
from pytest_irp.settings import SettingError, resolve
from pytest_irp.stages import build, push, source


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("host", "-oProxyCommand=touch pwned"),
        ("node_host", "-oProxyCommand=touch pwned"),
        ("git_remote", "--upload-pack=touch pwned;"),
        ("ref", "--output=pwned"),
        ("tag", "--dry-run"),
        ("ci_branch", "-x"),
        ("registry", "-oops:5000/coulomb/app"),
        ("namespace", "--kubeconfig=/tmp/other"),
        ("release", "--post-renderer=./pwn"),
    ],
)
def test_values_starting_with_a_dash_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingError) as refused:
        resolve({name: value}, {}, [])
    message = str(refused.value)
    assert message.startswith(f"setting '{name}' (from command line --irp-")
    assert "'-'" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("host", "root@haskelseed"),
        ("host", "build-1.example.invalid"),
        ("git_remote", "ssh://git@git.example.invalid/coulomb/app.git"),
        ("git_remote", "/srv/git/my app.git"),
        ("ref", "HEAD~1"),
        ("tag", "a1b2c3d"),
        ("tag", "v1.2_rc-1"),
        ("namespace", "coulomb"),
        ("release", "ihp-railiance-probe"),
    ],
)
def test_ordinary_values_are_accepted(name: str, value: str) -> None:
    assert resolve({name: value}, {}, []).values[name] == value


def test_a_tag_that_helm_set_would_split_is_refused() -> None:
    with pytest.raises(SettingError, match="expected an image tag"):
        resolve({"tag": "abc,image.pullPolicy=Never"}, {}, [])


def test_the_attack_of_the_issue_is_one_paragraph_and_runs_nothing(project: Project) -> None:
    result = project.run("-k", "T06", "--irp-git-remote=--upload-pack=touch pwned;")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*setting 'git_remote' (from command line "
            "--irp-git-remote): a git remote cannot start with '-'*"
        ]
    )
    assert len(result.stderr.lines) < 5
    assert project.calls() == []


# --------------------------------------------------------------------------- builders

SETTINGS: dict[str, Any] = {
    "namespace": "coulomb",
    "release": "probe",
    "kube_context": "railiance01",
    "kubeconfig": "/etc/kube/config",
    "timeout_release": 600,
    "remote_dir": "work",
    "registry_plain_http": True,
    "skopeo": ("skopeo",),
    "build_attr": ".#docker",
    "nix_options": ("-j1",),
}


def after_dashdash(argv: list[str], *values: str) -> None:
    """Each value comes after the argument list's `--`."""
    assert "--" in argv, argv
    cut = argv.index("--")
    for value in values:
        assert value in argv[cut + 1 :], (value, argv)
        assert value not in argv[:cut], (value, argv)


def test_ssh_puts_the_destination_after_dashdash() -> None:
    argv = ssh_argv(
        "haskelseed", ["true"], ssh_config="/etc/ssh/cfg", connect_timeout=5, control_path="/tmp/cp"
    )
    after_dashdash(argv, "haskelseed")
    assert argv[-3:] == ["--", "haskelseed", "true"]  # a second `--` would reach the host


def test_nix_build_puts_the_installable_after_dashdash() -> None:
    args = build.build_args(SETTINGS)
    after_dashdash(args, ".#docker")
    assert args[-1] == ".#docker"
    assert args.index("-j1") < args.index("--")  # nix_options are options by design


def test_commands_in_the_checkout_cd_after_dashdash() -> None:
    argv = remote.in_checkout("-odd dir", ["nix", "flake", "check"])
    assert argv[2] == 'cd -- "$1" && shift && exec "$@"'
    assert argv[4:] == ["-odd dir", "nix", "flake", "check"]


def test_remote_scripts_get_values_as_positional_arguments() -> None:
    argv = source.commands(
        {**SETTINGS, "git_remote": "--upload-pack=x", "timeout_source": 60}, "haskelseed", "a" * 40
    ).argv
    assert list(argv[3:]) == ["irp-source", "work", "a" * 40, "--upload-pack=x"]
    pushed = push.push_argv(SETTINGS, "127.0.0.1:9/coulomb/app:abc")
    assert pushed[3:] == [
        "irp-push",
        "work",
        "127.0.0.1:9/coulomb/app:abc",
        "false",
        "authfile",
        "skopeo",
    ]


def test_helm_puts_release_and_chart_after_dashdash_and_joins_flag_values() -> None:
    helm = ["helm"]
    sets = ["--set", "image.tag=abc"]
    lint = helm_argv.lint_argv(helm, "/app/chart", sets)
    after_dashdash(lint, "/app/chart")
    template = helm_argv.template_argv(helm, SETTINGS, "/app/chart", sets)
    after_dashdash(template, "probe", "/app/chart")
    assert "--namespace=coulomb" in template
    upgrade = helm_argv.upgrade_argv(helm, SETTINGS, "/app/chart", sets)
    assert not any(a.startswith("--wait") for a in upgrade)
    after_dashdash(upgrade, "probe", "/app/chart")
    assert {
        "--namespace=coulomb",
        "--kube-context=railiance01",
        "--kubeconfig=/etc/kube/config",
        "--timeout=600s",
    } <= set(upgrade)
    for command in ("status", "history"):
        argv = helm_argv.release_argv(helm, command, SETTINGS, "-o", "json")
        after_dashdash(argv, "probe")
        assert argv[1] == command

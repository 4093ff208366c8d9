"""Scripted answers of the fake runner, per host, for one scenario (a JSON dict).

Local ``git`` runs for real (the sample app is a real repository); everything else is an
answer written here, and anything unscripted exits 127.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from fake_runner import Rule, contains, reply, script_is, starts_with

OUT = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-docker-image-ihp-railiance-probe.tar"


class FakeHost:
    """Stand-in for a testinfra Host in fake runs (no real host exists there): its
    ``result`` is the symlink the scripted build produced."""

    class _File:
        def __init__(self, path: str) -> None:
            self.path = path
            self.is_symlink = path.endswith("/result")
            self.linked_to = OUT if self.is_symlink else path

    def file(self, path: str) -> _File:
        return FakeHost._File(path)


def _real(argv: Sequence[str], stdin: str | None) -> tuple[int, str, str]:
    done = subprocess.run(list(argv), capture_output=True, text=True, input=stdin, check=False)
    return done.returncode, done.stdout, done.stderr


def _build_log(sc: dict[str, Any]) -> str:
    lines = [
        '@nix {"action":"start","id":1,"level":3,"type":105,'
        f'"text":"building \'{OUT[:-4]}.drv\'"}}',
        '@nix {"action":"result","id":1,"type":101,"fields":["writing layer"]}',
    ]
    if sc.get("secret"):
        lines.append(
            '@nix {"action":"result","id":1,"type":101,"fields":["token ' + sc["secret"] + '"]}'
        )
    if sc.get("build_rc", 0):
        lines.append(
            '@nix {"action":"msg","level":0,"msg":"error: builder for '
            f"'{OUT[:-4]}.drv' failed with exit code 1\"}}"
        )
    lines.append(f"@@IRP-EXIT {sc.get('build_rc', 0)}")
    return "\n".join(lines) + "\n"


INSPECT = (
    f"@@out {OUT}\n@@compressed no\n@@size 4096\n@@manifest\n"
    '[{"Config":"cfg.json","RepoTags":["ihp-railiance-probe:latest"],'
    '"Layers":["layer.tar"]}]\n@@config\n'
    '{"config":{"Cmd":["/bin/busybox","httpd"]},"rootfs":{"type":"layers",'
    '"diff_ids":["sha256:aa"]}}\n@@list\nmanifest.json\ncfg.json\nlayer.tar\n'
)


PUSHED_DIGEST = "sha256:" + "ab" * 32


def _pushed(sc: dict[str, Any]) -> str:
    """What push.sh prints after a push: skopeo's digestfile and `skopeo inspect`."""
    image = f"{_hostport(sc)}/coulomb/ihp-railiance-probe"
    inspect = {"Name": image, "Digest": PUSHED_DIGEST, "RepoTags": ["latest", sc["sha"][:7]]}
    return f"@@digest {PUSHED_DIGEST}\n@@inspect-begin\n{json.dumps(inspect)}\n@@inspect-end\n"


def _template(sc: dict[str, Any]) -> str:
    image = f"{_hostport(sc)}/coulomb/ihp-railiance-probe:{sc['sha'][:7]}"
    path = "/wrong" if sc.get("liveness_wrong") else "/healthz"
    docs = [
        {
            "kind": "Service",
            "metadata": {"name": "p"},
            "spec": {"ports": [{"port": 80, "targetPort": 8000}]},
        },
        {
            "kind": "Deployment",
            "metadata": {"name": "p"},
            "spec": {
                "replicas": 1,
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": image,
                                "imagePullPolicy": "Always",
                                "ports": [{"containerPort": 8000}],
                                "envFrom": [{"secretRef": {"name": "ihp-railiance-probe-env"}}],
                                "resources": {"limits": {"memory": "256Mi", "cpu": "200m"}},
                                "livenessProbe": {
                                    "httpGet": {"path": path, "port": 8000},
                                    "initialDelaySeconds": 30,
                                },
                            }
                        ]
                    }
                },
            },
        },
        {"kind": "Ingress", "metadata": {"name": "p"}, "spec": {}},
    ]
    return "\n---\n".join(json.dumps(d) for d in docs)


def _hostport(sc: dict[str, Any]) -> str:
    """The registry the run is given (the fake's port 9, or a loopback stand-in's)."""
    return str(sc.get("registry_hostport", "127.0.0.1:9"))


REGISTRIES_YAML = 'mirrors:\n  "127.0.0.1:9":\n    endpoint:\n      - "http://127.0.0.1:9"\n'
HOSTS_TOML = (
    'server = "http://127.0.0.1:9"\n[host."http://127.0.0.1:9/v2"]\n'
    '  capabilities = ["pull", "resolve"]\n  override_path = true\n'
)


def _interrupt(argv: Sequence[str], stdin: str | None) -> tuple[int, str, str]:
    raise KeyboardInterrupt  # what Ctrl-C raises in the main thread while a command runs


SSH_REFUSED = "ssh: connect to host 127.0.0.1 port 1: Connection refused\n"


def rules_for(host: str, sc: dict[str, Any]) -> list[Rule]:
    if host in sc.get("hosts_down", ()):  # an ssh_config pointing at 127.0.0.1 port 1
        return [(lambda argv: True, reply(255, "", SSH_REFUSED))]
    if host in sc.get("unknown_hosts", ()):  # an alias neither ssh_config nor DNS knows
        return [(lambda argv: True, reply(255, "", SSH_UNKNOWN.format(host=host)))]
    if sc.get("interrupt"):  # {"interrupt": "build"}: Ctrl-C while that script runs
        return [(script_is(*str(sc["interrupt"]).split()), _interrupt), *_rules_for(host, sc)]
    return _rules_for(host, sc)


SSH_UNKNOWN = "ssh: Could not resolve hostname {host}: Name or service not known\n"


def _slow(seconds: float, answer: Any) -> Any:
    """An answer that takes ``seconds`` (a build that lasts: ordering tests)."""

    def call(argv: Sequence[str], stdin: str | None) -> tuple[int, str, str]:
        time.sleep(seconds)
        return answer(argv, stdin)  # type: ignore[no-any-return]

    return call


def _preflight_rules(host: str, sc: dict[str, Any]) -> list[Rule]:
    """Answers of the preflight's read-only commands (scenario keys break one each)."""
    if host == "local":
        resolved = (
            reply(2, "", "")
            if sc.get("dns_fails")
            else reply(0, "127.0.0.1       STREAM probe.example.invalid\n")
        )
        helm = reply(0, sc["helm_version"] + "\n") if sc.get("helm_version") else None
        rules: list[Rule] = [(starts_with("getent", "ahosts"), resolved)]
        if sc.get("helm_missing"):
            rules.append(
                (
                    contains("version", "--short"),
                    reply(127, "", "helm: command not found on this machine"),
                )
            )
        elif helm is not None:
            rules.append((contains("version", "--short"), helm))
        return rules
    if host == "haskelseed":
        skopeo = (
            reply(127, "", "sh: 1: skopeo: not found\n")
            if sc.get("skopeo_missing")
            else reply(0, "skopeo version 1.22.2\n")
        )
        return [(contains("--version"), skopeo)]
    if host == "railiance01":
        if sc.get("node_unknown"):
            return [(lambda argv: True, reply(255, "", SSH_UNKNOWN.format(host=host)))]
        sudo = (
            reply(1, "", "sudo: a password is required\n") if sc.get("sudo_password") else reply(0)
        )
        return [
            (starts_with("true"), reply(0)),
            (starts_with("sudo", "-n", "true"), sudo),
            (contains("irp-readable"), reply(0, "state=readable\n")),
        ]
    return []


def _rules_for(host: str, sc: dict[str, Any]) -> list[Rule]:
    return _preflight_rules(host, sc) + _stage_rules(host, sc)


def _stage_rules(host: str, sc: dict[str, Any]) -> list[Rule]:
    secret = sc.get("secret", "")
    if host == "local":
        return [
            (starts_with("git"), _real),
            (contains("version", "--short"), reply(0, "v3.17.3+gdeadbee\n")),
            (contains("lint"), reply(0, "==> Linting\n1 chart(s) linted, 0 chart(s) failed\n")),
            (contains("template"), lambda argv, stdin: (0, _template(sc), "")),
        ]
    if host == "haskelseed":
        return [
            (
                script_is("source"),
                lambda argv, stdin: (
                    (255, "", sc["source_fail"])
                    if sc.get("source_fail")
                    else (0, f"{sc.get('source_head', argv[5])}\n", "")
                ),
            ),
            (
                script_is("prebuild"),
                reply(
                    0,
                    f"nix={sc.get('nix_version', 'nix (Nix) 2.8.0')}\ndisk_free_kb=99999999\n"
                    f"mem_available_kb=9999999\ncpus=2\n{secret}\n",
                ),
            ),
            (script_is("build", "start"), reply(0, "IRP started 4242\n")),
            (
                script_is("build", "follow"),
                _slow(
                    float(sc.get("build_seconds", 0)), lambda argv, stdin: (0, _build_log(sc), "")
                ),
            ),
            (script_is("build", "inspect"), reply(0, INSPECT.replace(OUT, sc.get("out", OUT)))),
            (script_is("push"), reply(0, _pushed(sc))),
            (contains("--no-build"), reply(sc.get("flake_rc", 0), "all checks passed\n")),
            (
                contains("show", "--json"),
                lambda argv, stdin: (0, json.dumps(sc.get("flake_show", {})) + "\n", ""),
            ),
            (contains("eval", "--json"), reply(1, "", "error: flake has no attribute irp")),
            (
                lambda argv: (
                    "check" in argv or ("build" in argv and any(".#checks." in a for a in argv))
                ),
                reply(
                    sc.get("spec_rc", 0),
                    sc.get(
                        "spec_out",
                        "ProbeController\n  GET /probes returns 200\n\n1 example, 0 failures\n",
                    ),
                    sc.get("spec_err", ""),
                ),
            ),
        ]
    if host == "railiance01":
        here = _hostport(sc)
        return [
            (
                contains("cat", "/etc/rancher/k3s/registries.yaml"),
                reply(0, REGISTRIES_YAML.replace("127.0.0.1:9", here)),
            ),
            (script_is("never"), reply(1)),
            (starts_with("cat"), reply(0, HOSTS_TOML.replace("127.0.0.1:9", here))),
        ]
    return []

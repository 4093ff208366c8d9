"""Benchmark (not a test): what the suite costs on top of the work it checks, on the lab.

(a) T06+T07: wall time of ``pytest tests --irp-config=<lab toml> -k "T06 or T07"`` minus
    the wall time of a plain shell script doing the same ``nix build`` of the lab app's
    image output and ``skopeo copy`` over ssh (medians; targets: under 2 s and under 20 %).
    Each run builds a SHA never built before (a side commit with a nonce file), so nix
    really builds.
(b) From the release's pod turning Ready (seen by a 10 Hz watch of the Kubernetes API) to
    T11 decided (the first T11 check's report), minus the log watch (0.1 s here).
(c) From a crash-looping pod's first restart (restartCount 1, same watch) to T10 decided
    (FAIL), crash-at-start variant; target under 15 s.

Needs root and the lab's cached binaries; brings the lab (with the cluster) up if it is
not, and down again at the end in that case. Contacts only lab addresses, after checking
the lab network is up. Run: python bench/lab_overhead.py [RUNS_A [RUNS_BC]]
(RUNS_BC 0: only (a)).
"""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pytest_irp_lab import app as lab_app  # noqa: E402
from pytest_irp_lab.orchestrator import Lab  # noqa: E402

LOG_WATCH = 0.1
PLAIN = r"""set -e
tok=$(cat)
cd "$1"
nix build "$3" $4 -j1
policy=--insecure-policy
[ -f /etc/containers/policy.json ] || [ -f "$HOME/.config/containers/policy.json" ] && policy=
skopeo $policy copy --dest-registry-token "$tok" --dest-tls-verify=false docker-archive:result \
  "docker://$2"
"""
TIMING_PLUGIN = """import json, os, time
def pytest_runtest_logreport(report):
    with open(os.environ["IRP_BENCH_TIMES"], "a") as out:
        out.write(json.dumps({"nodeid": report.nodeid, "when": report.when,
                              "outcome": report.outcome, "t": time.time()}) + "\\n")
"""


def side_commit(repo: Path) -> str:
    """A commit beside HEAD (nonce file) that nix has never built; HEAD stays."""
    env = {**os.environ, **lab_app.GIT_ENV, "GIT_INDEX_FILE": str(repo / ".git" / "bench-index")}

    def git(*args: str, stdin: str | None = None) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args],
            env=env,
            input=stdin,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()

    git("read-tree", "HEAD")
    blob = git("hash-object", "-w", "--stdin", stdin=uuid.uuid4().hex + "\n")
    git("update-index", "--add", "--cacheinfo", f"100644,{blob},IRP_BENCH_NONCE")
    sha = git("commit-tree", git("write-tree"), "-p", "HEAD", "-m", "bench")
    git("update-ref", f"refs/irp-bench/{sha[:12]}", sha)
    Path(env["GIT_INDEX_FILE"]).unlink()
    return sha


def require_lab_network(lab: Lab) -> None:
    if not lab.healthy():
        raise SystemExit("the lab is not up: refusing to contact lab addresses")
    for address in ("10.77.0.1", "10.77.0.2", "10.77.0.3"):
        route = subprocess.run(
            ["ip", "route", "get", address], capture_output=True, text=True, check=True
        ).stdout.split()
        if route[:1] != ["local"] and route[route.index("dev") + 1] != "irpbr0":
            raise SystemExit(f"{address} is not routed through the lab bridge: {route}")


# --------------------------------------------------------------------------- (a)


def suite_argv(toml: Path, sha: str, reports: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "tests",
        f"--irp-config={toml}",
        "-k",
        "T06 or T07",
        f"--irp-ref={sha}",
        f"--irp-reports-dir={reports}",
        "-p",
        "no:randomly",
        "-q",
    ]


def plain_argv(lab: Lab, dest: str, build_attr: str, flake_options: str) -> list[str]:
    """The plain script over ssh: the lab app's image output (``build_attr``), built with
    the flake's options (``--impure`` for an IHP app), as the suite builds it."""
    remote = shlex.join(
        ["sh", "-c", PLAIN, "plain", str(lab.layout.remote_dir), dest, build_attr, flake_options]
    )
    return ["ssh", "-F", str(lab.layout.ssh_config), "haskelseed", "--", remote]


def timed(argv: list[str], **kw: Any) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, **kw)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"{shlex.join(argv)[:300]} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return elapsed


def bench_a(lab: Lab, runs: int, work: Path) -> dict[str, Any]:
    lab.up(variant="ok")
    require_lab_network(lab)
    settings = lab.settings(lab.registry())
    password = Path(str(settings["registry_password_file"])).read_text().splitlines()[0]
    hostport = str(settings["registry"]).split("/")[0]
    # the lab's realm is dead for the build host (the workplan's world): like the suite
    # with registry_token_workaround, the plain script pushes with a token fetched from
    # the registry's own /v2/token (on stdin here; on skopeo's command line, as the suite)
    import requests

    repo = str(settings["registry"]).split("/", 1)[1] + "/" + str(settings["app_name"])
    answer = requests.get(
        f"http://{hostport}/v2/token",
        params={"service": "container_registry", "scope": f"repository:{repo}:push,pull"},
        auth=(str(settings["registry_user"]), password),
        timeout=10,
    )
    answer.raise_for_status()
    auth = str(answer.json()["token"])
    suite, plain = [], []
    for i in range(runs):
        sha = side_commit(lab.layout.app_repo)
        suite.append(timed(suite_argv(lab.toml_path, sha, work / f"a-{i}"), cwd=REPO))
        sha = side_commit(lab.layout.app_repo)  # a fresh one: the plain build is real too
        remote = lab.layout.remote_dir
        subprocess.run(
            [
                "git",
                "-C",
                str(remote),
                "fetch",
                "-q",
                str(lab.layout.app_repo),
                f"refs/irp-bench/{sha[:12]}",
            ],
            check=True,
        )
        subprocess.run(
            ["git", "-C", str(remote), "checkout", "-q", "-f", "--detach", sha], check=True
        )
        dest = f"{settings['registry']}:plain-{sha[:7]}"
        attr, options = str(settings["build_attr"]), " ".join(settings.get("flake_options", []))
        plain.append(timed(plain_argv(lab, dest, attr, options), input=auth))
    floors: dict[str, list[float]] = {}
    for _ in range(runs):
        for name, argv in floor_argvs(lab.toml_path).items():
            floors.setdefault(name, []).append(timed(argv, cwd=REPO))
    s, p = statistics.median(suite), statistics.median(plain)
    parts: dict[str, list[float]] = {}
    for i in range(runs):
        summary = json.loads((work / f"a-{i}" / "summary.json").read_text())
        for name, stage in summary["stages"].items():
            parts.setdefault(f"stage {name}", []).append(stage["duration"])
        for check in summary["checks"]:
            if check["check"] == "result symlink present on build host":
                parts.setdefault("testinfra symlink check", []).append(check["duration"])
    return {
        "suite": suite,
        "plain": plain,
        "suite_median": s,
        "plain_median": p,
        "overhead_s": s - p,
        "overhead_ratio": (s - p) / p,
        "parts": {k: statistics.median(v) for k, v in parts.items()},
        "floors": {k: statistics.median(v) for k, v in floors.items()},
    }


def floor_argvs(toml: Path) -> dict[str, list[str]]:
    """Fixed costs no pytest suite escapes: the interpreter, pytest with its plugins, and
    collecting the criteria (plugin active, no stage run)."""
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "pytest --version": [sys.executable, "-m", "pytest", "--version"],
        "collect only": [
            sys.executable,
            "-m",
            "pytest",
            "tests",
            f"--irp-config={toml}",
            "-k",
            "T06 or T07",
            "--co",
            "-q",
            "-p",
            "no:randomly",
        ],
    }


# --------------------------------------------------------------------------- (b), (c)


class PodWatch(threading.Thread):
    """Polls the release's pods at 10 Hz; records when the pod of ``tag`` first was Ready,
    first exited, first restarted and first showed CrashLoopBackOff (local wall time)."""

    def __init__(self, lab: Lab, tag: str) -> None:
        super().__init__(daemon=True)
        from kubernetes import client, config

        require_lab_network(lab)
        api = config.new_client_from_config(
            config_file=str(lab.settings()["kubeconfig"]), context="railiance01"
        )
        self.core = client.CoreV1Api(api)
        self.tag = tag
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            now = time.time()
            try:
                pods = self.core.list_namespaced_pod(
                    "coulomb",
                    label_selector="app.kubernetes.io/instance=ihp-railiance-probe",
                    _request_timeout=5,
                ).items
            except Exception:  # the API server busy for a moment: poll again
                pods = []
            for pod in pods:
                if not pod.spec.containers[0].image.endswith(f":{self.tag}"):
                    continue
                for cond in pod.status.conditions or []:
                    if cond.type == "Ready" and cond.status == "True":
                        self.seen.setdefault("ready", now)
                for cs in pod.status.container_statuses or []:
                    if cs.restart_count >= 1:
                        self.seen.setdefault("restart", now)
                    if cs.state.terminated or cs.last_state.terminated:
                        self.seen.setdefault("exit", now)
                    if cs.state.waiting and cs.state.waiting.reason == "CrashLoopBackOff":
                        self.seen.setdefault("crashloop", now)
            time.sleep(0.1)


def lab_run(
    lab: Lab, variant: str, select: str, work: Path, name: str
) -> tuple[list[dict[str, Any]], PodWatch, list[str]]:
    tag = f"bench-{name}-{uuid.uuid4().hex[:6]}"
    times = work / f"{name}.jsonl"
    plugin_dir = work / "plugin"
    plugin_dir.mkdir(exist_ok=True)
    (plugin_dir / "irp_bench_timing.py").write_text(TIMING_PLUGIN)
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "tests",
        "--irp-lab",
        f"--irp-lab-variant={variant}",
        "-k",
        select,
        f"--irp-tag={tag}",
        f"--irp-log-watch={LOG_WATCH}s",
        f"--irp-reports-dir={work / name}",
        "-p",
        "no:randomly",
        "-p",
        "irp_bench_timing",
        "-q",
    ]
    lab.up(variant=variant)
    watch = PodWatch(lab, tag)
    watch.start()
    env = {
        **os.environ,
        "IRP_BENCH_TIMES": str(times),
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(plugin_dir), os.environ.get("PYTHONPATH")])
        ),
    }
    subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    time.sleep(0.3)
    watch.stop.set()
    watch.join()
    reports = [json.loads(line) for line in times.read_text().splitlines()]
    return reports, watch, argv


def first(reports: list[dict[str, Any]], crit: str) -> float:
    return min(r["t"] for r in reports if f"test_{crit}_" in r["nodeid"] and r["when"] == "call")


def bench_b(lab: Lab, runs: int, work: Path) -> dict[str, Any]:
    values, argv = [], []
    for i in range(runs):
        reports, watch, argv = lab_run(lab, "ok", "T10 or T11", work, f"b{i}")
        if "ready" not in watch.seen:
            raise SystemExit(f"(b) run {i}: the pod never turned Ready: {watch.seen}")
        values.append(first(reports, "T11") - watch.seen["ready"] - LOG_WATCH)
    return {"values": values, "median": statistics.median(values), "argv": argv}


def bench_c(lab: Lab, runs: int, work: Path) -> dict[str, Any]:
    after_restart, after_exit, argv = [], [], []
    for i in range(runs):
        reports, watch, argv = lab_run(lab, "crash-at-start", "T10", work, f"c{i}")
        decided = first(reports, "T10")
        if "restart" not in watch.seen:
            raise SystemExit(f"(c) run {i}: no restart seen: {watch.seen}")
        after_restart.append(decided - watch.seen["restart"])
        after_exit.append(decided - watch.seen["exit"])
    return {
        "after_restart": after_restart,
        "after_exit": after_exit,
        "median_after_restart": statistics.median(after_restart),
        "median_after_exit": statistics.median(after_exit),
        "argv": argv,
    }


def main() -> None:
    runs_a = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    runs_bc = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    lab = Lab(with_cluster=True)
    was_up = lab.healthy()
    lab.up(variant="ok")
    try:
        with tempfile.TemporaryDirectory(prefix="irp-bench-") as tmp:
            work = Path(tmp)
            a = bench_a(lab, runs_a, work)
            if runs_bc:
                c = bench_c(lab, runs_bc, work)
                b = bench_b(lab, runs_bc, work)  # last: leaves a healthy release behind
    finally:
        lab.up(variant="ok")
        if not was_up:
            lab.down()
    fmt = ", ".join
    print(f"(a) T06+T07, {runs_a} runs each, every run a never-built SHA")
    print(f"    suite: {fmt(f'{v:.2f}' for v in a['suite'])} s -> median {a['suite_median']:.2f} s")
    print(f"    plain: {fmt(f'{v:.2f}' for v in a['plain'])} s -> median {a['plain_median']:.2f} s")
    print(
        f"    overhead: {a['overhead_s']:.2f} s, {100 * a['overhead_ratio']:.0f} % "
        f"(targets: < 2 s, < 20 %)"
    )
    print(
        "    fixed costs (medians): " + ", ".join(f"{k} {v:.2f} s" for k, v in a["floors"].items())
    )
    print("    suite, median parts: " + ", ".join(f"{k} {v:.2f} s" for k, v in a["parts"].items()))
    print(f"    suite command: {shlex.join(suite_argv(lab.toml_path, '<sha>', Path('<dir>')))}")
    print(
        f'    plain command: ssh -F {lab.layout.ssh_config} haskelseed -- sh -c "$PLAIN" '
        f"plain {lab.layout.remote_dir} <registry>:<tag> <attr> <options> < token, PLAIN being:"
    )
    print("      " + PLAIN.strip().replace("\n", "\n      "))
    if not runs_bc:
        return
    print(
        f"(b) pod Ready -> T11 decided (minus the {LOG_WATCH:.1f} s log watch), {runs_bc} "
        f"runs: {fmt(f'{v:.2f}' for v in b['values'])} s -> median {b['median']:.2f} s"
    )
    print(f"    command: {shlex.join(b['argv'])}")
    print(
        f"(c) crash loop: first restart -> T10 decided, {runs_bc} runs: "
        f"{fmt(f'{v:.2f}' for v in c['after_restart'])} s -> median "
        f"{c['median_after_restart']:.2f} s (target < 15 s); first exit -> T10 decided: "
        f"median {c['median_after_exit']:.2f} s"
    )
    print(f"    command: {shlex.join(c['argv'])}")


if __name__ == "__main__":
    main()

"""Benchmark (not a test): plugin import plus collection of the criteria suite.

Target (issue 2): under 1 s. Heavy modules (the kubernetes client, requests) must not be
imported during collection. Run: python bench/collect_overhead.py [RUNS]

hypothesis (a dev-only dependency of the plugin's own tests) registers a pytest plugin that
imports all of hypothesis at start-up (1.3 s on this 2-CPU machine): a user's environment
does not have it, so the benchmark runs with ``-p no:hypothesispytest``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def once() -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "tests",
            "--irp-host",
            "example",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:hypothesispytest",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def baseline() -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "--version"], cwd=REPO, check=True, capture_output=True
    )
    return time.perf_counter() - started


def heavy_imports() -> list[str]:
    code = (
        "import sys, pytest; pytest.main(['--collect-only', '-q', 'tests', '--irp-host', "
        "'example', '-p', 'no:cacheprovider']); "
        "print([m for m in ('kubernetes', 'requests', 'pglast') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    return eval(out.strip().splitlines()[-1])  # noqa: S307 - our own printed list


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    times = [once() for _ in range(runs)]
    base = [baseline() for _ in range(runs)]
    print(
        f"collect-only of the criteria suite (import + collection), {runs} runs: "
        f"median {statistics.median(times):.3f}s, min {min(times):.3f}s"
    )
    print(f"`pytest --version` (interpreter + pytest start), median {statistics.median(base):.3f}s")
    print(f"heavy modules imported during collection: {heavy_imports() or 'none'}")


if __name__ == "__main__":
    main()

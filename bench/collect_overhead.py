"""Benchmark (not a test): plugin import plus collection of the criteria suite, as it runs
after the README's set-up (the dev extra installed, hypothesis among it).

Targets: under 1 s (issue 2); under 2x `pytest --version` (issue 23). Heavy modules (the
kubernetes client, requests) must not be imported during collection. hypothesis's pytest
plugin imports all of hypothesis at start-up (1.3 s on this 2-CPU machine): the repository's
pyproject.toml leaves it out of criteria runs (``addopts``: ``-p no:hypothesispytest``), and
testing/conftest.py loads it by its module name for the plugin's own tests. So the command
below is the plain one a user types. Run: python bench/collect_overhead.py [RUNS]
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


def hypothesis_imported() -> bool:
    code = (
        "import sys, pytest; pytest.main(['--collect-only', '-q', 'tests', '--irp-host', "
        "'example', '-p', 'no:cacheprovider']); print('hypothesis' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    return out.strip().splitlines()[-1] == "True"


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    times = [once() for _ in range(runs)]
    base = [baseline() for _ in range(runs)]
    print(
        f"collect-only of the criteria suite (import + collection), {runs} runs: "
        f"median {statistics.median(times):.3f}s, min {min(times):.3f}s"
    )
    print(f"`pytest --version` (interpreter + pytest start), median {statistics.median(base):.3f}s")
    ratio = statistics.median(times) / statistics.median(base)
    print(f"collection / --version: {ratio:.2f}x (target: under 2x)")
    print(f"hypothesis imported in a criteria run: {hypothesis_imported()}")
    print(f"heavy modules imported during collection: {heavy_imports() or 'none'}")


if __name__ == "__main__":
    main()

"""The lab's first-contact scenario (issue 23): the user's world before any fix, five
independent problems at once, and ONE run of ``pytest tests --irp-lab`` that names every one
of them at its criterion (FAIL with that cause, not BLOCKED by another), with its next step,
in the terminal, summary.json (``problems``) and the HTML report's fix list.

The problems (pytest_irp_lab/scenarios.py): the registry's dead token realm without
``registry_token_workaround`` (T07), no helm on this machine (T08), sudo on the node asking
for a password (T09), the node's registries.yaml without the registry's mirror (T09, read
without the sudo that hides it), a base_url host under ``.invalid`` (T11).

Written for the integrator (who owns the lab): ``python3 -m pytest
testing/lab/test_first_contact_on_lab.py -p no:randomly``. It reuses the fixtures of
test_criteria_on_lab.py. The scenario is set up before the run, so the run's ``--irp-lab``
finds it up and starts nothing; the run gets a mount namespace whose nsswitch.conf reads
/etc/hosts only (as test_preflight_on_lab.py does), so the ``.invalid`` name is never asked
of a name server. Every test leaves the normal lab up (``up`` without the scenario).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pytest_irp_lab.scenarios import FIRST_CONTACT, WRONG_BASE_URL

from . import test_criteria_on_lab as on_lab
from .test_criteria_on_lab import REPO, LabSuite
from .test_preflight_on_lab import names_from_files_only

lab = on_lab.lab  # the module's fixtures: the lab with the cluster, the pytester suite
suite = on_lab.suite

REGISTRY = "10.77.0.3:3000"
# (criterion, words of the cause, words of the next step), in pipeline order
PROBLEMS = (
    (
        "T07",
        "failed at the registry's token realm: skopeo asked http://10.77.0.3/v2/token",
        "Set ROOT_URL = http://10.77.0.3:3000/ in app.ini [server]",
    ),
    ("T08", "helm is not usable here: `helm version --short` exited 127", "Install helm 3"),
    (
        "T09",
        "`sudo -n true` on railiance01 asks for a password",
        "allow the node user passwordless sudo",
    ),
    (
        "T09",
        f"registries.yaml lacks the mirror: no entry for {REGISTRY}",
        f'add the registry\'s mirror to {{registries_yaml}} on the node (mirrors: "{REGISTRY}"',
    ),
    (
        "T11",
        "the base URL's host probe.railiance01.invalid does not resolve here",
        "check base_url",
    ),
)
STATUSES = {
    **{f"T{n:02d}": "PASS" for n in range(1, 7)},
    "T07": "FAIL",
    "T08": "FAIL",
    "T09": "FAIL",
    "T10": "BLOCKED",
    "T11": "FAIL",
    "T12": "SKIPPED",
}


def lab_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "pytest_irp_lab", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def first_screen(page: Path, png: Path) -> None:
    """The report's first screen at 1280x800 in Debian's chromium (as
    testing/test_report_browser.py opens it)."""
    import shutil
    import tempfile

    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tempfile.mkdtemp(prefix="irp-chromium-")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    args += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    try:
        with sync_api.sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile,
                executable_path="/usr/bin/chromium",
                headless=True,
                args=args,
                viewport={"width": 1280, "height": 800},
                service_workers="block",
            )
            try:
                tab = context.new_page()
                tab.goto(page.as_uri())
                box = tab.locator("#root-cause li").first.bounding_box()
                assert box is not None
                assert box["y"] + box["height"] < 800  # the first problem whole
                tab.screenshot(path=str(png))
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def assert_normal_lab(suite: LabSuite) -> None:
    """The lab as ``up`` without a scenario leaves it: the settings, the node's mirror and
    its NOPASSWD sudo."""
    table = suite.lab.settings()
    assert table["registry_token_workaround"] is True
    assert table["base_url"] == "http://10.77.0.1:30080"
    assert "helm" in table
    assert suite.lab.status()["scenario"] is None
    registries = yaml.safe_load(Path(str(table["registries_yaml"])).read_text())
    assert registries == {"mirrors": {REGISTRY: {"endpoint": [f"http://{REGISTRY}"]}}}
    assert (Path(str(table["certs_dir"])) / REGISTRY / "hosts.toml").is_file()
    sudo = subprocess.run(
        suite.lab.ssh_argv("railiance01", "sudo", "-n", "true"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sudo.returncode == 0, sudo.stderr


def test_first_contact_run_names_every_problem_at_its_criterion(
    suite: LabSuite, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.lab.up(variant="ok", scenario=FIRST_CONTACT)  # its processes outside the run's ns
    monkeypatch.setenv("COLUMNS", "120")
    try:
        run = suite.run(f"--irp-lab-scenario={FIRST_CONTACT}", wrapper=names_from_files_only(suite))
    finally:
        suite.lab.up(variant="ok")
    assert run.ret == 1, run.explain()
    assert run.statuses == STATUSES, run.explain()
    registries_yaml = str(suite.lab.settings()["registries_yaml"])
    expected = [
        (c, cause, step.format(registries_yaml=registries_yaml)) for c, cause, step in PROBLEMS
    ]

    # summary.json: five problems, in pipeline order, each FAILing its own criterion
    problems = run.summary["problems"]
    assert len(problems) == len(expected), json.dumps(problems, indent=1)
    for number, (problem, (criterion, cause, step)) in enumerate(
        zip(problems, expected, strict=True), 1
    ):
        assert problem["number"] == number
        assert problem["criteria"] == [criterion], problem
        assert cause in problem["cause"], problem
        assert step in problem["next_step"], problem
        assert cause in run.cause(criterion)  # the criterion's own cause, not a BLOCKED
    assert run.cause("T10").startswith("BLOCKED by stage 'push' (T07) failed: ")

    # the terminal: the fix list (each cause once, its next step) and the table pointing at it
    text = run.result.stdout.str()
    lines = run.result.stdout.lines
    flat = " ".join(" ".join(line.split()) for line in lines)
    assert "5 problems to fix, in pipeline order" in text, run.explain()
    for number, (criterion, cause, step) in enumerate(expected, 1):
        assert re.search(rf"^{number}\. {criterion}\b", text, re.M), run.explain()
        assert cause[:60] in flat, (cause, run.explain())
        assert f"next: {step[:40]}" in flat, (step, run.explain())
    for criterion, refs in (("T07", " 1"), ("T08", " 2"), ("T09", "s 3, 4"), ("T11", " 5")):
        assert re.search(rf"^{criterion}  FAIL .* - problem{refs} above$", text, re.M), text
    assert re.search(
        r"^T10  BLOCKED .* blocked by stage push \(T07\): problem 1 above$", text, re.M
    )
    start = next(i for i, line in enumerate(lines) if "problems to fix" in line)
    end = next(i for i, line in enumerate(lines) if line.startswith("irp report: "))
    assert all(len(line) <= 120 for line in lines[start:end]), text  # the report's path aside
    print(f"first-contact terminal at 120 columns: {len(lines)} lines; run {run.seconds:.1f} s")

    # the HTML report's fix list
    page = run.html
    assert page.count('class="problem"') == len(expected)
    assert "Fix list: 5 problems, in pipeline order" in page
    items = re.findall(r'<li class="problem" id="problem-\d+">(.*?)</li>', page, re.S)
    for item, (criterion, cause, step) in zip(items, expected, strict=True):
        assert item.startswith(f"<b>{criterion}</b>"), item
        assert cause in item, item
        assert step in item, item
    # the scenario's settings reached the run: no helm, no workaround, the wrong base URL
    assert WRONG_BASE_URL in page
    target = os.environ.get("REPORT_SCREENSHOTS_DIR")
    if target:  # docs/report-first-contact.png (docs/report.md)
        first_screen(run.page, Path(target) / "report-first-contact.png")
    assert_normal_lab(suite)  # and the run's own `up` left nothing behind that outlives it


def test_up_with_the_scenario_and_without_it_again(suite: LabSuite) -> None:
    """``python -m pytest_irp_lab up --scenario first-contact`` makes the world of the
    scenario; ``up`` without it restores the normal lab (twice: reruns are safe)."""
    try:
        done = lab_cli("up", "--scenario", FIRST_CONTACT)
        assert done.returncode == 0, done.stderr
        table = suite.lab.settings()
        assert "registry_token_workaround" not in table
        assert "helm" not in table
        assert table["base_url"] == WRONG_BASE_URL
        assert suite.lab.status()["scenario"] == FIRST_CONTACT
        registries = Path(str(table["registries_yaml"])).read_text()
        assert REGISTRY not in registries
        assert not (Path(str(table["certs_dir"])) / REGISTRY).exists()
        sudo = subprocess.run(
            suite.lab.ssh_argv("railiance01", "sudo", "-n", "true"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sudo.returncode != 0
        assert "password" in sudo.stderr.lower(), sudo.stderr
        assert f"{FIRST_CONTACT}:" in lab_cli("scenarios").stdout
    finally:
        for _ in range(2):
            done = lab_cli("up", "--with-cluster")
            assert done.returncode == 0, done.stderr
    assert_normal_lab(suite)

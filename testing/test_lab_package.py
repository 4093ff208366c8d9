"""The lab is its own package beside the plugin (issue 11, Deliver 1): the plugin's wheel
holds no lab code and does not depend on cryptography; the lab's wheel (lab/pyproject.toml)
holds the lab; --irp-lab without the lab says in one paragraph what to install."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, Project


def build_wheel(project: Path, out: Path) -> zipfile.ZipFile:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(out),
            str(project),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of what the two distributions are built from (a build writes build/ and
    *.egg-info beside its pyproject)."""
    root = tmp_path_factory.mktemp("checkout")
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("pytest_irp", "pytest_irp_lab", "lab"):
        shutil.copytree(REPO / name, root / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, root / name)
    return root


def requires(wheel: zipfile.ZipFile) -> list[str]:
    (meta,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    text = wheel.read(meta).decode()
    return [
        line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if line.startswith("Requires-Dist:")
    ]


def test_the_plugin_wheel_holds_no_lab_and_needs_no_cryptography(
    checkout: Path, tmp_path: Path
) -> None:
    wheel = build_wheel(checkout, tmp_path)
    tops = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert tops == {"pytest_irp", "pytest_irp-0.1.0.dist-info"}, tops
    assert not [n for n in wheel.namelist() if "/lab/" in n or n.endswith(".go")]
    # the data the plugin reads at import: its settings table and remote scripts
    assert "pytest_irp/settings.toml" in wheel.namelist()
    assert "pytest_irp/remote/push.sh" in wheel.namelist()
    deps = requires(wheel)
    assert not [d for d in deps if d.lower().startswith("cryptography")], deps
    assert 'pytest-irp-lab; extra == "lab"' in deps, deps


def test_the_lab_wheel_holds_the_lab_and_its_dependencies(checkout: Path, tmp_path: Path) -> None:
    wheel = build_wheel(checkout / "lab", tmp_path)
    names = wheel.namelist()
    assert "pytest_irp_lab/orchestrator.py" in names
    assert "pytest_irp_lab/plugin_layer.py" in names
    assert not [n for n in names if n.startswith("pytest_irp/")]
    deps = requires(wheel)
    assert {"pytest-irp", "cryptography>=41", "plumbum>=1.8"} <= set(deps), deps


def test_irp_lab_without_the_lab_package_says_what_to_install(project: Project) -> None:
    # the lab not installed: an import of pytest_irp_lab fails as if it were absent
    with (project.path / "conftest.py").open("a") as out:
        out.write("\nimport sys\nsys.modules['pytest_irp_lab'] = None\n")
    result = project.pytester.runpytest_subprocess(
        "tests", "--irp-lab", "-p", "no:randomly", "-k", "T08"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "pip install 'pytest-irp[lab]'" in err
    assert "pip install -e '.[lab]' -e ./lab" in err
    assert "Traceback" not in err


def test_the_lab_sources_are_found_from_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pytest_irp_lab.proc import LabError
    from pytest_irp_lab.sources import lab_sources, require_lab_sources

    monkeypatch.delenv("IRP_LAB_SOURCES", raising=False)
    assert lab_sources() == REPO / "lab"
    assert require_lab_sources() == REPO / "lab"
    monkeypatch.setenv("IRP_LAB_SOURCES", str(tmp_path))
    with pytest.raises(LabError, match=f"the lab's sources are not at {tmp_path}"):
        require_lab_sources()

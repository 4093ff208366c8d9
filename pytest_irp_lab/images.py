"""Container images without Docker: one-layer docker-archives (``docker save`` format,
deterministic: mtime 0, uid/gid 0) written with Python's tarfile, the lab's pause and
busybox-httpd images, and a skopeo push of an archive. Importing an archive into the
node's containerd is :meth:`pytest_irp_lab.cluster.LabCluster.import_image`."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_irp.fileio import write_atomic
from pytest_irp_lab.authfile import written_authfile
from pytest_irp_lab.proc import run


@dataclass(frozen=True)
class ImageFile:
    """One entry of an image layer: a regular file (``source``), symlink or directory."""

    path: str
    source: Path | None = None
    data: bytes | None = None
    mode: int = 0o644
    symlink: str | None = None
    directory: bool = False


def _layer_tar(entries: Sequence[ImageFile]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path.lstrip("/"))
            info.mtime, info.uid, info.gid, info.mode = 0, 0, 0, entry.mode
            if entry.directory:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif entry.symlink is not None:
                info.type, info.linkname = tarfile.SYMTYPE, entry.symlink
                tar.addfile(info)
            else:
                data = (
                    entry.data if entry.data is not None else Path(entry.source or "").read_bytes()
                )
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _tar_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, io.BytesIO(data))


def build_image_archive(
    out: Path,
    ref: str,
    entries: Sequence[ImageFile],
    entrypoint: Sequence[str],
    *,
    cmd: Sequence[str] = (),
    user: str = "",
) -> Path:
    """Write a one-layer docker-archive (``docker save`` format) for ``ref`` to ``out``."""
    layer = _layer_tar(entries)
    diff_id = hashlib.sha256(layer).hexdigest()
    image_config: dict[str, Any] = {"Entrypoint": list(entrypoint), "Env": ["PATH=/bin"]}
    if cmd:
        image_config["Cmd"] = list(cmd)
    if user:
        image_config["User"] = user
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",
            "config": image_config,
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "pytest-irp lab"}],
        },
        sort_keys=True,
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": [f"{diff_id}/layer.tar"]}]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _tar_member(tar, f"{diff_id}/layer.tar", layer)
        _tar_member(tar, config_name, config)
        _tar_member(tar, "manifest.json", json.dumps(manifest).encode())
    write_atomic(out, buf.getvalue())
    return out


def build_static_c(source: Path, out_dir: Path) -> Path:
    """Compile a static, stripped binary from one C file; cached by source hash."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    binary = out_dir / digest / source.stem
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        tmp = binary.with_suffix(".tmp")
        run(["gcc", "-Os", "-static", "-Wall", "-Wextra", "-o", tmp, source])
        run(["strip", tmp])
        tmp.replace(binary)
    return binary


def pause_image_archive(cache_dir: Path, out: Path, ref: str, source: Path) -> Path:
    """Build ``lab/pause/pause.c`` and pack it as the sandbox image ``ref``."""
    binary = build_static_c(source, cache_dir / "pause")
    entries = [ImageFile("/pause", source=binary, mode=0o755)]
    return build_image_archive(out, ref, entries, ["/pause"], user="65535:65535")


def busybox_httpd_image_archive(out: Path, ref: str, port: int = 8000) -> Path:
    """A test image: Debian's static busybox serving ``/www`` (``/healthz`` says ok)."""
    busybox = Path("/bin/busybox")
    entries = [
        ImageFile("/bin", directory=True, mode=0o755),
        ImageFile("/bin/busybox", source=busybox, mode=0o755),
        ImageFile("/bin/sh", symlink="busybox", mode=0o777),
        ImageFile("/tmp", directory=True, mode=0o1777),
        ImageFile("/www", directory=True, mode=0o755),
        ImageFile("/www/healthz", data=b"ok\n"),
    ]
    args = ["/bin/busybox", "httpd", "-f", "-p", str(port), "-h", "/www"]
    return build_image_archive(out, ref, entries, args, user="65534:65534")


def push_image_archive(
    archive: Path,
    dest: str,
    *,
    username: str = "",
    secret: str = "",
    tls_verify: bool = False,
    skopeo: str = "skopeo",
) -> None:
    """Push a docker-archive to ``dest`` (HOST:PORT/OWNER/NAME:TAG) with skopeo.

    The credential never goes on argv: it is written to a 0600 authfile, removed afterwards.
    """
    registry = dest.split("/", 1)[0]
    base = [skopeo, "--insecure-policy", "copy", f"--dest-tls-verify={str(tls_verify).lower()}"]
    src, dst = f"docker-archive:{archive}", f"docker://{dest}"
    if not username:
        run([*base, src, dst], timeout=300)
        return
    with written_authfile(registry, username, secret) as auth_path:
        run([*base, "--dest-authfile", str(auth_path), src, dst], timeout=300)

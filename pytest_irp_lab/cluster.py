"""A real single-node Kubernetes ("railiance01") for the embedded lab.

Binaries come from the Go module proxy (``lab/build-cluster.sh`` builds them into the cache).
:class:`LabCluster` generates a PKI and kubeconfigs, then starts etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, a private containerd, kubelet and kube-proxy as
detached processes with pid files under its state directory. ``stop()`` kills exactly those
processes and removes the mounts, network namespaces, bridge, iptables chains, cgroups and
sysctl changes they left.

Everything listens on loopback or on the node IP (10.77.0.1); pods live in 10.78.0.0/24 and
services in 10.79.0.0/24. See ``docs/lab-cluster.md``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import http.client
import io
import ipaddress
import json
import logging
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pytest_irp.fileio import write_atomic
from pytest_irp.registry import authfile
from pytest_irp_lab.node_registry import dump_registries_yaml, lab_registries, write_certs_d
from pytest_irp_lab.proc import LabError, wait_for
from pytest_irp_lab.sources import lab_sources

log = logging.getLogger(__name__)

K8S_VERSION = "1.34.4"
ETCD_VERSION = "3.6.16"
CRICTL_VERSION = "1.34.0"
NODE_NAME = "railiance01"
NODE_IP = "10.77.0.1"
LAB_CIDR = "10.77.0.0/24"
POD_CIDR = "10.78.0.0/24"
SERVICE_CIDR = "10.79.0.0/24"
APISERVER_SERVICE_IP = "10.79.0.1"
LAB_BRIDGE = "irpbr0"
CNI_BRIDGE = "irpcni0"
CNI_NETWORK = "irp-pods"
CNI_BIN_DIR = "/usr/lib/cni"
FORWARD_CHAIN = "irp-cluster-fwd"
OUTPUT_CHAIN = "irp-cluster-out"
GUARD_PREFIX = "irp-cluster-"
APISERVER_PORT = 6443
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
DEFAULT_REGISTRY = "10.77.0.3:3000"
PAUSE_TAG = "irp/pause:1.0"
NOFILE_HARD = 20000  # the VM's hard limit; nothing may ask for more
# sysctls that kubelet (setupKernelTunables) or this module change; restored by stop().
TOUCHED_SYSCTLS = (
    "net/ipv4/ip_forward",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
# Start order; stop() goes the other way.
COMPONENTS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "containerd",
    "kubelet",
    "kube-proxy",
)


def default_lab_dir() -> Path:
    return Path(os.environ.get("IRP_LAB_DIR", "/var/tmp/irp-lab"))


def default_cache_dir() -> Path:
    return Path(os.environ.get("IRP_CACHE_DIR", "/var/cache/pytest-irp"))


class ClusterError(LabError):
    """The lab cluster could not be started or stopped."""


# --------------------------------------------------------------------------- small helpers


def run(
    args: Sequence[str | os.PathLike[str]], *, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command (argument list, never a shell string) and capture its output."""
    argv = [str(a) for a in args]
    log.debug("run %s", argv)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise ClusterError(f"{argv!r} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def write_json(path: Path, data: Any, mode: int = 0o644) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode)


# --------------------------------------------------------------------------- PKI


@dataclass(frozen=True)
class CertSpec:
    name: str
    cn: str
    orgs: tuple[str, ...] = ()
    client: bool = True
    server: bool = False
    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(cn: str, orgs: Iterable[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _validity(builder: x509.CertificateBuilder, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return builder.not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(
        now + dt.timedelta(days=days)
    )


def make_ca(cn: str = "irp-lab-ca") -> tuple[bytes, bytes]:
    """A self-signed CA: (cert PEM, key PEM)."""
    key = _new_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    cert = _validity(builder, 3650).sign(key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _sans(spec: CertSpec) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in spec.dns]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in spec.ips]
    return names


def issue_cert(spec: CertSpec, ca_cert_pem: bytes, ca_key_pem: bytes) -> tuple[bytes, bytes]:
    """A leaf certificate signed by the CA: (cert PEM, key PEM)."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = _new_key()
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if spec.client else []
    usages += [ExtendedKeyUsageOID.SERVER_AUTH] if spec.server else []
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(spec.cn, spec.orgs))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if spec.dns or spec.ips:
        builder = builder.add_extension(x509.SubjectAlternativeName(_sans(spec)), critical=False)
    cert = _validity(builder, 365).sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def cert_specs(node_name: str, node_ip: str) -> list[CertSpec]:
    apiserver_dns = (
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
        node_name,
    )
    return [
        CertSpec(
            "apiserver",
            "kube-apiserver",
            client=False,
            server=True,
            dns=apiserver_dns,
            ips=("127.0.0.1", node_ip, APISERVER_SERVICE_IP),
        ),
        CertSpec("apiserver-kubelet-client", "kube-apiserver-kubelet-client"),
        CertSpec("admin", "admin", ("system:masters",)),
        CertSpec("kube-controller-manager", "system:kube-controller-manager"),
        CertSpec("kube-scheduler", "system:kube-scheduler"),
        CertSpec("kubelet-client", f"system:node:{node_name}", ("system:nodes",)),
        CertSpec(
            "kubelet-serving",
            node_name,
            client=False,
            server=True,
            dns=(node_name,),
            ips=(node_ip,),
        ),
        CertSpec("kube-proxy", "system:kube-proxy", ("system:node-proxier",)),
    ]


def ensure_pki(pki: Path, node_name: str, node_ip: str) -> None:
    """Create the CA, the leaf certificates and the service-account key once."""
    pki.mkdir(parents=True, exist_ok=True)
    os.chmod(pki, 0o700)
    if not (pki / "ca.crt").exists():
        cert, key = make_ca()
        write_atomic(pki / "ca.key", key, 0o600)
        write_atomic(pki / "ca.crt", cert)
    ca_cert, ca_key = (pki / "ca.crt").read_bytes(), (pki / "ca.key").read_bytes()
    for spec in cert_specs(node_name, node_ip):
        if not (pki / f"{spec.name}.crt").exists():
            cert, key = issue_cert(spec, ca_cert, ca_key)
            write_atomic(pki / f"{spec.name}.key", key, 0o600)
            write_atomic(pki / f"{spec.name}.crt", cert)
    if not (pki / "sa.key").exists():
        sa_key = _new_key()
        pub = sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        write_atomic(pki / "sa.key", _key_pem(sa_key), 0o600)
        write_atomic(pki / "sa.pub", pub)


def kubeconfig(
    *, cluster: str, server: str, ca: bytes, user: str, cert: bytes, key: bytes
) -> dict[str, Any]:
    """A kubeconfig document (JSON is valid YAML) with embedded credentials."""

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": cluster, "cluster": {"server": server, "certificate-authority-data": b64(ca)}}
        ],
        "users": [
            {
                "name": user,
                "user": {"client-certificate-data": b64(cert), "client-key-data": b64(key)},
            }
        ],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
        "current-context": cluster,
    }


# --------------------------------------------------------------------------- images


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


@contextlib.contextmanager
def registry_authfile(registry: str, username: str, secret: str) -> Iterator[Path]:
    """A containers-auth.json (mode 0600) holding the credential; removed afterwards."""
    fd, name = tempfile.mkstemp(prefix="irp-auth-", suffix=".json")
    path = Path(name)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(authfile(registry, username, secret))
        yield path
    finally:
        path.unlink(missing_ok=True)


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
    with registry_authfile(registry, username, secret) as auth_path:
        run([*base, "--dest-authfile", str(auth_path), src, dst], timeout=300)


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class PidFile:
    """``<pid> <starttime>``: the start time guards against a recycled pid."""

    path: Path

    @staticmethod
    def starttime(pid: int) -> str | None:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        return stat.rsplit(")", 1)[1].split()[19]

    def write(self, pid: int) -> None:
        write_atomic(self.path, f"{pid} {self.starttime(pid)}\n")

    def live_pid(self) -> int | None:
        try:
            pid_s, start = self.path.read_text().split()
        except (OSError, ValueError):
            return None
        pid = int(pid_s)
        if self.starttime(pid) != start or _is_zombie(pid):
            return None
        return pid


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "grpc_proxy")


def child_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The daemons' environment: no proxy settings (nothing may leave the lab) and no
    secrets of the caller (``*PASSWORD*``, ``*TOKEN*``)."""
    return {
        k: v
        for k, v in environ.items()
        if k.lower() not in PROXY_VARS and "PASSWORD" not in k.upper() and "TOKEN" not in k.upper()
    }


def spawn(argv: Sequence[str | os.PathLike[str]], log_path: Path, pid_file: PidFile) -> int:
    """Start a detached process (own session, stdio to ``log_path``) and record its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            [str(a) for a in argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=child_env(os.environ),
        )
    pid_file.write(proc.pid)
    log.info("started %s (pid %d)", Path(str(argv[0])).name, proc.pid)
    return proc.pid


def terminate(pid: int, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; reaps the child if it is ours."""
    start = PidFile.starttime(pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)

    def gone() -> bool:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return PidFile.starttime(pid) != start or _is_zombie(pid)

    try:
        wait_for(f"pid {pid} to exit", gone, timeout=timeout, every=0.2)
    except LabError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_for(f"pid {pid} to die", gone, timeout=10, every=0.2)


def pids_with_arg(needle: str) -> list[int]:
    """Pids whose command line contains ``needle`` as one argument (e.g. a socket path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if needle.encode() in args:
            found.append(int(entry.name))
    return found


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# --------------------------------------------------------------------------- host state


def read_sysctl(name: str) -> str:
    return Path("/proc/sys", name).read_text().strip()


def write_sysctl(name: str, value: str) -> None:
    Path("/proc/sys", name).write_text(value + "\n")


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def ensure_lab_bridge(name: str = LAB_BRIDGE, cidr: str = f"{NODE_IP}/24") -> bool:
    """Create the lab bridge with the node IP if absent. True if this call created it."""
    created = False
    if not link_exists(name):
        run(["ip", "link", "add", name, "type", "bridge"])
        created = True
    run(["ip", "addr", "replace", cidr, "dev", name])
    run(["ip", "link", "set", name, "up"])
    return created


def bridge_ports(name: str) -> list[str]:
    brif = Path("/sys/class/net", name, "brif")
    return sorted(p.name for p in brif.iterdir()) if brif.is_dir() else []


def delete_link(name: str) -> None:
    if link_exists(name):
        run(["ip", "link", "del", name], check=False)


def mount_points() -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        raw = line.split()[4]
        points.append(raw.encode().decode("unicode_escape"))
    return points


def unmount_under(prefixes: Sequence[str]) -> list[str]:
    """Unmount every mount point at or below one of ``prefixes``, deepest first."""
    roots = [p.rstrip("/") for p in prefixes]
    doomed = [m for m in mount_points() if any(m == r or m.startswith(r + "/") for r in roots)]
    for point in sorted(set(doomed), key=lambda m: m.count("/"), reverse=True):
        if run(["umount", point], check=False).returncode != 0:
            run(["umount", "-l", point], check=False)
    return doomed


# Host directories that containerd/CNI create outside the state dir; stop() removes the
# ones that did not exist before start() once they are empty.
HOST_DIRS = ("/run/containerd/s", "/run/containerd", "/var/lib/cni/results", "/var/lib/cni")
NETNS_DIR = "/run/netns"


def remove_empty_dirs(paths: Iterable[str]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            os.rmdir(path)


def netns_names() -> set[str]:
    netns_dir = Path("/run/netns")
    return {p.name for p in netns_dir.iterdir()} if netns_dir.is_dir() else set()


def remove_netns(names: Iterable[str]) -> None:
    for name in names:
        path = Path("/run/netns", name)
        unmount_under([str(path)])
        path.unlink(missing_ok=True)


def _iptables_tables(save_output: str) -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    current = ""
    for line in save_output.splitlines():
        if line.startswith("*"):
            current = line[1:]
            tables[current] = []
        elif current and line.startswith((":", "-A")):
            tables[current].append(line)
    return tables


def _jump_target(tokens: Sequence[str]) -> str:
    for flag in ("-j", "-g", "--jump", "--goto"):
        if flag in tokens[:-1]:
            return tokens[tokens.index(flag) + 1]
    return ""


def iptables_cleanup_script(save_output: str, prefixes: Sequence[str]) -> str:
    """An ``iptables-restore --noflush`` script removing every chain whose name starts with
    one of ``prefixes`` and every other chain's rule jumping to one (pure; unit-testable)."""

    def ours(chain: str) -> bool:
        return chain.startswith(tuple(prefixes))

    out: list[str] = []
    for table, lines in _iptables_tables(save_output).items():
        mine = [c for line in lines if line.startswith(":") and ours(c := line[1:].split()[0])]
        if not mine:
            continue
        rules = [(line, shlex.split(line)) for line in lines if line.startswith("-A ")]
        jumps = [line for line, t in rules if not ours(t[1]) and ours(_jump_target(t))]
        out.append(f"*{table}")
        out += ["-D " + line[3:] for line in jumps]
        out += [f":{c} - [0:0]" for c in mine]  # declaring a chain flushes it
        out += [f"-X {c}" for c in mine]
        out.append("COMMIT")
    return "\n".join(out) + ("\n" if out else "")


def cleanup_iptables(prefixes: Sequence[str]) -> None:
    for save, restore in (
        ("iptables-save", "iptables-restore"),
        ("ip6tables-save", "ip6tables-restore"),
    ):
        if shutil.which(save) is None:
            continue
        dump = run([save], check=False).stdout
        script = iptables_cleanup_script(dump, prefixes)
        if script:
            proc = subprocess.run(
                [restore, "--noflush"], input=script, text=True, capture_output=True, check=False
            )
            if proc.returncode != 0:
                log.warning("%s cleanup failed: %s", restore, proc.stderr.strip())


def forward_guard_rules(pod_cidr: str, lab_cidr: str) -> list[list[str]]:
    """FORWARD rules that keep pod traffic inside the lab ranges (ip_forward is on)."""
    return [
        ["-N", FORWARD_CHAIN],
        ["-A", FORWARD_CHAIN, "-s", lab_cidr, "-d", pod_cidr, "-j", "RETURN"],
        ["-A", FORWARD_CHAIN, "-s", pod_cidr, "-d", lab_cidr, "-j", "RETURN"],
        ["-A", FORWARD_CHAIN, "-s", pod_cidr, "-d", pod_cidr, "-j", "RETURN"],
        ["-A", FORWARD_CHAIN, "-j", "DROP"],
        ["-I", "FORWARD", "1", "-i", CNI_BRIDGE, "-j", FORWARD_CHAIN],
        ["-I", "FORWARD", "1", "-o", CNI_BRIDGE, "-j", FORWARD_CHAIN],
    ]


def output_guard_rules(cidrs: Sequence[str]) -> list[list[str]]:
    """mangle POSTROUTING rules: lab/pod/service addresses may only leave through lo or the
    lab's own interfaces. If the lab bridge disappears, 10.77.0.1 stops being local and the
    default route would otherwise carry the cluster's traffic to the outside.

    POSTROUTING, not filter OUTPUT: only there is the out interface final after kube-proxy's
    DNAT (filter OUTPUT still shows eth0 for a ClusterIP packet DNATed to a pod)."""
    rules = [
        ["-N", OUTPUT_CHAIN],
        *(
            ["-A", OUTPUT_CHAIN, "-o", dev, "-j", "RETURN"]
            for dev in ("lo", LAB_BRIDGE, CNI_BRIDGE)
        ),
        ["-A", OUTPUT_CHAIN, "-j", "DROP"],
    ]
    rules += [["-I", "POSTROUTING", "1", "-d", cidr, "-j", OUTPUT_CHAIN] for cidr in cidrs]
    return [["-t", "mangle", *rule] for rule in rules]


def cgroup_dirs(name: str) -> list[Path]:
    return sorted(p for p in Path("/sys/fs/cgroup").glob(f"*/{name}") if p.is_dir())


def kill_cgroup_tree(root: Path) -> None:
    for procs in root.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            for pid in procs.read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)


def remove_cgroup_tree(root: Path) -> None:
    dirs = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts))
    for path in [*reversed(dirs), root]:
        with contextlib.suppress(OSError):
            path.rmdir()


def node_ready_since(node: Mapping[str, Any], since: float) -> bool:
    """Ready=True with a heartbeat at or after ``since`` (epoch seconds; 1 s granularity)."""
    for cond in node.get("status", {}).get("conditions", []):
        if cond.get("type") == "Ready" and cond.get("status") == "True":
            beat = dt.datetime.fromisoformat(cond["lastHeartbeatTime"].replace("Z", "+00:00"))
            return beat.timestamp() >= int(since)
    return False


# --------------------------------------------------------------------------- the cluster


@dataclass
class LabCluster:
    """A single-node Kubernetes built from cached binaries; see the module docstring."""

    state_dir: Path = field(default_factory=lambda: default_lab_dir() / "cluster")
    cache_dir: Path = field(default_factory=default_cache_dir)
    node_name: str = NODE_NAME
    node_ip: str = NODE_IP
    registry: str = DEFAULT_REGISTRY
    sandbox_image: str = ""
    k8s_version: str = K8S_VERSION
    etcd_version: str = ETCD_VERSION
    crictl_version: str = CRICTL_VERSION
    source_dir: Path = field(default_factory=lab_sources)
    ready_timeout: float = 180

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir)
        self.cache_dir = Path(self.cache_dir)
        if not self.sandbox_image:
            self.sandbox_image = f"{self.registry}/{PAUSE_TAG}"

    # ---- paths
    @property
    def k8s_bin(self) -> Path:
        return self.cache_dir / "k8s" / f"v{self.k8s_version}" / "bin"

    @property
    def etcd_bin(self) -> Path:
        return self.cache_dir / "etcd" / f"v{self.etcd_version}" / "bin"

    @property
    def crictl(self) -> Path:
        return self.cache_dir / "crictl" / f"v{self.crictl_version}" / "bin" / "crictl"

    @property
    def crictl_config(self) -> Path:
        return self.state_dir / "crictl.yaml"

    def crictl_args(self, *args: str) -> list[str]:
        return [str(self.crictl), "--config", str(self.crictl_config), *args]

    @property
    def kubectl(self) -> Path:
        return self.k8s_bin / "kubectl"

    @property
    def pki(self) -> Path:
        return self.state_dir / "pki"

    @property
    def kubeconfig_path(self) -> Path:
        """Admin kubeconfig with context ``railiance01``."""
        return self.state_dir / "kubeconfig"

    @property
    def containerd_dir(self) -> Path:
        return self.state_dir / "containerd"

    @property
    def containerd_socket(self) -> Path:
        return self.containerd_dir / "containerd.sock"

    @property
    def certs_d(self) -> Path:
        return self.containerd_dir / "certs.d"

    @property
    def registries_yaml(self) -> Path:
        return self.state_dir / "registries.yaml"

    @property
    def kubelet_root(self) -> Path:
        return self.state_dir / "kubelet" / "root"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def server(self) -> str:
        return f"https://{self.node_ip}:{APISERVER_PORT}"

    def pid_file(self, component: str) -> PidFile:
        return PidFile(self.run_dir / f"{component}.pid")

    def binary(self, component: str) -> Path:
        if component == "containerd":
            return Path(shutil.which("containerd") or "/usr/bin/containerd")
        if component == "etcd":
            return self.etcd_bin / "etcd"
        return self.k8s_bin / component

    def missing_binaries(self) -> list[Path]:
        wanted = [self.binary(c) for c in COMPONENTS]
        wanted += [self.kubectl, self.crictl, self.etcd_bin / "etcdctl"]
        return [p for p in wanted if not os.access(p, os.X_OK)]

    # ---- public API
    def build(self) -> None:
        """Build missing binaries into the cache (``lab/build-cluster.sh``; slow when cold)."""
        env = {**os.environ, "IRP_CACHE_DIR": str(self.cache_dir)}
        subprocess.run([str(self.source_dir / "build-cluster.sh")], env=env, check=True)

    def start(self) -> None:
        """Bring the cluster up; a no-op when it is already up and Ready."""
        if self.is_ready():
            log.info("cluster %s already up", self.node_name)
            return
        missing = self.missing_binaries()
        if missing:
            raise ClusterError(f"missing binaries (run `build` first): {[str(p) for p in missing]}")
        self._prepare_host()
        self._write_configs()
        self._start_control_plane()
        self._start_node()
        wait_for(f"node {self.node_name} Ready", self.node_ready, timeout=self.ready_timeout,
                 every=1)
        log.info("cluster %s Ready", self.node_name)

    def stop(self, purge: bool = False) -> None:
        """Stop everything start() started and undo its host changes; ``purge`` also
        deletes the state directory (PKI, etcd data, logs)."""
        self._stop_node()
        for component in reversed(COMPONENTS[:4]):
            self._stop_component(component)
        self._cleanup_host()
        if purge and self.state_dir.exists():
            shutil.rmtree(self.state_dir)

    def is_ready(self) -> bool:
        """All components run and the node reports Ready."""
        if any(self.pid_file(c).live_pid() is None for c in COMPONENTS):
            return False
        return self.node_ip_local() and self.node_ready()

    def node_ip_local(self) -> bool:
        """The node IP is an address of the lab bridge (else nothing may contact it)."""
        out = run(["ip", "-o", "-4", "addr", "show", "dev", LAB_BRIDGE], check=False).stdout
        return f" {self.node_ip}/" in out

    def status(self) -> dict[str, Any]:
        components = {c: self.pid_file(c).live_pid() for c in COMPONENTS}
        return {
            "components": components,
            "rss_kib": self.rss_kib(),
            "node_ip_local": self.node_ip_local(),
            "node_ready": self.node_ip_local()
            and bool(components["kube-apiserver"])
            and self.node_ready(),
            "kubeconfig": str(self.kubeconfig_path),
            "context": self.node_name,
            "containerd_socket": str(self.containerd_socket),
        }

    def rss_kib(self) -> int:
        """Resident memory of the cluster's processes, shims and pods included."""
        pids = {p for c in COMPONENTS if (p := self.pid_file(c).live_pid()) is not None}
        pids |= set(pids_with_arg(str(self.containerd_socket)))
        for root in cgroup_dirs("kubepods")[:1]:
            for procs in root.rglob("cgroup.procs"):
                with contextlib.suppress(OSError):
                    pids |= {int(p) for p in procs.read_text().split()}
        return sum(rss_kib(p) for p in pids)

    # ---- API access (stdlib only)
    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        return ctx

    def api_get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        if not self.node_ip_local():
            raise OSError(f"{self.node_ip} is not on {LAB_BRIDGE}; refusing to contact it")
        return _get(http.client.HTTPSConnection(
            self.node_ip, APISERVER_PORT, context=self._ssl_context(), timeout=timeout
        ), path)

    def _api_ok(self, path: str) -> bool:
        try:
            return self.api_get(path)[0] == 200
        except (OSError, ssl.SSLError, http.client.HTTPException):
            return False

    def node_ready(self) -> bool:
        """The node's Ready condition is True and was reported by the running kubelet
        (a Node object left in etcd by an earlier run keeps a stale Ready for ~40 s)."""
        try:
            code, body = self.api_get(f"/api/v1/nodes/{self.node_name}")
        except (OSError, ssl.SSLError, http.client.HTTPException):
            return False
        if code != 200:
            return False
        return node_ready_since(json.loads(body), self._kubelet_started())

    def _kubelet_started(self) -> float:
        try:
            return self.pid_file("kubelet").path.stat().st_mtime
        except OSError:
            return 0.0

    def kubectl_args(self, *args: str) -> list[str]:
        return [
            str(self.kubectl),
            "--kubeconfig",
            str(self.kubeconfig_path),
            "--context",
            self.node_name,
            *args,
        ]

    # ---- host preparation
    def _prepare_host(self) -> None:
        for d in (self.run_dir, self.log_dir):
            d.mkdir(parents=True, exist_ok=True)
        if ensure_lab_bridge(LAB_BRIDGE, f"{self.node_ip}/24"):
            write_atomic(self.run_dir / "created-bridge", LAB_BRIDGE + "\n")
        saved = self.run_dir / "sysctl.json"
        if not saved.exists():
            write_json(saved, {name: read_sysctl(name) for name in TOUCHED_SYSCTLS})
        footprint = self.run_dir / "host-before.json"
        if not footprint.exists():
            before = {
                "netns": sorted(netns_names()),
                "netns_mounted": NETNS_DIR in mount_points(),
                "dirs": [d for d in HOST_DIRS if os.path.isdir(d)],
            }
            write_json(footprint, before)
        write_sysctl("net/ipv4/ip_forward", "1")
        if run(["iptables", "-t", "mangle", "-S", OUTPUT_CHAIN], check=False).returncode != 0:
            for rule in output_guard_rules((LAB_CIDR, POD_CIDR, SERVICE_CIDR)):
                run(["iptables", "-w", *rule])
        if run(["iptables", "-S", FORWARD_CHAIN], check=False).returncode != 0:
            for rule in forward_guard_rules(POD_CIDR, LAB_CIDR):
                run(["iptables", "-w", *rule])

    def _cleanup_host(self) -> None:
        footprint = self.run_dir / "host-before.json"
        before: dict[str, Any] = {"netns": [], "netns_mounted": True, "dirs": list(HOST_DIRS)}
        if footprint.exists():
            before = json.loads(footprint.read_text())
        for root in cgroup_dirs("kubepods"):  # pod processes left by a crashed runtime
            kill_cgroup_tree(root)
        remove_netns(n for n in netns_names() - set(before["netns"]) if n.startswith("cni-"))
        if not before["netns_mounted"] and not netns_names():
            unmount_under([NETNS_DIR])
        unmount_under([str(self.state_dir)])
        cleanup_iptables(("KUBE-", "CNI-", GUARD_PREFIX))
        delete_link(CNI_BRIDGE)
        for root in cgroup_dirs("kubepods"):
            remove_cgroup_tree(root)
        for result in Path("/var/lib/cni/results").glob(f"{CNI_NETWORK}-*"):
            result.unlink(missing_ok=True)
        remove_empty_dirs(d for d in HOST_DIRS if d not in before["dirs"])
        self._restore_sysctls()
        created = self.run_dir / "created-bridge"
        # Others (pytest_irp_lab.net) may have attached their veths meanwhile: keep it then.
        if created.exists() and not bridge_ports(LAB_BRIDGE):
            delete_link(LAB_BRIDGE)
            created.unlink()
        footprint.unlink(missing_ok=True)

    def _restore_sysctls(self) -> None:
        saved = self.run_dir / "sysctl.json"
        if not saved.exists():
            return
        for name, value in json.loads(saved.read_text()).items():
            with contextlib.suppress(OSError):
                if read_sysctl(name) != value:
                    write_sysctl(name, value)
        saved.unlink()

    # ---- configuration files
    def _write_configs(self) -> None:
        ensure_pki(self.pki, self.node_name, self.node_ip)
        self._write_kubeconfigs()
        registries = lab_registries(self.registry)
        write_atomic(self.registries_yaml, dump_registries_yaml(registries))
        if self.certs_d.exists():
            shutil.rmtree(self.certs_d)
        write_certs_d(registries, self.certs_d)
        write_atomic(self.containerd_dir / "config.toml", self.containerd_config())
        endpoint = f"unix://{self.containerd_socket}"
        crictl = {"runtime-endpoint": endpoint, "image-endpoint": endpoint, "timeout": 10}
        write_json(self.crictl_config, crictl)
        write_json(self.state_dir / "cni" / "net.d" / "10-irp-pods.conflist", self.cni_config())
        write_json(self.state_dir / "kubelet" / "config.yaml", self.kubelet_config())
        write_json(self.state_dir / "kube-proxy" / "config.yaml", self.kube_proxy_config())
        write_json(self.state_dir / "rbac.yaml", self.rbac())

    def _write_kubeconfigs(self) -> None:
        ca = (self.pki / "ca.crt").read_bytes()
        users = {
            "admin": "admin",
            "kube-controller-manager": "system:kube-controller-manager",
            "kube-scheduler": "system:kube-scheduler",
            "kubelet": f"system:node:{self.node_name}",
            "kube-proxy": "system:kube-proxy",
        }
        for name, user in users.items():
            cert_name = "kubelet-client" if name == "kubelet" else name
            doc = kubeconfig(
                cluster=self.node_name,
                server=self.server,
                ca=ca,
                user=user,
                cert=(self.pki / f"{cert_name}.crt").read_bytes(),
                key=(self.pki / f"{cert_name}.key").read_bytes(),
            )
            path = (
                self.kubeconfig_path if name == "admin" else self.state_dir / f"{name}.kubeconfig"
            )
            write_json(path, doc, 0o600)

    def containerd_config(self) -> str:
        d = self.containerd_dir
        cri = '[plugins."io.containerd.grpc.v1.cri"'
        return "\n".join(
            [
                "version = 2",
                f'root = "{d / "root"}"',
                f'state = "{d / "state"}"',
                "oom_score = 0",
                "[grpc]",
                f'  address = "{self.containerd_socket}"',
                "[ttrpc]",
                f'  address = "{self.containerd_socket}.ttrpc"',
                "[metrics]",
                '  address = ""',
                f"{cri}]",
                f'  sandbox_image = "{self.sandbox_image}"',
                "  restrict_oom_score_adj = true",
                '  stream_server_address = "127.0.0.1"',
                '  stream_server_port = "0"',
                "  enable_selinux = false",
                f"{cri}.containerd]",
                '  snapshotter = "overlayfs"',
                '  default_runtime_name = "runc"',
                f"{cri}.containerd.runtimes.runc]",
                '  runtime_type = "io.containerd.runc.v2"',
                f"{cri}.containerd.runtimes.runc.options]",
                "  SystemdCgroup = false",
                f'  Root = "{d / "runc"}"',
                f"{cri}.cni]",
                f'  bin_dir = "{CNI_BIN_DIR}"',
                f'  conf_dir = "{self.state_dir / "cni" / "net.d"}"',
                "  max_conf_num = 1",
                f"{cri}.registry]",
                f'  config_path = "{self.certs_d}"',
                '[plugins."io.containerd.internal.v1.opt"]',
                f'  path = "{d / "opt"}"',
                "",
            ]
        )

    def cni_config(self) -> dict[str, Any]:
        return {
            "cniVersion": "1.0.0",
            "name": CNI_NETWORK,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": CNI_BRIDGE,
                    "isGateway": True,
                    "ipMasq": False,  # pods reach only lab addresses; see forward_guard_rules
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_CIDR}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self.state_dir / "cni" / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }

    def kubelet_config(self) -> dict[str, Any]:
        endpoint = f"unix://{self.containerd_socket}"
        return {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": self.node_ip,
            "port": 10250,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": 10248,
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(self.pki / "ca.crt")},
            },
            "authorization": {"mode": "Webhook"},
            "tlsCertFile": str(self.pki / "kubelet-serving.crt"),
            "tlsPrivateKeyFile": str(self.pki / "kubelet-serving.key"),
            "cgroupDriver": "cgroupfs",
            "failCgroupV1": False,
            "failSwapOn": False,
            "containerRuntimeEndpoint": endpoint,
            "imageServiceEndpoint": endpoint,
            "clusterDomain": "cluster.local",
            "resolvConf": "",  # no DNS for pods: nothing outside the lab is reachable anyway
            "podLogsDir": str(self.state_dir / "kubelet" / "pod-logs"),
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {
                "memory.available": "50Mi",
                "nodefs.available": "1%",
                "nodefs.inodesFree": "1%",
                "imagefs.available": "1%",
                "imagefs.inodesFree": "1%",
            },
            "oomScoreAdj": 0,  # lowering it needs CAP_SYS_RESOURCE, absent here
            "maxOpenFiles": NOFILE_HARD,
            "serializeImagePulls": False,
            "registerNode": True,
            "rotateCertificates": False,
            "serverTLSBootstrap": False,
        }

    def kube_proxy_config(self) -> dict[str, Any]:
        return {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "mode": "iptables",
            "clusterCIDR": POD_CIDR,
            "hostnameOverride": self.node_name,
            "healthzBindAddress": "127.0.0.1:10256",
            "metricsBindAddress": "127.0.0.1:10249",
            "nodePortAddresses": [f"{self.node_ip}/32"],
            "clientConnection": {"kubeconfig": str(self.state_dir / "kube-proxy.kubeconfig")},
            # Leave the host's conntrack sysctls alone.
            "conntrack": {
                "maxPerCore": 0,
                "min": 0,
                "tcpEstablishedTimeout": "0s",
                "tcpCloseWaitTimeout": "0s",
            },
            "iptables": {"localhostNodePorts": False, "syncPeriod": "30s", "minSyncPeriod": "1s"},
            "oomScoreAdj": 0,
        }

    def rbac(self) -> dict[str, Any]:
        """apiserver -> kubelet (logs, exec, port-forward): bind the kubelet client cert user."""
        return {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "irp:apiserver-kubelet-api-admin"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:kubelet-api-admin",
            },
            "subjects": [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "User",
                    "name": "kube-apiserver-kubelet-client",
                }
            ],
        }

    # ---- command lines
    def argv(self, component: str) -> list[str]:
        s, pki = self.state_dir, self.pki
        kc = {c: str(s / f"{c}.kubeconfig") for c in ("kube-controller-manager", "kube-scheduler")}
        args: dict[str, list[str]] = {
            "etcd": [
                f"--name={self.node_name}",
                f"--data-dir={s / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{ETCD_CLIENT_PORT}",
                f"--advertise-client-urls=http://127.0.0.1:{ETCD_CLIENT_PORT}",
                f"--listen-peer-urls=http://127.0.0.1:{ETCD_PEER_PORT}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{ETCD_PEER_PORT}",
                f"--initial-cluster={self.node_name}=http://127.0.0.1:{ETCD_PEER_PORT}",
                "--log-level=warn",
            ],
            "kube-apiserver": [
                f"--advertise-address={self.node_ip}",
                f"--bind-address={self.node_ip}",
                f"--secure-port={APISERVER_PORT}",
                f"--etcd-servers=http://127.0.0.1:{ETCD_CLIENT_PORT}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--service-node-port-range=30000-32767",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
                f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
                f"--kubelet-certificate-authority={pki / 'ca.crt'}",
                "--kubelet-preferred-address-types=InternalIP",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                "--allow-privileged=true",
                f"--cert-dir={s / 'apiserver-certs'}",
                "--profiling=false",
            ],
            "kube-controller-manager": [
                f"--kubeconfig={kc['kube-controller-manager']}",
                f"--authentication-kubeconfig={kc['kube-controller-manager']}",
                f"--authorization-kubeconfig={kc['kube-controller-manager']}",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                "--use-service-account-credentials=true",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--cluster-cidr={POD_CIDR}",
                "--allocate-node-cidrs=false",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--cert-dir={s / 'kcm-certs'}",
                "--profiling=false",
            ],
            "kube-scheduler": [
                f"--kubeconfig={kc['kube-scheduler']}",
                f"--authentication-kubeconfig={kc['kube-scheduler']}",
                f"--authorization-kubeconfig={kc['kube-scheduler']}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--cert-dir={s / 'scheduler-certs'}",
                "--profiling=false",
            ],
            "containerd": [f"--config={self.containerd_dir / 'config.toml'}"],
            "kubelet": [
                f"--config={s / 'kubelet' / 'config.yaml'}",
                f"--kubeconfig={s / 'kubelet.kubeconfig'}",
                f"--root-dir={self.kubelet_root}",
                f"--node-ip={self.node_ip}",
                f"--hostname-override={self.node_name}",
                "--v=1",
            ],
            "kube-proxy": [f"--config={s / 'kube-proxy' / 'config.yaml'}", "--v=1"],
        }
        return [str(self.binary(component)), *args[component]]

    # ---- start / stop steps
    def _start_component(self, component: str, ready: Callable[[], bool], timeout: float) -> None:
        if self.pid_file(component).live_pid() is None:
            spawn(self.argv(component), self.log_dir / f"{component}.log", self.pid_file(component))
        pid_file = self.pid_file(component)

        def up() -> bool:
            if pid_file.live_pid() is None:
                raise ClusterError(f"{component} exited; see {self.log_dir / component}.log")
            return ready()

        wait_for(component, up, timeout=timeout, every=0.5)

    def _etcd_healthy(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", ETCD_CLIENT_PORT, timeout=2)
        try:
            conn.request("GET", "/health")
            return b'"true"' in conn.getresponse().read()
        except OSError:
            return False
        finally:
            conn.close()

    def _start_control_plane(self) -> None:
        self._start_component("etcd", self._etcd_healthy, 30)
        self._start_component("kube-apiserver", lambda: self._api_ok("/readyz"), 90)
        run(self.kubectl_args("apply", "-f", str(self.state_dir / "rbac.yaml")))
        # the node comes back without the pods of its last session: the kubelet would restart
        # their containers (restartCount 1, though the app did nothing); their controllers
        # make fresh ones once the node is Ready
        run(self.kubectl_args("delete", "pods", "--all-namespaces", "--field-selector",
                              f"spec.nodeName={self.node_name}", "--force", "--grace-period=0",
                              "--wait=false"))
        self._start_component("kube-controller-manager", lambda: True, 5)
        self._start_component("kube-scheduler", lambda: True, 5)

    def _ctr(self, *args: str) -> list[str]:
        return ["ctr", "--address", str(self.containerd_socket), "--namespace", "k8s.io", *args]

    def _containerd_up(self) -> bool:
        if not self.containerd_socket.exists():
            return False
        return run(self._ctr("version"), check=False, timeout=10).returncode == 0

    def import_image(self, archive: Path) -> None:
        """Import a docker-archive into the node's containerd (namespace k8s.io)."""
        run(self._ctr("images", "import", str(archive)), timeout=300)

    def image_present(self, ref: str) -> bool:
        out = run(self._ctr("images", "ls", "-q"), check=False).stdout.split()
        return ref in out

    def _start_node(self) -> None:
        self._start_component("containerd", self._containerd_up, 30)
        if not self.image_present(self.sandbox_image):
            archive = self.state_dir / "images" / "pause.tar"
            source = self.source_dir / "pause" / "pause.c"
            pause_image_archive(self.cache_dir, archive, self.sandbox_image, source)
            self.import_image(archive)
        self._start_component("kubelet", lambda: True, 5)
        self._start_component("kube-proxy", lambda: True, 5)

    def _stop_component(self, component: str) -> None:
        pid_file = self.pid_file(component)
        pid = pid_file.live_pid()
        if pid is not None:
            terminate(pid)
            log.info("stopped %s (pid %d)", component, pid)
        pid_file.path.unlink(missing_ok=True)

    def _stop_node(self) -> None:
        self._stop_component("kube-proxy")
        self._stop_component("kubelet")
        if self.pid_file("containerd").live_pid() is not None:
            # Remove the pods while containerd runs, so CNI DEL releases IPs and rules.
            run(self.crictl_args("rmp", "--all", "--force"), check=False, timeout=120)
        self._stop_component("containerd")
        for pid in pids_with_arg(str(self.containerd_socket)):  # leftover shims
            terminate(pid, 5)


# --------------------------------------------------------------------------- smoke test


SMOKE_MANIFEST_NAME = "irp-smoke"


def smoke_manifests(image: str, node_port: int) -> list[dict[str, Any]]:
    labels = {"app": SMOKE_MANIFEST_NAME}
    container = {
        "name": "httpd",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": 8000}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8000}, "periodSeconds": 2},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": SMOKE_MANIFEST_NAME, "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container], "automountServiceAccountToken": False},
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SMOKE_MANIFEST_NAME, "namespace": "default"},
        "spec": {
            "type": "NodePort",
            "selector": labels,
            "ports": [{"port": 8000, "targetPort": 8000, "nodePort": node_port}],
        },
    }
    return [deployment, service]


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    """One GET on a fresh connection: (status, body); the connection is closed after."""
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def http_get(host: str, port: int, path: str, timeout: float = 3) -> tuple[int, bytes]:
    return _get(http.client.HTTPConnection(host, port, timeout=timeout), path)


def smoke(
    cluster: LabCluster, node_port: int = 30080, timeout: float = 120, keep: bool = False
) -> float:
    """Deploy the busybox httpd test image and fetch /healthz through the NodePort; delete
    the Deployment and Service again unless ``keep``.

    Returns the seconds from ``kubectl apply`` to the first ``ok``."""
    image = f"{cluster.registry}/irp/busybox-httpd:1.0"
    if not cluster.image_present(image):
        archive = cluster.state_dir / "images" / "busybox-httpd.tar"
        cluster.import_image(busybox_httpd_image_archive(archive, image))
    manifest = cluster.state_dir / "smoke.yaml"
    write_json(
        manifest, {"apiVersion": "v1", "kind": "List", "items": smoke_manifests(image, node_port)}
    )
    start = time.monotonic()
    run(cluster.kubectl_args("apply", "-f", str(manifest)))
    run(
        cluster.kubectl_args(
            "wait",
            "--for=condition=Available",
            f"deployment/{SMOKE_MANIFEST_NAME}",
            f"--timeout={int(timeout)}s",
        ),
        timeout=timeout + 10,
    )

    def answers() -> bool:
        if not cluster.node_ip_local():
            raise ClusterError(f"{cluster.node_ip} is not on {LAB_BRIDGE}")
        try:
            return http_get(cluster.node_ip, node_port, "/healthz") == (200, b"ok\n")
        except OSError:
            return False

    wait_for(f"NodePort {cluster.node_ip}:{node_port}", answers, timeout=30, every=0.5)
    elapsed = time.monotonic() - start
    if not keep:
        run(cluster.kubectl_args("delete", "-f", str(manifest), "--wait=false"))
    return elapsed


# --------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pytest_irp_lab.cluster", description=__doc__)
    p.add_argument("command", choices=["build", "start", "stop", "status", "smoke", "push-pause"])
    p.add_argument("--state-dir", type=Path, default=default_lab_dir() / "cluster")
    p.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    p.add_argument("--registry", default=DEFAULT_REGISTRY)
    p.add_argument("--sandbox-image", default="")
    p.add_argument("--purge", action="store_true", help="stop: also delete the state dir")
    p.add_argument("--keep", action="store_true", help="smoke: keep the test Deployment")
    p.add_argument("--registry-user", default=os.environ.get("IRP_REGISTRY_USER", ""))
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    opts = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if opts.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    cluster = LabCluster(
        state_dir=opts.state_dir,
        cache_dir=opts.cache_dir,
        registry=opts.registry,
        sandbox_image=opts.sandbox_image,
    )
    if opts.command == "build":
        cluster.build()
    elif opts.command == "start":
        t0 = time.monotonic()
        cluster.start()
        print(f"Ready in {time.monotonic() - t0:.1f} s; kubeconfig {cluster.kubeconfig_path}")
    elif opts.command == "stop":
        cluster.stop(purge=opts.purge)
    elif opts.command == "status":
        status = cluster.status()
        print(json.dumps(status, indent=2))
        return 0 if status["node_ready"] else 1
    elif opts.command == "smoke":
        print(f"smoke ok in {smoke(cluster, keep=opts.keep):.1f} s")
    elif opts.command == "push-pause":
        archive = cluster.state_dir / "images" / "pause.tar"
        source = cluster.source_dir / "pause" / "pause.c"
        pause_image_archive(cluster.cache_dir, archive, cluster.sandbox_image, source)
        push_image_archive(
            archive,
            cluster.sandbox_image,
            username=opts.registry_user,
            secret=os.environ.get("IRP_REGISTRY_PASSWORD", ""),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

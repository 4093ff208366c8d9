"""The lab node's PKI: one CA, the leaf certificates of the components (ECDSA P-256) and
the service-account key, made once under ``<state>/pki`` (kept across restarts). The one
place of the lab that makes certificates (it needs ``cryptography``)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pytest_irp.fileio import write_atomic
from pytest_irp_lab.topology import APISERVER_SERVICE_IP


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
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


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

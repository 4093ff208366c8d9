"""The node's smoke test: deploy the busybox httpd test image and fetch ``/healthz``
through the NodePort (``python -m pytest_irp_lab.cluster smoke``)."""

from __future__ import annotations

import time
from typing import Any

from pytest_irp_lab.images import busybox_httpd_image_archive
from pytest_irp_lab.net import http_get
from pytest_irp_lab.node import ClusterError, image_present, import_image, node_ip_local
from pytest_irp_lab.proc import run, wait_for, write_json_atomic
from pytest_irp_lab.topology import LAB_BRIDGE, ClusterSpec

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


def smoke(
    spec: ClusterSpec, node_port: int = 30080, timeout: float = 120, keep: bool = False
) -> float:
    """Deploy the busybox httpd test image and fetch /healthz through the NodePort; delete
    the Deployment and Service again unless ``keep``.

    Returns the seconds from ``kubectl apply`` to the first ``ok``."""
    image = f"{spec.registry}/irp/busybox-httpd:1.0"
    if not image_present(spec, image):
        archive = spec.layout.root / "images" / "busybox-httpd.tar"
        import_image(spec, busybox_httpd_image_archive(archive, image))
    manifest = spec.layout.root / "smoke.yaml"
    write_json_atomic(
        manifest, {"apiVersion": "v1", "kind": "List", "items": smoke_manifests(image, node_port)}
    )
    start = time.monotonic()
    run(spec.kubectl_args("apply", "-f", str(manifest)))
    run(
        spec.kubectl_args(
            "wait",
            "--for=condition=Available",
            f"deployment/{SMOKE_MANIFEST_NAME}",
            f"--timeout={int(timeout)}s",
        ),
        timeout=timeout + 10,
    )

    def answers() -> bool:
        if not node_ip_local(spec):
            raise ClusterError(f"{spec.node_ip} is not on {LAB_BRIDGE}")
        try:
            return http_get(f"http://{spec.node_ip}:{node_port}/healthz") == (200, b"ok\n")
        except OSError:
            return False

    wait_for(f"NodePort {spec.node_ip}:{node_port}", answers, timeout=30, every=0.5)
    elapsed = time.monotonic() - start
    if not keep:
        run(spec.kubectl_args("delete", "-f", str(manifest), "--wait=false"))
    return elapsed

"""The node's ingress controller (:mod:`pytest_irp_lab.ingress`), its pure parts: Traefik's
command line (one entry point on the node's port 80, both Kubernetes providers, nothing
sent outside) and the IngressClass k3s's chart makes."""

from __future__ import annotations

from pathlib import Path

from pytest_irp_lab import ingress
from pytest_irp_lab.topology import ClusterSpec


def test_traefik_runs_the_ingress_and_crd_providers_on_port_80() -> None:
    argv = ingress.traefik_argv(Path("/c/traefik"), "10.77.0.1")
    assert argv[0] == "/c/traefik"
    assert "--entryPoints.web.address=10.77.0.1:80" in argv
    assert "--providers.kubernetesIngress=true" in argv
    assert "--providers.kubernetesCRD=true" in argv
    assert "--global.checkNewVersion=false" in argv
    assert "--global.sendAnonymousUsage=false" in argv
    assert not [a for a in argv if "token" in a.lower()]  # the kubeconfig comes by env


def test_ingress_class_names_traefiks_controller_as_the_default() -> None:
    ic = ingress.ingress_class()
    assert ic["metadata"]["name"] == "traefik"
    assert ic["spec"]["controller"] == "traefik.io/ingress-controller"
    assert ic["metadata"]["annotations"] == {"ingressclass.kubernetes.io/is-default-class": "true"}


def test_cached_beside_the_other_builds(tmp_path: Path) -> None:
    spec = ClusterSpec(state_dir=tmp_path / "cluster", cache_dir=tmp_path / "cache")
    lab = ingress.LabIngress(spec)
    assert lab.binary == tmp_path / "cache/traefik/v3.6.12/bin/traefik"
    assert lab.crds == tmp_path / "cache/traefik/v3.6.12/crds.yml"
    assert not lab.available()
    status = lab.status()
    assert status["version"] == "v3.6.12"
    assert status["running"] is False
    assert status["web"] == "http://10.77.0.1:80"

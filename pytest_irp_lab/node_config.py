"""The node's configuration, rendered by pure functions of a :class:`ClusterSpec`:
containerd's config.toml, the CNI conflist, the kubelet's and kube-proxy's configuration,
the RBAC binding, kubeconfigs, crictl's config and every component's command line.
Writing them is :func:`pytest_irp_lab.node.write_configs`."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from pytest_irp_lab.topology import (
    APISERVER_PORT,
    CNI_BIN_DIR,
    CNI_BRIDGE,
    CNI_NETWORK,
    ETCD_CLIENT_PORT,
    ETCD_PEER_PORT,
    NOFILE_HARD,
    POD_CIDR,
    SERVICE_CIDR,
    ClusterSpec,
)


def kubeconfig_users(node_name: str) -> dict[str, str]:
    """kubeconfig name -> the user its certificate names."""
    return {
        "admin": "admin",
        "kube-controller-manager": "system:kube-controller-manager",
        "kube-scheduler": "system:kube-scheduler",
        "kubelet": f"system:node:{node_name}",
        "kube-proxy": "system:kube-proxy",
    }


def kubeconfig_cert(name: str) -> str:
    """The PKI certificate a kubeconfig embeds."""
    return "kubelet-client" if name == "kubelet" else name


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


def containerd_config(spec: ClusterSpec) -> str:
    """containerd's config.toml: private root, state and socket, CRI with the lab's CNI and
    the node registry's certs.d."""
    lay = spec.layout
    d = lay.containerd_dir
    cri = '[plugins."io.containerd.grpc.v1.cri"'
    return "\n".join(
        [
            "version = 2",
            f'root = "{d / "root"}"',
            f'state = "{d / "state"}"',
            "oom_score = 0",
            "[grpc]",
            f'  address = "{lay.containerd_socket}"',
            "[ttrpc]",
            f'  address = "{lay.containerd_socket}.ttrpc"',
            "[metrics]",
            '  address = ""',
            f"{cri}]",
            f'  sandbox_image = "{spec.pause_image}"',
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
            f'  conf_dir = "{spec.layout.cni_conf_dir}"',
            "  max_conf_num = 1",
            f"{cri}.registry]",
            f'  config_path = "{lay.certs_d}"',
            '[plugins."io.containerd.internal.v1.opt"]',
            f'  path = "{d / "opt"}"',
            "",
        ]
    )


def cni_config(spec: ClusterSpec) -> dict[str, Any]:
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
                    "dataDir": str(spec.layout.cni_ipam_dir),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config(spec: ClusterSpec) -> dict[str, Any]:
    lay = spec.layout
    endpoint = f"unix://{lay.containerd_socket}"
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": spec.node_ip,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(lay.pki / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(lay.pki / "kubelet-serving.crt"),
        "tlsPrivateKeyFile": str(lay.pki / "kubelet-serving.key"),
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "failSwapOn": False,
        "containerRuntimeEndpoint": endpoint,
        "imageServiceEndpoint": endpoint,
        "clusterDomain": "cluster.local",
        "resolvConf": "",  # no DNS for pods: nothing outside the lab is reachable anyway
        "podLogsDir": str(lay.kubelet_dir / "pod-logs"),
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


def kube_proxy_config(spec: ClusterSpec) -> dict[str, Any]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clusterCIDR": POD_CIDR,
        "hostnameOverride": spec.node_name,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "nodePortAddresses": [f"{spec.node_ip}/32"],
        "clientConnection": {"kubeconfig": str(spec.layout.component_kubeconfig("kube-proxy"))},
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


def rbac() -> dict[str, Any]:
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


def component_argv(spec: ClusterSpec, component: str, binary: Path) -> list[str]:
    """The command line of ``component`` (``binary``: its program)."""
    lay = spec.layout
    s, pki = lay.root, lay.pki
    kc = {c: str(s / f"{c}.kubeconfig") for c in ("kube-controller-manager", "kube-scheduler")}
    args: dict[str, list[str]] = {
        "etcd": [
            f"--name={spec.node_name}",
            f"--data-dir={s / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{ETCD_CLIENT_PORT}",
            f"--advertise-client-urls=http://127.0.0.1:{ETCD_CLIENT_PORT}",
            f"--listen-peer-urls=http://127.0.0.1:{ETCD_PEER_PORT}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{ETCD_PEER_PORT}",
            f"--initial-cluster={spec.node_name}=http://127.0.0.1:{ETCD_PEER_PORT}",
            "--log-level=warn",
        ],
        "kube-apiserver": [
            f"--advertise-address={spec.node_ip}",
            f"--bind-address={spec.node_ip}",
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
        "containerd": [f"--config={lay.containerd_config}"],
        "kubelet": [
            f"--config={lay.kubelet_config}",
            f"--kubeconfig={lay.component_kubeconfig('kubelet')}",
            f"--root-dir={lay.kubelet_root}",
            f"--node-ip={spec.node_ip}",
            f"--hostname-override={spec.node_name}",
            "--v=1",
        ],
        "kube-proxy": [f"--config={lay.kube_proxy_config}", "--v=1"],
    }
    return [str(binary), *args[component]]


def crictl_config(spec: ClusterSpec) -> dict[str, Any]:
    endpoint = f"unix://{spec.layout.containerd_socket}"
    return {"runtime-endpoint": endpoint, "image-endpoint": endpoint, "timeout": 10}

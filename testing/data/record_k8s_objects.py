"""How testing/data/k8s/*.json were recorded (run by hand against the lab cluster; not a
test): a Deployment right after creation, one rolled out, one whose container crashes
(CrashLoopBackOff) and one whose image does not exist (ErrImagePull/ImagePullBackOff).

    python testing/data/record_k8s_objects.py KUBECONFIG IMAGE_THAT_RUNS

Derived from those (edited by hand, as the upstream code writes the fields; no cluster
reaches these states quickly): ``deployment-deadline.json`` (deployment-crash with the
Progressing condition False / ProgressDeadlineExceeded / 'ReplicaSet "..." has timed out
progressing.', k8s pkg/controller/deployment/progress.go), ``pod-errimagepull.json``
(pod-imagepull as the kubelet shows the failed attempt itself: reason ErrImagePull, the
pull error as message, pkg/kubelet/images/image_manager.go) and
``pod-restarted-ready.json`` (pod-ready after one restart: restartCount 1, lastState
terminated with exit code 1, reason Error).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from kubernetes import client, config

OUT = Path(__file__).resolve().parent / "k8s"
NS = "irp-record"


def deployment(name: str, image: str, command: list[str] | None) -> client.V1Deployment:
    labels = {"app": name}
    container = client.V1Container(
        name="app", image=image, command=command, image_pull_policy="IfNotPresent"
    )
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[container]),
            ),
        ),
    )


def save(name: str, obj: object, api: client.ApiClient) -> None:
    (OUT / f"{name}.json").write_text(
        json.dumps(api.sanitize_for_serialization(obj), indent=1, sort_keys=True) + "\n"
    )


def main() -> None:
    kubeconfig, image = sys.argv[1], sys.argv[2]
    api = config.new_client_from_config(config_file=kubeconfig, context="railiance01")
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    try:
        apps.create_namespaced_deployment(NS, deployment("ok", image, None))
        save("deployment-new", apps.read_namespaced_deployment("ok", NS), api)
        apps.create_namespaced_deployment(NS, deployment("crash", image, ["/bin/false"]))
        apps.create_namespaced_deployment(
            NS, deployment("noimage", image.rsplit(":", 1)[0] + ":does-not-exist", None)
        )
        deadline = time.time() + 90
        while time.time() < deadline:
            pods = {p.metadata.labels["app"]: p for p in core.list_namespaced_pod(NS).items}
            states = {
                k: [
                    (cs.state.waiting.reason if cs.state.waiting else "")
                    for cs in (p.status.container_statuses or [])
                ]
                for k, p in pods.items()
            }
            if (
                "CrashLoopBackOff" in states.get("crash", [])
                and any(
                    r in ("ImagePullBackOff", "ErrImagePull") for r in states.get("noimage", [])
                )
                and apps.read_namespaced_deployment("ok", NS).status.available_replicas
            ):
                break
            time.sleep(1)
        save("deployment-done", apps.read_namespaced_deployment("ok", NS), api)
        save("pod-ready", pods["ok"], api)
        save("pod-crashloop", pods["crash"], api)
        save("pod-imagepull", pods["noimage"], api)
        save("deployment-crash", apps.read_namespaced_deployment("crash", NS), api)
    finally:
        core.delete_namespace(NS)


if __name__ == "__main__":
    main()

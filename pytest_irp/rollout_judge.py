"""Pure judges of the release (T10, T11): Deployments (kubectl's rollout algorithm), pods
(waiting reasons, restarts, pull failures that recover), the digests the pods run, the
startup log line, helm status and the /healthz answer; all over recorded Kubernetes
objects (dicts as the API returns them).
"""

from __future__ import annotations

from typing import Any

# waiting reasons that decide T10 at once (the kubelet does not get out of them by itself in
# the wait): ErrImagePull / ImagePullBackOff are not here, see PullWatch
FATAL_WAITING = ("CrashLoopBackOff", "CreateContainerConfigError", "InvalidImageName")
PULL_WAITING = ("ErrImagePull", "ImagePullBackOff")
# how long a pull may keep failing before T10 fails: the kubelet's image back-off starts
# at 10 s and doubles up to 300 s (k8s pkg/kubelet/kubelet.go imageBackOffPeriod,
# MaxImageBackOff; ImagePullBackOff while it backs off: pkg/kubelet/images/
# image_manager.go), so 40 s hold the retries after a transient failure (10 s, then 20 s)
# and fail a pull that keeps failing long before the progress deadline (600 s by default)
PULL_GRACE = 40.0


# --------------------------------------------------------------------------- rollout


def rollout_failed(dep: dict[str, Any]) -> str:
    """kubectl rollout status's one final error ('' when none): the Deployment controller
    set the Progressing condition to False with reason ProgressDeadlineExceeded (k8s
    pkg/controller/deployment/progress.go); kubectl then stops waiting and fails
    (staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go, checked once the
    controller observed the current generation, on the reason as kubectl does)."""
    meta, status = dep.get("metadata", {}), dep.get("status", {})
    if meta.get("generation", 0) > status.get("observedGeneration", 0):
        return ""
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            deadline = (dep.get("spec") or {}).get("progressDeadlineSeconds", 600)
            return (
                f"deployment {meta.get('name', '?')} exceeded its progress deadline "
                f"({deadline} s): {cond.get('message', '')}".rstrip(": ")
            )
    return ""


def rollout_status(dep: dict[str, Any]) -> tuple[bool, str]:
    """kubectl rollout status for a Deployment (status fields are absent when zero); a
    final failure is :func:`rollout_failed`'s."""
    meta, spec, status = dep.get("metadata", {}), dep.get("spec", {}), dep.get("status", {})
    name = meta.get("name", "?")
    if meta.get("generation", 0) > status.get("observedGeneration", 0):
        return False, "waiting for the deployment spec update to be observed"
    failed = rollout_failed(dep)
    if failed:
        return False, failed
    replicas = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    if updated < replicas:
        return False, f"{updated} of {replicas} new replicas updated"
    if total > updated:
        return False, f"{total - updated} old replicas pending termination"
    if available < updated:
        return False, f"{available} of {updated} updated replicas available"
    return True, f"deployment {name} successfully rolled out"


def pod_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status", {})
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def fatal_pod_state(pods: list[dict[str, Any]]) -> str:
    """A state that will not fix itself (fail fast), or ''. Pods being deleted (an older
    ReplicaSet's crash-looping pod after a fixed release) do not count.

    A container that failed again after a restart is crash-looping: the kubelet shows it
    as ``terminated`` for the whole first back-off (~10 s) before it says
    ``CrashLoopBackOff``, so waiting for that reason alone costs those seconds."""
    for pod in pods:
        if pod.get("metadata", {}).get("deletionTimestamp"):
            continue
        for cs in pod.get("status", {}).get("containerStatuses") or []:
            where = f"pod {pod['metadata']['name']} container {cs.get('name')}"
            waiting = (cs.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in FATAL_WAITING:
                return f"{where}: {waiting['reason']}: {waiting.get('message', '')[:300]}"
            ended = (cs.get("state") or {}).get("terminated") or {}
            restarts = cs.get("restartCount", 0)
            if restarts and ended and ended.get("exitCode", 0) != 0:
                return (
                    f"{where}: crash loop: exited {ended.get('exitCode')} "
                    f"({ended.get('reason') or 'Error'}) again after {restarts} "
                    f"restart{'s' if restarts > 1 else ''}"
                )
    return ""


class PullWatch:
    """Image pulls across the polls of one rollout wait (state in, verdict out; no I/O).

    kubectl rollout status and helm's waiters wait through pull errors until their
    deadline. The suite waits through a pull that recovers and fails one that keeps
    failing: a container's pull is failing while its waiting reason is ErrImagePull (an
    attempt failed) or ImagePullBackOff (the kubelet waits before the next attempt). It
    fails T10 when (a) an attempt fails again after a back-off (ErrImagePull seen after
    ImagePullBackOff: the retry failed too), or (b) the pull has kept failing for
    ``grace`` seconds (a poll can miss the short ErrImagePull between two back-offs). A
    container that leaves those states (created, running, or another reason) starts
    afresh."""

    def __init__(self, grace: float = PULL_GRACE) -> None:
        self.grace = grace
        self.failing: dict[str, dict[str, Any]] = {}

    def observe(self, pods: list[dict[str, Any]], now: float) -> str:
        """The fatal pull ('' while none) after one poll's pods at time ``now``."""
        seen: set[str] = set()
        verdict = ""
        for pod in pods:
            if pod.get("metadata", {}).get("deletionTimestamp"):
                continue
            for cs in pod.get("status", {}).get("containerStatuses") or []:
                waiting = (cs.get("state") or {}).get("waiting") or {}
                reason = waiting.get("reason")
                if reason not in PULL_WAITING:
                    continue
                key = f"{pod['metadata'].get('uid') or pod['metadata']['name']}/{cs.get('name')}"
                seen.add(key)
                entry = self.failing.setdefault(key, {"since": now, "attempts": 1, "last": reason})
                if reason == "ErrImagePull" and entry["last"] == "ImagePullBackOff":
                    entry["attempts"] += 1
                entry["last"] = reason
                why = ""
                if entry["attempts"] >= 2:
                    why = (
                        f"the pull failed again after a back-off ({entry['attempts']} "
                        f"failed attempts seen)"
                    )
                elif now - entry["since"] >= self.grace:
                    why = f"the pull kept failing for {now - entry['since']:.0f} s"
                if why and not verdict:
                    verdict = (
                        f"pod {pod['metadata']['name']} container {cs.get('name')}: "
                        f"{reason}: {why}: {str(waiting.get('message', ''))[:300]}"
                    )
        for key in set(self.failing) - seen:
            del self.failing[key]
        return verdict

    def pending(self) -> str:
        """What is failing now (for the progress line and a timeout's cause), or ''."""
        return "; ".join(f"{key}: {entry['last']}" for key, entry in self.failing.items())


REVISION = "deployment.kubernetes.io/revision"


def current_pods(
    dep: dict[str, Any], replica_sets: list[dict[str, Any]], pods: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The pods of the Deployment's current ReplicaSet (the one of its revision): an older
    ReplicaSet's pod still listed (crash-looping, or being replaced) is not the release's.
    [] while the controller has not seen the new spec yet; all pods when unknown."""
    meta = dep.get("metadata", {})
    if meta.get("generation", 0) > dep.get("status", {}).get("observedGeneration", 0):
        return []
    revision = (meta.get("annotations") or {}).get(REVISION)
    hashes = {
        (rs.get("metadata", {}).get("labels") or {}).get("pod-template-hash")
        for rs in replica_sets
        if (rs.get("metadata", {}).get("annotations") or {}).get(REVISION) == revision
    }
    hashes.discard(None)
    if revision is None or not hashes:
        return pods
    return [
        p
        for p in pods
        if (p.get("metadata", {}).get("labels") or {}).get("pod-template-hash") in hashes
    ]


def pod_problems(pods: list[dict[str, Any]]) -> list[str]:
    """T10's "Running" (and Ready): restarts are :func:`restart_findings`, not problems (a
    container that restarted and now runs Ready meets the workplan's exit)."""
    if not pods:
        return ["no pod of the release is Running and Ready"]
    return [
        f"pod {pod['metadata']['name']} is not Running and Ready"
        for pod in pods
        if not pod_ready(pod)
    ]


def restart_findings(pods: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(title, detail) per container that restarted: the count and the last termination
    (reason, exit code, message) from ``lastState.terminated``."""
    found = []
    for pod in pods:
        for cs in pod.get("status", {}).get("containerStatuses") or []:
            count = cs.get("restartCount", 0)
            if not count:
                continue
            ended = (cs.get("lastState") or {}).get("terminated") or {}
            last = (
                f"last termination: {ended.get('reason') or 'unknown reason'}, exit code "
                f"{ended.get('exitCode', '?')}"
                if ended
                else "last termination unknown"
            )
            if ended.get("message"):
                last += f": {str(ended['message'])[:300]}"
            found.append(
                (
                    f"Container {cs.get('name')} of pod {pod['metadata']['name']} "
                    f"restarted {count} time{'s' if count > 1 else ''}",
                    f"{last} (finished {ended.get('finishedAt', '?')})",
                )
            )
    return found


STARTUP_TAIL = 5  # the workplan's `kubectl logs deploy/... | tail -5`


def startup_problem(log: str, line: str, tail: int = STARTUP_TAIL) -> tuple[str, str]:
    """(problem, note) for the workplan's "IHP startup" in the last ``tail`` log lines:
    a problem when ``line`` is not in the log at all; a note when it is, but earlier."""
    lines = log.splitlines()
    if any(line in text for text in lines[-tail:]):
        return "", ""
    if any(line in text for text in lines):
        return "", (
            f"startup line {line!r} is in the pod log but not in its last {tail} "
            f"lines (the app logged more since)"
        )
    return f"startup line {line!r} not in the pod log", ""


def pod_facts(pod: dict[str, Any]) -> dict[str, Any]:
    """What T10's checks judge of a pod, recorded as the API server gave it: its name,
    phase, conditions and containers' image IDs (input of :func:`pod_problems` and
    :func:`running_digests`)."""
    status = pod.get("status", {})
    return {
        "metadata": {"name": pod["metadata"]["name"]},
        "status": {
            "phase": status.get("phase"),
            "conditions": [
                {"type": c.get("type"), "status": c.get("status")}
                for c in status.get("conditions") or []
            ],
            "containerStatuses": [
                {"name": cs.get("name"), "imageID": cs.get("imageID")}
                for cs in status.get("containerStatuses") or []
            ],
        },
    }


def digest_problems(running: list[str], pushed: str) -> list[str]:
    """T10's "the right image": every running container's digest is the one pushed."""
    if not running:
        return ["no running container reports an image digest"]
    return [
        f"a container runs {digest}, not the pushed {pushed}"
        for digest in running
        if digest != pushed
    ]


def http_ok_problem(answer: dict[str, Any]) -> str:
    """A /healthz answer (``{status, body, error}``) is HTTP 200 with the body ``ok``."""
    if answer.get("status") != 200:
        return (
            f"HTTP {answer.get('status')} {answer.get('error', '')} "
            f"{str(answer.get('body', ''))[:200]}"
        ).strip()
    if str(answer.get("body", "")).strip() != "ok":
        return f"answered {str(answer.get('body', ''))[:200]!r}, not ok"
    return ""


def running_digests(pods: list[dict[str, Any]]) -> list[str]:
    digests = []
    for pod in pods:
        for cs in pod.get("status", {}).get("containerStatuses") or []:
            image_id = str(cs.get("imageID", ""))
            if "@" in image_id:
                digests.append(image_id.rsplit("@", 1)[1])
    return digests


def pod_summary(pod: dict[str, Any]) -> dict[str, Any]:
    status = pod.get("status", {})
    return {
        "name": pod["metadata"]["name"],
        "phase": status.get("phase"),
        "ready": pod_ready(pod),
        "containers": [
            {
                "name": cs.get("name"),
                "restarts": cs.get("restartCount", 0),
                "image": cs.get("image"),
                "imageID": cs.get("imageID"),
                "state": list((cs.get("state") or {}).keys()),
            }
            for cs in status.get("containerStatuses") or []
        ],
    }


def helm_status(status: dict[str, Any]) -> dict[str, Any]:
    return {"status": status.get("info", {}).get("status"), "revision": status.get("version")}

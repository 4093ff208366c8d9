"""The few Gitea API calls of T12 (token auth; never through a proxy), each degrading
with a note where a Gitea version lacks the route (routers/api/v1/api.go):

- ``GET /repos/O/R/contents/DIR?ref=`` the workflow files;
- ``GET /version``;
- runners: ``/repos/O/R/actions/runners`` (1.24+, the repository's owner), then
  ``/orgs/O/actions/runners`` (organisation owners) and ``/admin/actions/runners``
  (site admins); a runner registered at another level is not in the first list;
- runs: ``/repos/O/R/actions/runs`` (1.25+), else ``/actions/tasks`` (1.23+: no jobs);
- ``/repos/O/R/actions/runs/{run}/jobs`` (1.25+) and ``/actions/jobs/{job_id}/logs``
  (1.24+).
"""

from __future__ import annotations

import base64
from typing import Any

from .ci_workflow import WORKFLOW_DIRS
from .stage import StageError

API_TIMEOUT = 10.0


def gitea_repo(s: Any) -> str:
    return str(s.get("gitea_repo") or str(s.require("registry")).split("/", 1)[1])


class GiteaApi:
    def __init__(self, s: Any) -> None:
        import requests

        self.api = str(s["gitea_api_url"]).rstrip("/")
        self.repo = gitea_repo(s)
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"token {s['gitea_token'].reveal()}"
        self.notes: list[str] = []
        self.version = ""

    def request(self, url: str, **params: Any) -> Any:
        import requests

        try:
            response = self.session.get(url, params=params, timeout=API_TIMEOUT)
        except requests.RequestException as exc:
            raise StageError(f"Gitea API {self.api} unreachable: {exc}") from None
        if response.status_code == 401:
            raise StageError("Gitea API rejected gitea_token (HTTP 401)")
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.request(f"{self.api}/repos/{self.repo}/{path}", **params)

    def read_version(self) -> str:
        response = self.request(f"{self.api}/version")
        try:
            self.version = str(response.json().get("version") or "") if response.ok else ""
        except ValueError:
            self.version = ""
        return self.version

    def workflows(self, ref: str) -> dict[str, str]:
        """{path: text} of the workflow files at ``ref`` (both directories Gitea reads)."""
        texts: dict[str, str] = {}
        for folder in WORKFLOW_DIRS:
            listing = self.get(f"contents/{folder}", ref=ref)
            if listing.status_code == 404:
                continue
            if listing.status_code != 200:
                raise StageError(f"Gitea API contents/{folder}: HTTP {listing.status_code}")
            for entry in listing.json() or []:
                name = str(entry.get("name", ""))
                if entry.get("type") != "file" or not name.endswith((".yml", ".yaml")):
                    continue
                got = self.get(f"contents/{entry['path']}", ref=ref)
                if got.status_code != 200:
                    raise StageError(f"Gitea API contents/{entry['path']}: HTTP {got.status_code}")
                content = got.json().get("content") or ""
                texts[str(entry["path"])] = base64.b64decode(content).decode("utf-8")
        return texts

    def runners(self) -> list[dict[str, Any]] | None:
        """Runners the token may list (repository, organisation, site), merged by id;
        None when none of the lists could be read (each reason in :attr:`notes`)."""
        owner = self.repo.split("/", 1)[0]
        found: dict[Any, dict[str, Any]] = {}
        read = False
        for scope, url in (
            ("repository", f"{self.api}/repos/{self.repo}/actions/runners"),
            ("organisation", f"{self.api}/orgs/{owner}/actions/runners"),
            ("site", f"{self.api}/admin/actions/runners"),
        ):
            response = self.request(url, limit=50)
            if response.status_code == 200:
                read = True
                for runner in response.json().get("runners") or []:
                    found[runner.get("id")] = dict(runner, scope=scope)
            elif response.status_code == 404 and scope == "repository":
                self.notes.append(
                    f"Gitea {self.version or '?'} cannot list runners (/actions/runners: from 1.24)"
                )
                return None
            elif response.status_code == 403 and scope == "repository":
                self.notes.append(
                    "the repository's runners need a token of its owner or a site admin (HTTP 403)"
                )
        if not read:
            return None
        if not found:
            self.notes.append("no runner is registered (repository, organisation or site)")
        return list(found.values())

    def runs(self) -> dict[str, Any] | None:
        response = self.get("actions/runs", limit=30)
        if response.status_code == 200:
            return dict(response.json())
        if response.status_code != 404:
            raise StageError(f"Gitea API actions/runs: HTTP {response.status_code}")
        response = self.get("actions/tasks", limit=30)
        if response.status_code == 200:
            self.notes.append(
                f"Gitea {self.version or '?'} has no /actions/runs (from 1.25): the runs "
                f"come from /actions/tasks (1.23+), without jobs, steps or logs"
            )
            return dict(response.json())
        self.notes.append(
            f"Gitea {self.version or '?'} has no Actions runs API (/actions/tasks from 1.23, "
            f"/actions/runs from 1.25)"
        )
        return None

    def jobs(self, run_id: Any) -> dict[str, Any] | None:
        response = self.get(f"actions/runs/{run_id}/jobs")
        if response.status_code == 200:
            return dict(response.json())
        self.notes.append(
            f"the run's jobs could not be listed (HTTP {response.status_code}; "
            f"/actions/runs/{{run}}/jobs is in Gitea 1.25+)"
        )
        return None

    def job_log(self, job_id: Any) -> str | None:
        response = self.get(f"actions/jobs/{job_id}/logs")
        if response.status_code == 200:
            return str(response.text)
        self.notes.append(
            f"job {job_id}'s log could not be read (HTTP {response.status_code}; "
            f"/actions/jobs/{{job_id}}/logs is in Gitea 1.24+, and a job never started has none)"
        )
        return None

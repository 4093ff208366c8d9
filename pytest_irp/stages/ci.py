"""The ci stage (T12): the Gitea Actions workflow (through Gitea's API when gitea_api_url
and gitea_token are set, else from the app repository) and the latest runs on the CI
branch, judged by :func:`pytest_irp.judge.ci_problems`."""

from __future__ import annotations

import base64
from typing import Any

from .. import judge
from ..stage import StageContext, StageError, Step
from ..values import CiWorkflow

API_TIMEOUT = 10.0


def commands(s: Any) -> list[Step]:
    """The Gitea API requests (each URL as :class:`GiteaApi` builds it), or the read of
    the workflow files when Gitea's API is not asked."""
    if s.get("gitea_api_url") and s.get("gitea_token"):
        repo = f"{str(s['gitea_api_url']).rstrip('/')}/repos/{gitea_repo(s)}"
        return [
            Step(
                "local",
                ("GET", f"{repo}/contents/.gitea/workflows?ref={s['ci_branch']}"),
                API_TIMEOUT,
                "the workflow files as Gitea has them (triggers, runner, steps; token auth)",
            ),
            Step(
                "local",
                ("GET", f"{repo}/actions/runs?limit=20"),
                API_TIMEOUT,
                "the latest run on the CI branch (token auth)",
            ),
        ]
    return [Step("local", ("read", ".gitea/workflows/*.yml"), 5, "triggers, runner, steps")]


def plan(ctx: StageContext) -> list[Step]:
    return commands(ctx.settings)


def run(ctx: StageContext) -> CiWorkflow:
    s = ctx.settings
    latest: dict[str, Any] | None = None
    if s.get("gitea_api_url") and s.get("gitea_token"):
        ctx.redactor.add(s["gitea_token"])  # a Secret: registered by its value
        api = GiteaApi(s)
        texts = api.workflows(s["ci_branch"])
        source = f"Gitea {s['gitea_api_url']} ({gitea_repo(s)} at {s['ci_branch']})"
        if texts:
            ctx.finding(
                "info",
                "CI workflows read through Gitea's API",
                f"{', '.join(sorted(texts))} from {source}",
                "",
            )
        latest = api.latest_runs()
    else:
        workflows = sorted((ctx.facts.app_repo / ".gitea" / "workflows").glob("*.y*ml"))
        if not workflows:
            raise StageError("no workflow in .gitea/workflows/")
        texts = {w.name: w.read_text(encoding="utf-8") for w in workflows}
        source = str(ctx.facts.app_repo)
        ctx.finding(
            "info",
            "Latest CI run not checked",
            "gitea_api_url and gitea_token are not both set, so only the workflow "
            "file was checked.",
            "Set both to check that the latest run on main succeeded.",
        )
    problems = judge.ci_problems(texts, s["runner_label"], latest, s["ci_branch"], source)
    return {
        "workflows": sorted(texts),
        "problems": problems,
        "latest_runs": latest,
        "workflow_source": source,
        "workflow_texts": texts,
        "runner_label": s["runner_label"],
        "ci_branch": s["ci_branch"],
    }


def gitea_repo(s: Any) -> str:
    return str(s.get("gitea_repo") or str(s.require("registry")).split("/", 1)[1])


class GiteaApi:
    """The few Gitea API calls of T12 (token auth; never through a proxy)."""

    def __init__(self, s: Any) -> None:
        import requests

        self.api = str(s["gitea_api_url"]).rstrip("/")
        self.repo = gitea_repo(s)
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"token {s['gitea_token'].reveal()}"

    def get(self, path: str, **params: Any) -> Any:
        import requests

        url = f"{self.api}/repos/{self.repo}/{path}"
        try:
            response = self.session.get(url, params=params, timeout=API_TIMEOUT)
        except requests.RequestException as exc:
            raise StageError(f"Gitea API {self.api} unreachable: {exc}") from None
        if response.status_code in (401, 403):
            raise StageError(f"Gitea API rejected gitea_token (HTTP {response.status_code})")
        return response

    def workflows(self, ref: str) -> dict[str, str]:
        """{file name: text} of ``.gitea/workflows/*.y*ml`` at ``ref``, read through the
        contents API (``GET /repos/O/R/contents/PATH?ref=REF``, base64 content)."""
        listing = self.get("contents/.gitea/workflows", ref=ref)
        if listing.status_code == 404:
            return {}
        if listing.status_code != 200:
            raise StageError(f"Gitea API contents/.gitea/workflows: HTTP {listing.status_code}")
        texts: dict[str, str] = {}
        for entry in listing.json() or []:
            name = str(entry.get("name", ""))
            if entry.get("type") != "file" or not name.endswith((".yml", ".yaml")):
                continue
            got = self.get(f"contents/{entry['path']}", ref=ref)
            if got.status_code != 200:
                raise StageError(f"Gitea API contents/{entry['path']}: HTTP {got.status_code}")
            texts[name] = base64.b64decode(got.json().get("content") or "").decode("utf-8")
        return texts

    def latest_runs(self) -> dict[str, Any]:
        """The repository's Actions runs (newer Gitea: /actions/runs; older: /tasks)."""
        for path in ("actions/runs", "actions/tasks"):
            response = self.get(path, limit=20)
            if response.status_code == 404:
                continue
            if response.status_code != 200:
                raise StageError(f"Gitea API {path}: HTTP {response.status_code}")
            return dict(response.json())
        raise StageError(f"Gitea API at {self.api} has no Actions runs endpoint for {self.repo}")

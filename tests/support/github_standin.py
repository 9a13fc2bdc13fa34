"""A stand-in for GitHub's commit status and deployment APIs on 127.0.0.1: checks what GitHub checks, records what
it accepted.

It rejects what the real API rejects (bad credentials 401, invalid state / long description / bad SHA 422, a status
for a deployment that does not exist 404) and can be told to fail the next N requests (503, or 429 with Retry-After)
to exercise retries.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.http_standin import Answer, serving

STATES = {"error", "failure", "pending", "success"}
DEPLOYMENT_STATES = {"queued", "in_progress", "success", "failure", "error", "inactive", "pending"}
STATUS_PATH = re.compile(r"^/repos/(?P<repo>[\w.-]+/[\w.-]+)/statuses/(?P<sha>[^/]+)$")
DEPLOYMENTS_PATH = re.compile(r"^/repos/(?P<repo>[\w.-]+/[\w.-]+)/deployments$")
DEPLOYMENT_STATUS_PATH = re.compile(r"^/repos/(?P<repo>[\w.-]+/[\w.-]+)/deployments/(?P<id>\d+)/statuses$")
COMMIT_PATH = re.compile(r"^/repos/(?P<repo>[\w.-]+/[\w.-]+)/commits/(?P<sha>[^/]+)(?P<pulls>/pulls)?$")
PULL_PATH = re.compile(r"^/repos/(?P<repo>[\w.-]+/[\w.-]+)/pulls/(?P<number>\d+)$")


@dataclass
class GitHubStandIn:
    token: str
    url: str = ""
    statuses: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)  # each with its "statuses"
    rejected: list[tuple[int, str]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # status codes to answer with before accepting again
    commits: dict[str, dict[str, str | None]] = field(default_factory=dict)  # sha -> author/committer logins
    pulls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sha -> [{number, user, merged_by}]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def contexts(self, sha: str) -> dict[str, list[str]]:
        """The states each context went through for one commit, in order."""
        seen: dict[str, list[str]] = {}
        for status in self.statuses:
            if status["sha"] == sha:
                seen.setdefault(status["context"], []).append(status["state"])
        return seen

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        with self.lock:
            if headers.get("Authorization") not in (f"Bearer {self.token}", f"token {self.token}"):
                return self._reject(401, "Bad credentials")
            if self.fail_next:
                code = self.fail_next.pop(0)
                extra = {"Retry-After": "1"} if code == 429 else {}
                return code, {"message": "Service unavailable (stand-in)"}, extra
            if method == "GET":
                return self._read(path)
            if method != "POST":
                return self._reject(404, "Not Found")
            try:
                payload = json.loads(body)
            except json.JSONDecodeError:
                return self._reject(400, "Problems parsing JSON")
            if match := DEPLOYMENTS_PATH.match(path):
                return self._deployment(match["repo"], payload)
            if match := DEPLOYMENT_STATUS_PATH.match(path):
                return self._deployment_status(int(match["id"]), payload)
            match = STATUS_PATH.match(path)
            if match is None:
                return self._reject(404, "Not Found")
            problem = _invalid(match["sha"], payload)
            if problem:
                return self._reject(422, f"Validation Failed: {problem}")
            self.statuses.append({"repo": match["repo"], "sha": match["sha"], **payload})
            return 201, {"state": payload["state"], "context": payload.get("context", "default")}, {}

    def _deployment(self, repo: str, payload: Any) -> Answer:
        if not isinstance(payload, dict) or not re.fullmatch(r"[0-9a-f]{40}", str(payload.get("ref"))):
            return self._reject(422, "Validation Failed: ref must be a commit id here")
        if not payload.get("environment") or len(payload.get("description") or "") > 140:
            return self._reject(422, "Validation Failed: environment is required, description at most 140")
        deployment = {"id": len(self.deployments) + 1, "repo": repo, **payload, "statuses": []}
        self.deployments.append(deployment)
        return 201, {"id": deployment["id"], "ref": payload["ref"], "environment": payload["environment"]}, {}

    def _deployment_status(self, deployment_id: int, payload: Any) -> Answer:
        if not 1 <= deployment_id <= len(self.deployments):
            return self._reject(404, "Not Found")
        if not isinstance(payload, dict) or payload.get("state") not in DEPLOYMENT_STATES:
            return self._reject(422, f"Validation Failed: state must be one of {sorted(DEPLOYMENT_STATES)}")
        self.deployments[deployment_id - 1]["statuses"].append(payload)
        return 201, {"id": deployment_id, "state": payload["state"]}, {}

    def _read(self, path: str) -> Answer:
        """A commit's author/committer accounts, the pull requests that contain it, a pull request's merger."""
        if match := COMMIT_PATH.match(path):
            if match["sha"] not in self.commits:
                return self._reject(422, f"No commit found for SHA: {match['sha']}")
            if match["pulls"]:
                pulls = self.pulls.get(match["sha"], [])
                return 200, [{"number": p["number"], "user": {"login": p["user"]}} for p in pulls], {}
            logins = self.commits[match["sha"]]
            return 200, {"sha": match["sha"], **{k: {"login": v} if v else None for k, v in logins.items()}}, {}
        if match := PULL_PATH.match(path):
            found = [p for pulls in self.pulls.values() for p in pulls if p["number"] == int(match["number"])]
            if not found:
                return self._reject(404, "Not Found")
            merger = found[0].get("merged_by")
            return 200, {"number": found[0]["number"], "merged_by": {"login": merger} if merger else None}, {}
        return self._reject(404, "Not Found")

    def _reject(self, code: int, message: str) -> Answer:
        self.rejected.append((code, message))
        return code, {"message": message}, {}


def _invalid(sha: str, payload: Any) -> str | None:
    if not re.fullmatch(r"[0-9a-f]{40}", sha):
        return "sha must be a 40-character commit id"
    if not isinstance(payload, dict) or payload.get("state") not in STATES:
        return f"state must be one of {sorted(STATES)}"
    if len(payload.get("description") or "") > 140:
        return "description is too long (maximum is 140 characters)"
    if "target_url" in payload and not str(payload["target_url"]).startswith(("http://", "https://")):
        return "target_url must be an http(s) URL"
    return None


@contextmanager
def github_standin(token: str) -> Iterator[GitHubStandIn]:
    standin = GitHubStandIn(token)

    with serving(standin.handle) as url:
        standin.url = url
        yield standin

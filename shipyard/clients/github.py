"""GitHub commit statuses and deployments over the REST API (base URL from config, so a stand-in or GitHub
Enterprise works)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import httpx

from shipyard import tls
from shipyard.errors import ShipyardError

StatusState = Literal["pending", "success", "failure", "error"]
DeploymentState = Literal["queued", "in_progress", "success", "failure", "error", "inactive"]
API_VERSION = "2022-11-28"
DESCRIPTION_LIMIT = 140  # GitHub rejects longer descriptions with 422


class GitHubError(ShipyardError):
    """GitHub answered with an error that a retry will not fix (bad credentials, invalid request)."""


class GitHubUnavailable(ShipyardError):
    """GitHub could not be reached, failed, or asked us to slow down: worth retrying later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class CommitStatus:
    context: str
    state: StatusState
    description: str
    target_url: str | None = None


class GitHubClient:
    def __init__(self, api_url: str, token: str, repository: str, timeout: float = 10.0) -> None:
        self.repository = repository
        self._http = httpx.Client(
            base_url=api_url.rstrip("/"),
            timeout=timeout,
            verify=tls.context(),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "shipyard",
            },
        )

    def set_status(self, sha: str, status: CommitStatus) -> None:
        body: dict[str, str] = {
            "state": status.state,
            "context": status.context,
            "description": _shorten(status.description),
        }
        if status.target_url:
            body["target_url"] = status.target_url
        self._post(f"/repos/{self.repository}/statuses/{sha}", body)

    def create_deployment(self, sha: str, environment: str, description: str, payload: dict[str, Any]) -> int:
        """A deployment of the commit to the environment; its statuses then tell GitHub how it went."""
        body = {
            "ref": sha,
            "environment": environment,
            "description": _shorten(description),
            "payload": payload,
            "auto_merge": False,
            "required_contexts": [],  # the pipeline has run the checks itself
        }
        return int(self._post(f"/repos/{self.repository}/deployments", body)["id"])

    def set_deployment_status(
        self, deployment_id: int, state: DeploymentState, description: str, log_url: str | None = None
    ) -> None:
        body: dict[str, Any] = {"state": state, "description": _shorten(description)}
        if log_url:
            body["log_url"] = log_url
        self._post(f"/repos/{self.repository}/deployments/{deployment_id}/statuses", body)

    def change_logins(self, sha: str) -> tuple[str, ...]:
        """The GitHub accounts that made this commit: its author and committer as GitHub maps them (by verified
        email), and the author and merger of each pull request that brought it in. GitHub's own merge committer
        (web-flow) is no one."""
        commit = self._request("GET", f"/repos/{self.repository}/commits/{sha}")
        found = [_login(commit.get("author")), _login(commit.get("committer"))]
        pulls = self._request("GET", f"/repos/{self.repository}/commits/{sha}/pulls", listed=True)
        for pull in pulls.get("items", [])[:10]:
            found.append(_login(pull.get("user")))
            merged = self._request("GET", f"/repos/{self.repository}/pulls/{int(pull['number'])}")
            found.append(_login(merged.get("merged_by")))
        return tuple(dict.fromkeys(login for login in found if login and login != "web-flow"))

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", path, body)

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None, listed: bool = False
    ) -> dict[str, Any]:
        """The JSON answer (a list answer under "items" when listed)."""
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise GitHubUnavailable(f"GitHub not reachable ({type(exc).__name__}: {exc})") from None
        if response.is_success:
            answer = response.json() if response.content else ({} if not listed else [])
            return {"items": list(answer)} if listed else dict(answer)
        message = _message(response)
        if response.status_code == 429 or response.status_code >= 500 or _rate_limited(response):
            retry_after = response.headers.get("Retry-After")
            raise GitHubUnavailable(
                f"GitHub answered {response.status_code} to {method} {path}: {message}",
                float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        raise GitHubError(f"GitHub answered {response.status_code} to {method} {path}: {message}")

    def close(self) -> None:
        self._http.close()


def _login(account: Any) -> str | None:
    login = account.get("login") if isinstance(account, dict) else None
    return login if isinstance(login, str) else None


def _shorten(text: str) -> str:
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


def _rate_limited(response: httpx.Response) -> bool:
    return response.status_code == 403 and response.headers.get("X-RateLimit-Remaining") == "0"


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text[:200]))
    except ValueError:
        return response.text[:200]

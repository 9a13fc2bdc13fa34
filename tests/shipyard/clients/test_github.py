from __future__ import annotations

import pytest

from shipyard.clients.github import CommitStatus, GitHubClient, GitHubError, GitHubUnavailable
from shipyard.files import free_port
from tests.support.github_standin import github_standin

SHA = "a" * 40
TOKEN = "ghs_standin_token_1234"


def test_a_status_reaches_github_with_the_token_and_the_rest_shape() -> None:
    with github_standin(TOKEN) as standin:
        client = GitHubClient(standin.url, TOKEN, "acme/platform")
        client.set_status(SHA, CommitStatus("shipyard/security", "pending", "running", "http://127.0.0.1:4200/x"))
    assert standin.statuses == [
        {
            "repo": "acme/platform",
            "sha": SHA,
            "state": "pending",
            "context": "shipyard/security",
            "description": "running",
            "target_url": "http://127.0.0.1:4200/x",
        }
    ]


def test_a_long_description_is_shortened_to_what_github_accepts() -> None:
    with github_standin(TOKEN) as standin:
        GitHubClient(standin.url, TOKEN, "acme/platform").set_status(SHA, CommitStatus("c", "failure", "x" * 500))
    assert len(standin.statuses[0]["description"]) == 140


def test_bad_credentials_are_final_and_the_token_is_not_in_the_message() -> None:
    with github_standin(TOKEN) as standin:
        client = GitHubClient(standin.url, "wrong-token-value", "acme/platform")
        with pytest.raises(GitHubError, match=r"401.*Bad credentials") as caught:
            client.set_status(SHA, CommitStatus("c", "success", "ok"))
    assert "wrong-token-value" not in str(caught.value)
    assert standin.statuses == []


def test_an_invalid_request_is_final() -> None:
    with github_standin(TOKEN) as standin, pytest.raises(GitHubError, match="422"):
        GitHubClient(standin.url, TOKEN, "acme/platform").set_status("not-a-sha", CommitStatus("c", "success", ""))


@pytest.mark.parametrize(("code", "retry_after"), [(503, None), (429, 1.0)])
def test_an_outage_or_rate_limit_is_worth_retrying(code: int, retry_after: float | None) -> None:
    with github_standin(TOKEN) as standin:
        standin.fail_next.append(code)
        client = GitHubClient(standin.url, TOKEN, "acme/platform")
        with pytest.raises(GitHubUnavailable) as caught:
            client.set_status(SHA, CommitStatus("c", "success", "ok"))
        assert caught.value.retry_after == retry_after
        client.set_status(SHA, CommitStatus("c", "success", "ok"))  # the retry goes through
    assert [s["state"] for s in standin.statuses] == ["success"]


def test_github_down_is_worth_retrying() -> None:
    client = GitHubClient(f"http://127.0.0.1:{free_port()}", TOKEN, "acme/platform", timeout=2)
    with pytest.raises(GitHubUnavailable, match="not reachable"):
        client.set_status(SHA, CommitStatus("c", "success", "ok"))


def test_who_made_a_commit_is_read_from_github_not_from_the_commit() -> None:
    """The commit's own author field is free text; GitHub's accounts for it, and the pull request that brought it in
    (its author and merger), are what the self-approval rule compares with the policy."""
    with github_standin(TOKEN) as standin:
        standin.commits[SHA] = {"author": None, "committer": "web-flow"}  # an email GitHub maps to no account
        standin.pulls[SHA] = [{"number": 7, "user": "dana-gh", "merged_by": "bob-gh"}]
        client = GitHubClient(standin.url, TOKEN, "example/platform")
        assert client.change_logins(SHA) == ("dana-gh", "bob-gh")
        with pytest.raises(GitHubError, match="422 to GET /repos/example/platform/commits/"):
            client.change_logins("0" * 40)  # a commit GitHub does not have

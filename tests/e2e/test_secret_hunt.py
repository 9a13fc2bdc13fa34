"""A pull request whose check hunts for the pipeline's secrets and powers, run by `shipyard run pr-checks` on a real
Prefect server: everything the run publishes (its artifacts, its reports folder, its console) shows none of the
secrets the pipeline holds, and every reach for a socket, a port or a folder of the pipeline is denied."""

from __future__ import annotations

import json
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from shipyard.sample import commit_all, create_sample_repo
from tests.capabilities import require_tools
from tests.e2e.test_pr_checks import client_for, shipyard
from tests.support.configs import API_APP

pytestmark = pytest.mark.slow

HUNT = """\
set +e
{{ env; for f in /proc/*/environ; do echo "== $f"; tr '\\0' ' ' < "$f"; done 2>/dev/null; ls /proc; }} | tr '\\n' ' '
echo
ls -la {home} {prefect_home}; cat {home}/hunted-secret {prefect_home}/profiles.toml
for port in {ports}; do (exec 3<>/dev/tcp/127.0.0.1/$port) && echo "CONNECTED $port" || echo "REFUSED $port"; done
python -c "
import socket
for path in ('{admin_socket}', '/var/run/docker.sock', '/run/docker.sock'):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        print('CONNECTED', path)
    except OSError as exc:
        print('REFUSED', path, type(exc).__name__)
"
echo HUNT DONE
exit 1
"""


def default_index_with_a_password() -> str:
    """pip's own default index, with credentials in it (the sandbox gets it without them)."""
    from pip._internal.models.index import PyPI

    return PyPI.simple_url.replace("https://", "https://ci:pip-password-0123@", 1)


@pytest.fixture
def admin_socket() -> Iterator[Path]:
    """A listening Unix socket where the HAProxy routers keep theirs (the machine's temp folder)."""
    path = Path(tempfile.gettempdir()) / "shipyard-haproxy-hunt-test.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen()
        yield path
    path.unlink(missing_ok=True)


def test_a_check_hunting_for_secrets_leaves_none_in_what_the_run_publishes_and_reaches_nothing(
    shipyard_env: dict[str, str], tmp_path: Path, listener: int, admin_socket: Path
) -> None:
    require_tools("git", "python3.11", "bwrap")
    secrets = {
        "GITHUB_TOKEN": "ghp_hunt_0123456789abcdefghijklmnopqrstuv",
        "AWS_ACCESS_KEY_ID": "AKIAHUNTHUNTHUNT0123",
        "AWS_SECRET_ACCESS_KEY": "aws-secret-hunt-0123456789abcdefghij",
        "PIP_INDEX_URL": default_index_with_a_password(),
        "SLACK_BOT_TOKEN": "xoxb-hunt-0123456789",
    }
    home, prefect_home = Path(shipyard_env["SHIPYARD_HOME"]), Path(shipyard_env["PREFECT_HOME"])
    planted = home / "hunted-secret"
    planted.write_text(secrets["GITHUB_TOKEN"])
    api_port = shipyard_env["PREFECT_API_URL"].split(":")[2].split("/")[0]
    repo = tmp_path / "repo"
    create_sample_repo(repo)
    (repo / "shipyard.yaml").write_text(API_APP.replace("lint: ruff check .", "lint: bash hunt.sh"))
    hunt = HUNT.format(home=home, prefect_home=prefect_home, ports=f"{api_port} {listener}", admin_socket=admin_socket)
    (repo / "apps" / "api" / "hunt.sh").write_text(hunt)
    sha = commit_all(repo, "a check that looks around")
    args = ("run", "pr-checks", "--repo", str(repo), "--sha", sha, "--stage", "quality")
    # The api's dependencies installed first, without the secrets: with its index set, pip would look for files only
    # there (the sandbox's proxy lets an install reach the configured index alone), and this machine's index is
    # pip's default, whose files live on another host. An index URL with a password is what a real setup has.
    assert shipyard(shipyard_env, *args).code == 1
    try:
        run = shipyard(dict(shipyard_env, **secrets), *args)  # a failed check is never cached: it runs again
    finally:
        planted.unlink()
    assert run.code == 1 and run.flow_run_id is not None, run.output  # the hunt's check failed, as it exits 1
    with client_for(shipyard_env) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.flow_run_id]))
        )
    reports = home / "runs" / str(run.flow_run_id) / "reports"
    published = "\n".join(
        [
            run.output,
            *(json.dumps(a.data) if not isinstance(a.data, str) else a.data for a in artifacts),
            *(p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file()),
        ]
    )
    assert "== /proc/1/environ" in published and "HUNT DONE" in published, run.output  # the hunt's output is there
    for name, value in secrets.items():
        for part in {value, value.split("@")[0].split(":")[-1]}:  # whole, and a URL's password alone
            assert part not in published, f"{name} reached what the run published"
    for port in (api_port, listener):
        assert f"REFUSED {port}" in published
    for path in (admin_socket, "/var/run/docker.sock", "/run/docker.sock"):
        assert f"REFUSED {path}" in published
    assert "CONNECTED" not in published
    assert "profiles.toml" in published and "No such file or directory" in published  # the homes are not there

"""`make demo`, after the PR checks: the rest of the story through the registered deployments and a process worker.

staging-deploy → production-deploy suspended for approval (UI link and `shipyard approve` printed; approved here
unless --approve manual) → first production release → a second commit released blue-green with traffic steps →
`shipyard status production`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists

from deployments.approvals import answer
from shipyard.sample import ROOT, commit_all

POOL = "shipyard-process"
SHOWN = re.compile(r"Finished in state|blue-green .*: |Suspending|approval")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo", type=Path, required=True, help="the sample platform's git repository")
    parser.add_argument("--approve", choices=["auto", "manual"], default="auto")
    args = parser.parse_args()
    api = os.environ["PREFECT_API_URL"]
    repo = args.repo.resolve()
    env = dict(os.environ, SHIPYARD_SOURCE=str(ROOT), SHIPYARD_REPO=str(repo), PREFECT_WORKER_QUERY_SECONDS="2",
               PREFECT_RESULTS_PERSIST_BY_DEFAULT="true")  # fmt: skip
    register(api, env)
    with worker(env):
        sha = head(repo)
        step(f"staging-deploy of {sha[:12]} (push to staging)")
        final(api, start(api, "staging-deploy", repo, sha, "staging", "staging"))
        step(f"production-deploy of {sha[:12]} (push to main): checks, then the approval gate")
        release(api, repo, sha, args.approve)
        (repo / "apps" / "api" / "CHANGES.md").write_text("1.4.3: faster property search\n")
        sha = commit_all(repo, "api: faster property search")
        subprocess.run(["git", "tag", "v1.4.3", sha], cwd=repo, check=True)
        step(f"production-deploy of {sha[:12]} (v1.4.3): blue-green with traffic steps against the first release")
        release(api, repo, sha, args.approve)
    step("shipyard status production")
    status = [sys.executable, "-m", "shipyard.cli", "status", "production", "--config", str(repo / "shipyard.yaml")]
    subprocess.run(status, env=env, check=False)


def release(api: str, repo: Path, sha: str, approve: str) -> None:
    run = start(api, "production-deploy", repo, sha, "main", "production")
    wait_paused(api, run)
    ui = api.removesuffix("/api")
    print(f"\n  Waiting for an approval: {ui}/runs/flow-run/{run}\n"
          f"  or from a terminal: shipyard approve {run} --as alice --reason 'reviewed'\n", flush=True)  # fmt: skip
    if approve == "auto":
        time.sleep(2)
        answer(str(run), False, "alice", "approved by the demo (make demo DEMO_APPROVE=manual waits for you)")
        print("  approved as alice by the demo", flush=True)
    final(api, run)


def register(api: str, env: dict[str, str]) -> None:
    with SyncPrefectClient(api) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
    prefect = str(Path(sys.executable).parent / "prefect")
    done = subprocess.run([prefect, "--no-prompt", "deploy", "--all"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"prefect deploy --all failed:\n{done.stdout}\n{done.stderr}")
    step("registered the five deployments (prefect deploy --all) on the process pool")


@contextlib.contextmanager
def worker(env: dict[str, str]) -> Iterator[None]:
    prefect = str(Path(sys.executable).parent / "prefect")
    process = subprocess.Popen([prefect, "worker", "start", "--pool", POOL], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    threading.Thread(target=_echo, args=(process,), daemon=True).start()
    try:
        yield
    finally:
        process.terminate()
        process.wait(30)


def _echo(process: subprocess.Popen[str]) -> None:
    """Live progress: the worker's log lines about task ends, engine steps and the gate."""
    assert process.stdout is not None
    for line in process.stdout:
        if SHOWN.search(line):
            print("   " + line.rstrip()[:160], flush=True)


def start(api: str, name: str, repo: Path, sha: str, branch: str, environment: str) -> UUID:
    parameters = {"repo": str(repo), "sha": sha, "branch": branch, "environment": environment}
    with SyncPrefectClient(api) as client:
        deployment = client.read_deployment_by_name(f"{name}/{name}")
        return client.create_flow_run_from_deployment(deployment.id, parameters=parameters).id


def wait_paused(api: str, run: UUID) -> None:
    state = _wait(api, run, lambda s: s.is_paused() or s.is_final())
    if not state.is_paused():
        sys.exit(f"flow run {run} ended before its approval gate: {state.name}: {state.message}")


def final(api: str, run: UUID) -> None:
    state = _wait(api, run, lambda s: s.is_final())
    print(f"  → {state.name}{': ' + state.message if state.message else ''}", flush=True)
    if not state.is_completed():
        sys.exit(1)


def _wait(api: str, run: UUID, done: Any, timeout: float = 3600) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with SyncPrefectClient(api) as client:
            state = client.read_flow_run(run).state
        if state is not None and done(state):
            return state
        time.sleep(1)
    sys.exit(f"flow run {run} did not get there within {timeout:g}s")


def head(repo: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


if __name__ == "__main__":
    main()

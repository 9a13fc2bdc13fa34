"""`make demo`: the whole story on embedded defaults, from a fresh sample platform.

Prefect server (SQLite) → pr-checks → the five deployments on a process worker → staging-deploy →
production-deploy suspended for approval (the UI link, the signed `shipyard approve` and the UI's one-time code
printed; approved here, signed with the demo approver's key, unless --approve manual) → first production release →
a second commit released blue-green with traffic steps → `shipyard status production`.

A failing step prints one line (what failed, why, what to do) and the demo exits 1. The Prefect server, the
colours and their routers stay up on purpose (listed at the end; `shipyard demo down` stops them); anything else
the demo started that is still running at exit is listed and the demo fails.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.settings import PREFECT_API_URL, temporary_settings

from deployments import local_server
from deployments.approvals import answer
from deployments.pools import create_process_pools
from shipyard.home import Home
from shipyard.processes import MARKER, kill_survivors, restore_default_signals, wait_for_none
from shipyard.release.local import running_processes
from shipyard.runner import spawn, stop
from shipyard.sample import ROOT, commit_all, create_sample_repo

POOLS = ("shipyard-checks", "shipyard-deploy")  # untrusted work and the deploy flows never share one
POOL = "shipyard-deploy"  # the story runs pr-checks in this process; the worker runs the deploy flows
SHOWN = re.compile(r"Finished in state|blue-green .*: |Suspending|approval")
WORKER_GRACE = 10.0


class StepFailed(Exception):
    """One line for the person watching: what failed, why, what to do."""

    def __init__(self, step: str, why: str, todo: str) -> None:
        super().__init__(f"demo failed at {step}: {why} ({todo})")


def main() -> None:
    restore_default_signals()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo", type=Path, required=True, help="folder for the sample platform's repository")
    parser.add_argument("--approve", choices=["auto", "manual"], default="auto")
    parser.add_argument("--port", type=int, default=4200, help="the Prefect server's port on 127.0.0.1")
    parser.add_argument("--port-offset", type=int, default=0,
                        help="shift the sample's router and colour ports (8080-8282) by this much")  # fmt: skip
    args = parser.parse_args()
    marker = os.environ[MARKER] = f"demo-{uuid.uuid4().hex[:12]}"
    home = Home.from_env()
    step(f"make demo: every process it starts carries {MARKER}={marker}")
    failure = None
    try:
        story(home, args.repo.resolve(), args.port, args.approve, args.port_offset)
    except StepFailed as exc:
        failure = str(exc)
    except KeyboardInterrupt:
        failure = "demo interrupted (Ctrl-C); what it started is stopped or listed below"
    kept = left_running(home)
    survivors = wait_for_none(marker, kept.values())
    if survivors:
        print("\nstill running from this demo and not meant to be (killed now):", file=sys.stderr)
        for survivor in survivors:
            print(f"  {survivor}", file=sys.stderr)
        kill_survivors(survivors)
    if kept:
        print(f"\nleft running on purpose (`{_cli()} demo down` stops them):")
        for what, pid in kept.items():
            print(f"  {what} (pid {pid})")
    if failure:
        print(f"\n{failure}", file=sys.stderr)
    sys.exit(1 if failure or survivors else 0)


def story(home: Home, repo: Path, port: int, approve: str, port_offset: int) -> None:
    server = attempt("the Prefect server", "see " + str(home.root / "prefect-server.log"),
                     lambda: local_server.up(home, port))  # fmt: skip
    api = server.api_url
    os.environ["PREFECT_API_URL"] = api  # for the processes the demo starts; this one's settings were read at import
    step(f"Prefect server on {server.ui_url} ({'started' if server.process else 'already running'})")
    with temporary_settings(updates={PREFECT_API_URL: api}):
        tell(home, repo, api, approve, port_offset)


def tell(home: Home, repo: Path, api: str, approve: str, port_offset: int) -> None:
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    sha = attempt("creating the sample platform", f"check that {repo} is writable", lambda: create_sample_repo(repo))
    if port_offset:
        sha = shift_ports(repo, port_offset)
    step(f"sample platform committed at {sha[:12]} in {repo}: shipyard run pr-checks")
    shipyard = [sys.executable, "-m", "cli"]
    checked = subprocess.run([*shipyard, "run", "pr-checks", "--repo", str(repo), "--sha", sha], check=False)
    if checked.returncode != 0:
        raise StepFailed("pr-checks", f"exit {checked.returncode}", "the checks' output above says which failed")
    env = dict(os.environ, SHIPYARD_SOURCE=str(ROOT), SHIPYARD_REPO=str(repo), PREFECT_WORKER_QUERY_SECONDS="2",
               PREFECT_RESULTS_PERSIST_BY_DEFAULT="true")  # fmt: skip
    register(env)
    keys = demo_policy(home, repo)
    with worker(env, home):
        step(f"staging-deploy of {sha[:12]} (push to staging)")
        subprocess.run(["git", "branch", "-f", "staging", sha], cwd=repo, check=True, capture_output=True)
        final("staging-deploy", api, start(api, "staging-deploy", repo, sha, "staging", "staging"))
        step(f"production-deploy of {sha[:12]} (push to main): checks, then the approval gate")
        release(api, repo, sha, approve, keys)
        (repo / "apps" / "api" / "CHANGES.md").write_text("1.4.3: faster property search\n")
        sha = commit_all(repo, "api: faster property search")
        subprocess.run(["git", "tag", "v1.4.3", sha], cwd=repo, check=True)
        step(f"production-deploy of {sha[:12]} (v1.4.3): blue-green with traffic steps against the first release")
        release(api, repo, sha, approve, keys)
    step("shipyard status production")
    status = subprocess.run([*shipyard, "status", "production", "--config", str(repo / "shipyard.yaml")], env=env)
    if status.returncode != 0:
        raise StepFailed("shipyard status production", f"exit {status.returncode}", "see its output above")


def shift_ports(repo: Path, offset: int) -> str:
    """The sample's local ports moved by offset (another demo or a test holds the usual ones), committed."""
    config = repo / "shipyard.yaml"
    text = re.sub(r"\b(router|blue|green): (\d+)", lambda m: f"{m[1]}: {int(m[2]) + offset}", config.read_text())
    config.write_text(text)
    return commit_all(repo, f"demo: local ports shifted by {offset}")


def attempt(what: str, todo: str, action: Callable[[], Any]) -> Any:
    try:
        return action()
    except Exception as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StepFailed(what, why, todo) from None


def demo_policy(home: Home, repo: Path) -> dict[str, Path]:
    """What an operator sets up once: the policy (environments, approvers and their SSH keys, branches) in the
    ledger, outside the repository. The demo's approvers get keys of their own under the home; returns them."""
    from shipyard.config import load_config
    from shipyard.policy.draft import draft
    from shipyard.resources import opened

    folder = home.root / "demo-approvers"
    folder.mkdir(parents=True, exist_ok=True)
    keys = {}
    for name in ("alice", "bob"):
        keys[name] = folder / name
        if not keys[name].exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@shipyard-demo", "-f",
                            str(keys[name])], check=True, capture_output=True, timeout=30)  # fmt: skip
    public = {name: [key.with_name(key.name + ".pub").read_text().strip()] for name, key in keys.items()}
    document = draft(load_config(repo / "shipyard.yaml"), str(repo), public)
    document["environments"]["production"]["required_approvals"] = 2  # the team's process: two people
    with opened(home) as resources:
        version = resources.ledger.set_policy(document, "demo", "the demo's environments and approvers").version
    step(f"policy version {version} in the ledger: environments and branches; production needs 2 of alice and bob, "
         f"whose SSH keys are in {folder}")  # fmt: skip
    return keys


def release(api: str, repo: Path, sha: str, approve: str, keys: dict[str, Path]) -> None:
    run = start(api, "production-deploy", repo, sha, "main", "production")
    wait_paused(api, run)
    key = keys["alice"]
    print(f"\n  Waiting for 2 approvals: {run_url(api, run)}\n"
          f"  Approve with proof of who you are (the demo's approvers' keys: {key} and {keys['bob']}):\n"
          f"  - from a terminal, signed:  {_cli()} approve {run} --key {key} --reason 'reviewed'\n"
          f"  - in the Prefect UI: Resume; approver alice, reason 'reviewed', and the code from\n"
          f"      {_cli()} approvals code {run} --reason 'reviewed' --key {key} --here\n"
          f"  then the same as bob, with {keys['bob']}\n", flush=True)  # fmt: skip
    if approve == "auto":
        reason = "approved by the demo (make demo DEMO_APPROVE=manual waits for you)"
        for gate, name in (("approval-1", "alice"), ("approval-2", "bob")):
            wait_paused(api, run, gate)
            attempt("approving", "see the run in the Prefect UI", partial(answer, str(run), False, keys[name], reason))
            print(f"  approved by the demo, signed with {name}'s key", flush=True)
    final("production-deploy", api, run)


def register(env: dict[str, str]) -> None:
    with SyncPrefectClient(env["PREFECT_API_URL"]) as client:
        create_process_pools(client, *POOLS)
    prefect = str(Path(sys.executable).parent / "prefect")
    done = subprocess.run([prefect, "--no-prompt", "deploy", "--all"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise StepFailed("registering the deployments (prefect deploy --all)", last, "check prefect.yaml")
    step("registered the five deployments (prefect deploy --all) on the checks and deploy pools")


@contextlib.contextmanager
def worker(env: dict[str, str], home: Home) -> Iterator[None]:
    """A process worker for the story, stopped with a bounded stop however the story ends; its log lines about
    task ends, engine steps and the gate are echoed live."""
    prefect = str(Path(sys.executable).parent / "prefect")
    log = home.root / "demo-worker.log"
    log.unlink(missing_ok=True)
    process = spawn([prefect, "worker", "start", "--pool", POOL], cwd=ROOT, env=env, log=log)
    done = threading.Event()
    echo = threading.Thread(target=_echo, args=(log, done), daemon=True)
    echo.start()
    try:
        yield
    finally:
        stopped = stop(process, "prefect worker", WORKER_GRACE)
        done.set()
        echo.join(5)
        print(f"  {stopped}", flush=True)


def _echo(log: Path, done: threading.Event) -> None:
    with contextlib.suppress(OSError):
        while not log.exists() and not done.wait(0.1):
            pass
        with log.open(errors="replace") as lines:
            while True:
                line = lines.readline()
                if not line:
                    if done.wait(0.2):
                        return
                    continue
                if SHOWN.search(line):
                    print("   " + line.rstrip()[:160], flush=True)


def start(api: str, name: str, repo: Path, sha: str, branch: str, environment: str) -> UUID:
    parameters = {"repo": str(repo), "sha": sha, "branch": branch, "environment": environment}
    with SyncPrefectClient(api) as client:
        deployment = client.read_deployment_by_name(f"{name}/{name}")
        return client.create_flow_run_from_deployment(deployment.id, parameters=parameters).id


def wait_paused(api: str, run: UUID, key: str = "approval-1") -> None:
    """Until the run waits at this approval gate ('approval-2' after a first of two approvals...)."""
    state = _wait(api, run, lambda s: (s.is_paused() and s.state_details.pause_key == key) or s.is_final())
    if not state.is_paused():
        why = f"the run ended {state.name} before its approval gate: {state.message or 'no message'}"
        raise StepFailed("production-deploy", why, f"see the run: {run_url(api, run)}")


def final(what: str, api: str, run: UUID) -> None:
    state = _wait(api, run, lambda s: s.is_final())
    print(f"  → {state.name}{': ' + state.message if state.message else ''}", flush=True)
    if not state.is_completed():
        why = f"{state.name}: {(state.message or 'no message').strip().splitlines()[0]}"
        raise StepFailed(what, why, f"see the run: {run_url(api, run)}")


def run_url(api: str, run: UUID) -> str:
    """The run's page in the Prefect UI."""
    return f"{api.removesuffix('/api')}/runs/flow-run/{run}"


def _wait(api: str, run: UUID, done: Any, timeout: float = 3600) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with SyncPrefectClient(api) as client:
            state = client.read_flow_run(run).state
        if state is not None and done(state):
            return state
        time.sleep(1)
    raise StepFailed(f"flow run {run}", f"not done within {timeout:g} s", "see it in the Prefect UI")


def left_running(home: Home) -> dict[str, int]:
    """What the demo leaves up on purpose: the server `shipyard server up` started, the colours and routers."""
    kept = {what: pid for what, (pid, _) in running_processes(home.root / "local").items()}
    server = local_server.recorded(home)
    if server is not None:
        kept[f"Prefect server on http://127.0.0.1:{server[1]}"] = server[0]
    return kept


def _cli() -> str:
    """The `shipyard` command as the person watching can type it from where they ran `make demo`."""
    path = Path(sys.executable).parent / "shipyard"
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


if __name__ == "__main__":
    main()

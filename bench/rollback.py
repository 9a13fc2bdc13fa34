"""`shipyard rollback` under load: seconds from running the command until every request is answered by the
previous release, and failed requests (bar: 0). Targets: inside the rollback window < 1 s, cold < 3 s.

Real HAProxy, real processes, SQLite ledger under a temporary SHIPYARD_HOME. Release 1.0.0 goes out first; then, three
times each:
- warm: a new release is promoted and its engine keeps the old colour up for the scale-down delay; the rollback
  asks that engine to abort, and traffic moves back to the warm colour without any start or analysis;
- cold: a new release goes out to the end (the old colour is scaled down) and is rolled back, so the rollback
  starts 1.0.0 again, health-checks it, then switches.
The command runs as its own process from a folder of its own, as an operator would run it; the baseline from the
same run is `shipyard status` (the same command's start-up, config, ledger and router read, no change). Exits
non-zero on a failed request or command, never on a time.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _harness import RUNS, colour_command, fail, finish, median, ratio, shipyard_command

from shipyard.config import load_config
from shipyard.files import free_port
from shipyard.home import Home
from shipyard.ledger import Ledger
from shipyard.release import setup
from shipyard.release.engine import Engine, ReleaseRequest
from shipyard.release.probe import LoadGenerator
from shipyard.resources import ledger_url
from shipyard.runner import CommandResult, run

CONFIG = """\
version: 1
project: bench
apps:
  api:
    path: api
    toolchain: python
    versions: ["3.11"]
    lockfile: requirements.lock
    checks: {{lint: "true"}}
    serve:
      command: {command}
      smoke: [{{path: /health}}]
environments:
  production:
    target: {{backend: local, ports: {{api: {{router: {router}, blue: {blue}, green: {green}}}}}}}
    rollout: {{pause_seconds: 1, min_samples: 10, scale_down_delay_seconds: {delay}}}
"""

WINDOW = 20  # seconds the old colour stays up after a promotion: the rollback window

problems: list[str] = []
rounds: list[dict[str, float | str]] = []
with tempfile.TemporaryDirectory(prefix="shipyard-bench-rollback-") as tmp:
    config_path = Path(tmp) / "shipyard.yaml"
    ports = {"router": free_port(), "blue": free_port(), "green": free_port()}
    config_path.write_text(CONFIG.format(command=json.dumps(colour_command()), delay=WINDOW, **ports))
    os.environ["SHIPYARD_HOME"] = str(Path(tmp) / "home")
    os.environ.pop("SHIPYARD_LEDGER_URL", None)
    operator = Path(tmp) / "operator"  # the folder the commands run in: nothing of the project's
    operator.mkdir()
    config, home = load_config(config_path), Home.from_env()
    backend = setup.backend_for(config, "production", home)
    ledger = Ledger(ledger_url(home))
    ledger.migrate()
    engine = Engine(ledger, backend, setup.rollout_spec(config, "production"), setup.smoke_checks(config, "api"))

    def shipyard(*args: str) -> CommandResult:
        argv = [*shipyard_command(), *args, "--config", str(config_path)]
        return run(argv, cwd=operator, timeout=120)  # bounded: killed with its process group at the limit

    def release(version: str) -> None:
        outcome = engine.deploy(ReleaseRequest("production", "api", version, f"sha-{version}", "img", "bench"))
        if not outcome.succeeded:
            fail(f"release {version} did not go out: {outcome.reason}")

    def promoted(version: str) -> threading.Thread:
        """The release going out in the background, returned once promoted (its engine keeps the old colour)."""
        request = ReleaseRequest("production", "api", version, f"sha-{version}", "img", "bench")
        thread = threading.Thread(target=engine.deploy, args=(request,), daemon=True)
        thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            current = ledger.current("production", "api")
            if current is not None and current.version == version:
                return thread
            time.sleep(0.05)
        fail(f"release {version} was not promoted within 120 s")
        raise AssertionError("unreachable")

    try:
        release("1.0.0")
        url = backend.router_url("api") + "/"
        print("rollback under load: 8 keep-alive + 4 new-connection clients through the router")
        for number, mode in enumerate(["warm", "cold"] * RUNS, 1):
            version = f"1.{number}.0"
            background = promoted(version) if mode == "warm" else None
            if background is None:
                release(version)
            last_new: list[float] = []
            stop = threading.Event()

            def watch(new: str = version, seen: list[float] = last_new, done: threading.Event = stop) -> None:
                """Note when the new release last answered: from then on only 1.0.0 does."""
                with httpx.Client(timeout=5) as client:
                    while not done.is_set():
                        try:
                            if client.get(url).json()["version"] == new:
                                seen.append(time.perf_counter())
                        except httpx.HTTPError:
                            pass

            with LoadGenerator(url, keepalive_clients=8, fresh_clients=4) as load:
                watcher = threading.Thread(target=watch, daemon=True)
                watcher.start()
                time.sleep(1.0)
                status = shipyard("status", "production")
                started = time.perf_counter()
                done = shipyard("rollback", "production", "--app", "api", "--as", "bench", "--reason", "benchmark")
                time.sleep(1.0)
                stop.set()
                watcher.join(10)
            if background is not None:
                background.join(120)  # its engine rolled the release back on the abort and let go
            for what, result in (("status", status), ("rollback", done)):
                if not result.ok:
                    problems.append(f"`shipyard {what}` after {version}: exit {result.returncode}\n{result.tail()}")
            if load.total.failures:
                problems.append(
                    f"rollback of {version}: {load.total.failures} failed requests {dict(load.total.errors)}"
                )
            serving = ledger.current("production", "api")
            if serving is None or serving.version != "1.0.0":
                problems.append(f"after the rollback of {version}, {serving.version if serving else 'nothing'} serves")
            switched = max((last_new[-1] if last_new else started) - started, 0.0)
            said = done.stdout.strip().splitlines()[-1:] or ["(no output)"]
            print(
                f"  {mode} {version} -> 1.0.0: command {done.duration:.2f} s, 100% on 1.0.0 after {switched:.2f} s, "
                f"status {status.duration:.2f} s; {load.total.requests} requests, {load.total.failures} failed; "
                f"it said: {said[0]}"
            )
            rounds.append(
                {
                    "mode": mode,
                    "command": done.duration,
                    "switched": switched,
                    "status": status.duration,
                    "requests": load.total.requests,
                    "failed": load.total.failures,
                }
            )
    finally:
        backend.shutdown("api")  # type: ignore[attr-defined]
        ledger.close()


def of(key: str, mode: str | None = None) -> list[float]:
    return [float(r[key]) for r in rounds if mode is None or r["mode"] == mode]


status_seconds = median("`shipyard status` ran for (baseline)", of("status"))
for mode, target in (("warm", 1.0), ("cold", 3.0)):
    command_seconds = median(f"`shipyard rollback` ({mode}) ran for", of("command", mode))
    switched_seconds = median(f"100% on the previous release ({mode}) after", of("switched", mode))
    ratio(f"rollback command ({mode})/status command", command_seconds, status_seconds)
    print(f"{mode}: 100% on the previous release after {switched_seconds:.2f} s (median)  (target < {target:g} s)")
print(f"requests during the runs: {sum(of('requests')):.0f}, failed: {sum(of('failed')):.0f}  (bar: 0)")
finish(problems)

"""The embedded default backend: each colour is a local process (or a container on the host network) on its own
127.0.0.1 port behind HAProxy.

Colours and the router outlive the engine process (own sessions, pid files under the state folder), so a
crashed or finished engine leaves the release serving and a re-run finds it again.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shipyard import tls
from shipyard.environment import carried
from shipyard.errors import ShipyardError
from shipyard.ledger.store import ReleaseView
from shipyard.processes import Stopped, process_alive, stop_group
from shipyard.release.artifact import verify_folder
from shipyard.release.backend import COLOURS, RouterError, release_env
from shipyard.release.package import environment_bin
from shipyard.release.rollout import Capabilities, Health
from shipyard.release.router import HAProxyRouter, RouterSpec, admin_socket
from shipyard.runner import run, spawn

PROBE_TIMEOUT = 2.0
STOP_GRACE = 10.0


@dataclass(frozen=True)
class Container:
    """How a release that is an image runs: `docker run` on the host network (no bridge networks here)."""

    env: dict[str, str] = field(default_factory=dict)  # values may hold {port}
    read_only: bool = True
    tmpfs: tuple[str, ...] = ("/tmp",)


@dataclass(frozen=True)
class LocalApp:
    """How one app runs locally: a command with {port}, the folder it runs in, and its ports.

    A release whose artifact is a folder runs there instead (the app exported at its commit, with dependencies);
    with `container` set, a release whose artifact is not a folder is an image and runs as a container.
    """

    command: str
    cwd: Path
    router_port: int
    ports: dict[str, int]  # colour -> port
    env: dict[str, str] = field(default_factory=dict)
    health_path: str = "/health"
    ready_path: str = "/ready"
    container: Container | None = None


class LocalBackend:
    capabilities = Capabilities(weighted=True)

    def __init__(self, state: Path, apps: dict[str, LocalApp]) -> None:
        self.state = state
        self.apps = apps

    def start(self, app: str, colour: str, release: ReleaseView) -> None:
        spec = self._app(app)
        shipped = Path(release.artifact) if Path(release.artifact).is_dir() else None
        if shipped is not None:
            verify_folder(f"{app} {release.version}", shipped, release.artifact_digest)
        self.stop(app, colour)  # a half-started colour from a crashed run is replaced, not doubled
        self._remove_container(app, colour)
        port = spec.ports[colour]
        if _listening(port):
            raise ShipyardError(
                f"port {port} ({app} {colour}) is taken by a process Shipyard did not start; stop it and retry"
            )
        # The release's own variables and nothing else of the engine's (tokens, cloud keys, other environments'
        # database URLs): a colour runs that release's code, not the pipeline's.
        own = {**spec.env, **release_env(release), "PORT": str(port), "SHIPYARD_COLOUR": colour}
        if shipped is not None:
            own["PYTHONDONTWRITEBYTECODE"] = "1"  # the folder stays what its digest says, for the next start
        cwd = shipped or spec.cwd
        path = os.pathsep.join([*environment_bin(cwd), os.environ.get("PATH", "")])
        command = spec.command.format(port=port)
        client: dict[str, str] = {}
        if spec.container is not None and shipped is None:
            own |= {k: v.format(port=port) for k, v in spec.container.env.items()}
            command = shlex.join(self._docker_run(app, colour, release.artifact, own, spec.container))
            # where the docker CLI finds its engine and its login; the container gets only what `-e` names
            client = {k: v for k, v in os.environ.items() if k == "HOME" or k.startswith("DOCKER_")}
        env = carried() | client | own | {"PATH": path}
        folder = self._folder(app)
        # The child records its own pid before it execs the app: an engine killed right after the fork cannot
        # leave a colour running that no pid file knows about.
        pidfile = folder / f"{colour}.pid"
        record = f'echo $$ > "{pidfile}.tmp" && mv "{pidfile}.tmp" "{pidfile}"'
        spawn(
            ["bash", "-c", f"{record} && exec {command}"],
            log=folder / f"{colour}.log",
            env=env,
            cwd=cwd,
        )
        deadline = time.monotonic() + STOP_GRACE
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        self._router(app).ensure_running({c: 0 for c in COLOURS})

    def stop(self, app: str, colour: str) -> None:
        """Stop a colour; one that takes no traffic first finishes the requests it is serving."""
        pid = self._pid(app, colour)
        if pid is None:
            return
        router = self._router(app)
        with contextlib.suppress(RouterError):
            if router.running() and router.weights().get(colour) == 0:
                router.drain(colour)
        stop_group(pid, STOP_GRACE)  # a container's `docker run` passes the TERM on to the app
        self._remove_container(app, colour)
        (self._folder(app) / f"{colour}.pid").unlink(missing_ok=True)

    def running(self, app: str, colour: str) -> bool:
        pid = self._pid(app, colour)
        return pid is not None and process_alive(pid)

    def health(self, app: str, colour: str) -> Health:
        """HEALTHY when liveness and readiness both answer 2xx; UNKNOWN while a running colour is not listening yet."""
        spec = self._app(app)
        base = self.preview_url(app, colour)
        try:
            for path in (spec.health_path, spec.ready_path):
                if not httpx.get(base + path, timeout=PROBE_TIMEOUT, verify=tls.context()).is_success:
                    return Health.UNHEALTHY
        except httpx.HTTPError:
            return Health.UNKNOWN if self.running(app, colour) else Health.UNHEALTHY
        return Health.HEALTHY

    def weights(self, app: str) -> dict[str, int]:
        return self._router(app).weights()

    def set_weights(self, app: str, weights: dict[str, int]) -> None:
        router = self._router(app)
        router.ensure_running({c: 0 for c in COLOURS})
        router.set_weights(weights)

    def preview_url(self, app: str, colour: str) -> str:
        return f"http://127.0.0.1:{self._app(app).ports[colour]}"

    def router_url(self, app: str) -> str:
        return self._router(app).url

    def prepare(self, app: str, artifact: str, version: str, sha: str) -> str:
        return artifact  # a release folder or an image, run as it is

    def alarm(self, app: str) -> str | None:
        return None  # the router's own analysis is this backend's monitoring

    def shutdown(self, app: str) -> None:
        """Stop both colours and the router (tests, and tearing an environment down)."""
        for colour in COLOURS:
            self.stop(app, colour)
        self._router(app).stop()

    def _container_name(self, app: str, colour: str) -> str:
        return f"shipyard-{self.state.name}-{app}-{colour}"

    def _docker_run(self, app: str, colour: str, image: str, env: dict[str, str], container: Container) -> list[str]:
        """Only the release's own variables reach the container, by name: `docker run` reads each value from its own
        environment, so no value is on an argv (`ps` shows every process's)."""
        argv = ["docker", "run", "--rm", "--name", self._container_name(app, colour), "--network", "host"]
        argv += ["--read-only"] if container.read_only else []
        argv += [arg for path in container.tmpfs for arg in ("--tmpfs", path)]
        argv += [arg for key in sorted(env) for arg in ("-e", key)]
        return [*argv, image]

    def _remove_container(self, app: str, colour: str) -> None:
        """A container whose `docker run` was killed outlives it: remove it by its name."""
        if self._app(app).container is None or shutil.which("docker") is None:
            return
        run(["docker", "rm", "--force", self._container_name(app, colour)], timeout=60)

    def _router(self, app: str) -> HAProxyRouter:
        spec = self._app(app)
        router_spec = RouterSpec(app, spec.router_port, spec.ports, spec.ready_path)
        return HAProxyRouter(router_spec, self._folder(app) / "router")

    def _app(self, app: str) -> LocalApp:
        try:
            return self.apps[app]
        except KeyError:
            raise ShipyardError(f"app {app!r} has no local serve settings; apps: {', '.join(self.apps)}") from None

    def _folder(self, app: str) -> Path:
        folder = self.state / app
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _pid(self, app: str, colour: str) -> int | None:
        try:
            return int((self._folder(app) / f"{colour}.pid").read_text())
        except (OSError, ValueError):
            return None


def running_processes(state: Path) -> dict[str, tuple[int, Path]]:
    """Every colour and router the local backend runs from this state folder (any environment):
    what -> (pid, its pid file)."""
    found = {}
    for pidfile in sorted([*state.glob("*/*/*.pid"), *state.glob("*/*/router/haproxy.pid")]):
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if process_alive(pid):
            env, app, what = pidfile.relative_to(state).parts[:3]  # env/app/colour.pid or env/app/router/haproxy.pid
            found[f"{env} {app} {'router' if what == 'router' else pidfile.stem + ' colour'}"] = (pid, pidfile)
    return found


def stop_everything(state: Path) -> list[Stopped]:
    """Stop every colour and router under the state folder, colours first (no router outlives its traffic)."""
    stopped = []
    for what, (pid, pidfile) in sorted(running_processes(state).items(), key=lambda item: item[0].endswith("router")):
        stopped.append(stop_group(pid, STOP_GRACE, what))
        pidfile.unlink(missing_ok=True)
        if what.endswith("router"):
            admin_socket(pidfile.parent).unlink(missing_ok=True)  # HAProxy leaves it behind
    return stopped


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0

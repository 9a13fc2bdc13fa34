"""`shipyard server up/down` (a local Prefect server on 127.0.0.1) and `shipyard demo down`."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.app import group, guard, out
from shipyard.home import Home

commands = group("A local Prefect server on 127.0.0.1.")
demo_commands = group("What `make demo` leaves running.")


@commands.command("up")
def server_up(port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 4200) -> None:
    """Start a Prefect server on 127.0.0.1 unless one is already answering there; it keeps running."""
    from deployments.local_server import up

    server = guard(lambda: up(Home.from_env(), port))
    state = (
        f"started (pid {server.process.pid}; `shipyard server down` stops it)" if server.process else "already running"
    )
    out.print(f"Prefect server {state}: UI {server.ui_url}  API {server.api_url}", highlight=False)
    out.print(f"Use it with: export PREFECT_API_URL={server.api_url}", highlight=False)


@commands.command("down")
def server_down() -> None:
    """Stop the Prefect server `shipyard server up` started (SIGTERM, 10 s, then its process group is killed)."""
    from deployments.local_server import down

    stopped = down(Home.from_env())
    out.print(
        str(stopped) if stopped else "no Prefect server started by `shipyard server up` is running", highlight=False
    )


@demo_commands.command("down")
def demo_down() -> None:
    """Stop what `make demo` leaves running: the local colours and HAProxy routers, then the Prefect server."""
    from deployments.local_server import down
    from shipyard.release.local import stop_everything

    home = Home.from_env()
    stopped = [*stop_everything(home.root / "local"), down(home)]
    for line in stopped:
        out.print(str(line), highlight=False)
    if not any(stopped):
        out.print("nothing of the demo's is running", highlight=False)

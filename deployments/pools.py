"""The process work pools Shipyard's own tooling creates on a server (the demo, the tests, the benches).

Their flow runs start the engine with this interpreter directly. Left to its default, Prefect 3.9's process worker
starts a workspace supervisor that imports Prefect, runs the pull steps, then execs `python -m prefect.engine`,
which imports Prefect again: measured here, about 2 CPU seconds on every start (5 starts: 49.5 -> 38.9 s), and a
production deploy starts once per approval answer. With a command configured the engine runs the pull steps itself.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
from typing import Any

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists
from prefect.workers.process import ProcessWorker


def engine_template(python: str = sys.executable) -> dict[str, Any]:
    """The process pool's default job template with `python -m prefect.engine` as its command."""
    template = ProcessWorker.get_default_base_job_template()
    template["variables"]["properties"]["command"]["default"] = shlex.join([python, "-m", "prefect.engine"])
    return template


def create_process_pools(client: SyncPrefectClient, *names: str) -> None:
    """Each pool unless the server has it already (an existing pool is left as its owner configured it)."""
    template = engine_template()
    for name in names:
        with contextlib.suppress(ObjectAlreadyExists):
            client.create_work_pool(WorkPoolCreate(name=name, type="process", base_job_template=template))

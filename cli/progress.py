"""Live progress of a flow run, read from the Prefect API (the same view the UI has)."""

from __future__ import annotations

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterTags
from prefect.client.schemas.objects import FlowRun, StateType
from rich.console import Console

_SHOWN = {
    StateType.RUNNING: ("▶", "cyan", "running"),
    StateType.COMPLETED: ("✔", "green", "passed"),
    StateType.FAILED: ("✘", "red", "failed"),
    StateType.CRASHED: ("✘", "red", "crashed"),
    StateType.CANCELLED: ("■", "yellow", "cancelled"),
}


CHECK_TASKS = ("check ", "scan ", "migrations ", "docs ")


class ProgressWatcher:
    """Prints each task run's state change once: which checks run, pass, fail."""

    def __init__(self, client: SyncPrefectClient, tag: str, console: Console) -> None:
        self.client = client
        self.tag = tag
        self.console = console
        self.flow_run: FlowRun | None = None
        self._seen: dict[str, str] = {}

    def poll(self) -> None:
        if self.flow_run is None:
            runs = self.client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[self.tag])))
            if not runs:
                return
            self.flow_run = runs[0]
        task_runs = self.client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[self.flow_run.id]))
        )
        for run in sorted(task_runs, key=lambda r: r.expected_start_time or r.created or 0):
            state = run.state
            if state is None or state.type not in _SHOWN:
                continue
            icon, colour, word = _SHOWN[state.type]
            if state.name in ("Cached", "Unavailable"):
                word = state.name.lower()
                colour = "green" if state.name == "Cached" else "yellow"
            elif not run.name.startswith(CHECK_TASKS) and word == "passed":
                word = "done"
            if self._seen.get(str(run.id)) == word:
                continue
            self._seen[str(run.id)] = word
            self.console.print(f"[{colour}]{icon} {word:<11}[/] {run.name}")

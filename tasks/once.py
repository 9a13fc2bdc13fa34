"""Side effects that happen once per flow run, even though a suspended run re-runs from the top on resume.

The run's own key-value store (Prefect flow run inputs) remembers what was done: a Slack message's ts, a GitHub
deployment's id, the checks and artifacts prepared before the approval.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from prefect.input.actions import create_flow_run_input, read_flow_run_input
from pydantic import BaseModel

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def input_key(key: str) -> str:
    """The flow-run input a remembered value is stored under (readable from outside the run: `shipyard approve`)."""
    return f"shipyard-{key}"


def remembered(key: str, produce: Callable[[], T]) -> T:
    """The value stored under key for this flow run, or produce() stored there now (it must be JSON-able)."""
    stored: Any = read_flow_run_input(input_key(key))
    if stored is not None:
        return stored  # type: ignore[no-any-return]
    value = produce()
    create_flow_run_input(input_key(key), value)
    return value


def remembered_model(key: str, model: type[M], produce: Callable[[], M]) -> M:
    """remembered() for a typed value: stored as the model's JSON, read back validated against the model."""
    return model.model_validate(remembered(key, lambda: produce().model_dump(mode="json")))

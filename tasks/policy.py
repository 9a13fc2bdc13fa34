"""Retry policy shared by tasks: retry what may pass next time, never what will fail the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect.client.schemas.objects import State
from prefect.states import Failed
from prefect.tasks import exponential_backoff

from shipyard.checks.model import CheckResult, Status

RetryCondition = Callable[[Any, Any, Any], bool]

BACKOFF = exponential_backoff(backoff_factor=3)
JITTER = 0.5


def retry_unless(*final: type[BaseException]) -> RetryCondition:
    """A retry_condition_fn: retry a failure unless its exception is one of `final` (bad input, missing tool)."""

    def should_retry(task: Any, task_run: Any, state: Any) -> bool:
        try:
            state.result()
        except final:
            return False
        except Exception:
            return True
        return False

    return should_retry


def by_content(prefix: str) -> Callable[[Any, dict[str, Any]], str]:
    """A cache_key_fn for checks whose spec carries the content key of everything they read."""

    def key(context: Any, parameters: dict[str, Any]) -> str:
        return f"{prefix}-{parameters['spec'].content_key}"

    return key


def check_state(result: CheckResult) -> CheckResult | State:
    """A passed check returns its result (cacheable); any other ends the task Failed, so it is never cached."""
    if result.status is Status.PASSED:
        return result
    name = "Unavailable" if result.status is Status.UNAVAILABLE else "Failed"
    return Failed(name=name, message=f"{result.spec.name}: {result.summary}", data=result)

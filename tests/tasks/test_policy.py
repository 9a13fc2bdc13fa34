from prefect.states import Completed, Failed

from shipyard.errors import InputError
from shipyard.toolchains import ToolchainUnavailable
from tasks.policy import retry_unless


def test_retries_transient_failures_but_not_final_ones() -> None:
    should_retry = retry_unless(InputError, ToolchainUnavailable)
    assert should_retry(None, None, Failed(data=OSError("connection reset")))
    assert not should_retry(None, None, Failed(data=InputError("commit not found")))
    assert not should_retry(None, None, Failed(data=ToolchainUnavailable("node 99 is not installed")))
    assert not should_retry(None, None, Completed(data=1))

import sys
import time
from pathlib import Path

import pytest

from shipyard.processes import process_alive
from shipyard.runner import CommandError, ToolNotFound, run, spawn


def test_captures_exit_code_and_both_streams() -> None:
    result = run(["bash", "-c", "echo out; echo err >&2; exit 3"], timeout=10)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert not result.ok


def test_check_raises_an_error_that_shows_command_code_and_output() -> None:
    with pytest.raises(CommandError) as caught:
        run(["bash", "-c", "echo to-stdout; echo to-stderr >&2; exit 4"], timeout=10, check=True, what="demo")
    message = str(caught.value)
    for expected in ("demo", "exited 4", "to-stdout", "to-stderr", "bash -c"):
        assert expected in message


def test_standard_input_comes_from_the_file_named_or_is_empty(tmp_path: Path) -> None:
    given = tmp_path / "input"
    given.write_bytes(b"line one\nline two\n")
    assert run(["wc", "-l"], stdin=given, timeout=10).stdout.strip() == "2"
    assert run(["wc", "-c"], timeout=10).stdout.strip() == "0"


def test_missing_tool_is_reported_as_not_found() -> None:
    with pytest.raises(ToolNotFound, match="no-such-tool-xyz"):
        run(["no-such-tool-xyz"], timeout=5)


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    """A tool that hangs, with a child that hangs too: both are gone once run() returns."""
    pid_file = tmp_path / "child.pid"
    script = f"sleep 300 & echo $! > {pid_file}; sleep 300"
    started = time.monotonic()
    result = run(["bash", "-c", script], timeout=1)
    assert result.timed_out and not result.ok
    assert time.monotonic() - started < 30
    child = int(pid_file.read_text())
    assert not process_alive(child)


def test_a_tool_that_ignores_sigterm_is_killed() -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(300)"
    )
    result = run([sys.executable, "-c", code], timeout=1)
    assert result.timed_out
    assert "up" in result.stdout


def test_secrets_are_redacted_from_output_and_argv() -> None:
    secret = "s3cr3t-token-value"
    result = run(["bash", "-c", f"echo token={secret}; echo {secret} >&2", secret], timeout=10, secrets=[secret])
    assert secret not in result.stdout + result.stderr + " ".join(result.argv)
    assert "token=***" in result.stdout


def test_secrets_are_redacted_from_errors() -> None:
    secret = "another-secret-123"
    with pytest.raises(CommandError) as caught:
        run(["bash", "-c", f"echo {secret}; exit 1"], timeout=10, secrets=[secret], check=True)
    assert secret not in str(caught.value)


def test_spawn_runs_in_the_given_folder(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    process = spawn(["bash", "-c", "pwd > where.txt"], log=tmp_path / "log", cwd=tmp_path / "work")
    assert process.wait(10) == 0
    assert (tmp_path / "work" / "where.txt").read_text().strip() == str(tmp_path / "work")

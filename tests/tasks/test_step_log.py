from __future__ import annotations

from typing import Any

import pytest

from shipyard.release.rollout import Decision, Step
from tasks import deploy


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, fmt: str, *args: Any) -> None:
        self.lines.append(fmt % args)


def test_waits_are_logged_when_their_reason_changes_or_every_ten_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.0, 0.5, 1.0, 1.5, 2.0, 12.5, 13.0])
    monkeypatch.setattr("tasks.deploy.time.monotonic", lambda: next(clock))
    recorder = Recorder()
    log = deploy.StepLog(recorder, "api")
    log(Decision(Step.SHIFT, "shift traffic 0% -> 10%", 10))
    log(Decision(Step.WAIT, "analysis at 10%: 9 s left"))
    log(Decision(Step.WAIT, "analysis at 10%: 8 s left"))  # same wait, a second later: not logged
    log(Decision(Step.WAIT, "old colour kept warm: 30 s left"))  # another wait: logged
    log(Decision(Step.WAIT, "old colour kept warm: 29 s left"))
    log(Decision(Step.WAIT, "old colour kept warm: 19 s left"))  # ten seconds on: logged again
    log(Decision(Step.PROMOTE, "all steps passed"))
    assert recorder.lines == [
        "api shift: shift traffic 0% -> 10%",
        "api wait: analysis at 10%: 9 s left",
        "api wait: old colour kept warm: 30 s left",
        "api wait: old colour kept warm: 19 s left",
        "api promote: all steps passed",
    ]

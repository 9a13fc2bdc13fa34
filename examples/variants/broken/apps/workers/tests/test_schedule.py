from workers.backoff import delay_seconds


def test_third_attempt_waits_five_seconds() -> None:
    # Wrong on purpose: the schedule doubles, so the third attempt waits 4 s.
    assert delay_seconds(3) == 5.0

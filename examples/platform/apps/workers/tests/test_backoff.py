import pytest

from workers.backoff import delay_seconds, should_retry


@pytest.mark.parametrize(("attempt", "expected"), [(1, 1.0), (2, 2.0), (5, 16.0), (20, 300.0)])
def test_delay_doubles_up_to_cap(attempt: int, expected: float) -> None:
    assert delay_seconds(attempt) == expected


def test_attempt_zero_is_rejected() -> None:
    with pytest.raises(ValueError):
        delay_seconds(0)


@pytest.mark.parametrize(
    ("attempt", "status", "expected"),
    [(1, 500, True), (1, 429, True), (1, 404, False), (3, 503, False)],
)
def test_should_retry(attempt: int, status: int, expected: bool) -> None:
    assert should_retry(attempt, max_attempts=3, status=status) is expected

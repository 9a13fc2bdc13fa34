"""Retry schedule for jobs that talk to flaky services."""


def delay_seconds(attempt: int, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff: base, 2*base, 4*base ... never above cap."""
    if attempt < 1:
        raise ValueError("attempt starts at 1")
    return float(min(cap, base * 2 ** (attempt - 1)))


def should_retry(attempt: int, max_attempts: int, status: int) -> bool:
    """Retry server errors and throttling, never client errors, and only while attempts remain."""
    retryable = status == 429 or status >= 500
    return retryable and attempt < max_attempts

"""The nightly suite's own parts: the load test against staging and the report with trends."""

"""Prefect tasks: thin, typed wrappers around the core, grouped by the system they touch."""

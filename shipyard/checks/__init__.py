"""Checks: plan them from the config, run each in isolation, judge, summarise."""

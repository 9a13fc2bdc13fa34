"""Pipeline decisions that are not about one release: the approval gate, supersession, what Slack is told."""

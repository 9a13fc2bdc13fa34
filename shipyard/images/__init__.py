"""The images stage: production images built on a Docker engine, pushed to a registry, measured against budgets."""

"""Publish a checks summary: Prefect artifacts and JUnit files in the run's report folder."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from shipyard.checks.report import Summary, write_junit


@task(name="publish-summary", task_run_name="publish summary")
def publish_summary(summary: Summary, reports: str, key: str) -> list[str]:
    files = write_junit(summary, Path(reports))
    create_table_artifact(key=f"{key}-table", table=summary.table(), description=summary.headline())
    create_markdown_artifact(
        key=f"{key}-details",
        markdown=summary.markdown() + f"\n\nJUnit reports: `{reports}`",
        description=summary.headline(),
    )
    return [str(f) for f in files]

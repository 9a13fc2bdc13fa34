"""Tasks of the nightly suite: the load test against an environment, the report."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from shipyard.config.schema import PipelineConfig
from shipyard.home import Home
from shipyard.nightly.load import LoadVerdict, load_test
from shipyard.release import setup


@task(name="load-test", task_run_name="load test {config.nightly.environment}", cache_policy=NO_CACHE)
def run_load_test(config: PipelineConfig, reports: str, home: Home) -> LoadVerdict | None:
    settings, environment = config.nightly.load, config.nightly.environment
    if settings is None or environment is None:
        return None
    url = setup.target_url(config, environment, settings.app, home)
    verdict = load_test(url, settings, home.tools, Path(reports) / "load")
    get_run_logger().info("load test of %s at %s: %s: %s", settings.app, url, verdict.status, verdict.summary)
    return verdict


@task(name="nightly-report", cache_policy=NO_CACHE)
def publish_report(markdown: str, reports: str) -> str:
    path = Path(reports) / "nightly.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown)
    create_markdown_artifact(markdown, key="nightly-report", description="Nightly suite with trends")
    return str(path)

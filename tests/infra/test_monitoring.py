"""infra/monitoring: Prometheus config and rules pass promtool, the alert rules fire at the user's thresholds and not
below (promtool's own rule unit tests), Alertmanager's config passes amtool, and Grafana's dashboard asks only for
valid PromQL from the provisioned data source."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import yaml

from shipyard.runner import run
from tests.capabilities import require_tools

MONITORING = Path(__file__).parents[2] / "infra" / "monitoring"
PROMETHEUS = MONITORING / "prometheus"


def promtool(*args: str, cwd: Path = PROMETHEUS) -> tuple[bool, str]:
    require_tools("promtool")
    result = run(["promtool", *args], cwd=cwd, timeout=120)
    return result.ok, result.stdout + result.stderr


def test_promtool_checks_the_config_and_its_rules() -> None:
    ok, out = promtool("check", "config", "prometheus.yml")
    assert ok, out
    assert "SUCCESS: 10 rules found" in out  # the config's rule_files glob found the rules
    ok, out = promtool("check", "rules", "rules/platform.yml")
    assert ok, out


def test_the_alerts_fire_at_the_users_thresholds() -> None:
    ok, out = promtool("test", "rules", "tests/platform.test.yml")
    assert ok and "SUCCESS" in out, out
    rules = yaml.safe_load((PROMETHEUS / "rules" / "platform.yml").read_text())
    alerts = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert {"HighErrorRate", "HighLatency", "HighCpu", "HighMemory"} <= set(alerts)
    assert alerts["HighErrorRate"].endswith("> 0.01") and alerts["HighLatency"].endswith("> 0.5")
    assert alerts["HighCpu"].endswith("> 0.80") and alerts["HighMemory"].endswith("> 0.85")


def test_the_rule_tests_catch_a_wrong_threshold(tmp_path: Path) -> None:
    """The unit tests are worth something only if a rule that pages too late fails them."""
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS, copy)
    rules = copy / "rules" / "platform.yml"
    rules.write_text(rules.read_text().replace("job:http_errors:ratio5m > 0.01", "job:http_errors:ratio5m > 0.05"))
    ok, out = promtool("test", "rules", "tests/platform.test.yml", cwd=copy)
    assert not ok and "HighErrorRate" in out, out


def test_prometheus_keeps_30_days_and_scrapes_prefect_with_a_password_file() -> None:
    compose = yaml.safe_load((MONITORING.parent / "compose" / "docker-compose.prod.yml").read_text())
    assert "--storage.tsdb.retention.time=30d" in compose["services"]["prometheus"]["command"]
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    prefect = next(job for job in config["scrape_configs"] if job["job_name"] == "prefect")
    assert prefect["metrics_path"] == "/api/metrics" and "password_file" in prefect["basic_auth"]


def test_alertmanager_config_passes_amtool_and_reads_the_slack_url_from_a_file() -> None:
    require_tools("amtool")
    result = run(["amtool", "check-config", str(MONITORING / "alertmanager" / "alertmanager.yml")], timeout=60)
    assert result.ok, result.stdout + result.stderr
    config = yaml.safe_load((MONITORING / "alertmanager" / "alertmanager.yml").read_text())
    assert config["global"]["slack_api_url_file"].startswith("/run/secrets/")
    assert "hooks.slack.com" not in (MONITORING / "alertmanager" / "alertmanager.yml").read_text()


def test_the_dashboard_queries_are_valid_promql_over_recorded_series(tmp_path: Path) -> None:
    dashboard = json.loads((MONITORING / "grafana" / "dashboards" / "platform.json").read_text())
    provisioned = yaml.safe_load(
        (MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uid = provisioned["datasources"][0]["uid"]
    exprs = []
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        exprs += [t["expr"].replace("$environment", ".*") for t in panel["targets"]]
    assert len(exprs) == 6
    # every panel expression parses, as recording rules promtool checks
    as_rules = {
        "groups": [{"name": "dashboard", "rules": [{"record": f"panel_{i}", "expr": e} for i, e in enumerate(exprs)]}]
    }
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(as_rules))
    ok, out = promtool("check", "rules", str(tmp_path / "dashboard.yml"))
    assert ok, out
    # the recorded series the panels plot are the ones the rules record
    rules = yaml.safe_load((PROMETHEUS / "rules" / "platform.yml").read_text())
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    used = {name for e in exprs for name in re.findall(r"\b[a-z_]+:[a-z_0-9:]+", e)}
    assert used and used <= recorded, used - recorded

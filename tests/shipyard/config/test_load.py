from pathlib import Path

import pytest

from shipyard.config import ConfigError, load_config, parse_config

SAMPLE = Path(__file__).parents[3] / "examples" / "platform" / "shipyard.yaml"

MINIMAL = """\
version: 1
project: demo
apps:
  api:
    path: apps/api
    toolchain: python
    versions: ["3.11"]
    lockfile: requirements.lock
    checks:
      lint: ruff check .
      test:
        command: pytest
        coverage: {report: coverage.xml, min: 80}
environments:
  production:
    target: {backend: local}
    approval: true
    approvers: [alice]
branches:
  - branch: main
    environment: production
    apps: [api]
nightly:
  cron: "0 2 * * *"
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "shipyard.yaml")
    return caught.value.lines()


def test_sample_config_is_valid() -> None:
    config = load_config(SAMPLE)
    assert set(config.apps) == {"api", "web", "workers", "ml"}
    assert config.apps["web"].versions == ["18", "20"]
    assert config.environments["production"].approval
    rule = config.rule_for("feature/login")
    assert rule is not None and rule.environment is None
    assert config.rule_for("main").environment == "production"  # type: ignore[union-attr]


def test_minimal_config_is_valid() -> None:
    config = parse_config(MINIMAL, "shipyard.yaml")
    assert config.apps["api"].checks["lint"].command == "ruff check ."


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # missing key
        (("    lockfile: requirements.lock\n", ""), "shipyard.yaml:4: apps.api.lockfile: required key is missing"),
        # wrong type
        (('versions: ["3.11"]', "versions: 3.11"), "shipyard.yaml:7: apps.api.versions: expected a list, got 3.11"),
        # unknown key, with the keys that are allowed there
        (
            ("      lint: ruff check .", "      lint: {command: ruff, timout: 5}"),
            "shipyard.yaml:10: apps.api.checks.lint.timout: unknown key; expected one of: command, coverage,",
        ),
        # unknown app in a branch rule
        (
            ("    apps: [api]", "    apps: [api, mobile]"),
            "shipyard.yaml:22: branches[0].apps[1]: unknown app 'mobile'; apps are: api",
        ),
        # unknown environment in a branch rule
        (
            ("    environment: production", "    environment: prod"),
            "shipyard.yaml:21: branches[0].environment: unknown environment 'prod'; environments are: production",
        ),
        # bad cron
        (('cron: "0 2 * * *"', 'cron: "0 25 * *"'), "shipyard.yaml:24: nightly.cron: expected a 5-field cron"),
        (('cron: "0 2 * * *"', 'cron: "0 25 * * *"'), "shipyard.yaml:24: nightly.cron: expected a 5-field cron"),
        # the nightly load test: where it runs and against which app
        (
            ('cron: "0 2 * * *"', 'cron: "0 2 * * *"\n  environment: staging'),
            "nightly.environment: unknown environment 'staging'; environments are: production",
        ),
        (
            ('cron: "0 2 * * *"', 'cron: "0 2 * * *"\n  load: {app: api}'),
            "nightly.load: a load test needs nightly.environment",
        ),
        (
            ('cron: "0 2 * * *"', 'cron: "0 2 * * *"\n  environment: production\n  load: {app: mobile}'),
            "nightly.load.app: unknown app 'mobile'; apps are: api",
        ),
        (
            ('cron: "0 2 * * *"', 'cron: "0 2 * * *"\n  environment: production\n  load: {app: api, paths: [health]}'),
            "nightly.load.paths: paths must start with / and hold no comma",
        ),
        # bad threshold
        (("min: 80", "min: 180"), "shipyard.yaml:13: apps.api.checks.test.coverage.min: expected a value <= 100"),
        (("min: 80", "min: lots"), "shipyard.yaml:13: apps.api.checks.test.coverage.min: expected a number"),
        # a rule that makes no sense
        (("approvers: [alice]", "approvers: []"), "environments.production: approval is on but no approvers"),
        (("toolchain: python", "toolchain: ruby"), "apps.api.toolchain: expected 'python' or 'node', got 'ruby'"),
        (("path: apps/api", "path: ../elsewhere"), "apps.api.path: expected a path inside the repository"),
    ],
)
def test_each_kind_of_mistake_names_file_line_key_and_expectation(change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in MINIMAL
    lines = errors_of(MINIMAL.replace(old, new))
    assert any(line.startswith(expected) or expected in line for line in lines), lines


def test_all_mistakes_are_reported_at_once() -> None:
    text = MINIMAL.replace("project: demo\n", "").replace("min: 80", "min: -1")
    lines = errors_of(text)
    assert len(lines) == 2
    assert any("project: required key is missing" in line for line in lines)


def test_invalid_yaml_names_the_line() -> None:
    lines = errors_of("version: 1\napps: [\n  oops: {\n")
    assert lines[0].startswith("shipyard.yaml:") and "invalid YAML" in lines[0]


def test_top_level_must_be_a_mapping() -> None:
    assert "expected a mapping" in errors_of("- just\n- a list\n")[0]


def test_unreadable_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml: .*cannot read"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("security:\n  fail_on: severe\n", "security.fail_on: expected 'info', 'low', 'medium', 'high' or 'critical'"),
        ("security:\n  scanners:\n    trivvy: {enabled: false}\n", "security.scanners.trivvy"),
        (
            "security:\n  allow:\n    - {rule: CKV_K8S_11, reason: r, expires: soon}\n",
            "security.allow[0].expires: expected a date",
        ),
        ("security:\n  allow:\n    - {rule: CKV_K8S_11, expires: 2027-01-01}\n", "security.allow[0].reason: required"),
        ('security:\n  kubernetes_version: "1.x"\n', "security.kubernetes_version"),
        ("github: {repository: not-a-repo}\n", "github.repository"),
    ],
)
def test_security_and_github_mistakes_are_named(extra: str, expected: str) -> None:
    lines = errors_of(MINIMAL + extra)
    assert any(expected in line for line in lines), lines


def test_a_stage_cannot_be_both_required_and_optional() -> None:
    text = MINIMAL.replace(
        "    apps: [api]\n", "    apps: [api]\n    required: [quality, docs]\n    optional: [docs]\n"
    )
    assert any("stages ['docs'] are listed as both required and optional" in line for line in errors_of(text))


def test_stages_follow_the_branch_rule() -> None:
    config = load_config(SAMPLE)
    assert config.stages_for("main") == {"quality": True, "security": True, "database": True, "docs": True}
    assert config.stages_for("feature/x") == {"quality": True, "security": True, "database": True, "docs": False}
    assert config.stages_for(None) == {"quality": True, "security": True, "database": True}
    assert config.stages_for("feature/x", ["docs", "quality"]) == {"docs": False, "quality": True}


def test_a_repeated_key_is_an_error_not_a_silent_override() -> None:
    text = MINIMAL.replace("    toolchain: python\n", "    toolchain: python\n    toolchain: node\n")
    assert errors_of(text) == ["shipyard.yaml:7: apps.api.toolchain: key repeated (first on line 6)"]

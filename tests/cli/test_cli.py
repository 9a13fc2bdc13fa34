import ast
import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).parents[2] / "examples" / "platform" / "shipyard.yaml"


def shipyard(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_config_check_accepts_the_sample() -> None:
    done = shipyard("config", "check", str(SAMPLE))
    assert done.returncode == 0, done.stderr
    assert "valid (4 apps, 20 checks per commit, 3 envs)" in done.stdout


def test_config_check_exits_2_and_names_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "shipyard.yaml"
    bad.write_text(
        SAMPLE.read_text().replace("min: 75}", "min: 175}").replace('cron: "0 2 * * *"', 'cron: "61 2 * * *"')
    )
    done = shipyard("config", "check", str(bad))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert any(
        line.startswith(f"{bad}:") and "apps.ml.checks.test.coverage.min: expected a value <= 100" in line
        for line in lines
    ), lines
    assert any("nightly.cron: expected a 5-field cron expression" in line for line in lines), lines


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    done = shipyard("config", "check", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2 and "cannot read the file" in done.stderr


def test_unreachable_prefect_api_exits_3_with_the_reason(tmp_path: Path) -> None:
    import os

    env = dict(os.environ, PREFECT_API_URL="http://127.0.0.1:9/api", PREFECT_HOME=str(tmp_path / "prefect"))
    done = shipyard("run", "pr-checks", "--repo", str(tmp_path), "--sha", "HEAD", env=env, timeout=300)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "could not run: Failed to reach API at http://127.0.0.1:9/api/" in done.stderr


def test_the_command_starts_without_prefect_or_the_layers_above_the_core() -> None:
    """Each command imports what it needs when it runs: `shipyard config check` never waits for Prefect to load."""
    probe = "import sys, cli.main; cli.main.with_commands(); print(sorted({m.split('.')[0] for m in sys.modules}))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(ast.literal_eval(done.stdout))
    assert not loaded & {"prefect", "flows", "tasks", "deployments", "sqlalchemy", "uvicorn", "docker"}, loaded


def test_a_rollback_loads_only_its_own_area() -> None:
    """`shipyard rollback` is timed from the keypress: registering it loads neither the other areas nor the config
    schema (read once the holder of the lock has been asked to abort)."""
    probe = "import sys, cli.main; cli.main.with_commands(['rollback']); print(sorted(sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(ast.literal_eval(done.stdout))
    others = {"cli.checks", "cli.policy", "cli.images", "cli.webhook", "cli.server", "cli.sample", "cli.config"}
    assert not loaded & (others | {"yaml", "shipyard.config.schema", "shipyard.checks", "httpx"}), loaded
    assert "cli.release" in loaded


def test_the_webhook_relay_will_not_start_without_a_repository_to_serve(tmp_path: Path) -> None:
    import os

    config = tmp_path / "shipyard.yaml"
    text = SAMPLE.read_text()
    github = text[text.index("\ngithub:") : text.index("\n\n", text.index("\ngithub:"))]
    config.write_text(text.replace(github, ""))
    env = dict(os.environ, GITHUB_WEBHOOK_SECRET="s", SHIPYARD_HOME=str(tmp_path / "home"))
    done = shipyard("webhook", "serve", "--config", str(config), "--port", "1", env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{config}: github.repository is not set" in done.stderr

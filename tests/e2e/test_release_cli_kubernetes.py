"""`shipyard deploy/status/rollback production --target kubernetes` from a terminal: the CLI process reads KUBECONFIG
and talks to the Kubernetes API stand-in on 127.0.0.1 over real HTTP; manifests come from beside shipyard.yaml."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.files import free_port
from tests.e2e.test_release_cli import shipyard
from tests.support.colours import ROOT
from tests.support.configs import LOCAL_PRODUCTION
from tests.support.http_standin import healthy_app, serving
from tests.support.kube_standin import KubeStandIn, kube_standin

pytestmark = pytest.mark.slow

# max_p95_ms 10000: latency is judged in test_rollout's table; on a shared test machine a p95 measures the machine
CONFIG = (
    LOCAL_PRODUCTION
    + """\
    other_targets:
      - backend: kubernetes
        namespace: platform
        apps:
          api: {{manifest: infra/k8s/api/deployment.yaml, url: "{url}", preview_url: "{url}"}}
    rollout: {{max_p95_ms: 10000, pause_seconds: 0.2, min_samples: 5, scale_down_delay_seconds: 0,
               health_timeout_seconds: 10}}
"""
)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], KubeStandIn]]:
    with kube_standin(tmp_path) as (standin, kubeconfig), serving(healthy_app) as url:
        manifests = tmp_path / "infra" / "k8s" / "api"
        manifests.mkdir(parents=True)
        shutil.copy(ROOT / "infra" / "k8s" / "api" / "deployment.yaml", manifests)
        config = tmp_path / "shipyard.yaml"
        ports = {"router": free_port(), "blue": free_port(), "green": free_port()}
        config.write_text(CONFIG.format(python=sys.executable, url=url, **ports))
        env = dict(os.environ, SHIPYARD_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT), KUBECONFIG=str(kubeconfig))
        env.pop("SHIPYARD_LEDGER_URL", None)
        env.pop("KUBERNETES_SERVICE_HOST", None)
        yield config, env, standin


def test_kubernetes_release_and_rollback_from_the_terminal(stack: tuple[Path, dict[str, str], KubeStandIn]) -> None:
    config, env, standin = stack

    def selector() -> str:
        service = standin.get("service", "platform", "api")
        return service["spec"]["selector"]["colour"] if service else ""

    for version, colour in (("1.0.0", "blue"), ("1.1.0", "green")):
        image = f"127.0.0.1:5000/platform/api:{version}"
        args = ("--app", "api", "--version", version, "--sha", f"s{version}", "--artifact", image)
        done = shipyard(config, env, "deploy", "production", "--target", "kubernetes", *args)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"api {version} promoted on {colour}" in done.stdout
        assert selector() == colour
    assert "backend switches all-or-nothing" in done.stdout or "collapsed to 100%" in done.stdout

    status = shipyard(config, env, "status", "production", "--target", "kubernetes")
    assert status.returncode == 0 and "1.1.0 (green)" in status.stdout, status.stdout + status.stderr

    back = shipyard(
        config,
        env,
        "rollback",
        "production",
        "--target",
        "kubernetes",
        "--app",
        "api",
        "--as",
        "carol",
        "--reason",
        "x",
    )
    assert back.returncode == 0, back.stdout + back.stderr
    assert "1.0.0 is back at 100% on blue" in back.stdout
    assert selector() == "blue"
    blue = standin.get("deployment", "platform", "api-blue")
    assert blue is not None and blue["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.0.0")


def test_a_manifest_without_the_apps_deployment_is_a_clear_error(
    stack: tuple[Path, dict[str, str], KubeStandIn],
) -> None:
    config, env, _ = stack
    (config.parent / "infra" / "k8s" / "api" / "deployment.yaml").write_text("kind: ConfigMap\nmetadata: {name: x}\n")
    done = shipyard(config, env, "status", "production", "--target", "kubernetes")
    assert done.returncode == 2
    assert "target.apps.api.manifest" in done.stderr and "has no Deployment named 'api'" in done.stderr

"""The work pools' base job templates: Prefect accepts them, and the Kubernetes Job they render is valid (strict)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.utilities.templating import apply_values
from prefect_docker.worker import DockerWorker
from prefect_kubernetes.worker import KubernetesWorker

from shipyard.runner import run
from shipyard.tools import ensure
from tests.conftest import SHARED_TOOLS

POOLS = Path(__file__).parents[2] / "infra" / "work-pools"


def template(name: str) -> dict[str, Any]:
    return dict(json.loads((POOLS / f"{name}.json").read_text()))


@pytest.mark.parametrize(("name", "worker"), [("docker", DockerWorker), ("kubernetes", KubernetesWorker)])
def test_templates_keep_the_workers_variables_and_run_without_root_or_bridges(name: str, worker: Any) -> None:
    ours, upstream = template(name), worker.get_default_base_job_template()
    assert set(ours["variables"]["properties"]) == set(upstream["variables"]["properties"])
    assert set(ours["job_configuration"]) == set(upstream["job_configuration"])
    defaults = {k: v.get("default") for k, v in ours["variables"]["properties"].items()}
    assert defaults["image"].startswith("shipyard/worker:")
    if name == "docker":
        assert defaults["network_mode"] == "host" and defaults["image_pull_policy"] == "Never"


@pytest.mark.slow
def test_the_kubernetes_job_renders_and_validates_strictly(tmp_path: Path) -> None:
    pool = template("kubernetes")
    values = {k: v.get("default") for k, v in pool["variables"]["properties"].items()}
    values |= {
        "name": "shipyard-run",
        "command": ["prefect", "flow-run", "execute"],
        "env": [{"name": "PREFECT_API_URL", "value": "http://prefect-server.shipyard:4200/api"}],
        "labels": {"app.kubernetes.io/part-of": "shipyard"},
        "annotations": {"shipyard.dev/pool": "kubernetes"},
    }
    job = apply_values(pool["job_configuration"]["job_manifest"], values)
    job["metadata"]["name"] = "shipyard-run-abc12"  # what the API server makes of generateName
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"]
    assert container["resources"] == {"limits": {"cpu": "1000m", "memory": "2Gi"},
                                      "requests": {"cpu": "250m", "memory": "512Mi"}}  # fmt: skip
    manifest = tmp_path / "job.yaml"
    manifest.write_text(yaml.safe_dump(job))
    validate = ensure("kubernetes-validate", SHARED_TOOLS)
    result = run([str(validate), "--strict", "-k", "1.30.0", str(manifest)], timeout=300)
    assert result.ok, result.tail()
    broken = dict(job, spec={**job["spec"], "template": {"spec": {**pod, "completions": 1}}})
    manifest.write_text(yaml.safe_dump(broken))
    assert not run([str(validate), "--strict", "-k", "1.30.0", str(manifest)], timeout=300).ok  # the check can fail

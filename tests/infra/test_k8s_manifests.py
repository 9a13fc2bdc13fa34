"""infra/k8s: the user's design holds (read from the files), every manifest validates strictly at the configured
Kubernetes version, and the project's own scanner policy (the sample platform's `security:`) finds nothing high."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from shipyard.checks.model import CheckSpec, Status
from shipyard.config import load_config
from shipyard.runner import run
from shipyard.security.policy import verdict
from shipyard.security.scanners import SCANNERS, ScanTarget, scan
from shipyard.tools import ensure
from tests.conftest import SHARED_TOOLS

ROOT = Path(__file__).parents[2]
K8S = ROOT / "infra" / "k8s"
POLICY = load_config(ROOT / "examples" / "platform" / "shipyard.yaml").security
HTTP_APPS = ("api", "web", "ml")


def objects(app: str) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in (K8S / app).glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def test_the_api_follows_the_users_design() -> None:
    api = objects("api")
    deployment = api[("Deployment", "api")]["spec"]
    assert deployment["replicas"] == 3
    assert deployment["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    pod = deployment["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1000m", "memory": "2Gi"},
    }
    live, ready, start = container["livenessProbe"], container["readinessProbe"], container["startupProbe"]
    assert (live["httpGet"]["path"], live["initialDelaySeconds"], live["periodSeconds"]) == ("/health", 30, 10)
    assert (ready["httpGet"]["path"], ready["initialDelaySeconds"], ready["periodSeconds"]) == ("/ready", 10, 5)
    assert start["periodSeconds"] * start["failureThreshold"] == 300  # a 5-minute start grace
    security = container["securityContext"]
    assert security["runAsUser"] == pod["securityContext"]["runAsUser"] == 1001
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["affinity"]["podAntiAffinity"]
    (spread,) = pod["topologySpreadConstraints"]
    assert (spread["topologyKey"], spread["maxSkew"]) == ("topology.kubernetes.io/zone", 1)

    for colour in ("blue", "green"):
        hpa = api[("HorizontalPodAutoscaler", f"api-{colour}")]["spec"]
        assert hpa["scaleTargetRef"]["name"] == f"api-{colour}"
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 20)
        targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]}
        assert targets == {"cpu": 70, "memory": 80}
        up, down = hpa["behavior"]["scaleUp"]["policies"], hpa["behavior"]["scaleDown"]["policies"]
        assert up == [{"type": "Percent", "value": 100, "periodSeconds": 15}]
        assert down == [{"type": "Percent", "value": 50, "periodSeconds": 60}]
    assert api[("PodDisruptionBudget", "api")]["spec"]["minAvailable"] == 2
    assert api[("Service", "api")]["spec"]["selector"] == {"app": "api", "colour": "blue"}
    assert api[("Service", "api-preview")]["spec"]["selector"] == {"app": "api", "colour": "green"}


@pytest.mark.parametrize("app", ["api", "web", "workers", "ml"])
def test_every_app_is_hardened_limited_and_budgeted(app: str) -> None:
    found = objects(app)
    pod = found[("Deployment", app)]["spec"]["template"]["spec"]
    for container in pod["containers"]:
        assert container["resources"]["limits"] and container["resources"]["requests"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"livenessProbe", "readinessProbe", "startupProbe"} <= set(container)
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    assert ("PodDisruptionBudget", app) in found and ("NetworkPolicy", app) in found
    assert {("HorizontalPodAutoscaler", f"{app}-{c}") for c in ("blue", "green")} <= set(found)
    has_services = ("Service", app) in found and ("Service", f"{app}-preview") in found
    assert has_services is (app in HTTP_APPS)  # workers take jobs, not requests


@pytest.mark.slow
def test_every_manifest_validates_strictly_and_a_wrong_field_does_not(tmp_path: Path) -> None:
    validate = ensure("kubernetes-validate", SHARED_TOOLS)
    manifests = sorted(str(p) for p in K8S.rglob("*.yaml"))
    version = f"{POLICY.kubernetes_version}.0"
    result = run([str(validate), "--strict", "-k", version, *manifests], timeout=300)
    assert result.ok, result.tail()
    assert len(manifests) == 9
    broken = tmp_path / "broken.yaml"
    doc = yaml.safe_load((K8S / "api" / "deployment.yaml").read_text())
    doc["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["periodSecond"] = 10  # a typo
    broken.write_text(yaml.safe_dump(doc))
    refused = run([str(validate), "--strict", "-k", version, str(broken)], timeout=300)
    assert not refused.ok and "periodSecond" in refused.tail()


@pytest.mark.slow
@pytest.mark.parametrize("scanner", ["kubernetes", "checkov", "trivy-config"])
def test_the_projects_scanner_policy_finds_nothing_high(scanner: str, tmp_path: Path) -> None:
    shutil.copytree(K8S, tmp_path / "infra" / "k8s")
    manifests = tuple(str(p.relative_to(tmp_path)) for p in sorted(tmp_path.rglob("*.yaml")))
    target = ScanTarget(tmp_path, (), (), (), manifests, (), POLICY.kubernetes_version)
    outcome = scan(SCANNERS[scanner], target, 600, SHARED_TOOLS)
    spec = CheckSpec.for_stage(
        "security", "infra", scanner, required=True, on_unavailable="fail", timeout=600, content_key="infra"
    )
    result = verdict(spec, outcome, POLICY, datetime.date.today())
    assert result.status is Status.PASSED, result.summary
    if scanner != "kubernetes":
        assert outcome.findings, "the scanner read the manifests (medium findings such as image digests exist)"
    assert all(f.allowed or f.severity in ("info", "low", "medium") for f in result.findings)

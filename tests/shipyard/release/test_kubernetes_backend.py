"""The Kubernetes backend through the official client, over real HTTP, against the API stand-in on 127.0.0.1.

Built the way `shipyard deploy` builds it (config -> setup.backend_for -> kubeconfig from KUBECONFIG), with the
user's own Deployment from infra/k8s/api/deployment.yaml as the template. After each engine step the test reads the
Services and Deployments back through a client of its own, not through the backend.

Against a real cluster instead of the stand-in (docs/backends.md, "Kubernetes"): SHIPYARD_TEST_KUBE_CONTEXT
names the kubeconfig context, SHIPYARD_TEST_KUBE_IMAGE the image repository the cluster pulls the api from (tags
1.0.0 and 1.1.0 must exist there, 3.0.0-broken must not); the tests that need the stand-in's fault injection skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes import config as kubernetes_config
from kubernetes.client.exceptions import ApiException

from shipyard.config.load import parse_config
from shipyard.home import Home
from shipyard.ledger import EventKind, Ledger
from shipyard.release import setup
from shipyard.release.engine import Engine, ReleaseRequest
from shipyard.release.rollback import emergency_rollback
from shipyard.release.rollout import Decision, RolloutSpec, Step
from shipyard.release.smoke import SmokeCheck
from tests.support.colours import ROOT
from tests.support.configs import ONE_TARGET
from tests.support.http_standin import healthy_app, serving
from tests.support.kube_standin import KubeStandIn, kube_standin

NS = "platform"
REAL_CONTEXT = os.environ.get("SHIPYARD_TEST_KUBE_CONTEXT")
IMAGE = os.environ.get("SHIPYARD_TEST_KUBE_IMAGE", "127.0.0.1:5000/platform/api")
SPEC = RolloutSpec(
    steps=(10, 50, 100),
    pause=timedelta(seconds=0.3),
    max_p95_ms=10_000,  # latency is judged in test_rollout's table; here a p95 measures the shared machine
    min_samples=5,
    health_timeout=timedelta(seconds=120 if REAL_CONTEXT else 8),  # real pods pull and start
    scale_down_delay=timedelta(seconds=0),
)
stand_in_only = pytest.mark.skipif(REAL_CONTEXT is not None, reason="needs the stand-in's fault injection")
TARGET = """\
      backend: kubernetes
      namespace: platform
      context: {context}
      traffic: {traffic}
      apps:
        api: {{manifest: infra/k8s/api/deployment.yaml, url: "{url}", preview_url: "{url}/preview"}}
"""


@pytest.fixture
def app_url() -> Iterator[str]:
    """The app's address (an ingress in a cluster): here a stand-in answering 200, so analysis has samples."""
    with serving(healthy_app) as url:
        yield url


class Cluster:
    def __init__(self, standin: KubeStandIn, tmp_path: Path, app_url: str, traffic: str) -> None:
        self.standin = standin
        context = REAL_CONTEXT or "standin"
        self.config = parse_config(
            ONE_TARGET.format(target=TARGET.format(traffic=traffic, url=app_url, context=context)), "shipyard.yaml"
        )
        self.ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
        self.ledger.migrate()
        self.backend = setup.backend_for(self.config, "production", Home(tmp_path), connections=setup.Connections(ROOT))
        api = kubernetes_config.new_client_from_config(config_file=os.environ["KUBECONFIG"], context=context)
        self.reader = (api, client.CoreV1Api(api), client.AppsV1Api(api))  # the test's own, not the backend's
        self.seen: list[tuple[Step, dict[str, str], dict[str, int]]] = []

    def read(self, kind: str, name: str) -> dict[str, Any] | None:
        api, core, apps = self.reader
        method = core.read_namespaced_service if kind == "service" else apps.read_namespaced_deployment
        try:
            return dict(api.sanitize_for_serialization(method(name, NS)))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def forget_earlier_tests(self) -> None:
        """A real cluster keeps what the last test made: each test starts with no colours and no Services."""
        _, core, apps = self.reader
        for delete, name in [(apps.delete_namespaced_deployment, f"api-{c}") for c in ("blue", "green")] + [
            (core.delete_namespaced_service, n) for n in ("api", "api-preview")
        ]:
            try:
                delete(name, NS)
            except ApiException as exc:
                if exc.status != 404:
                    raise

    def selector(self, name: str = "api") -> dict[str, str]:
        service = self.read("service", name)
        return dict(service["spec"]["selector"]) if service else {}

    def replicas(self) -> dict[str, int]:
        found = {c: self.read("deployment", f"api-{c}") for c in ("blue", "green")}
        return {c: d["spec"]["replicas"] for c, d in found.items() if d}

    def image(self, colour: str) -> str:
        deployment = self.read("deployment", f"api-{colour}")
        assert deployment is not None
        return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])

    def record(self, decision: Decision) -> None:
        self.seen.append((decision.step, self.selector(), self.replicas()))

    def deploy(self, version: str, spec: RolloutSpec = SPEC) -> bool:
        self.seen.clear()
        engine = Engine(self.ledger, self.backend, spec, [SmokeCheck("/health")], poll=0.05, on_step=self.record)
        image = f"{IMAGE}:{version}"
        outcome = engine.deploy(ReleaseRequest("production", "api", version, f"sha-{version}", image, "ci"))
        return outcome.succeeded

    def selectors_at(self, step: Step) -> list[str]:
        return [selector.get("colour", "") for s, selector, _ in self.seen if s is step]


@pytest.fixture
def cluster(
    tmp_path: Path, app_url: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Cluster]:
    with kube_standin(tmp_path, never_ready={f"{IMAGE}:3.0.0-broken"}) as (standin, kubeconfig):
        if REAL_CONTEXT is None:
            monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        else:
            monkeypatch.setenv("KUBECONFIG", os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config")))
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        cluster = Cluster(standin, tmp_path, app_url, getattr(request, "param", "selector"))
        if REAL_CONTEXT is not None:
            cluster.forget_earlier_tests()
        yield cluster


def test_blue_green_switches_the_active_selector_once_preview_and_health_pass(cluster: Cluster) -> None:
    assert cluster.deploy("1.0.0")
    assert cluster.selector() == {"app": "api", "colour": "blue"}
    assert cluster.image("blue").endswith("api:1.0.0")

    assert cluster.deploy("1.1.0")
    # before the switch the active Service stays on blue while the preview Service already shows green
    assert set(cluster.selectors_at(Step.SMOKE_PREVIEW)) == {"blue"}
    assert cluster.selector("api-preview") == {"app": "api", "colour": "green"}
    shifts = [i for i, (step, _, _) in enumerate(cluster.seen) if step is Step.SHIFT]
    assert len(shifts) == 1, "selector traffic is all-or-nothing: one switch, no 10/50 steps"
    assert cluster.seen[shifts[0] + 1][1]["colour"] == "green"  # read back right after the switch
    assert cluster.selector() == {"app": "api", "colour": "green"}
    assert cluster.replicas() == {"blue": 0, "green": 3}  # the old colour scaled down after the delay
    green = cluster.read("deployment", "api-green")
    assert green is not None
    assert green["spec"]["selector"]["matchLabels"] == {"app": "api", "colour": "green"}
    env = {e["name"]: e.get("value") for e in green["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["APP_VERSION"] == "1.1.0" and "DATABASE_URL" in env  # the user's env kept, the release's added
    # the user's pod spec survives: probes, resources, security context
    container = green["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    notes = [e.reason for e in cluster.ledger.events(cluster.ledger.current("production", "api").id)]  # type: ignore[union-attr]
    assert any("all-or-nothing" in n for n in notes)


def test_a_colour_that_never_gets_ready_never_takes_the_selector(cluster: Cluster) -> None:
    assert cluster.deploy("1.0.0")
    assert not cluster.deploy("3.0.0-broken")
    assert cluster.selector()["colour"] == "blue"
    assert set(cluster.selectors_at(Step.WAIT)) == {"blue"}
    assert cluster.replicas()["green"] == 0  # the candidate was stopped
    release = cluster.ledger.current("production", "api")
    assert release is not None and release.version == "1.0.0"


def test_emergency_rollback_switches_the_selector_back_to_the_previous_release(cluster: Cluster) -> None:
    assert cluster.deploy("1.0.0") and cluster.deploy("1.1.0")
    assert cluster.selector()["colour"] == "green"
    result = emergency_rollback(cluster.ledger, cluster.backend, "production", "api", "carol", "bad 1.1.0", None, 10)
    assert result.restored.version == "1.0.0" and result.colour == "blue"
    assert cluster.selector() == {"app": "api", "colour": "blue"}
    assert cluster.image("blue").endswith("api:1.0.0")
    assert cluster.replicas() == {"blue": 3, "green": 0}
    kinds = [e.kind for e in cluster.ledger.events(result.replaced.id)]
    assert EventKind.ROLLED_BACK in kinds


@stand_in_only
def test_a_concurrent_writer_makes_the_switch_retry_on_the_fresh_service(cluster: Cluster) -> None:
    assert cluster.deploy("1.0.0")
    cluster.standin.conflict_once("service", "api")
    assert cluster.deploy("1.1.0")
    puts = [(m, code) for m, path, code in cluster.standin.requests if m == "PUT" and path.endswith("/services/api")]
    assert puts[:2] == [("PUT", 409), ("PUT", 200)]
    assert cluster.selector()["colour"] == "green"


@pytest.mark.parametrize("cluster", ["replicas"], indirect=True)
def test_replica_ratio_steps_behind_one_shared_service(cluster: Cluster) -> None:
    assert cluster.deploy("1.0.0")
    assert cluster.selector() == {"app": "api", "shipyard.io/serving": "true"}
    assert cluster.deploy("1.1.0")
    ratios = [replicas for step, _, replicas in cluster.seen if step in (Step.SMOKE_PREVIEW, Step.SMOKE_FINAL)]
    assert ratios[0] == {"blue": 3, "green": 1}  # previewed on one pod, not serving yet
    after_shifts = [cluster.seen[i + 1][2] for i, (step, _, _) in enumerate(cluster.seen) if step is Step.SHIFT]
    assert after_shifts == [{"blue": 2, "green": 1}, {"blue": 1, "green": 2}, {"blue": 0, "green": 3}]
    green = cluster.read("deployment", "api-green")
    assert green is not None
    assert green["spec"]["template"]["metadata"]["labels"]["shipyard.io/serving"] == "true"
    assert cluster.backend.weights("api") == {"blue": 0, "green": 100}


@stand_in_only
def test_the_stand_in_refuses_what_a_real_api_server_refuses(cluster: Cluster) -> None:
    """The stand-in is only worth testing against if it says no where a cluster would."""
    assert cluster.deploy("1.0.0")
    blue = cluster.standin.get("deployment", NS, "api-blue")
    assert blue is not None
    blue["spec"]["selector"]["matchLabels"]["colour"] = "green"
    blue["spec"]["template"]["metadata"]["labels"]["colour"] = "green"
    code, body, _ = cluster.standin.handle(
        "PUT", f"/apis/apps/v1/namespaces/{NS}/deployments/api-blue", _auth(), _json(blue)
    )
    assert (code, body["reason"]) == (422, "Invalid")
    blue["metadata"]["resourceVersion"] = "1"
    code, body, _ = cluster.standin.handle(
        "PUT", f"/apis/apps/v1/namespaces/{NS}/deployments/api-blue", _auth(), _json(blue)
    )
    assert (code, body["reason"]) == (409, "Conflict")
    code, _, _ = cluster.standin.handle("GET", f"/api/v1/namespaces/{NS}/services/api", {}, b"")
    assert code == 401


def _auth() -> dict[str, str]:
    return {"Authorization": "Bearer stand-in-token"}


def _json(obj: Any) -> bytes:
    import json

    return json.dumps(obj).encode()


@pytest.mark.slow
@stand_in_only
def test_what_the_backend_writes_validates_strictly(cluster: Cluster, tmp_path: Path) -> None:
    """The colour Deployments and Services the backend made from the user's template are valid for the cluster."""
    from shipyard.runner import run
    from shipyard.tools import ensure
    from tests.conftest import SHARED_TOOLS

    assert cluster.deploy("1.0.0") and cluster.deploy("1.1.0")
    written = tmp_path / "written.yaml"
    written.write_text(yaml.safe_dump_all(list(cluster.standin.objects.values())))
    assert len(cluster.standin.objects) == 4  # api-blue, api-green, api, api-preview
    validate = ensure("kubernetes-validate", SHARED_TOOLS)
    result = run([str(validate), "--strict", "-k", "1.30.0", str(written)], timeout=300)
    assert result.ok, result.tail()

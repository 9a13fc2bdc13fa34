"""Kubernetes blue-green, as Argo Rollouts' blueGreen strategy does it: two Deployments (`<app>-blue`, `<app>-green`)
made from the user's Deployment, an active Service `<app>` whose selector switches colour in one update, and a
preview Service `<app>-preview` on the new colour for smoke tests before the switch.

With `traffic: replicas` there is no switch: one Service `<app>` selects the pods of both colours that carry
`shipyard.io/serving: "true"`, and a step of N% gives the new colour about N% of the replicas (the weight declared on
each Deployment's `shipyard.io/weight` annotation; the real share is the replica ratio).

Every write is a read-modify-replace carrying the resourceVersion it read, so a concurrent writer makes it retry on
the fresh object (409 Conflict) instead of overwriting it.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from shipyard.config.targets import KubernetesApp
from shipyard.errors import InputError, ShipyardError
from shipyard.ledger.store import ReleaseView
from shipyard.release.backend import COLOURS, RouterError, release_env, require_image
from shipyard.release.rollout import Capabilities, Health

COLOUR = "colour"
SERVING = "shipyard.io/serving"
WEIGHT = "shipyard.io/weight"
CONFLICT_RETRIES = 5


def api_client(context: str | None) -> Any:
    """In-cluster config when running in a pod with no context asked for, else kubeconfig (KUBECONFIG honoured)."""
    if context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration)
    try:  # the client reads KUBECONFIG once, at import: read it now
        return config.new_client_from_config(config_file=os.environ.get("KUBECONFIG"), context=context)
    except (config.ConfigException, OSError) as exc:
        raise InputError(f"kubeconfig (context {context or 'current'}): {exc}") from None


@dataclass(frozen=True)
class Manifest:
    """The user's Deployment for an app, and the ports of its Service (from the same file, else the container's)."""

    deployment: dict[str, Any]
    ports: list[dict[str, Any]]

    @property
    def replicas(self) -> int:
        return int(self.deployment["spec"].get("replicas", 1))

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.deployment["spec"]["selector"]["matchLabels"])


def load_manifest(path: Path, app: str, key: str) -> Manifest:
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    except OSError as exc:
        raise InputError(f"{key}: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{key}: {path} is not YAML: {exc}") from None
    named = {(d.get("kind"), d.get("metadata", {}).get("name")): d for d in documents}
    deployment = named.get(("Deployment", app))
    if deployment is None:
        raise InputError(f"{key}: {path} has no Deployment named {app!r}")
    if not deployment.get("spec", {}).get("selector", {}).get("matchLabels"):
        raise InputError(f"{key}: {path}: Deployment {app} has no spec.selector.matchLabels")
    service = named.get(("Service", app))
    if service is not None:
        ports = service["spec"]["ports"]
    else:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        first = container.get("ports", [{"containerPort": 80}])[0]
        ports = [{"name": "http", "port": 80, "targetPort": first.get("name") or first["containerPort"]}]
    return Manifest(deployment, ports)


class KubernetesBackend:
    def __init__(
        self,
        api: Any,
        namespace: str,
        apps: dict[str, KubernetesApp],
        templates: dict[str, Manifest],
        traffic: str = "selector",
    ) -> None:
        self.apps_api = client.AppsV1Api(api)
        self.core_api = client.CoreV1Api(api)
        self.serialize: Callable[[Any], Any] = api.sanitize_for_serialization
        self.namespace = namespace
        self.apps = apps
        self.templates = templates
        self.traffic = traffic
        self.capabilities = Capabilities(weighted=traffic == "replicas")

    # -- Backend protocol --------------------------------------------------------------------------------------

    def prepare(self, app: str, artifact: str, version: str, sha: str) -> str:
        return require_image(app, artifact, "Kubernetes")

    def start(self, app: str, colour: str, release: ReleaseView) -> None:
        template = self._template(app)
        replicas = 1 if self.traffic == "replicas" else template.replicas
        wanted = self._colour_deployment(app, colour, release, replicas)

        def change(current: dict[str, Any]) -> None:
            current["metadata"]["labels"] = wanted["metadata"]["labels"]
            current["metadata"]["annotations"] = wanted["metadata"]["annotations"]
            current["spec"] = wanted["spec"] | {"selector": current["spec"]["selector"]}  # selectors are immutable

        self._upsert("deployment", f"{app}-{colour}", wanted, change)
        self._point_service(f"{app}-preview", app, {COLOUR: colour})

    def stop(self, app: str, colour: str) -> None:
        if self._deployment(app, colour) is not None:
            self._scale(app, colour, 0, serving=False, weight=0)

    def running(self, app: str, colour: str) -> bool:
        deployment = self._deployment(app, colour)
        return deployment is not None and deployment["spec"].get("replicas", 1) > 0

    def health(self, app: str, colour: str) -> Health:
        return deployment_health(self._deployment(app, colour))

    def weights(self, app: str) -> dict[str, int]:
        if self.traffic == "replicas":
            weights = {}
            for colour in COLOURS:
                deployment = self._deployment(app, colour) or {"metadata": {}}
                weights[colour] = int((deployment["metadata"].get("annotations") or {}).get(WEIGHT, 0))
            return weights
        service = self._read("service", app)
        if service is None:
            raise RouterError(f"no Service {app} in {self.namespace} yet: nothing is routed")
        active = (service["spec"].get("selector") or {}).get(COLOUR)
        return {colour: 100 if colour == active else 0 for colour in COLOURS}

    def set_weights(self, app: str, weights: dict[str, int]) -> None:
        if self.traffic == "replicas":
            self._set_replica_ratio(app, weights)
            return
        active = [colour for colour, weight in weights.items() if weight == 100]
        if not active:
            raise InputError(f"traffic: selector switches all-or-nothing; cannot route {weights} (use replicas)")
        self._point_service(app, app, {COLOUR: active[0]})

    def alarm(self, app: str) -> str | None:
        return None  # analysis comes from the requests sampled at the app's address

    def preview_url(self, app: str, colour: str) -> str:
        return self._settings(app).preview_url

    def router_url(self, app: str) -> str:
        return self._settings(app).url

    # -- building blocks ---------------------------------------------------------------------------------------

    def _colour_deployment(self, app: str, colour: str, release: ReleaseView, replicas: int) -> dict[str, Any]:
        template = self._template(app)
        deployment = copy.deepcopy(template.deployment)
        labels = template.labels | {COLOUR: colour}
        pod = deployment["spec"]["template"]
        pod.setdefault("metadata", {})["labels"] = (pod["metadata"].get("labels") or {}) | labels
        if self.traffic == "replicas":
            pod["metadata"]["labels"][SERVING] = "false"
        containers = pod["spec"]["containers"]
        main = next((c for c in containers if c["name"] == app), containers[0])
        main["image"] = release.artifact
        own = {e["name"] for e in main.get("env", [])}
        main["env"] = [
            *main.get("env", []),
            *({"name": k, "value": v} for k, v in release_env(release).items() if k not in own),
        ]
        deployment["metadata"] = {
            "name": f"{app}-{colour}",
            "namespace": self.namespace,
            "labels": (deployment["metadata"].get("labels") or {}) | labels,
            "annotations": {"shipyard.io/version": release.version, "shipyard.io/sha": release.sha, WEIGHT: "0"},
        }
        deployment["spec"]["replicas"] = replicas
        deployment["spec"]["selector"] = {"matchLabels": labels}
        return deployment

    def _set_replica_ratio(self, app: str, weights: dict[str, int]) -> None:
        """N% of the template's replicas, rounded up, to the first colour named (the engine names the one gaining
        traffic first), the rest to the other; the shared Service selects every serving pod of both."""
        total = self._template(app).replicas
        first, *others = weights
        counts = {first: math.ceil(total * weights[first] / 100)}
        counts |= {colour: total - counts[first] for colour in others}
        self._point_service(app, app, {SERVING: "true"})
        for colour in sorted(counts, key=lambda c: -counts[c]):  # grow the larger first: capacity never dips
            if counts[colour] or self._deployment(app, colour) is not None:
                self._scale(app, colour, counts[colour], serving=counts[colour] > 0, weight=weights[colour])

    def _scale(self, app: str, colour: str, replicas: int, serving: bool, weight: int) -> None:
        def change(current: dict[str, Any]) -> None:
            current["spec"]["replicas"] = replicas
            current["metadata"].setdefault("annotations", {})[WEIGHT] = str(weight)
            if self.traffic == "replicas":
                current["spec"]["template"]["metadata"]["labels"][SERVING] = "true" if serving else "false"

        self._update("deployment", f"{app}-{colour}", change)

    def _point_service(self, name: str, app: str, selector: dict[str, str]) -> None:
        labels = self._template(app).labels
        wanted = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": self.namespace, "labels": dict(labels)},
            "spec": {"selector": labels | selector, "ports": self._template(app).ports},
        }

        def change(current: dict[str, Any]) -> None:
            current["spec"]["selector"] = labels | selector

        self._upsert("service", name, wanted, change)

    def _upsert(self, kind: str, name: str, wanted: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> None:
        if self._read(kind, name) is None:
            try:
                self._call(kind, "create", body=wanted)
                return
            except _Conflict:
                pass  # created meanwhile by another writer: update it instead
        self._update(kind, name, change)

    def _update(self, kind: str, name: str, change: Callable[[dict[str, Any]], None]) -> None:
        for _ in range(CONFLICT_RETRIES):
            current = self._read(kind, name)
            if current is None:
                raise ShipyardError(f"{kind} {self.namespace}/{name} disappeared while being updated")
            change(current)
            try:
                self._call(kind, "replace", name=name, body=current)
                return
            except _Conflict:
                continue  # someone else wrote it after our read: change the fresh object
        raise ShipyardError(f"{kind} {self.namespace}/{name}: still conflicting after {CONFLICT_RETRIES} attempts")

    def _deployment(self, app: str, colour: str) -> dict[str, Any] | None:
        return self._read("deployment", f"{app}-{colour}")

    def _read(self, kind: str, name: str) -> dict[str, Any] | None:
        try:
            return self._call(kind, "read", name=name)
        except _NotFound:
            return None

    def _call(self, kind: str, verb: str, **kwargs: Any) -> dict[str, Any]:
        api = self.apps_api if kind == "deployment" else self.core_api
        method = getattr(api, f"{verb}_namespaced_{kind}")
        try:
            result = method(namespace=self.namespace, **kwargs)
        except ApiException as exc:
            message = _status_message(exc)
            where = f"{verb} {kind} {self.namespace}/{kwargs.get('name', '')}".rstrip("/")
            if exc.status == 404:
                raise _NotFound(f"{where}: {message}") from None
            if exc.status == 409:
                raise _Conflict(f"{where}: {message}") from None
            raise ShipyardError(f"Kubernetes {where}: {exc.status} {message}") from None
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise ShipyardError(f"Kubernetes API unreachable ({verb} {kind}): {exc}") from None
        return dict(self.serialize(result))

    def _template(self, app: str) -> Manifest:
        self._settings(app)
        return self.templates[app]

    def _settings(self, app: str) -> KubernetesApp:
        try:
            return self.apps[app]
        except KeyError:
            raise InputError(f"{app} is not deployed to Kubernetes here: no target.apps.{app}") from None


def deployment_health(deployment: dict[str, Any] | None) -> Health:
    """Readiness from the Deployment's status, as `kubectl rollout status` reads it."""
    if deployment is None:
        return Health.UNKNOWN
    spec, status = deployment["spec"], deployment.get("status") or {}
    wanted = spec.get("replicas", 1)
    if wanted == 0:
        return Health.UNKNOWN
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return Health.UNHEALTHY
    current = status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
    ready = status.get("updatedReplicas", 0) >= wanted and status.get("readyReplicas", 0) >= wanted
    return Health.HEALTHY if current and ready else Health.UNKNOWN


class _NotFound(ShipyardError):
    pass


class _Conflict(ShipyardError):
    pass


def _status_message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body).get("message", exc.reason))
    except (TypeError, ValueError):
        return str(exc.reason)

"""A Kubernetes API server stand-in on 127.0.0.1 that implements exactly the calls the Kubernetes backend makes.

Deployments (apps/v1) and Services (v1) in any namespace: GET, POST (409 AlreadyExists), PUT (404 when missing,
409 Conflict when the body's resourceVersion is not the stored one, 422 when a Deployment's selector changes or does
not match its pod labels). PATCH, DELETE and anything else answer 405, so a backend that starts using them fails here
first. A bearer token is required (401 otherwise).

A tiny "controller" fills in Deployment status: once `ready_after` seconds have passed since a spec change, the
replicas are updated and ready, unless the pod template's image is in `never_ready`, in which case the Progressing
condition turns False with ProgressDeadlineExceeded. `conflict_once(kind, name)` makes the next PUT of that object
lose to another writer (its resourceVersion moves on just before), as a real concurrent update would.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.http_standin import Answer, serving

TOKEN = "stand-in-token"
_PATH = re.compile(r"^/(?:api/v1|apis/apps/v1)/namespaces/([^/]+)/(deployments|services)(?:/([^/?]+))?(?:\?.*)?$")


@dataclass
class KubeStandIn:
    ready_after: float = 0.2
    never_ready: set[str] = field(default_factory=set)
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    url: str = ""
    _version: int = 100
    _changed: dict[tuple[str, str, str], float] = field(default_factory=dict)
    _conflicts: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def conflict_once(self, kind: str, name: str) -> None:
        self._conflicts.add((kind, name))

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            stored = self.objects.get((kind, namespace, name))
            return self._with_status(kind, namespace, name, stored) if stored else None

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._log(method, path, _status(401, "Unauthorized", "no valid bearer token"))
        match = _PATH.match(path)
        if not match:
            return self._log(method, path, _status(404, "NotFound", f"the stand-in does not serve {path}"))
        namespace, plural, name = match.groups()
        kind = plural.rstrip("s")
        with self._lock:
            if method == "GET" and name:
                answer = self._read(kind, namespace, name)
            elif method == "POST" and not name:
                answer = self._create(kind, namespace, json.loads(body))
            elif method == "PUT" and name:
                answer = self._replace(kind, namespace, name, json.loads(body))
            else:
                answer = _status(405, "MethodNotAllowed", f"{method} {path} is not implemented by the stand-in")
        return self._log(method, path, answer)

    def _read(self, kind: str, namespace: str, name: str) -> Answer:
        stored = self.objects.get((kind, namespace, name))
        if stored is None:
            return _status(404, "NotFound", f'{kind}s "{name}" not found')
        return 200, self._with_status(kind, namespace, name, stored), {}

    def _create(self, kind: str, namespace: str, obj: dict[str, Any]) -> Answer:
        name = obj["metadata"]["name"]
        key = (kind, namespace, name)
        if key in self.objects:
            return _status(409, "AlreadyExists", f'{kind}s "{name}" already exists')
        invalid = _invalid(kind, obj, None)
        if invalid:
            return _status(422, "Invalid", invalid)
        obj["metadata"] |= {"namespace": namespace, "uid": f"uid-{self._bump()}", "generation": 1}
        obj["metadata"]["resourceVersion"] = str(self._version)
        obj.pop("status", None)
        self.objects[key] = obj
        self._changed[key] = time.monotonic()
        return 201, self._with_status(kind, namespace, name, obj), {}

    def _replace(self, kind: str, namespace: str, name: str, obj: dict[str, Any]) -> Answer:
        key = (kind, namespace, name)
        stored = self.objects.get(key)
        if stored is None:
            return _status(404, "NotFound", f'{kind}s "{name}" not found')
        if (kind, name) in self._conflicts:  # another writer got there first
            self._conflicts.discard((kind, name))
            stored["metadata"]["resourceVersion"] = str(self._bump())
        sent = obj["metadata"].get("resourceVersion")
        if sent is not None and sent != stored["metadata"]["resourceVersion"]:
            message = f'Operation cannot be fulfilled on {kind}s "{name}": the object has been modified; ' + (
                "please apply your changes to the latest version and try again"
            )
            return _status(409, "Conflict", message)
        invalid = _invalid(kind, obj, stored)
        if invalid:
            return _status(422, "Invalid", invalid)
        generation = stored["metadata"].get("generation", 1)
        if obj.get("spec") != stored.get("spec"):
            generation += 1
            self._changed[key] = time.monotonic()
        obj.pop("status", None)
        obj["metadata"] |= {
            "namespace": namespace,
            "uid": stored["metadata"]["uid"],
            "generation": generation,
            "resourceVersion": str(self._bump()),
        }
        self.objects[key] = obj
        return 200, self._with_status(kind, namespace, name, obj), {}

    def _with_status(self, kind: str, namespace: str, name: str, obj: dict[str, Any]) -> dict[str, Any]:
        shown = copy.deepcopy(obj)
        if kind != "deployment":
            return shown
        replicas = obj["spec"].get("replicas", 1)
        images = {c["image"] for c in obj["spec"]["template"]["spec"]["containers"]}
        settled = time.monotonic() - self._changed[(kind, namespace, name)] >= self.ready_after
        stuck = bool(images & self.never_ready)
        ready = replicas if settled and not stuck else 0
        condition = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
        if stuck and settled:
            condition = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
        shown["status"] = {
            "observedGeneration": obj["metadata"]["generation"] if settled else obj["metadata"]["generation"] - 1,
            "replicas": replicas,
            "updatedReplicas": replicas if settled else 0,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [condition],
        }
        return shown

    def _bump(self) -> int:
        self._version += 1
        return self._version

    def _log(self, method: str, path: str, answer: Answer) -> Answer:
        self.requests.append((method, path.split("?")[0], answer[0]))
        return answer


def _invalid(kind: str, obj: dict[str, Any], stored: dict[str, Any] | None) -> str:
    if kind != "deployment":
        return ""
    selector = obj["spec"]["selector"]["matchLabels"]
    labels = obj["spec"]["template"]["metadata"].get("labels") or {}
    if not selector.items() <= labels.items():
        return "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`"
    if stored is not None and stored["spec"]["selector"] != obj["spec"]["selector"]:
        return "spec.selector: Invalid value: field is immutable"
    return ""


def _status(code: int, reason: str, message: str) -> Answer:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason}
    return code, body | {"code": code}, {}


@contextmanager
def kube_standin(tmp_path: Path, **settings: Any) -> Iterator[tuple[KubeStandIn, Path]]:
    """The stand-in serving, and a kubeconfig (context `standin`) that points the official client at it."""
    standin = KubeStandIn(**settings)
    with serving(standin.handle) as url:
        standin.url = url
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "standin", "cluster": {"server": url}}],
                    "users": [{"name": "shipyard", "user": {"token": TOKEN}}],
                    "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "shipyard"}}],
                    "current-context": "standin",
                }
            )
        )
        yield standin, kubeconfig

"""A registry and its token server on 127.0.0.1, over TLS, answering like a real one (distribution's token
authentication, as ghcr.io, Docker Hub and Harbor do it): every call needs a bearer token whose scope covers it
(`repository:NAME:pull` to read, `:delete` to delete), a call without one gets 401 with a `WWW-Authenticate: Bearer`
challenge naming the realm, service and scope; the token server wants the account's Basic credentials and grants
only the scopes asked for. Basic credentials sent to the registry itself are refused, and recorded."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.http_standin import Answer, serving

SERVICE = "standin-registry"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


@dataclass
class RegistryStandIn:
    username: str
    password: str
    realm: str = ""  # the token server's URL, told to clients in the challenge
    address: str = ""  # host:port of the registry
    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # repository → tag → digest
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)  # digest → manifest
    registry_auth: list[str] = field(default_factory=list)  # every Authorization header the registry received
    token_auth: list[str] = field(default_factory=list)  # and the token server
    granted: dict[str, set[str]] = field(default_factory=dict)  # token → scopes
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_image(self, repository: str, tag: str, layer_sizes: list[int], config_size: int = 1000) -> str:
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"size": config_size, "digest": "sha256:" + "c" * 64},
            "layers": [{"size": size, "digest": f"sha256:{i:064x}"} for i, size in enumerate(layer_sizes)],
        }
        digest = "sha256:" + hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
        self.manifests[digest] = manifest
        self.tags.setdefault(repository, {})[tag] = digest
        return digest

    def registry(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        with self.lock:
            self.registry_auth.append(headers.get("Authorization") or "")
            repository, kind, reference = _parse(urlsplit(path).path)
            if path == "/v2/" or repository is None:
                return self._authorised(headers, None, "") or (200, {}, {})
            action = "delete" if method == "DELETE" else "pull"
            refused = self._authorised(headers, repository, action)
            if refused:
                return refused
            known = self.tags.get(repository)
            if kind == "tags" and method == "GET":
                if known is None:
                    return 404, {"errors": [{"code": "NAME_UNKNOWN"}]}, {}
                return 200, {"name": repository, "tags": sorted(known)}, {}
            if kind == "manifests" and known is not None:
                digest = reference if reference.startswith("sha256:") else known.get(reference, "")
                if digest not in self.manifests or digest not in known.values():
                    return 404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]}, {}
                if method == "GET":
                    extra = {"Docker-Content-Digest": digest, "X-Media-Type": MANIFEST_TYPE}
                    return 200, self.manifests[digest], extra
                if method == "DELETE":
                    if not reference.startswith("sha256:"):
                        return 400, {"errors": [{"code": "UNSUPPORTED", "message": "delete by digest"}]}, {}
                    self.tags[repository] = {t: d for t, d in known.items() if d != digest}
                    return 202, {}, {}
            return 404, {"errors": [{"code": "NAME_UNKNOWN"}]}, {}

    def _authorised(self, headers: Any, repository: str | None, action: str) -> Answer | None:
        given = headers.get("Authorization") or ""
        scope = f"repository:{repository}:{action}" if repository else ""
        if given.startswith("Bearer ") and (repository is None or scope in self.granted.get(given[7:], set())):
            return None
        challenge = f'Bearer realm="{self.realm}",service="{SERVICE}"' + (f',scope="{scope}"' if scope else "")
        errors = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
        return 401, errors, {"WWW-Authenticate": challenge}

    def token(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        with self.lock:
            given = headers.get("Authorization") or ""
            self.token_auth.append(given)
            expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            if given != expected:
                return 401, {"details": "incorrect username or password"}, {"WWW-Authenticate": 'Basic realm="token"'}
            query = parse_qs(urlsplit(path).query)
            if query.get("service") != [SERVICE]:
                return 400, {"details": "unknown service"}, {}
            token = secrets.token_urlsafe(16)
            self.granted[token] = set(query.get("scope", []))
            return 200, {"token": token, "expires_in": 300}, {}


def _parse(path: str) -> tuple[str | None, str, str]:
    inner = path.removeprefix("/v2/")
    for kind in ("tags", "manifests"):
        repository, marker, rest = inner.partition(f"/{kind}/")
        if marker:
            return repository, kind, rest
    return None, "", ""


@contextmanager
def registry_standin(
    username: str, password: str, tls: ssl.SSLContext, realm: str | None = None
) -> Iterator[RegistryStandIn]:
    """Registry and token server, both on TLS; `realm` overrides the token URL the challenge names."""
    standin = RegistryStandIn(username, password)
    with ExitStack() as stack:
        token_url = stack.enter_context(serving(standin.token, tls))
        standin.realm = realm or f"{token_url}/token"
        standin.address = stack.enter_context(serving(standin.registry, tls)).removeprefix("https://")
        yield standin

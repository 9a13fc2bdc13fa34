"""The registry's HTTP API (Docker Registry v2 / OCI distribution): tags, manifests, sizes, deletes."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from shipyard import tls
from shipyard.errors import ShipyardError

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    )
)


class RegistryError(ShipyardError):
    pass


@dataclass(frozen=True)
class Manifest:
    digest: str
    compressed_bytes: int  # layers plus config, as they travel and are stored


class RegistryClient:
    def __init__(self, registry: str, username: str | None = None, password: str | None = None) -> None:
        auth = (username, password) if username and password is not None else None
        self._http = httpx.Client(base_url=f"http://{registry}", auth=auth, timeout=30, verify=tls.context())

    def tags(self, name: str) -> list[str]:
        response = self._get(f"/v2/{name}/tags/list")
        if response.status_code == 404:
            return []
        return sorted(response.json().get("tags") or [])

    def manifest(self, name: str, reference: str) -> Manifest | None:
        response = self._get(f"/v2/{name}/manifests/{reference}", headers={"Accept": MANIFEST_TYPES})
        if response.status_code == 404:
            return None
        body = response.json()
        size = sum(layer["size"] for layer in body.get("layers", [])) + body.get("config", {}).get("size", 0)
        return Manifest(response.headers["Docker-Content-Digest"], size)

    def delete(self, name: str, digest: str) -> None:
        response = self._http.delete(f"/v2/{name}/manifests/{digest}")
        if response.status_code not in (202, 404):
            raise RegistryError(f"registry refused to delete {name}@{digest}: {response.status_code} {response.text}")

    def _get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        try:
            response = self._http.get(path, headers=headers)
        except httpx.HTTPError as exc:
            raise RegistryError(f"registry not reachable: {type(exc).__name__}: {exc}") from None
        if response.status_code not in (200, 404):
            raise RegistryError(f"registry answered {response.status_code} to GET {path}: {response.text[:200]}")
        return response

    def close(self) -> None:
        self._http.close()

"""The registry's HTTP API (Docker Registry v2 / OCI distribution): tags, manifests, sizes, deletes.

Registries as they are: HTTPS (a registry on this machine's loopback may speak plain HTTP, as Docker allows), and
credentials only when the registry asks for them: a `WWW-Authenticate: Bearer` challenge is answered with a token
from its realm (the distribution token flow of ghcr.io, Docker Hub, ECR, Harbor), a `Basic` one with the password.
Credentials never travel over plain HTTP beyond the loopback.
"""

from __future__ import annotations

import base64
import ipaddress
import ssl
from collections.abc import Generator
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


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def may_carry_credentials(url: httpx.URL) -> bool:
    """HTTPS anywhere; plain HTTP only on this machine's loopback, where nothing travels on a network."""
    return url.scheme == "https" or (url.scheme == "http" and is_loopback(url.host))


def challenge(header: str) -> tuple[str, dict[str, str]]:
    """('bearer', {realm, service, scope}) from a WWW-Authenticate header (RFC 7235 auth-params, quoted or not)."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    while rest:
        key, _, rest = rest.strip().lstrip(",").strip().partition("=")
        if rest.startswith('"'):
            value, _, rest = rest[1:].partition('"')
        else:
            value, _, rest = rest.partition(",")
        if key:
            params[key.strip().lower()] = value.strip()
    return scheme.lower(), params


class ChallengeAuth(httpx.Auth):
    """Sends nothing until challenged; then a token from the Bearer realm (kept per scope, and reused for the
    next requests of the same repository), or Basic where the registry asks for it."""

    requires_response_body = True

    def __init__(self, username: str | None, password: str | None) -> None:
        self._credentials = (username, password) if username and password is not None else None
        self._token: dict[str, str] = {}  # repository → the last token that opened it

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        repository = _repository(request.url.path)
        if repository in self._token:
            request.headers["Authorization"] = f"Bearer {self._token[repository]}"
        response = yield request
        if response.status_code != 401:
            return
        scheme, params = challenge(response.headers.get("WWW-Authenticate", ""))
        if scheme == "bearer":
            token = yield from self._fetch_token(params)
            self._token[repository] = token
            request.headers["Authorization"] = f"Bearer {token}"
        elif scheme == "basic" and self._credentials is not None:
            self._refuse_plain_http(request.url, "the registry")
            request.headers["Authorization"] = _basic(*self._credentials)
        else:
            return
        yield request

    def _fetch_token(self, params: dict[str, str]) -> Generator[httpx.Request, httpx.Response, str]:
        realm = params.get("realm")
        if not realm:
            raise RegistryError("the registry asked for a bearer token but named no realm to get it from")
        query = {"service": params.get("service"), "scope": params.get("scope", "").split()}
        url = httpx.URL(realm).copy_merge_params({key: value for key, value in query.items() if value})
        headers = {}
        if self._credentials is not None:
            self._refuse_plain_http(url, "the token realm")
            headers["Authorization"] = _basic(*self._credentials)
        answer = yield httpx.Request("GET", url, headers=headers)
        if answer.status_code != 200:
            raise RegistryError(f"the token realm {url.host} refused a token: {answer.status_code} {answer.text[:200]}")
        try:
            body = answer.json()
            token = body.get("token") or body.get("access_token")
        except ValueError:
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"the token realm {url.host} answered without a token")
        return token

    def _refuse_plain_http(self, url: httpx.URL, what: str) -> None:
        if not may_carry_credentials(url):
            raise RegistryError(
                f"{what} at {url.scheme}://{url.host} is plain HTTP beyond this machine: the registry credentials "
                "are sent only over HTTPS (or to a loopback address)"
            )


class RegistryClient:
    def __init__(
        self,
        registry: str,
        username: str | None = None,
        password: str | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        """registry: host[:port]. HTTPS, except that a loopback registry not speaking TLS is spoken to in plain
        HTTP (Docker's rule for localhost)."""
        self._registry = registry
        self._fallback = is_loopback(registry.partition(":")[0])
        self._http = httpx.Client(
            base_url=f"https://{registry}",
            auth=ChallengeAuth(username, password),
            timeout=30,
            verify=verify or tls.context(),
        )

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
        response = self._send("DELETE", f"/v2/{name}/manifests/{digest}")
        if response.status_code not in (202, 404):
            raise RegistryError(f"registry refused to delete {name}@{digest}: {response.status_code} {response.text}")

    def _get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        response = self._send("GET", path, headers)
        if response.status_code not in (200, 404):
            raise RegistryError(f"registry answered {response.status_code} to GET {path}: {response.text[:200]}")
        return response

    def _send(self, method: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        try:
            try:
                return self._http.request(method, path, headers=headers)
            except httpx.ConnectError as exc:
                if not (self._fallback and _tls_failed(exc)):
                    raise
            self._fallback = False  # a loopback registry without TLS: plain HTTP from now on
            self._http.base_url = httpx.URL(f"http://{self._registry}")
            return self._http.request(method, path, headers=headers)
        except httpx.HTTPError as exc:
            raise RegistryError(f"registry not reachable: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        self._http.close()


def _basic(username: str | None, password: str | None) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _tls_failed(exc: BaseException) -> bool:
    """The server does not speak TLS (it answered the handshake in plain HTTP), as opposed to nothing listening or a
    certificate that does not verify (never a reason to drop to plain HTTP)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return not isinstance(seen, ssl.SSLCertVerificationError)
        seen = seen.__cause__ or seen.__context__
    return False


def _repository(path: str) -> str:
    """'platform/api' from /v2/platform/api/tags/list or /v2/platform/api/manifests/<ref>."""
    inner = path.removeprefix("/v2/")
    for marker in ("/tags/", "/manifests/", "/blobs/"):
        if marker in inner:
            return inner.split(marker, 1)[0]
    return inner

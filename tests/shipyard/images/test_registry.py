"""The registry client against registries as they are: TLS, the bearer token flow, credentials only where they are
asked for and never over plain HTTP beyond the loopback."""

from __future__ import annotations

import base64
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard.images.registry import RegistryClient, RegistryError, challenge, may_carry_credentials
from tests.support.certificates import LocalCA, make_ca
from tests.support.http_standin import Answer, serving
from tests.support.registry_standin import RegistryStandIn, registry_standin

USER, PASSWORD = "ci-bot", "registry-password-0123"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def registry(ca: LocalCA) -> Iterator[RegistryStandIn]:
    with registry_standin(USER, PASSWORD, ca.server_context()) as standin:
        yield standin


def client(registry: RegistryStandIn, ca: LocalCA, password: str = PASSWORD) -> RegistryClient:
    return RegistryClient(registry.address, USER, password, verify=ca.client_context())


def test_tags_a_manifest_and_a_delete_go_through_the_token_flow(registry: RegistryStandIn, ca: LocalCA) -> None:
    digest = registry.add_image("platform/api", "sha-0123456789ab", [3000, 500])
    registry.add_image("platform/api", "v1.4.2", [10])
    registry_client = client(registry, ca)
    assert registry_client.tags("platform/api") == ["sha-0123456789ab", "v1.4.2"]
    manifest = registry_client.manifest("platform/api", "sha-0123456789ab")
    assert manifest is not None and (manifest.digest, manifest.compressed_bytes) == (digest, 4500)
    registry_client.delete("platform/api", digest)
    assert registry_client.tags("platform/api") == ["v1.4.2"]
    assert registry_client.tags("platform/web") == []
    registry_client.close()
    assert all(not auth.startswith("Basic") for auth in registry.registry_auth)  # the password never went there
    assert registry.registry_auth[0] == ""  # nothing before the registry asked
    assert any(auth.startswith("Bearer ") for auth in registry.registry_auth)
    assert registry.token_auth and set(registry.token_auth) == {BASIC}  # the realm alone got the account
    scopes = set().union(*registry.granted.values())
    assert scopes == {"repository:platform/api:pull", "repository:platform/api:delete", "repository:platform/web:pull"}


def test_a_token_is_reused_for_the_same_repository(registry: RegistryStandIn, ca: LocalCA) -> None:
    registry.add_image("platform/api", "a", [1])
    registry_client = client(registry, ca)
    for _ in range(3):
        assert registry_client.tags("platform/api") == ["a"]
    assert len(registry.token_auth) == 1 and len(registry.registry_auth) == 4  # one challenge, then the token


def test_a_wrong_password_is_the_token_realms_refusal_by_name(registry: RegistryStandIn, ca: LocalCA) -> None:
    with pytest.raises(RegistryError, match=r"the token realm 127.0.0.1 refused a token: 401"):
        client(registry, ca, password="wrong").tags("platform/api")


def test_a_registry_whose_certificate_is_not_trusted_is_not_spoken_to(registry: RegistryStandIn) -> None:
    untrusting = RegistryClient(registry.address, USER, PASSWORD, verify=ssl.create_default_context())
    with pytest.raises(RegistryError, match=r"registry not reachable: ConnectError.*CERTIFICATE_VERIFY_FAILED"):
        untrusting.tags("platform/api")
    assert registry.token_auth == []


def test_a_plain_http_token_realm_beyond_the_loopback_gets_no_credentials(ca: LocalCA) -> None:
    """The challenge comes from the registry, so a registry (or whoever answers for it) picks where the password
    goes: to a plain-HTTP realm elsewhere, it is refused before anything is sent there."""
    realm = "http://auth.registry.invalid/token"
    with registry_standin(USER, PASSWORD, ca.server_context(), realm=realm) as registry:
        with pytest.raises(RegistryError, match=r"the token realm at http://auth.registry.invalid is plain HTTP"):
            client(registry, ca).tags("platform/api")
        assert registry.token_auth == []


def test_credentials_wait_for_the_registry_to_ask_and_go_as_basic_only_where_it_asks(tmp_path: Path) -> None:
    """A plain-HTTP registry on the loopback (Debian's docker-registry with htpasswd): the first request carries
    nothing; Basic follows its Basic challenge. A listener received the password on its first GET before."""
    seen: list[str] = []

    def htpasswd_registry(method: str, path: str, headers: Any, body: bytes) -> Answer:
        seen.append(headers.get("Authorization") or "")
        if headers.get("Authorization") != BASIC:
            return 401, {"errors": [{"code": "UNAUTHORIZED"}]}, {"WWW-Authenticate": 'Basic realm="Registry Realm"'}
        return 200, {"name": "platform/api", "tags": ["x"]}, {}

    with serving(htpasswd_registry) as url:
        assert RegistryClient(url.removeprefix("http://"), USER, PASSWORD).tags("platform/api") == ["x"]
    assert seen == ["", BASIC]


def test_a_loopback_registry_without_tls_falls_back_to_http_but_a_refused_port_does_not(tmp_path: Path) -> None:
    with serving(lambda *_: (200, {"name": "a", "tags": ["t"]}, {})) as url:
        assert RegistryClient(url.removeprefix("http://")).tags("a") == ["t"]
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(RegistryError, match="registry not reachable: ConnectError"):
        RegistryClient(f"127.0.0.1:{port}").tags("a")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://ghcr.io/token", True),
        ("https://registry.example.com:5000/v2/", True),
        ("http://registry.example.com:5000/v2/", False),
        ("http://10.0.0.5/token", False),
        ("http://127.0.0.1:5000/v2/", True),
        ("http://127.8.0.1/token", True),
        ("http://localhost:5000/v2/", True),
        ("http://[::1]:5000/v2/", True),
        ("http://localhost.example.com/token", False),
        ("ftp://127.0.0.1/x", False),
    ],
)
def test_credentials_travel_over_https_or_on_the_loopback_only(url: str, allowed: bool) -> None:
    assert may_carry_credentials(httpx.URL(url)) is allowed


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        (
            'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/a:pull"',
            ("bearer", {"realm": "https://ghcr.io/token", "service": "ghcr.io", "scope": "repository:o/a:pull"}),
        ),
        (
            'Bearer realm="https://auth.docker.io/token", service="registry.docker.io", '
            'scope="repository:library/x:pull,push"',
            (
                "bearer",
                {
                    "realm": "https://auth.docker.io/token",
                    "service": "registry.docker.io",
                    "scope": "repository:library/x:pull,push",
                },
            ),
        ),
        ('Basic realm="Registry Realm"', ("basic", {"realm": "Registry Realm"})),
        ("Basic realm=unquoted", ("basic", {"realm": "unquoted"})),
        ("", ("", {})),
    ],
)
def test_challenges_are_read_as_registries_write_them(header: str, parsed: tuple[str, dict[str, str]]) -> None:
    assert challenge(header) == parsed

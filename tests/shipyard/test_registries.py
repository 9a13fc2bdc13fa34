from pathlib import Path

import pytest

from shipyard.registries import npm_settings, pip_settings, without_credentials


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://user:s3cret@pkgs.example/simple", "https://pkgs.example/simple"),
        ("https://token@pkgs.example:8443/simple/", "https://pkgs.example:8443/simple/"),
        ("https://pkgs.example/simple", "https://pkgs.example/simple"),
        ("file:///opt/pypi/simple", "file:///opt/pypi/simple"),
        ("/opt/wheels", "/opt/wheels"),
    ],
)
def test_credentials_leave_urls(url: str, clean: str) -> None:
    assert without_credentials(url) == clean


def test_pip_settings_come_from_the_files_and_the_environment_without_passwords(tmp_path: Path) -> None:
    system, user = tmp_path / "pip.conf", tmp_path / "user.conf"
    system.write_text("[global]\nindex-url = https://ci:pw1@mirror.example/simple\ntimeout = 60\n")
    user.write_text("[global]\nfind-links = /opt/wheels\nextra-index-url = file:///opt/a https://u:pw2@b.example/s\n")
    env = {"PIP_TRUSTED_HOST": "b.example", "PIP_DEFAULT_TIMEOUT": "180", "PIP_PASSWORD": "pw3"}
    assert pip_settings([system, user, tmp_path / "missing.conf"], env) == {
        "PIP_INDEX_URL": "https://mirror.example/simple",
        "PIP_FIND_LINKS": "/opt/wheels",
        "PIP_EXTRA_INDEX_URL": "file:///opt/a https://b.example/s",
        "PIP_TRUSTED_HOST": "b.example",
    }


def test_npm_settings_keep_registries_and_drop_every_auth_key(tmp_path: Path) -> None:
    npmrc = tmp_path / ".npmrc"
    npmrc.write_text(
        "registry=https://npm.example/\n"
        "@acme:registry=https://acme.example/npm/\n"
        "//npm.example/:_authToken=npm_TOKEN123\n"
        "_auth=dXNlcjpwYXNz\n"
        "cafile=/etc/ssl/certs/ca-certificates.crt\n"
        "fund=false\n"
    )
    env = {"NPM_CONFIG_STRICT_SSL": "true", "npm_config__authToken": "npm_TOKEN456"}
    settings = npm_settings([npmrc], env)
    assert settings == {
        "npm_config_registry": "https://npm.example/",
        "npm_config_@acme:registry": "https://acme.example/npm/",
        "npm_config_cafile": "/etc/ssl/certs/ca-certificates.crt",
        "npm_config_strict-ssl": "true",
    }
    assert "TOKEN" not in repr(settings)

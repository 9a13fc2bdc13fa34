"""Where installs find packages, as a sandbox's environment carries it: the index and registry settings of this
machine's pip and npm configuration and environment, without a credential in them.

A sandbox starts from an empty environment and sees no home folder, so the machine's pip.conf and .npmrc would be
lost with it; these settings are read here, outside, and passed in as PIP_* and npm_config_* variables. Userinfo in
URLs (`https://user:token@host/`) is dropped, and so is every npm auth key: a repository's install scripts see
where the registries are, never how the pipeline logs in to them.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PIP_KEYS = ("index-url", "extra-index-url", "find-links", "trusted-host", "cert", "no-index")
NPM_KEYS = ("registry", "cafile", "strict-ssl")


def without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def pip_settings(files: Iterable[Path], env: Mapping[str, str]) -> dict[str, str]:
    """PIP_* variables for the keys pip would use from its config files (later files win) and environment."""
    parser = configparser.ConfigParser(interpolation=None)
    settings: dict[str, str] = {}
    for path in files:
        try:
            parser.read_string(path.read_text())
        except (OSError, configparser.Error):
            continue
        for section in ("global", "install"):
            if parser.has_section(section):
                settings |= {k: v for k, v in parser.items(section) if k in PIP_KEYS}
    settings |= {k: env[_pip_var(k)] for k in PIP_KEYS if _pip_var(k) in env}
    return {_pip_var(k): " ".join(without_credentials(u) for u in v.split()) for k, v in settings.items()}


def npm_settings(files: Iterable[Path], env: Mapping[str, str]) -> dict[str, str]:
    """npm_config_* variables for the registry keys of .npmrc files (later files win) and the environment; auth
    keys (`_auth`, `_authToken`, `_password`, `username`, `//host/:...`) never pass."""
    settings: dict[str, str] = {}
    for path in files:
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            key, _, value = line.partition("=")
            key, value = key.strip(), value.strip().strip('"')
            if key in NPM_KEYS or (key.startswith("@") and key.endswith(":registry")):
                settings[key] = value
    for name, value in env.items():
        key = name.lower().removeprefix("npm_config_").replace("_", "-")
        if name.lower().startswith("npm_config_") and key in NPM_KEYS:
            settings[key] = value
    return {f"npm_config_{k}": without_credentials(v) for k, v in settings.items()}


def machine_settings() -> dict[str, str]:
    """This machine's settings, from the files pip and npm read for the user running the pipeline."""
    home, env = Path.home(), os.environ
    pip_files = [Path("/etc/pip.conf"), home / ".pip" / "pip.conf", home / ".config" / "pip" / "pip.conf"]
    if "PIP_CONFIG_FILE" in env:
        pip_files.append(Path(env["PIP_CONFIG_FILE"]))
    npm_files = [Path("/etc/npmrc"), home / ".npmrc"]
    if "NPM_CONFIG_USERCONFIG" in env:
        npm_files.append(Path(env["NPM_CONFIG_USERCONFIG"]))
    return pip_settings(pip_files, env) | npm_settings(npm_files, env)


def _pip_var(key: str) -> str:
    return "PIP_" + key.upper().replace("-", "_")

"""Approvers with real SSH keys (ssh-keygen), and a policy drafted from a test's shipyard.yaml, for the tests that
deploy: the policy is what the deploy flows trust, never the repository's file."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipyard.config.load import parse_config
from shipyard.ledger import Ledger
from shipyard.policy.draft import draft


def make_keys(folder: Path, *names: str) -> dict[str, Path]:
    """An ed25519 key pair per name (no passphrase); returns the private key files."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = {}
    for name in names:
        key = folder / name
        if not key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@test", "-f", str(key)],
                           check=True, capture_output=True, timeout=30)  # fmt: skip
        keys[name] = key
    return keys


def public_key(private: Path) -> str:
    return private.with_name(private.name + ".pub").read_text().strip()


def policy_for(
    config_text: str,
    repository: str,
    keys: Mapping[str, Path] | None = None,
    identities: Mapping[str, list[str]] | None = None,
    logins: Mapping[str, str] | None = None,
    **environment_overrides: dict[str, Any],
) -> dict[str, Any]:
    """The policy an operator would draft from this shipyard.yaml, with these approvers' public keys, git
    identities and GitHub logins."""
    public = {name: [public_key(path)] for name, path in (keys or {}).items()}
    document = draft(parse_config(config_text, "shipyard.yaml"), repository, public, identities)
    for name, login in (logins or {}).items():
        document["approvers"][name]["github"] = login
    for name, overrides in environment_overrides.items():
        document["environments"][name] |= overrides
    return document


def set_policy(home: Path, document: dict[str, Any], reason: str = "the test's policy") -> int:
    """Record the policy in the home's SQLite ledger (what `shipyard policy apply` does)."""
    ledger = Ledger(f"sqlite:///{home / 'ledger.db'}")
    try:
        ledger.migrate()
        return ledger.set_policy(document, "tests", reason).version
    finally:
        ledger.close()

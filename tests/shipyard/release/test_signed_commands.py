"""Signed operator commands and rollbacks: honoured only for the environment's approvers, for exactly the command,
environment and app signed, within 5 minutes, once. Real ssh-keygen keys, a SQLite ledger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipyard.errors import InputError
from shipyard.ledger import Ledger
from shipyard.policy import Policy
from shipyard.release.signed import CommandRefused, SignedCommand, sign_command, signer_of
from tests.capabilities import require_tools
from tests.support.approvers import make_keys, public_key

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    require_tools("ssh-keygen")
    return make_keys(tmp_path_factory.mktemp("keys"), "alice", "bob", "mallory")


def policy(keys: dict[str, Path]) -> Policy:
    """alice approves production; bob only staging."""
    return Policy.model_validate(
        {
            "repository": "https://github.com/example/platform.git",
            "approvers": {name: {"keys": [public_key(keys[name])]} for name in ("alice", "bob")},
            "environments": {
                "production": {"target": {"backend": "local"}, "approval": True, "approvers": ["alice"]},
                "staging": {"target": {"backend": "local"}, "approvers": ["bob"]},
            },
        }
    )


def test_an_approver_of_the_environment_is_the_one_recorded(keys: dict[str, Path], ledger: Ledger) -> None:
    signed = sign_command("production", "api", "abort", "5xx at 10%", keys["alice"], now=NOW)
    assert signer_of(ledger, policy(keys), signed, "production", "api", "abort", NOW) == "alice"


def resign(keys: dict[str, Path]) -> Callable[[SignedCommand], SignedCommand]:
    """The attacker signs the same command with their own key."""
    return lambda s: sign_command(s.environment, s.app, s.command, s.reason, keys["mallory"], now=NOW)


@pytest.mark.parametrize(
    ("attack", "tamper", "refusal"),
    [
        ("signed by someone the policy does not list", lambda keys: resign(keys),
         "signature refused: no principal"),
        ("an approver of staging only", lambda keys: lambda s: sign_command(
            "production", "api", "abort", "why", keys["bob"], now=NOW), "signature refused"),
        ("production written over a command signed for staging",
         lambda keys: lambda s: replace(sign_command("staging", "api", "abort", "why", keys["bob"], now=NOW),
                                        environment="production"), "signature refused"),
        ("promote-full written over a signed pause", lambda keys: lambda s: replace(
            sign_command("production", "api", "pause", "why", keys["alice"], now=NOW), command="promote-full"),
         "signature refused"),
        ("another reason written over the signed one", lambda keys: lambda s: replace(s, reason="all fine"),
         "signature refused"),
        ("an earlier version written into a signed rollback", lambda keys: lambda s: replace(s, to_version="0.1"),
         "signature refused"),
        ("a command signed an hour ago", lambda keys: lambda s: sign_command(
            "production", "api", "abort", "why", keys["alice"], now=NOW - timedelta(hours=1)),
         "it is honoured within 0:05:00"),
        ("a time without its zone", lambda keys: lambda s: replace(s, at="2026-12-02T12:00:00"), "at: the command"),
        ("no signature at all", lambda keys: lambda s: replace(s, signature=""), "signature"),
    ],
)  # fmt: skip
def test_a_command_nobody_may_give_is_refused_and_spends_nothing(
    keys: dict[str, Path], ledger: Ledger, attack: str,
    tamper: Callable[[dict[str, Path]], Callable[[SignedCommand], SignedCommand]], refusal: str,
) -> None:  # fmt: skip
    """As the deployments take it: environment, app and command from the signed command itself."""
    honest = sign_command("production", "api", "abort", "5xx at 10%", keys["alice"], now=NOW)
    forged = tamper(keys)(honest)
    with pytest.raises(InputError, match=refusal):
        signer_of(ledger, policy(keys), forged, forged.environment, forged.app, forged.command, NOW)
    assert signer_of(ledger, policy(keys), honest, "production", "api", "abort", NOW) == "alice", attack


def test_a_signed_command_is_honoured_once(keys: dict[str, Path], ledger: Ledger) -> None:
    signed = sign_command("production", "api", "rollback", "bad 1.2", keys["alice"], "1.0", NOW)
    assert signer_of(ledger, policy(keys), signed, "production", "api", "rollback", NOW) == "alice"
    with pytest.raises(InputError, match="this signed command was used before"):
        signer_of(ledger, policy(keys), signed, "production", "api", "rollback", NOW + timedelta(seconds=30))


def test_a_command_signed_for_another_app_is_not_honoured_for_this_one(keys: dict[str, Path], ledger: Ledger) -> None:
    signed = sign_command("production", "web", "abort", "why", keys["alice"], now=NOW)
    with pytest.raises(CommandRefused, match="app: the signed command says 'web', not 'api'"):
        signer_of(ledger, policy(keys), signed, "production", "api", "abort", NOW)


def test_a_refusal_is_a_command_refused(keys: dict[str, Path], ledger: Ledger) -> None:
    signed = sign_command("production", "api", "abort", "why", keys["mallory"], now=NOW)
    with pytest.raises(CommandRefused):
        signer_of(ledger, policy(keys), signed, "production", "api", "abort", NOW)


def test_a_command_is_honoured_only_for_the_release_it_was_signed_for(keys: dict[str, Path], ledger: Ledger) -> None:
    """A rollback signed while 1.3 served, replayed after 1.3 is gone (a cancelled run's parameters), would roll
    1.2 back too: refused, and its nonce is not spent."""
    older = ledger.start_release("production", "api", "1.2", "b" * 40, "img:1.2", "blue", "ci")
    newer = ledger.start_release("production", "api", "1.3", "c" * 40, "img:1.3", "green", "ci")
    signed = sign_command("production", "api", "rollback", "5xx", keys["alice"], now=NOW, release=newer)
    with pytest.raises(CommandRefused, match=rf"signed for release #{newer.id}; it would act on release #{older.id}"):
        signer_of(ledger, policy(keys), signed, "production", "api", "rollback", NOW, release=older)
    with pytest.raises(CommandRefused, match="it would act on no release now"):
        signer_of(ledger, policy(keys), signed, "production", "api", "rollback", NOW)
    assert signer_of(ledger, policy(keys), signed, "production", "api", "rollback", NOW, release=newer) == "alice"

"""SSH signatures with the real ssh-keygen: keys made for the test session, an ssh-agent of the test's own."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shipyard import runner, signatures
from shipyard.errors import InputError
from shipyard.signatures import (
    ANSWER_NAMESPACE,
    CODE_NAMESPACE,
    SignatureRefused,
    Signer,
    allowed_signers,
    canonical,
    refusal,
    sign,
    verify,
)

ANSWER = {"flow_run_id": "run-1", "decision": "approve", "sha": "a" * 40, "nonce": "n-1"}


def keypair(folder: Path, name: str) -> Path:
    """A private key file without passphrase; its public half is next to it as NAME.pub."""
    key = folder / name
    runner.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@laptop", "-f", str(key)], check=True)
    return key


def public(key: Path) -> str:
    return key.with_suffix(".pub").read_text().strip()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    return {name: keypair(folder, name) for name in ("alice", "bob", "mallory")}


@pytest.fixture(scope="module")
def signers(keys: dict[str, Path]) -> list[Signer]:
    return [Signer("alice", public(keys["alice"])), Signer("bob@example.com", public(keys["bob"]))]


@pytest.fixture(scope="module")
def signed(keys: dict[str, Path]) -> str:
    return sign(canonical(ANSWER), ANSWER_NAMESPACE, keys["alice"])


def test_a_signature_verifies_to_its_signers_principal(keys: dict[str, Path], signers: list[Signer]) -> None:
    data = canonical(ANSWER)
    assert verify(data, sign(data, ANSWER_NAMESPACE, keys["alice"]), ANSWER_NAMESPACE, signers) == "alice"
    assert verify(data, sign(data, CODE_NAMESPACE, keys["bob"]), CODE_NAMESPACE, signers) == "bob@example.com"


def _tampered(signature: str) -> str:
    """One character of the signature bytes changed: inside the armored body's last line, clear of its padding
    (the character before "==" has bits a decoder must find zero, so changing it would read as malformed)."""
    lines = signature.strip().splitlines()
    last = lines[-2]
    lines[-2] = last[:10] + ("A" if last[10] != "A" else "B") + last[11:]
    return "\n".join(lines) + "\n"


GARBAGE = f"{signatures.BEGIN}\nAAAAAAAA\n{signatures.END}\n"
Change = Callable[[bytes, str, list[Signer]], tuple[bytes, str, str, list[Signer]]]
REFUSALS: list[tuple[str, Change, str]] = [
    ("key of nobody listed", lambda d, s, who: (d, s, ANSWER_NAMESPACE, who[1:]), "no principal for this key"),
    ("one byte of data changed", lambda d, s, who: (d[:-1] + b"!", s, ANSWER_NAMESPACE, who), "bad signature"),
    ("another namespace", lambda d, s, who: (d, s, CODE_NAMESPACE, who), "wrong namespace"),
    ("signature tampered", lambda d, s, who: (d, _tampered(s), ANSWER_NAMESPACE, who), "bad signature"),
    ("garbage in armor", lambda d, s, who: (d, GARBAGE, ANSWER_NAMESPACE, who), "malformed signature"),
]


@pytest.mark.parametrize(("case", "change", "why"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_signature_that_proves_nothing_is_refused_saying_why(
    case: str, change: Change, why: str, signed: str, signers: list[Signer]
) -> None:
    data, signature, namespace, listed = change(canonical(ANSWER), signed, signers)
    with pytest.raises(SignatureRefused, match=why):
        verify(data, signature, namespace, listed)


def test_a_key_that_is_nobodys_is_refused(keys: dict[str, Path], signers: list[Signer]) -> None:
    data = canonical(ANSWER)
    with pytest.raises(SignatureRefused, match="no principal for this key"):
        verify(data, sign(data, ANSWER_NAMESPACE, keys["mallory"]), ANSWER_NAMESPACE, signers)


@pytest.mark.parametrize(
    ("signature", "why"),
    [
        ("x" * (signatures.MAX_SIGNATURE_BYTES + 1), "larger than 16384 bytes"),
        (f"{signatures.BEGIN}\n" + "A" * 70 * 240 + f"\n{signatures.END}\n", "larger than"),
        ("not a signature", "not an armored SSH signature"),
        (f"{signatures.BEGIN}\n{signatures.END}\n", "not an armored"),
        (f"{signatures.BEGIN}\nAAAA\n-----END SSH SIGNATURE-----x\n", "not an armored"),
        (f"{signatures.BEGIN}\nAA AA\n{signatures.END}\n", "not an armored"),
        (f"{signatures.BEGIN}\nAAAA\n{signatures.END}\n\x00", "not an armored"),
    ],
)
def test_an_oversized_or_unarmored_signature_is_refused_before_anything_runs(
    signature: str, why: str, signers: list[Signer], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_run(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("ran a command")

    monkeypatch.setattr(signatures, "run", no_run)
    with pytest.raises(SignatureRefused, match=why):
        verify(b"data", signature, ANSWER_NAMESPACE, signers)


def test_no_allowed_signers_verifies_nobody(signed: str) -> None:
    with pytest.raises(SignatureRefused, match="no allowed signers"):
        verify(canonical(ANSWER), signed, ANSWER_NAMESPACE, [])


def test_the_ssh_agent_signs_for_a_public_key_file(
    keys: dict[str, Path], tmp_path: Path, signers: list[Signer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An approver's key often lives only in their agent: ssh-keygen signs with it when -f names the .pub."""
    socket = tmp_path / "agent.sock"
    agent = runner.spawn(["ssh-agent", "-D", "-a", str(socket)], log=tmp_path / "agent.log")
    try:
        deadline = time.monotonic() + 10
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(socket))
        runner.run(["ssh-add", str(keys["alice"])], check=True, timeout=30)
        only_public = tmp_path / "alice.pub"  # no private key beside it: the agent must do the signing
        only_public.write_text(public(keys["alice"]) + "\n")
        data = canonical(ANSWER)
        signature = sign(data, ANSWER_NAMESPACE, only_public)
        assert verify(data, signature, ANSWER_NAMESPACE, signers) == "alice"
    finally:
        runner.stop(agent, "ssh-agent", grace=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.log", "alice.pub"]  # no alice.pub.sig


def test_signing_without_the_private_key_fails_saying_so(
    keys: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    only_public = tmp_path / "alice.pub"
    only_public.write_text(public(keys["alice"]) + "\n")
    with pytest.raises(runner.CommandError, match=f"signing with {only_public}"):
        sign(b"data", ANSWER_NAMESPACE, only_public)


def test_temporary_files_are_private_and_gone_afterwards(
    keys: dict[str, Path], signers: list[Signer], own_tmpdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folders: dict[Path, int] = {}
    real_run = runner.run

    def spy(argv: list[str], **kwargs: Any) -> runner.CommandResult:
        for arg in [*argv, kwargs.get("stdin")]:
            if arg is not None and Path(arg).parent.parent == own_tmpdir:
                folders[Path(arg).parent] = Path(arg).parent.stat().st_mode & 0o777
        return real_run(argv, **kwargs)

    monkeypatch.setattr(signatures, "run", spy)
    before = sorted(keys["alice"].parent.iterdir())
    data = canonical(ANSWER)
    verify(data, sign(data, ANSWER_NAMESPACE, keys["alice"]), ANSWER_NAMESPACE, signers)
    assert len(folders) == 2 and set(folders.values()) == {0o700}  # one for sign(), one for verify()
    assert list(own_tmpdir.iterdir()) == []
    assert sorted(keys["alice"].parent.iterdir()) == before  # no alice.sig


def test_a_missing_ssh_keygen_is_a_missing_tool(
    signed: str, signers: list[Signer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(runner.ToolNotFound, match="ssh-keygen: not found on PATH"):
        verify(canonical(ANSWER), signed, ANSWER_NAMESPACE, signers)


def test_allowed_signers_lists_each_key_once_without_comments(signers: list[Signer]) -> None:
    alice, bob = signers
    text = allowed_signers([alice, bob, alice])
    assert text.splitlines() == [
        f"alice {' '.join(alice.key.split()[:2])}",
        f"bob@example.com {' '.join(bob.key.split()[:2])}",
    ]
    assert "@laptop" not in text
    assert allowed_signers([]) == ""


def _key_of(blob_type: str, outer: str) -> str:
    import base64

    name = blob_type.encode()
    return f"{outer} {base64.b64encode(len(name).to_bytes(4, 'big') + name + b'x' * 32).decode()}"


GOOD_KEY = _key_of("ssh-ed25519", "ssh-ed25519")


@pytest.mark.parametrize(
    ("signer", "why"),
    [
        (Signer("", GOOD_KEY), "principal '' must be a plain name"),
        (Signer("alice smith", GOOD_KEY), "principal 'alice smith'"),
        (Signer("alice,bob", GOOD_KEY), "principal 'alice,bob'"),
        (Signer('"alice"', GOOD_KEY), "principal '\"alice\"'"),
        (Signer("*", GOOD_KEY), r"principal '\*'"),
        (Signer("-I", GOOD_KEY), "principal '-I'"),
        (Signer("#alice", GOOD_KEY), "principal '#alice'"),
        (Signer("a" * 201, GOOD_KEY), "at most 200 characters"),
        (Signer("alice", ""), "the key of alice is not a public key line"),
        (Signer("alice", "ssh-ed25519"), "the key of alice"),
        (Signer("alice", "AAAAC3NzaC1lZDI1NTE5AAAAI"), "the key of alice"),
        (Signer("alice", "ssh-ed25519 not!base64"), "the key of alice"),
        (Signer("alice", _key_of("ssh-rsa", "ssh-ed25519")), "the key of alice"),  # says one type, is another
        (Signer("alice", "ssh-dss " + _key_of("ssh-dss", "ssh-dss").split()[1]), "the key of alice"),
        (Signer("alice", f"cert-authority {GOOD_KEY}"), "the key of alice"),
        (Signer("alice", "ssh-ed25519 " + _key_of("ssh-ed25519", "x").split()[1][:12]), "the key of alice"),
    ],
)
def test_allowed_signers_refuses_what_would_not_name_one_person(signer: Signer, why: str) -> None:
    with pytest.raises(InputError, match=why):
        allowed_signers([signer])


def test_one_key_for_two_principals_is_ambiguous(signers: list[Signer]) -> None:
    alice = signers[0]
    with pytest.raises(InputError, match="the key of carol is listed for alice too"):
        allowed_signers([alice, Signer("carol", alice.key.replace("alice@laptop", "carol@laptop"))])


NAMESPACE = "Couldn't verify signature: namespace does not match"
INCORRECT = "Signature verification failed: incorrect signature"
UNPARSED = "Couldn't parse signature: missing header"
GENERIC = "Could not verify signature."


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (f"{NAMESPACE}\n{GENERIC}\n", f"signed for another purpose (wrong namespace) (ssh-keygen: {NAMESPACE})"),
        (f"{INCORRECT}\n{GENERIC}\n", f"bad signature: the data is not what was signed (ssh-keygen: {INCORRECT})"),
        (f"{UNPARSED}\nNo principal matched.\n", f"malformed signature (ssh-keygen: {UNPARSED})"),
        ("No principal matched.\n", "no principal for this key (ssh-keygen: No principal matched.)"),
        ("something new\nand its last line\n", "not verified (ssh-keygen: and its last line)"),
        ("", "not verified"),
    ],
)
def test_refusal_names_the_reason_and_the_line_that_says_it(stderr: str, expected: str) -> None:
    assert refusal(stderr, "not verified") == expected


def test_canonical_is_the_same_whatever_the_key_order() -> None:
    one = {"b": 1, "a": {"y": [1, 2], "x": "é"}}
    other = {"a": {"x": "é", "y": [1, 2]}, "b": 1}
    assert canonical(one) == canonical(other) == '{"a":{"x":"é","y":[1,2]},"b":1}'.encode()

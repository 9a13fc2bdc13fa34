"""SSH signatures, the mechanism git uses for signed commits: how an approver proves who they are.

An approver signs the canonical JSON of an answer with their own SSH key (a key file, or a key held by their
ssh-agent); Shipyard verifies it against the allowed signers its policy lists. ssh-keygen does the cryptography:
it is on every machine that has git's signing, and writing our own would be the riskiest code in the project.

A namespace says what a signature is for, so one made for one purpose never counts for another: an approval
answer, a request for a one-time code, or a git commit ("git") are three different statements.
"""

from __future__ import annotations

import base64
import binascii
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shipyard.digests import canonical as canonical
from shipyard.errors import InputError, ShipyardError
from shipyard.runner import CommandError, CommandResult, run

ANSWER_NAMESPACE = "shipyard-approval"  # an approval answer
CODE_NAMESPACE = "shipyard-approval-code"  # a request for a one-time UI code
TIMEOUT = 30.0
MAX_SIGNATURE_BYTES = 16 * 1024  # an ed25519 signature is ~300 bytes, an RSA-4096 one ~1,000
BEGIN, END = "-----BEGIN SSH SIGNATURE-----", "-----END SSH SIGNATURE-----"
# Plain public keys only: a certificate authority or a key with options would widen who can sign.
KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "sk-ssh-ed25519@openssh.com",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "ssh-rsa",
    }
)
# allowed_signers reads its first field as comma-separated patterns (* ? and ! are pattern characters, quotes
# group, # starts a comment): a principal is a plain name or address, so it names exactly one person.
_PRINCIPAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}")
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/=]+")
# What ssh-keygen says, in the order to look for it, and what it means for the person reading the refusal.
_REASONS = (
    ("Couldn't parse", "malformed signature"),
    ("invalid format", "malformed signature"),
    ("incomplete message", "malformed signature"),
    ("namespace does not match", "signed for another purpose (wrong namespace)"),
    ("incorrect signature", "bad signature: the data is not what was signed"),
    ("No principal matched", "no principal for this key"),
)


class SignatureRefused(ShipyardError):
    """A signature that proves nothing: no principal for its key, a bad signature, another namespace, malformed."""


@dataclass(frozen=True)
class Signer:
    principal: str
    key: str  # one public key line, "ssh-ed25519 AAAA... comment"


def allowed_signers(signers: Iterable[Signer]) -> str:
    """The text of an allowed_signers file (ssh-keygen's ALLOWED SIGNERS format), one line a signer, comments
    dropped. A key listed for two principals is refused: the signature would not say which of them signed."""
    owners: dict[str, str] = {}
    lines: dict[str, None] = {}  # ordered, and a signer listed twice is one line
    for signer in signers:
        principal = _principal(signer.principal)
        key = _public_key(signer)
        owner = owners.setdefault(key, principal)
        if owner != principal:
            raise InputError(f"allowed signers: the key of {principal} is listed for {owner} too; one key, one person")
        lines[f"{principal} {key}\n"] = None
    return "".join(lines)


def sign(data: bytes, namespace: str, key: Path) -> str:
    """An armored signature of data. key is a private key file, or a public key file whose private half is in the
    ssh-agent SSH_AUTH_SOCK names. The data goes in and the signature comes out through ssh-keygen's standard
    streams, so no FILE.sig is written anywhere."""
    with _private_folder() as folder:
        message = folder / "message"
        message.write_bytes(data)
        argv = ["ssh-keygen", "-Y", "sign", "-f", str(key), "-n", namespace]
        signature = run(argv, stdin=message, timeout=TIMEOUT, check=True, what=f"signing with {key}").stdout
    _check_armor(signature)
    return signature


def verify(data: bytes, signature: str, namespace: str, signers: Sequence[Signer]) -> str:
    """The principal whose key made this signature of data for namespace; SignatureRefused if there is none.

    Two steps, because verifying needs a principal to check against: find-principals names the one the signature's
    key belongs to, then verify confirms that this principal's key signed exactly this data for this namespace.
    """
    _check_armor(signature)
    listed = allowed_signers(signers)
    if not listed:
        raise SignatureRefused("no allowed signers: nobody can be verified")
    with _private_folder() as folder:
        message, sig, allowed = folder / "message", folder / "message.sig", folder / "allowed_signers"
        message.write_bytes(data)
        sig.write_text(signature)
        allowed.write_text(listed)
        found = _ssh_keygen(["-Y", "find-principals", "-s", str(sig), "-f", str(allowed)])
        principals = found.stdout.split()
        if not found.ok or not principals:
            raise SignatureRefused(refusal(found.stderr, "no principal for this key"))
        if len(principals) > 1:  # allowed_signers() lists a key once, so this is a changed ssh-keygen
            raise SignatureRefused(f"the key belongs to several principals: {', '.join(principals)}")
        principal = principals[0]
        confirm = ["-Y", "verify", "-f", str(allowed), "-I", principal, "-n", namespace, "-s", str(sig)]
        checked = _ssh_keygen(confirm, stdin=message)
        if not checked.ok:
            raise SignatureRefused(refusal(checked.stderr, "not verified"))
    return principal


def refusal(stderr: str, otherwise: str) -> str:
    """Why ssh-keygen refused, in words for the approver, with the line of its own that says so for whoever
    debugs it (ssh-keygen's last line is often a generic "Could not verify signature.")."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    found = next(((why, line) for needle, why in _REASONS for line in lines if needle in line), None)
    reason, line = found or (otherwise, lines[-1] if lines else "")
    return f"{reason} (ssh-keygen: {line})" if line else reason


def _ssh_keygen(args: list[str], stdin: Path | None = None) -> CommandResult:
    """A refusal is an exit code; a timeout is not a verdict on the signature, so it is the runner's error."""
    result = run(["ssh-keygen", *args], stdin=stdin, timeout=TIMEOUT)
    if result.timed_out:
        raise CommandError(result, "checking a signature")
    return result


def _check_armor(signature: str) -> None:
    """Bounded and shaped like an armored SSH signature, before anything is written or run."""
    if len(signature.encode()) > MAX_SIGNATURE_BYTES:
        raise SignatureRefused(f"malformed signature: larger than {MAX_SIGNATURE_BYTES} bytes")
    lines = signature.strip().splitlines()
    body = lines[1:-1]
    if len(lines) < 3 or (lines[0], lines[-1]) != (BEGIN, END) or not all(_BASE64_LINE.fullmatch(b) for b in body):
        raise SignatureRefused(f"malformed signature: not an armored SSH signature ({BEGIN} ... {END})")


def _principal(principal: str) -> str:
    if not _PRINCIPAL.fullmatch(principal):
        raise InputError(
            f"allowed signers: principal {principal!r} must be a plain name or address (letters, digits, . _ @ + -;"
            " no spaces, commas, quotes or wildcards; at most 200 characters)"
        )
    return principal


def _public_key(signer: Signer) -> str:
    """'<type> <base64>' of a public key line, its comment dropped; the type named outside must be the one the
    key's own bytes name, so a line cannot pass for another kind of key."""
    parts = signer.key.split()
    if len(parts) >= 2 and parts[0] in KEY_TYPES and _key_type(parts[1]) == parts[0]:
        return f"{parts[0]} {parts[1]}"
    raise InputError(
        f"allowed signers: the key of {signer.principal} is not a public key line '<type> <base64> [comment]'"
        f" of a type in {', '.join(sorted(KEY_TYPES))}"
    )


def _key_type(blob: str) -> str | None:
    """The type a public key's wire encoding starts with (a length-prefixed string), None if it is not one."""
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return None
    length = int.from_bytes(raw[:4], "big")
    name = raw[4 : 4 + length]
    return name.decode("ascii", errors="replace") if len(raw) > 4 + length and len(name) == length else None


@contextmanager
def _private_folder() -> Iterator[Path]:
    """A folder only this user can read (mkdtemp makes it 0700), gone afterwards with everything in it."""
    with tempfile.TemporaryDirectory(prefix="shipyard-sig-") as folder:
        yield Path(folder)

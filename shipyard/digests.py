"""The one way Shipyard turns a document into bytes and bytes into a digest, so that what an approver signs, what
the ledger records and what a later check recomputes agree byte for byte."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping


def canonical(payload: Mapping[str, object]) -> bytes:
    """The payload as JSON with sorted keys and no spaces: the same document always gives the same bytes, whatever
    order its keys were built in. NaN and infinities are refused (they are not JSON; another parser reads them
    differently or not at all)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sha256(data: bytes) -> str:
    """'sha256:<hex>', the form the ledger keeps digests in (artifacts, policies, codes)."""
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def document_digest(document: Mapping[str, object]) -> str:
    return sha256(canonical(document))


def code_hash(code: str) -> str:
    """What the ledger keeps of a one-time code: never the code itself, so reading the database does not hand out
    codes. The hash is unkeyed, so a code needs the entropy to resist guessing against it (secrets.token_urlsafe,
    not six digits). Surrounding white space is dropped: a pasted code often brings a newline."""
    return sha256(code.strip().encode())

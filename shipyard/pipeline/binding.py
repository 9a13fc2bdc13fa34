"""An approval is bound to what ships: when a run asks, the ledger records the digest of each app's artifact and of
its packaged folder (the migrations run from it); a signed answer covers those digests; after the approval the
cutover refuses anything whose digest differs from the record. A suspended run re-reads what it prepared from a
flow-run input, which any Prefect API user can replace: the ledger's record is the one trusted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shipyard.pipeline.prepared import Prepared
from shipyard.release.artifact import image_digest


@dataclass(frozen=True)
class Bound:
    """What the ledger recorded when the run asked for approval (the REQUESTED decision's details)."""

    artifacts: dict[str, str]  # app -> digest of what ships (the image's, or the packaged folder's)
    folders: dict[str, str]  # app -> digest of its packaged folder, migrations included
    policy_version: int

    @classmethod
    def of(cls, prepared: Prepared, policy_version: int) -> Bound:
        folders = {app: folder.digest for app, folder in prepared.folders.items()}
        return cls(dict(prepared.digests), folders, policy_version)

    def details(self) -> dict[str, Any]:
        return {"artifacts": self.artifacts, "folders": self.folders, "policy_version": self.policy_version}

    @classmethod
    def from_details(cls, details: dict[str, Any]) -> Bound:
        return cls(dict(details["artifacts"]), dict(details["folders"]), int(details["policy_version"]))


def answer_payload(
    run_id: str,
    environment: str,
    sha: str,
    bound: Bound,
    decision: str,
    reason: str,
    ticket: str | None,
    steps: list[int] | None,
) -> dict[str, object]:
    """What a signed answer covers: the run, what it ships (digests) and everything the approver decided."""
    return {
        "run": run_id,
        "environment": environment,
        "sha": sha,
        "artifacts": bound.artifacts,
        "folders": bound.folders,
        "decision": decision,
        "reason": reason,
        "ticket": ticket,
        "steps": steps,
    }


def mismatch(bound: Bound, prepared: Prepared) -> str:
    """Why what this run would ship is not what was approved; "" when it is."""
    problems = []
    for app in sorted(set(bound.artifacts) | set(prepared.artifacts)):
        recorded, digest = bound.artifacts.get(app), prepared.digests.get(app)
        folder = prepared.folders.get(app)
        artifact = prepared.artifacts.get(app, "")
        if recorded is None or digest != recorded:
            problems.append(f"{app}: artifact digest {digest} differs from the approved {recorded}")
        elif folder is None or folder.digest != bound.folders.get(app):
            found = folder.digest if folder else None
            problems.append(f"{app}: packaged folder {found} differs from the approved {bound.folders.get(app)}")
        elif artifact != folder.path and image_digest(artifact) != recorded:
            problems.append(f"{app}: {artifact} is not pinned by the approved digest {recorded}")
    return f"what would ship is not what was approved ({'; '.join(problems)})" if problems else ""

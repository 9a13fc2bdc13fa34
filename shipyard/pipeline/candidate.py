"""What a deploy run is about to ship, as shown to approvers and in notifications."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Candidate:
    project: str
    environment: str
    version: str
    sha: str
    branch: str
    author: str  # "Name <email>"
    apps: tuple[str, ...]
    run_url: str | None = None
    checks: str = ""  # the checks' headline
    changes: str = ""  # commits and files since the release serving now
    image_sizes: dict[str, str] = field(default_factory=dict)  # app -> "35.6 MB of 40 MB"

    @property
    def title(self) -> str:
        version = f"{self.version} " if self.version else ""
        return f"{self.project} {version}({self.sha[:12]}) to {self.environment}"

    def describe(self, approvers: list[str], timeout_hours: float, command: str, so_far: str = "") -> str:
        """Markdown for the approval form: what would ship, what passed, who may decide, how to decide elsewhere."""
        lines = [
            f"## Approve {self.title}?",
            "",
            "| | |",
            "|---|---|",
            f"| version | {self.version} |",
            f"| commit | `{self.sha}` on `{self.branch}` by {self.author} |",
            f"| apps | {', '.join(self.apps) or '-'} |",
            f"| changes | {self.changes or '-'} |",
            f"| checks | {self.checks or '-'} |",
        ]
        lines += [f"| image {app} | {size} |" for app, size in sorted(self.image_sizes.items())]
        lines += [
            "",
            f"**{so_far or 'Approvals'}.** Approvers: {', '.join(approvers)}. Who made the change may not approve "
            "it unless the policy allows it.",
            "An answer counts only with proof of who gave it: here, your name and a one-time code from "
            f"`shipyard approvals code RUN_ID --key ~/.ssh/id_ed25519`; a name without a code is recorded as "
            f"unverified. Without a decision within {timeout_hours:g} h the release is rejected.",
            "",
            f"From a terminal, signed with your SSH key: `{command}`",
        ]
        return "\n".join(lines)

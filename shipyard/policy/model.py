"""The policy: what each environment is (target, credentials, database), who approves releases to it and how they
prove it, and which branches may deploy there. It lives in the ledger, versioned, and changes only through
`shipyard policy apply` (who and why recorded), like GitHub's environment settings that live outside the repository:
the commit being deployed cannot change it."""

from __future__ import annotations

import fnmatch
import re

from pydantic import Field, field_validator, model_validator

from shipyard.config.base import Strict
from shipyard.config.targets import Target
from shipyard.errors import InputError
from shipyard.signatures import Signer

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")  # an allowed_signers principal: no spaces, commas or quotes
KEY = re.compile(
    r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/=]+( \S.*)?"
)


class PolicyRefused(InputError):
    """The policy does not allow what was asked (an environment it lacks, a branch it does not allow, ...)."""


class Approver(Strict):
    keys: list[str] = Field(
        min_length=1,
        description="SSH public keys ('ssh-ed25519 AAAA... comment') whose signatures are this person's: signed "
        "answers from `shipyard approve` and requests for one-time UI codes.",
    )
    git: list[str] = Field(
        default_factory=list,
        description="Git author and committer emails (or names) that are this person: a commit by any of them is "
        "their own change.",
    )
    github: str | None = Field(None, description="GitHub login: a pull request opened or merged by it is theirs.")

    @field_validator("keys")
    @classmethod
    def _keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not KEY.fullmatch(key.strip()):
                raise ValueError(f"{key[:40]!r} is not an SSH public key line ('ssh-ed25519 AAAA... comment')")
        return [key.strip() for key in keys]


class EnvironmentPolicy(Strict):
    target: Target = Field(description="Where releases of this environment run (the repository cannot move it).")
    other_targets: list[Target] = Field(default_factory=list, description="Further targets (`--target <backend>`).")
    database_url_env: str | None = Field(
        None, description="Environment variable of the workers holding this environment's database URL."
    )
    branches: list[str] = Field(
        default_factory=list,
        description="Branches (fnmatch patterns) whose commits may deploy here; a deploy from any other is refused "
        "before any work. Empty: any branch.",
    )
    approval: bool = Field(False, description="Suspend for approvals before anything touches the environment.")
    approvers: list[str] = Field(default_factory=list, description="Who may approve: names from `approvers`.")
    required_approvals: int = Field(1, ge=1, description="Distinct verified approvers a release needs.")
    allow_self_approval: bool = Field(False, description="May the commit's author or committer approve it.")
    approval_timeout_hours: float = Field(24, gt=0, description="An approval not given by then is a rejection.")
    require_verified: bool = Field(
        True,
        description="An answer counts only with a verified identity (an SSH signature, or a one-time code fetched "
        "with one); a typed name is recorded as unverified. Off only for trials.",
    )
    approval_code_minutes: float = Field(
        15, gt=0, le=24 * 60, description="How long a one-time code for the UI form stays valid (it works once)."
    )
    min_steps: int = Field(
        1, ge=1, description="Fewest traffic steps a release may take here (the repository's or an approver's plan)."
    )

    @model_validator(mode="after")
    def _enough_approvers(self) -> EnvironmentPolicy:
        if self.approval and len(set(self.approvers)) < self.required_approvals:
            raise ValueError(
                f"required_approvals is {self.required_approvals} but {len(set(self.approvers))} approver(s) are listed"
            )
        return self

    def allows(self, branch: str) -> bool:
        return not self.branches or any(fnmatch.fnmatchcase(branch, pattern) for pattern in self.branches)

    def targets(self) -> list[Target]:
        return [self.target, *self.other_targets]


class Policy(Strict):
    repository: str = Field(
        min_length=1,
        description="The repository releases come from, as deliveries name it (its clone URL): a deploy of any "
        "other is refused, or anyone who can start a flow run could release their own repository's main.",
    )
    approvers: dict[str, Approver] = Field(default_factory=dict, description="People who approve, by name.")
    environments: dict[str, EnvironmentPolicy] = Field(
        default_factory=dict, description="Each environment Shipyard may deploy to, by name."
    )

    @field_validator("approvers")
    @classmethod
    def _names(cls, approvers: dict[str, Approver]) -> dict[str, Approver]:
        for name in approvers:
            if not NAME.fullmatch(name):
                raise ValueError(f"approver name {name!r}: letters, digits and . _ @ - only")
        owners: dict[str, str] = {}
        for name, approver in approvers.items():
            for key in approver.keys:
                material = " ".join(key.split()[:2])
                if owners.setdefault(material, name) != name:
                    raise ValueError(f"one key is listed for both {owners[material]} and {name}")
        return approvers

    @model_validator(mode="after")
    def _known_approvers(self) -> Policy:
        for env_name, environment in self.environments.items():
            unknown = [a for a in environment.approvers if a not in self.approvers]
            if unknown:
                raise ValueError(f"environments.{env_name}.approvers: {', '.join(unknown)} not under approvers")
        return self

    def signers(self, names: list[str]) -> list[Signer]:
        """The allowed signers among these approvers: each of their keys, under their name."""
        return [Signer(name, key) for name in names for key in self.approvers[name].keys]

    def environment(self, name: str) -> EnvironmentPolicy:
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments)) or "(none)"
            raise PolicyRefused(
                f"environment {name!r} is not in the policy (it has: {known}); an operator adds it with "
                "`shipyard policy apply`"
            ) from None

"""What a deploy run prepared before its approval gate: the checks' verdict, what each app ships, and what the
approvers are shown. A suspended run re-runs from the top on resume and finds it again (stored as JSON)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shipyard.release.package import ReleaseFolder


class Prepared(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    checks: str = Field(description="The checks' headline.")
    artifacts: dict[str, str] = Field(description="App -> what ships: image@digest, or the packaged folder.")
    digests: dict[str, str] = Field(description="App -> the digest of what ships (the image's, or the folder's).")
    folders: dict[str, ReleaseFolder] = Field(
        description="App -> its packaged folder at the commit and its digest (migrations run from it)."
    )
    image_sizes: dict[str, str] = Field(default_factory=dict, description="App -> '35.6 MB of 40 MB'.")
    version: str
    changes: str = Field(description="Commits and files since the release serving now.")
    author_name: str
    author_email: str

    @property
    def author(self) -> str:
        return f"{self.author_name} <{self.author_email}>"

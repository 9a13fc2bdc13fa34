"""One model for what every scanner finds, whatever its own output looks like."""

from __future__ import annotations

import re
from dataclasses import dataclass

SEVERITIES = ("info", "low", "medium", "high", "critical")

# How each tool spells its levels, mapped onto ours.
_ALIASES = {
    "error": "high",
    "warning": "medium",
    "style": "low",
    "note": "low",
    "unknown": "medium",
    "moderate": "medium",
}


def severity(value: str | None, default: str = "medium") -> str:
    """A tool's severity word in our five levels; unknown or missing gives the default."""
    word = (value or "").strip().lower()
    word = _ALIASES.get(word, word)
    return word if word in SEVERITIES else default


def at_least(value: str, threshold: str) -> bool:
    return SEVERITIES.index(value) >= SEVERITIES.index(threshold)


@dataclass(frozen=True)
class Finding:
    tool: str
    rule: str
    severity: str
    file: str
    line: int | None
    message: str
    allowed: str | None = None  # the allow-list reason, when the finding is accepted

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def describe(self) -> str:
        return f"{self.rule} {self.message} ({self.where}, {self.severity})"


_QUOTED = re.compile(r"""(['"])[^'"\s]{4,}\1""")


def mask_literals(message: str) -> str:
    """Some tools quote the secret they found in their message; it must not reach our reports."""
    return _QUOTED.sub(r"\1***\1", message)

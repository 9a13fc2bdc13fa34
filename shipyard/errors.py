"""The one error base: every failure Shipyard reports to a user is a ShipyardError."""

from __future__ import annotations


class ShipyardError(Exception):
    """A failure with a message meant for the person running Shipyard."""

    exit_code = 1


class InputError(ShipyardError):
    """The user gave us something we cannot use (bad config, unknown SHA, missing repo)."""

    exit_code = 2

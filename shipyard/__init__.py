"""Shipyard: CI/CD as Prefect flows. This package is the core and holds no Prefect imports."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    __version__: str


def __getattr__(name: str) -> str:
    """`__version__` read from the installed metadata when asked for: every command imports this package, and
    importlib.metadata is not free."""
    if name != "__version__":
        raise AttributeError(f"module 'shipyard' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("shipyard")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"

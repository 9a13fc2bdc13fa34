"""The pipeline config (shipyard.yaml): its schema, and loading it with every problem named by file, line and key.

The names below are loaded when first used, so a module that needs one part (the policy needs `base` and `targets`)
does not pay for the whole schema."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipyard.config.apps import App
    from shipyard.config.checks import Check
    from shipyard.config.load import CONFIG_FILE, ConfigError, ConfigIssue, load_config, parse_config
    from shipyard.config.schema import PipelineConfig

__all__ = ["CONFIG_FILE", "App", "Check", "ConfigError", "ConfigIssue", "PipelineConfig", "load_config", "parse_config"]

_HOME = {"App": "apps", "Check": "checks", "PipelineConfig": "schema"}  # the rest live in load


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'shipyard.config' has no attribute {name!r}")
    return getattr(importlib.import_module(f"shipyard.config.{_HOME.get(name, 'load')}"), name)

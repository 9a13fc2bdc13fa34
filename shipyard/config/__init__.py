from shipyard.config.apps import App
from shipyard.config.checks import Check
from shipyard.config.load import CONFIG_FILE, ConfigError, ConfigIssue, load_config, parse_config
from shipyard.config.schema import PipelineConfig

__all__ = ["CONFIG_FILE", "App", "Check", "ConfigError", "ConfigIssue", "PipelineConfig", "load_config", "parse_config"]

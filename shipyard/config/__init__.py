from shipyard.config.load import CONFIG_FILE, ConfigError, ConfigIssue, load_config, parse_config
from shipyard.config.schema import App, Check, PipelineConfig

__all__ = ["CONFIG_FILE", "App", "Check", "ConfigError", "ConfigIssue", "PipelineConfig", "load_config", "parse_config"]

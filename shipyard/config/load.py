"""Read and validate `shipyard.yaml`; every problem names the file, the line, the key path and what was expected."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from shipyard.config.schema import PipelineConfig
from shipyard.errors import InputError

CONFIG_FILE = "shipyard.yaml"
M = TypeVar("M", bound=BaseModel)

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "date_from_datetime_parsing": "a date like 2027-03-31",
    "date_parsing": "a date like 2027-03-31",
    "date_type": "a date like 2027-03-31",
}

_BOUNDS = {
    "greater_than": "a value > {gt}",
    "greater_than_equal": "a value >= {ge}",
    "less_than": "a value < {lt}",
    "less_than_equal": "a value <= {le}",
    "too_short": "at least {min_length} item(s)",
    "string_too_short": "a non-empty string",
    "string_pattern_mismatch": "text matching {pattern}",
}


@dataclass(frozen=True)
class ConfigIssue:
    path: str
    message: str
    line: int | None = None


class ConfigError(InputError):
    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        super().__init__("\n".join(self.lines()))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[str, list[ConfigIssue]]]:
        return (ConfigError, (self.source, self.issues))

    def lines(self) -> list[str]:
        return [
            f"{self.source}{f':{i.line}' if i.line else ''}: {i.path or '(top level)'}: {i.message}"
            for i in self.issues
        ]


def load_config(path: Path) -> PipelineConfig:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), [ConfigIssue("", f"cannot read the file: {exc.strerror}")]) from None
    return parse_config(text, str(path))


def parse_config(text: str, source: str) -> PipelineConfig:
    config, root = parse_model(text, source, PipelineConfig)
    problems = [ConfigIssue(p, m, _line(root, _keys(p))) for p, m in cross_reference_problems(config)]
    if problems:
        raise ConfigError(source, problems)
    return config


def parse_model(text: str, source: str, model: type[M]) -> tuple[M, yaml.Node | None]:
    """Any YAML file of ours (shipyard.yaml, the policy) validated by its model, every problem located."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise ConfigError(source, [ConfigIssue("", f"invalid YAML: {getattr(exc, 'problem', exc)}", line)]) from None
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigIssue("", "expected a mapping of settings at the top of the file")])
    repeated = list(_repeated_keys(root, ""))
    if repeated:
        raise ConfigError(source, repeated)  # YAML would silently keep the last one
    try:
        return model.model_validate(data), root
    except ValidationError as exc:
        issues = [_issue(error, data, root, model) for error in exc.errors()]
        raise ConfigError(source, issues) from None


def _repeated_keys(node: yaml.Node | None, path: str) -> Iterator[ConfigIssue]:
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            child = f"{path}.{name}" if path else name
            if name in first:
                yield ConfigIssue(child, f"key repeated (first on line {first[name]})", key.start_mark.line + 1)
            first.setdefault(name, key.start_mark.line + 1)
            yield from _repeated_keys(value, child)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _repeated_keys(item, f"{path}[{index}]")


def cross_reference_problems(config: PipelineConfig) -> Iterator[tuple[str, str]]:
    """Names used in one place that must be defined in another."""
    for env_name, env in config.environments.items():
        for index, target in enumerate(env.targets()):
            where = f"environments.{env_name}." + ("target" if index == 0 else f"other_targets[{index - 1}]")
            key = "ports" if target.backend == "local" else "apps"
            for app in target.placed():
                if app not in config.apps:
                    yield f"{where}.{key}.{app}", f"unknown app {app!r}; apps are: {_names(config.apps)}"
    for app in config.images.apps:
        if app not in config.apps:
            yield f"images.apps.{app}", f"unknown app {app!r}; apps are: {_names(config.apps)}"
    for index, rule in enumerate(config.branches):
        for position, app in enumerate(rule.apps or []):
            if app not in config.apps:
                yield f"branches[{index}].apps[{position}]", f"unknown app {app!r}; apps are: {_names(config.apps)}"
        if rule.environment is not None and rule.environment not in config.environments:
            yield (
                f"branches[{index}].environment",
                f"unknown environment {rule.environment!r}; environments are: {_names(config.environments)}",
            )
    nightly = config.nightly
    if nightly.environment is not None and nightly.environment not in config.environments:
        yield (
            "nightly.environment",
            f"unknown environment {nightly.environment!r}; environments are: {_names(config.environments)}",
        )
    if nightly.load is not None:
        if nightly.environment is None:
            yield "nightly.load", "a load test needs nightly.environment, the environment it runs against"
        if nightly.load.app not in config.apps:
            yield "nightly.load.app", f"unknown app {nightly.load.app!r}; apps are: {_names(config.apps)}"


def _issue(error: ErrorDetails, data: Any, root: yaml.Node | None, model: type[BaseModel]) -> ConfigIssue:
    keys = _data_path(error["loc"], data)
    path = _format_path(keys)
    kind = error["type"]
    if kind == "missing":
        message = "required key is missing"
    elif kind == "extra_forbidden":
        allowed = _allowed_keys(model, keys[:-1])
        message = "unknown key" + (f"; expected one of: {', '.join(allowed)}" if allowed else "")
    elif kind in _EXPECTED:
        message = f"expected {_EXPECTED[kind]}, got {error['input']!r}"
    elif kind == "literal_error":
        message = (
            f"expected {error.get('ctx', {}).get('expected', 'one of the allowed values')}, got {error['input']!r}"
        )
    elif kind in _BOUNDS:
        message = f"expected {_BOUNDS[kind].format(**error.get('ctx', {}))}, got {error['input']!r}"
    elif kind == "value_error":
        message = str(error.get("ctx", {}).get("error", error["msg"]))
    else:
        message = f"{_lower_first(error['msg'])}, got {error['input']!r}"
    return ConfigIssue(path, message, _line(root, keys))


def _data_path(loc: tuple[int | str, ...], data: Any) -> list[int | str]:
    """The loc pydantic reports, minus the union tags and validator names that are not keys in the file."""
    keys: list[int | str] = []
    node = data
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if _has(node, part):
            node = node[part]
        elif not (last and isinstance(node, dict)):
            continue
        keys.append(part)
    return keys


def _has(node: Any, part: int | str) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and part < len(node)


def _format_path(keys: list[int | str]) -> str:
    out = ""
    for key in keys:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def _keys(path: str) -> list[int | str]:
    keys: list[int | str] = []
    for part in path.replace("]", "").replace("[", ".").split("."):
        keys.append(int(part) if part.isdigit() else part)
    return keys


def _line(root: yaml.Node | None, keys: list[int | str]) -> int | None:
    node = root
    line = node.start_mark.line + 1 if node else None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == key), None)
            if match is None:
                return line
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _allowed_keys(model: type[BaseModel], keys: list[int | str]) -> list[str]:
    """Field names of the model found at this key path, for 'expected one of' help."""
    node: Any = model
    for key in keys:
        if _is_model(node) and isinstance(key, str) and key in node.model_fields:
            node = _without_none(node.model_fields[key].annotation)
        elif get_origin(node) in (list, dict):
            node = _without_none(get_args(node)[-1])
        else:
            return []
    return sorted(node.model_fields) if _is_model(node) else []


def _is_model(node: Any) -> bool:
    return isinstance(node, type) and issubclass(node, BaseModel)


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    return annotation


def _names(mapping: dict[str, Any]) -> str:
    return ", ".join(sorted(mapping)) or "(none)"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]

"""The configuration reference in docs/configuration.md, generated from the schema so the two cannot drift apart
(`shipyard config reference` prints it; tests/test_docs.py compares it with the doc)."""

from __future__ import annotations

from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from shipyard.config.schema import PipelineConfig

BEGIN = "<!-- config-reference:begin -->"
END = "<!-- config-reference:end -->"


def reference_markdown() -> str:
    sections: list[str] = []
    _describe(PipelineConfig, "", sections, set())
    return "\n".join([BEGIN, *sections, END])


def _describe(model: type[BaseModel], title: str, out: list[str], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    heading = f"`{title}`" if title else "top level"
    out += [f"#### {heading}", "", "| key | type | default | meaning |", "|---|---|---|---|"]
    nested: list[tuple[type[BaseModel], str]] = []
    for name, field in model.model_fields.items():
        default = "required" if field.is_required() else _default(field.default, field.default_factory)
        out.append(f"| `{name}` | {_type_name(field.annotation)} | {default} | {field.description or ''} |")
        nested += [(m, _child_title(title, name, field.annotation)) for m in _models_in(field.annotation)]
    out.append("")
    for child, child_title in nested:
        _describe(child, child_title, out, seen)


def _child_title(parent: str, name: str, annotation: Any) -> str:
    path = f"{parent}.{name}" if parent else name
    origin = get_origin(annotation)
    return f"{path}[]" if origin is list else f"{path}.<name>" if origin is dict else path


def _default(value: Any, factory: Any) -> str:
    if value is not PydanticUndefined:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 30 seconds, not 30.0
        return f"`{value!r}`" if value is not None else "none"
    if factory in (list, dict):
        return "`[]`" if factory is list else "`{}`"
    return "see below"


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (Union, UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of name → {_type_name(args[1])}"
    if args and str(origin).endswith("Literal"):
        return " / ".join(f"`{a}`" for a in args)
    if annotation is type(None):
        return "none"
    return f"`{getattr(annotation, '__name__', str(annotation))}`"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]

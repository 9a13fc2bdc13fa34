"""Flows and tasks hand each other typed values: no @flow or @task parameter or return is annotated with dict,
Mapping, Any or a TypedDict (anywhere inside the annotation), so what crosses a task boundary says what it is."""

from __future__ import annotations

import importlib
import pkgutil
import typing
from collections.abc import Iterator, Mapping, MutableMapping
from types import UnionType
from typing import Any, TypedDict

import pytest
from prefect import Flow, Task
from typing_extensions import is_typeddict

import flows
import tasks

LOOSE = (dict, Mapping, MutableMapping)


class Shape(TypedDict):
    name: str


def flows_and_tasks() -> Iterator[tuple[str, Any]]:
    for package in (flows, tasks):
        for module_info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            module = importlib.import_module(module_info.name)
            for name, value in vars(module).items():
                if isinstance(value, Flow | Task) and value.fn.__module__ == module.__name__:
                    yield f"{module.__name__}.{name}", value.fn


def loose_parts(annotation: Any) -> list[str]:
    """The parts of an annotation that say nothing about their contents."""
    if annotation is Any:
        return ["Any"]
    if is_typeddict(annotation):
        return [f"TypedDict {annotation.__name__}"]
    origin = typing.get_origin(annotation)
    if annotation in LOOSE or origin in LOOSE:
        return [str(annotation)]
    if origin is None and not isinstance(annotation, UnionType):
        return []
    return [part for arg in typing.get_args(annotation) for part in loose_parts(arg)]


FOUND = sorted(flows_and_tasks())


def test_the_walk_finds_the_pipelines_flows_and_tasks() -> None:
    names = {name for name, _ in FOUND}
    assert {"flows.deploy.production_deploy", "flows.pr_checks.pr_checks", "tasks.deploy.blue_green"} <= names


@pytest.mark.parametrize(("name", "fn"), FOUND, ids=[name for name, _ in FOUND])
def test_parameters_and_returns_are_typed(name: str, fn: Any) -> None:
    hints = typing.get_type_hints(fn)
    loose = {where: parts for where, hint in hints.items() if (parts := loose_parts(hint))}
    assert not loose, f"{name}: untyped hand-off in {loose}"


@pytest.mark.parametrize(
    ("annotation", "loose"),
    [
        (dict[str, str], True),
        (list[dict[str, int]], True),
        (Mapping[str, int] | None, True),
        (Any, True),
        (int | Any, True),
        (list[Shape], True),
        (list[int], False),
        (tuple[str, ...] | None, False),
    ],
)
def test_the_check_itself(annotation: Any, loose: bool) -> None:
    assert bool(loose_parts(annotation)) is loose

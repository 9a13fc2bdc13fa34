"""Resources are built once, at an entry (shipyard/resources.py: `opened()`), and passed down: nothing else in the
project's code constructs a Ledger (tests and benchmarks build their own on purpose)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("shipyard", "flows", "tasks", "cli", "deployments")


def nodes() -> Iterator[tuple[str, ast.AST]]:
    """Every node of every module of the project's code, with its module's path."""
    for package in PROJECT:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                yield str(path.relative_to(ROOT)), node


def constructions(name: str) -> list[str]:
    return [
        f"{path}:{node.lineno}" for path, node in nodes() if isinstance(node, ast.Call) and _called(node.func) == name
    ]


def _called(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def test_the_ledger_is_built_in_one_place() -> None:
    assert [site.split(":")[0] for site in constructions("Ledger")] == ["shipyard/resources.py"]


def test_the_resources_are_opened_where_a_flow_run_or_a_command_starts() -> None:
    opened = {site.split(":")[0] for site in constructions("opened")}
    assert opened == {
        "flows/deploy.py",
        "flows/nightly.py",
        "flows/rollback.py",
        "flows/rollout.py",
        "cli/release.py",
        "cli/rollout.py",  # `rollout sign` reads the release a command acts on
        "cli/policy.py",
        "cli/webhook.py",  # the relay holds the ledger: it issues one-time approval codes against the policy
        "deployments/approvals.py",
        "deployments/approval_codes.py",  # `shipyard approvals code --here`
        "deployments/demo.py",
    }, opened


def test_the_home_is_read_from_the_environment_only_where_a_flow_run_or_a_command_starts() -> None:
    """Tasks take the Home their flow read once; only a flow function, a CLI command, the demo's entry or
    `opened()` reads SHIPYARD_HOME."""
    readers = set()
    for path, function in nodes():
        if isinstance(function, ast.FunctionDef) and any(
            isinstance(n, ast.Call) and _called(n.func) == "from_env" for n in ast.walk(function)
        ):
            decorators = {_called(d.func if isinstance(d, ast.Call) else d) for d in function.decorator_list}
            readers.add((path, function.name, "flow" in decorators))
    flows = {(path, name) for path, name, is_flow in readers if path.startswith("flows/")}
    assert flows and all(is_flow for path, _, is_flow in readers if path.startswith("flows/")), readers
    assert not [r for r in readers if r[0].startswith("tasks/")], readers
    others = {path for path, _, _ in readers if not path.startswith(("flows/", "cli/"))}
    assert others == {"shipyard/resources.py", "deployments/demo.py"}, readers

"""The core (`shipyard/`) has nothing above it: no Prefect, no flows, tasks, deployments or CLI, not even inside a
function body. Read from the source (every `import` node of the AST), so an import that only runs on one path counts.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "shipyard"
ABOVE_THE_CORE = ("prefect", "flows", "tasks", "deployments", "cli")


def imported_modules(path: Path, root: Path = ROOT) -> Iterator[tuple[int, str, str]]:
    """(line, absolute module name, source text) for every import in the file, relative ones resolved."""
    package = path.relative_to(root).parent.parts  # of a module and of a package's __init__.py alike
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ast.unparse(node)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            if node.module is None:  # `from . import x` imports the module x
                for alias in node.names:
                    yield node.lineno, f"{module}.{alias.name}", ast.unparse(node)
            else:
                yield node.lineno, module, ast.unparse(node)


def is_above_the_core(module: str) -> bool:
    top = module.split(".")[0]
    return top in ABOVE_THE_CORE or top.startswith("prefect_")  # prefect-aws, prefect-docker, ... import Prefect


def test_the_core_imports_nothing_above_it() -> None:
    crossings = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for path in sorted(CORE.rglob("*.py"))
        for line, module, text in imported_modules(path)
        if is_above_the_core(module)
    ]
    assert not crossings, "the core imports from above it:\n" + "\n".join(crossings)


def test_the_walk_sees_function_bodies_and_resolves_relative_imports(tmp_path: Path) -> None:
    package = tmp_path / "shipyard" / "release"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from .backend import Backend\n")
    (package / "engine.py").write_text(
        "from . import backend\nfrom ..config import load_config\n\n\n"
        "def later():\n    from prefect import flow\n    if True:\n        import tasks.cloud as cloud\n"
    )
    assert [name for _, name, _ in imported_modules(package / "__init__.py", tmp_path)] == ["shipyard.release.backend"]
    found = sorted(imported_modules(package / "engine.py", tmp_path))
    assert [(line, name) for line, name, _ in found] == [
        (1, "shipyard.release.backend"),
        (2, "shipyard.config"),
        (6, "prefect"),
        (8, "tasks.cloud"),
    ]
    assert [is_above_the_core(name) for _, name, _ in found] == [False, False, True, True]
    assert found[3][2] == "import tasks.cloud as cloud"
    assert is_above_the_core("prefect_docker.host") and is_above_the_core("cli.app")
    assert not is_above_the_core("shipyard.clients.slack") and not is_above_the_core("flowsheet")

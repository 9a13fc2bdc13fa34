"""Verify an app's Alembic migrations in one process of the app's own environment (its Alembic, its models).

Run as a script, never imported by Shipyard: `python migration_driver.py ALEMBIC_INI URL_ENV REPORT`. Writes one
JSON report: the steps that ran (up, down step by step, up again, drift, integrity) and the first failure, with the
revision it happened at.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import textwrap
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy import inspect as inspect_db


def main(ini: str, url_env: str) -> dict[str, Any]:
    config = Config(ini)
    script = ScriptDirectory.from_config(config)
    report: dict[str, Any] = {"steps": [], "failures": [], "problems": []}

    def step(name: str, revision: str | None, action: Any) -> bool:
        try:
            action()
        except Exception as exc:
            report["failures"].append({"step": name, "revision": revision, "error": _last_line(exc)})
            return False
        report["steps"].append(name)
        return True

    heads = script.get_heads()
    if len(heads) > 1:
        report["problems"].append(f"multiple heads: {', '.join(sorted(heads))} (merge them)")
    for revision in script.walk_revisions():
        if not _has_downgrade(revision.module):
            report["problems"].append(f"revision {revision.revision} ({revision.doc}) has no downgrade")
    if not step("upgrade head", "head", lambda: command.upgrade(config, "heads")):
        return report
    # Down one revision at a time, so a failure names the revision whose downgrade broke.
    for revision in script.walk_revisions():
        target = revision.down_revision or "base"
        target = target[0] if isinstance(target, tuple) else target
        name = f"downgrade {revision.revision} -> {target}"
        if not step(name, revision.revision, lambda t=target: command.downgrade(config, t)):
            break  # still check the schema at head: a broken downgrade and drift are both worth knowing
    if not step("upgrade head again", "head", lambda: command.upgrade(config, "heads")):
        return report
    metadata = _target_metadata(config, script)
    engine = create_engine(os.environ[url_env])
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            drift = [_describe(diff) for diff in compare_metadata(context, metadata)]
        if drift:
            report["drift"] = {"head": ", ".join(heads), "differences": drift}
        report["problems"] += _missing_constraints(engine, metadata)
    finally:
        engine.dispose()
    report["steps"] += ["drift check", "integrity check"]
    return report


def _has_downgrade(module: Any) -> bool:
    function = getattr(module, "downgrade", None)
    if function is None:
        return False
    body = textwrap.dedent(inspect.getsource(function)).splitlines()[1:]
    statements = [line.strip() for line in body if line.strip() and not line.strip().startswith("#")]
    return statements not in ([], ["pass"], ["..."]) and not all(s.startswith(('"""', "'''")) for s in statements)


def _target_metadata(config: Config, script: ScriptDirectory) -> Any:
    """The models as the app's env.py declares them (target_metadata), without running any migration."""
    captured: dict[str, Any] = {}

    def capture(revision: Any, context: Any) -> list[Any]:
        captured["metadata"] = context.opts["target_metadata"]
        return []

    with EnvironmentContext(config, script, fn=capture):
        script.run_env()
    if captured.get("metadata") is None:
        raise SystemExit("env.py does not set target_metadata: drift cannot be checked")
    return captured["metadata"]


def _describe(diff: Any) -> str:
    if isinstance(diff, list):
        return "; ".join(_describe(d) for d in diff)
    kind = diff[0]
    if kind in ("add_column", "remove_column"):
        _, _, table, column = diff
        where = "models" if kind == "add_column" else "database"
        return f"{kind}: column {table}.{column.name} exists only in the {where}"
    if kind in ("add_table", "remove_table"):
        return f"{kind}: table {diff[1].name}"
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        item = diff[1]
        return f"{kind}: {getattr(item, 'name', item)} on {getattr(getattr(item, 'table', None), 'name', '?')}"
    if kind.startswith("modify_"):
        _, _, table, column, _, old, new = diff
        return f"{kind}: {table}.{column} is {old} in the database, {new} in the models"
    return repr(diff)


def _missing_constraints(engine: Any, metadata: Any) -> list[str]:
    """Named check constraints, unique constraints and indexes of the models that the migrated schema lacks.

    Autogenerate does not compare check constraints at all, so a migration that forgets one passes drift.
    """
    problems = []
    inspector = inspect_db(engine)
    tables = set(inspector.get_table_names())
    for table in metadata.sorted_tables:
        if table.name not in tables:
            problems.append(f"table {table.name} is missing")
            continue
        present = {c["name"] for c in inspector.get_check_constraints(table.name)}
        present |= {c["name"] for c in inspector.get_unique_constraints(table.name)}
        present |= {i["name"] for i in inspector.get_indexes(table.name)}
        present |= {fk["name"] for fk in inspector.get_foreign_keys(table.name)}
        wanted = {c.name for c in table.constraints if c.name and c is not table.primary_key}
        wanted |= {i.name for i in table.indexes if i.name}
        problems += [f"{table.name}: constraint or index {name} is missing" for name in sorted(wanted - present)]
        if table.primary_key.columns and not inspector.get_pk_constraint(table.name)["constrained_columns"]:
            problems.append(f"{table.name}: primary key is missing")
    return problems


def _last_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    with open(sys.argv[3], "w") as out:
        json.dump(main(sys.argv[1], sys.argv[2]), out)

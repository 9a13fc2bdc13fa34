"""A throwaway PostgreSQL server on a free 127.0.0.1 port, from the machine's own binaries (initdb + pg_ctl).

PostgreSQL refuses to run as root, so as root the server runs as the unprivileged `postgres` user. The server and
its data folder are removed on exit, also when the body raises or the process is interrupted. Its superuser has a
password (no trust authentication): the code under check connects to it too, with a role of its own, and a
superuser's `COPY ... TO PROGRAM` runs commands as the server's user, outside any sandbox.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shipyard.errors import ShipyardError
from shipyard.files import free_port
from shipyard.runner import run

START_TIMEOUT = 60


class PostgresUnavailable(ShipyardError):
    pass


def find_bin_dir() -> Path:
    """The folder holding initdb and pg_ctl: PATH first, then Debian's versioned folders (newest first)."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(os.path.realpath(on_path)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key, reverse=True)
    if not candidates:
        raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    return Path(candidates[0]).parent


@contextmanager
def temporary_postgres(user: str = "postgres") -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh server (database `postgres`, superuser `shipyard` with a random password,
    on 127.0.0.1)."""
    bin_dir = find_bin_dir()
    folder = Path(tempfile.mkdtemp(prefix="shipyard-pg-"))
    as_user = _runas(user, folder)
    data, log, port = folder / "data", folder / "server.log", free_port()
    password, pwfile = secrets.token_urlsafe(24), folder / "password"

    def tool(name: str, *args: str) -> list[str]:
        return [*as_user, str(bin_dir / name), "-D", str(data), *args]

    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    started = False
    try:
        pwfile.write_text(password)
        try:
            initdb = ["-U", "shipyard", "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync"]
            _must(tool("initdb", *initdb), "initdb")
        finally:
            pwfile.unlink()
        _must(tool("pg_ctl", "-o", options, "-l", str(log), "-w", "-t", str(START_TIMEOUT), "start"), "start", log)
        started = True
        yield f"postgresql+psycopg://shipyard:{password}@127.0.0.1:{port}/postgres"
    finally:
        if started:
            run(tool("pg_ctl", "-m", "immediate", "-w", "stop"), timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def _runas(user: str, folder: Path) -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise PostgresUnavailable(f"running as root and there is no {user!r} user to run PostgreSQL as") from None
    os.chown(folder, account.pw_uid, account.pw_gid)
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root and runuser is not available to drop privileges")
    return [runuser, "-u", user, "--"]


def _must(argv: list[str], what: str, log: Path | None = None) -> None:
    result = run(argv, timeout=START_TIMEOUT + 30)
    if not result.ok:
        detail = result.tail(15)
        if log is not None and log.exists():
            detail += "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise PostgresUnavailable(f"{what} failed (exit {result.returncode}):\n{detail}")


def _version_key(path: str) -> int:
    version = Path(path).parent.parent.name
    return int(version) if version.isdigit() else 0


@contextmanager
def new_database(server_url: str, prefix: str = "shipyard", own_role: bool = False) -> Iterator[str]:
    """A new, empty database on a server (the URL of any database there), dropped on exit; yields its URL.

    own_role: the URL names a new login role that owns the database and nothing else (no superuser, no role or
    database creation, a random password), dropped with it: what code under check gets, never the server's
    credentials."""
    import sqlalchemy as sa  # only the callers that create databases pay for SQLAlchemy's import

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    url = sa.make_url(server_url).set(database=name)
    create = [f'CREATE DATABASE "{name}"']
    if own_role:
        password = secrets.token_urlsafe(24)  # URL-safe alphabet: no quote can end the literal
        create = [
            f"CREATE ROLE \"{name}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD '{password}'",
            # template0: what a role plants in template1's public schema (every role may, before PostgreSQL 15)
            # would be copied into every later database, a protected run's included
            f'CREATE DATABASE "{name}" OWNER "{name}" TEMPLATE template0',
            f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC',
        ]
        url = url.set(username=name, password=password)
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for statement in create:
                conn.execute(sa.text(statement))
    except sa.exc.SQLAlchemyError as exc:
        with contextlib.suppress(sa.exc.SQLAlchemyError):  # whatever was created before the failure
            _drop(admin, name, own_role)
        admin.dispose()
        cause = getattr(exc, "orig", None) or exc
        what = "a database and its role" if own_role else "a database"
        raise PostgresUnavailable(f"cannot create {what} on the server: {cause}") from None
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        _drop(admin, name, own_role)
        admin.dispose()


def _drop(admin: Any, name: str, role: bool) -> None:
    import sqlalchemy as sa

    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if role:
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{name}"'))

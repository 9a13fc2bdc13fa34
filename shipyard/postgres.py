"""A throwaway PostgreSQL server on a free 127.0.0.1 port, from the machine's own binaries (initdb + pg_ctl).

PostgreSQL refuses to run as root, so as root the server runs as the unprivileged `postgres` user. The server and
its data folder are removed on exit, also when the body raises or the process is interrupted.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
    """Yield a SQLAlchemy URL of a fresh server (database `postgres`, role `shipyard`, trust auth on 127.0.0.1)."""
    bin_dir = find_bin_dir()
    folder = Path(tempfile.mkdtemp(prefix="shipyard-pg-"))
    as_user = _runas(user, folder)
    data, log, port = folder / "data", folder / "server.log", free_port()

    def tool(name: str, *args: str) -> list[str]:
        return [*as_user, str(bin_dir / name), "-D", str(data), *args]

    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    started = False
    try:
        _must(tool("initdb", "-U", "shipyard", "--auth=trust", "-E", "UTF8", "--no-sync"), "initdb")
        _must(tool("pg_ctl", "-o", options, "-l", str(log), "-w", "-t", str(START_TIMEOUT), "start"), "start", log)
        started = True
        yield f"postgresql+psycopg://shipyard@127.0.0.1:{port}/postgres"
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
def new_database(server_url: str, prefix: str = "shipyard") -> Iterator[str]:
    """A new, empty database on a server (the URL of any database there), dropped on exit; yields its URL."""
    import sqlalchemy as sa  # only the callers that create databases pay for SQLAlchemy's import

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.SQLAlchemyError as exc:
        admin.dispose()
        cause = getattr(exc, "orig", None) or exc
        raise PostgresUnavailable(f"cannot create a database on the server: {cause}") from None
    try:
        yield str(sa.make_url(server_url).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

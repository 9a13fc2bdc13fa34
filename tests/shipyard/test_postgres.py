import glob
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from shipyard.postgres import PostgresUnavailable, find_bin_dir, temporary_postgres
from tests.capabilities import require


def postgres_processes_for(folder: str) -> list[str]:
    listing = subprocess.run(["ps", "-ewwo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if folder in line and "postgres" in line]


def test_temporary_server_answers_and_leaves_nothing_behind_even_on_error(own_tmpdir: Path) -> None:
    try:
        find_bin_dir()
    except PostgresUnavailable as exc:
        require(False, str(exc))
    pattern = str(own_tmpdir / "shipyard-pg-*")
    before = set(glob.glob(pattern))
    folder = ""
    with pytest.raises(RuntimeError, match="boom"), temporary_postgres() as url:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
        engine.dispose()
        (folder,) = set(glob.glob(pattern)) - before
        assert postgres_processes_for(folder)
        raise RuntimeError("boom")
    assert not Path(folder).exists()
    assert postgres_processes_for(folder) == []

"""The SQLite database and the data dir are the server's own: 0600 files in a 0700 directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import text

from suanli.service.platform import Platform
from suanli.settings import Settings


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_database_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o000)  # the most permissive umask a server could be started with
    try:
        data = tmp_path / "data"
        p = Platform(Settings(data_dir=data, driver="none"))
        with p.engine.connect() as conn:  # WAL: the -wal and -shm files exist while a connection is open
            conn.execute(text("SELECT count(*) FROM accounts"))
            files = sorted(f.name for f in data.iterdir() if f.name.startswith("suanli.db"))
            assert files == ["suanli.db", "suanli.db-shm", "suanli.db-wal"]
            for f in files:
                assert _mode(data / f) == 0o600, f
        assert _mode(data) == 0o700
        p.close()
    finally:
        os.umask(old)


def test_an_existing_open_database_and_dir_are_made_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    Platform(Settings(data_dir=data, driver="none")).close()
    (data / "suanli.db").chmod(0o644)
    data.chmod(0o755)
    p = Platform(Settings(data_dir=data, driver="none"))
    assert _mode(data) == 0o700 and _mode(data / "suanli.db") == 0o600
    p.close()

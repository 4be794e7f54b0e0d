"""Engine and session factory; schema upgrades through Alembic.

SQLite: a file in the data dir, WAL, foreign keys on, and ``BEGIN IMMEDIATE`` for every
transaction that may write so that concurrent writers queue on the database lock instead of failing
to upgrade a read lock; a read (:func:`read_engine`) begins with a plain ``BEGIN`` under
``PRAGMA query_only``. PostgreSQL: ``READ COMMITTED`` with row-level compare-and-set where it matters.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def _private_file(db: Path) -> None:
    """The SQLite file is the server's alone: mode 0600, created so before the first connection (SQLite
    gives its -wal and -shm files the database file's mode); a missing directory is made 0700."""
    db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(db, os.O_CREAT | os.O_RDWR, 0o600))
    db.chmod(0o600)


def make_engine(url: str, *, echo: bool = False, lock_wait_s: float = 30.0) -> Engine:
    """``lock_wait_s``: longest a statement waits for a lock (SQLite busy timeout, PostgreSQL
    ``lock_timeout``); past it the database raises an error that :func:`is_lock_timeout` names."""
    wait_ms = max(1, round(lock_wait_s * 1000))
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            _private_file(Path(path))
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": wait_ms / 1000})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # let us emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={wait_ms}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # a read (read_engine) takes no write lock (a plain, deferred BEGIN) and may not write
            # (query_only, switched only when the pooled connection changes between reads and writes)
            read = bool(conn.get_execution_options().get(READ_ONLY))
            if conn.info.get(READ_ONLY, False) != read:
                conn.exec_driver_sql(f"PRAGMA query_only={'ON' if read else 'OFF'}")
                conn.info[READ_ONLY] = read
            conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

        return engine
    engine = create_engine(url, echo=echo, pool_size=20, max_overflow=20,
                           connect_args={"options": f"-c lock_timeout={wait_ms}"})
    ping_when_idle(engine, PING_IDLE_S)
    return engine


PING_IDLE_S = 5.0
"""PostgreSQL: a pooled connection idle at least this long is pinged before it is handed out."""


def ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Ping a pooled connection on checkout only when it sat idle in the pool for ``idle_s`` or more
    (ORDERS2, docs/performance.md): SQLAlchemy's ``pool_pre_ping`` pings on every checkout, a round trip
    per transaction (5 % of the server's CPU in the order bench) for connections that were in use a
    millisecond ago. One that fails the ping (the server restarted, a proxy dropped it) is replaced
    before it is used: the pool retries the checkout on a new connection (``DisconnectionError``);
    one found dead mid-statement still invalidates the pool as SQLAlchemy does."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since < idle_s:  # new, or back in the pool just now
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as e:
            raise DisconnectionError(f"a pooled connection failed its ping: {e}") from e


_IDLE_SINCE = "suanli_idle_since"


DatabaseError = DBAPIError
"""Every error the database driver raises (what :func:`is_lock_timeout` sorts)."""

LOCK_WAIT_SQLSTATES = frozenset({"55P03", "40P01", "40001"})
"""PostgreSQL: lock_timeout passed, a deadlock broken, a serialisation failure."""


def is_lock_timeout(error: BaseException) -> bool:
    """The database gave up on a lock (anywhere in the exception's causes): SQLite "database is
    locked" past its busy timeout, or one of :data:`LOCK_WAIT_SQLSTATES` on PostgreSQL. The
    transaction it happened in is rolled back; sending the request again is safe."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, DBAPIError):
            orig = seen.orig
            if getattr(orig, "sqlstate", None) in LOCK_WAIT_SQLSTATES:
                return True
            if isinstance(seen, OperationalError) and "database is locked" in str(orig):
                return True
        seen = seen.__cause__ or seen.__context__
    return False


READ_ONLY = "suanli_read_only"


def read_engine(engine: Engine) -> Engine:
    """The same engine and pool for transactions that only read: on SQLite they begin with a plain
    (deferred) ``BEGIN``, so they never wait for or block a writer (WAL); on PostgreSQL they run
    ``READ ONLY``, so the database refuses any write in them."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(**{READ_ONLY: True, "postgresql_readonly": True})
    return engine.execution_options(**{READ_ONLY: True})


MIGRATION_LOCK = 0x7375616E6C69
"""PostgreSQL advisory lock key held while one process upgrades the schema ("suanli" in ASCII)."""


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # replicas starting together: one migrates, the others wait
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def unsynchronized(s: Session, stmt: Any) -> Any:
    """``stmt`` (an UPDATE) without the ORM's synchronisation of loaded objects when the session holds
    none: that evaluates the statement's WHERE in Python for every UPDATE, 2-3 % of the server's CPU in
    the order bench (ORDERS2, docs/performance.md); with objects loaded, SQLAlchemy's default stands."""
    return stmt.execution_options(synchronize_session=False) if not s.identity_map else stmt

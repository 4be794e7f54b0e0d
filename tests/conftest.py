"""Shared fixtures: a platform on real SQLite and, when configured, on a real PostgreSQL.

``SUANLI_TEST_POSTGRES_URL`` (set by scripts/test, which starts a throwaway server) adds a
``postgres`` variant to every test that uses the ``platform`` fixture. With
``SUANLI_TEST_REQUIRE_SERVICES=1`` a missing service is a failure, never a skip.

No runtime left behind. Model replicas are real ``python -m suanli.runtime serve`` processes (in the
sandbox, in their own process group): a test that forgets them leaves them running after pytest. So
this session has a tag, :data:`SESSION_TAG` (``pytest-<random>``), put in ``SUANLI_INFERENCE_REPLICA_TAG``
(kept by ``testing.serve.clean_env``: a ``suanli serve`` subprocess has it) and in the ``platform``
fixture's settings; the platform passes it to every replica as ``--tag=<tag>`` in its argv. A runtime a
test starts itself inherits it in its environment. After each test module, :func:`_no_runtime_left_behind`
lists the runtimes carrying this session's tag (argv or environment) that appeared during the module
and are still alive after a bounded wait (:data:`REAP_WAIT_S`): it kills them and fails the module's
last test (an error at its teardown) naming them. Runtimes of another pytest run (another session's
tag, or none) are never counted nor touched. The ``platform`` fixture deletes its deployments and stops
their replicas at teardown (``suanli.testing.replicas.stop_all_replicas``); a lab server is stopped
with ``InferenceLab.stop`` (deployments deleted through the API first).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import Pool

from suanli.domain.accounts import Principal
from suanli.domain.demo import demo_fleet
from suanli.service import accounts, fleet
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant

PG_URL = os.environ.get("SUANLI_TEST_POSTGRES_URL")
REQUIRE = os.environ.get("SUANLI_TEST_REQUIRE_SERVICES") == "1"
SESSION_TAG = "pytest-" + uuid.uuid4().hex[:16]
"""This session's marker on the runtime processes it starts (see the module's docstring)."""
TAG_VAR = "SUANLI_INFERENCE_REPLICA_TAG"
REAP_WAIT_S = float(os.environ.get("SUANLI_TEST_REAP_WAIT_S", "15"))
"""How long a module's runtimes get to stop after its last test (a cancelled replica's graceful stop is
at most 5 s; the sandbox's SIGKILL follows)."""


def _session_runtimes() -> dict[int, str]:
    """pid -> command line of the live runtime processes (and their sandbox wrappers) carrying this
    session's tag in their argv or environment."""
    found: dict[int, str] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = [a.decode(errors="replace") for a in (d / "cmdline").read_bytes().split(b"\0") if a]
            if "suanli.runtime" not in argv or "serve" not in argv:
                continue
            if f"--tag={SESSION_TAG}" not in argv:
                env = (d / "environ").read_bytes().split(b"\0")
                if f"{TAG_VAR}={SESSION_TAG}".encode() not in env:
                    continue
            if (d / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue  # a zombie is over (its parent has not reaped it yet)
        except OSError:  # gone meanwhile, or not ours to read
            continue
        cmd = " ".join(argv)
        at = cmd.find(" -m suanli.runtime")  # a sandbox wrapper's argv ends with the runtime's: show that part
        found[int(d.name)] = (cmd if at < 120 else f"{argv[0]} … {cmd[at - 60:]}")[:400]
    return found


@pytest.fixture(scope="session", autouse=True)
def _runtime_tag() -> Iterator[str]:
    """Mark the runtimes this session starts (subprocesses inherit it; see the module's docstring)."""
    before = os.environ.get(TAG_VAR)
    os.environ[TAG_VAR] = SESSION_TAG
    yield SESSION_TAG
    if before is None:
        os.environ.pop(TAG_VAR, None)
    else:
        os.environ[TAG_VAR] = before


@pytest.fixture(scope="module", autouse=True)
def _no_runtime_left_behind(_runtime_tag: str) -> Iterator[None]:
    """Fail a module that leaves runtime processes of this session running (killing them first)."""
    before = set(_session_runtimes())
    yield
    deadline = time.monotonic() + REAP_WAIT_S
    while True:
        left = {pid: cmd for pid, cmd in _session_runtimes().items() if pid not in before}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # polling real processes that are stopping, bounded by the deadline
    if left:
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        pytest.fail(f"{len(left)} runtime process(es) started by this module still ran {REAP_WAIT_S:g} s after "
                    "its last test (killed now); stop deployments/replicas/runtimes at teardown:\n"
                    + "\n".join(f"  pid {pid}: {cmd}" for pid, cmd in sorted(left.items())), pytrace=False)


def _tenant_accounts() -> set[str]:
    import pwd

    from suanli.drivers.unix_accounts import GECOS

    return {e.pw_name for e in pwd.getpwall() if e.pw_gecos.startswith(GECOS)}


@pytest.fixture(scope="session", autouse=True)
def _remove_tenant_accounts() -> Iterator[None]:
    """Sandboxed jobs create tenants' Unix accounts (suanli-<tenant>); remove the ones this run made."""
    before = _tenant_accounts()
    yield
    import subprocess

    for name in sorted(_tenant_accounts() - before):
        subprocess.run(["userdel", name], capture_output=True, check=False)


class _PoolGuard:
    """Every pooled connection checked out, by the thread that holds it (see :func:`_one_connection_per_thread`)."""

    def __init__(self) -> None:
        self.held: dict[int, tuple[int, int]] = {}  # id(connection record) -> (thread, id(pool))
        self.hits: list[str] = []

    def checkout(self, _dbapi: object, record: object, proxy: object) -> None:
        me, pool = threading.get_ident(), id(getattr(proxy, "_pool", None))
        if any(v == (me, pool) and k != id(record) for k, v in self.held.items()):
            frames = [f for f in traceback.extract_stack()
                      if ("/suanli/" in f.filename or "/tests/" in f.filename) and f.filename != __file__]
            stack = "".join(traceback.format_list(frames))
            self.hits.append(f"thread {threading.current_thread().name}:\n{stack}")
        self.held[id(record)] = (me, pool)

    def gone(self, _dbapi: object, record: object, *_rest: object) -> None:
        self.held.pop(id(record), None)


_GUARD = _PoolGuard()
event.listen(Pool, "checkout", _GUARD.checkout)
for _name in ("checkin", "detach", "close", "invalidate"):
    event.listen(Pool, _name, _GUARD.gone)


@pytest.fixture(autouse=True)
def _one_connection_per_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test in which some thread took a second connection from a pool it already held one of.

    The deadlock class of docs/performance.md (the stall): on SQLite a write transaction holds the write
    lock; requests queued behind it hold the pool's connections; a read inside the transaction that asks
    the same pool for another connection waits until the pool's timeout, and requests fail with 500s.
    tests/service/test_one_pooled_connection.py pins the two paths that did it; this guard watches every
    test for the rest of the class. A test that holds a second connection on purpose (e.g. a row lock
    on a raw connection while it calls the service) says so with ``@pytest.mark.second_connection``."""
    _GUARD.hits.clear()
    yield
    hits, _GUARD.hits[:] = list(_GUARD.hits), []
    if hits and request.node.get_closest_marker("second_connection") is None:
        pytest.fail(f"a thread took a second pooled connection while it held one ({len(hits)} time(s)); "
                    f"the first:\n{hits[0]}", pytrace=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 8, 0, 0, tzinfo=UTC))


def _pg_database() -> Iterator[str]:
    if not PG_URL:
        if REQUIRE:
            pytest.fail("SUANLI_TEST_POSTGRES_URL is not set but services are required")
        pytest.skip("PostgreSQL not configured (set SUANLI_TEST_POSTGRES_URL; scripts/test does)")
    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
    else:
        yield from _pg_database()


@pytest.fixture
def platform(db_url: str | None, tmp_path: Path, clock: FakeClock) -> Iterator[Platform]:
    from suanli.testing.fake_nvidia_smi import declared_tools

    # the operator's declaration, with stand-in tools (not GPUs) that make MIG instances and vNPUs (docs/slices.md)
    p = Platform(Settings(data_dir=tmp_path / "data", database_url=db_url, inference_replica_tag=SESSION_TAG,
                          **declared_tools(tmp_path / "smi")),
                 clock=clock)
    yield p
    try:
        from suanli.testing.replicas import stop_all_replicas

        stop_all_replicas(p)  # nothing the test started may outlive it (see the module's docstring)
    finally:
        p.close()


@pytest.fixture
def operator(platform: Platform) -> Principal:
    token = accounts.bootstrap_operator(platform)
    assert token is not None
    return accounts.authenticate(platform, token)


@pytest.fixture
def demo(platform: Platform, operator: Principal) -> Platform:
    fleet.import_fleet(platform, operator, demo_fleet())
    return platform


@pytest.fixture
def tenant(demo: Platform, operator: Principal) -> Principal:
    return make_tenant(demo, operator, "acme")

"""The platform object: settings, database, clock, catalog and placement policy, built once.

Every use case takes a :class:`Platform` and opens its own transactions with :meth:`Platform.tx`;
that is the only place transactions begin. Time comes from the injected clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar, cast

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from suanli.domain.agents import AgentState
from suanli.domain.catalog import Catalog
from suanli.domain.catalog_data import builtin_catalog
from suanli.domain.clock import Clock, SystemClock
from suanli.drivers.base import Driver
from suanli.drivers.local import LocalDriver
from suanli.drivers.routed import RoutedDriver
from suanli.drivers.sandbox import JOB_API_SOCKET as JOB_API_SOCKET  # re-exported: `suanli serve` names it
from suanli.drivers.sandbox import Isolation, Sandbox
from suanli.errors import BusyError, ValidationError
from suanli.service import audit_context, fencing
from suanli.service.agent_driver import AgentDriver
from suanli.settings import Settings
from suanli.store import agents as agent_store
from suanli.store import audit_recorder
from suanli.store import fleet as fleet_store
from suanli.store.db import DatabaseError as DatabaseError  # re-exported: the API maps it
from suanli.store.db import is_lock_timeout, make_engine, read_engine, session_factory, upgrade


def api_socket_path(settings: Settings) -> Path:
    """The Unix socket ``suanli serve`` also listens on, for the jobs of the local engine (docs/sandbox.md)."""
    return settings.data_dir / "run" / "api.sock"


def make_driver(settings: Settings, clock: Clock) -> Driver | None:
    """The engine named in settings; ``None`` for ``driver=none`` (leases are bookkeeping only)."""
    if settings.driver == "none":
        return None
    if settings.driver == "local":
        sandbox = Sandbox(settings.sandbox, network=settings.sandbox_network, ro_paths=settings.sandbox_ro_paths,
                          api_socket=api_socket_path(settings))
        return LocalDriver(settings.data_dir / "engine-local", clock=clock, sandbox=sandbox,
                           slice_mechanisms=settings.slice_mechanisms, hami_library=settings.hami_library,
                           nvidia_smi=settings.nvidia_smi, npu_smi=settings.npu_smi)
    if settings.driver == "slurm":
        from suanli.drivers.slurm.driver import (  # optional engine: loaded when chosen
            SlurmConfig,
            SlurmDriver,
        )

        return SlurmDriver(SlurmConfig(
            state_dir=settings.data_dir / "engine-slurm",
            job_dir=settings.slurm_job_dir or settings.data_dir / "slurm-jobs",
            rest_url=settings.slurm_rest_url, partition=settings.slurm_partition,
            accounting=settings.slurm_accounting, run_as_tenant=settings.sandbox != "off"), clock=clock)
    raise ValidationError(f"driver {settings.driver!r} not known; allowed: local, slurm, none", field="driver")


T = TypeVar("T")

AGENT_NODES_TTL_S = 1.0
"""How long :meth:`Platform.agent_nodes` trusts what it read (a join token made on another replica)."""


def busy_from(error: BaseException, settings: Settings) -> BusyError | None:
    """The 503 for a database lock not granted within ``settings.lock_wait_seconds`` that no use
    case retried itself (None for any other error): its transaction rolled back, so nothing of the
    request was written by it and sending it again is safe."""
    if not is_lock_timeout(error):
        return None
    return BusyError(f"the database did not grant a lock within {settings.lock_wait_seconds:g} s (the server is busy); "
                     "nothing was written: send the request again after 1 s", retry_after_s=1)


class Platform:
    def __init__(self, settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None,
                 migrate: bool = True, driver: Driver | Literal["auto"] | None = "auto") -> None:
        self.settings = settings
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        settings.data_dir.chmod(0o700)  # the server's own: database, tokens, engine state
        self.clock: Clock = clock or SystemClock()
        self._driver: Driver | None = make_driver(settings, self.clock) if driver == "auto" else driver
        self._agent_nodes: frozenset[str] = frozenset()
        self._agent_reports: tuple[tuple[str, AgentState, datetime | None, tuple[str, ...]], ...] = ()
        self._agent_nodes_at = -AGENT_NODES_TTL_S
        self._agent_nodes_due = True  # read at the first transaction's start
        self._agent_nodes_held = threading.local()
        self._agent_read = threading.Lock()
        self._agent_changes = 1  # agent_nodes_changed() counts here ...
        self._agent_seen = 0  # ... and a read records the count it started at (0: nothing read yet)
        self._routed: tuple[Driver | None, frozenset[str], Driver] | None = None
        self.engine = engine or make_engine(settings.sqlalchemy_url, lock_wait_s=settings.lock_wait_seconds)
        if migrate:
            upgrade(self.engine)
        self._sessions = session_factory(self.engine)
        self._read_engine = read_engine(self.engine)
        audit_recorder.install(self._sessions, audit_context.current_actor, self.clock.now)
        self._builtin = builtin_catalog()
        self._attached: dict[Callable[[Platform], object], object] = {}
        self._attached_lock = threading.RLock()

    @property
    def driver(self) -> Driver | None:
        """The execution engine: the one of ``settings.driver`` (or the one given) while no node has an
        agent; once some do, a :class:`~suanli.drivers.routed.RoutedDriver` that sends the agent nodes'
        work to the agent driver (:mod:`suanli.service.agent_driver`) and the rest to that engine."""
        nodes = self.agent_nodes()
        if not nodes:
            return self._driver
        if self._routed is None or self._routed[0] is not self._driver or self._routed[1] != nodes:
            routed = RoutedDriver(self._driver, AgentDriver(self), nodes.__contains__)
            self._routed = (self._driver, nodes, routed)
        return self._routed[2]

    @driver.setter
    def driver(self, value: Driver | None) -> None:
        self._driver = value

    def agent_nodes(self) -> frozenset[str]:
        """The nodes that have an agent (docs/agents.md), read at most every ``AGENT_NODES_TTL_S``. Inside a
        transaction of this thread it reads nothing (:meth:`agent_nodes_held`): a due read waits for the next
        transaction's start."""
        if (self._agent_nodes_due or self._agent_seen < self._agent_changes
                or time.monotonic() - self._agent_nodes_at >= AGENT_NODES_TTL_S):
            if getattr(self._agent_nodes_held, "depth", 0):
                self._agent_nodes_due = True
            else:
                self._read_agent_nodes()
        return self._agent_nodes

    def _read_agent_nodes(self) -> None:
        """Read them, one thread at a time: when only the TTL made the read due, a thread that finds another
        reading goes on with what was read before; after a change (:meth:`agent_nodes_changed`) it waits for a
        read that started after the change. Under load every request thread found the read due at once, and
        each made it (docs/performance.md, BATCHWRITE)."""
        changes = self._agent_changes
        changed = self._agent_seen < changes
        if not self._agent_read.acquire(blocking=changed):
            return  # another thread reads now, and the last read saw every change: only its age was due
        try:
            if changed and self._agent_seen >= changes:
                return  # read by another thread, after the change, while this one waited
            started = self._agent_changes
            self._agent_nodes_due = False  # a change from now on asks for the next read
            at = time.monotonic()
            self._agent_nodes_held.depth = 1  # the read is a transaction too: no read inside it
            try:
                with self._sessions(bind=self._read_engine) as s, s.begin():
                    reports = tuple(agent_store.agent_reports(s))
            finally:
                self._agent_nodes_held.depth = 0
            self._agent_reports = reports
            self._agent_nodes = frozenset(r[0] for r in reports)
            self._agent_nodes_at = at
            self._agent_seen = started
        except BaseException:
            self._agent_nodes_due = True
            raise
        finally:
            self._agent_read.release()

    def agent_reports(self) -> tuple[tuple[str, AgentState, datetime | None, tuple[str, ...]], ...]:
        """Each agent node's (name, state, last heard, reported slice mechanisms), read with and as fresh as
        :meth:`agent_nodes` (so placement, inside its transaction, reads nothing on another connection)."""
        self.agent_nodes()
        return self._agent_reports

    @contextmanager
    def agent_nodes_held(self) -> Iterator[None]:
        """Inside (this thread): :meth:`agent_nodes` answers what it read on entry, with no read of its own.
        Every :meth:`tx` and :meth:`read` holds it: a read there would take a second pooled connection while
        the transaction holds one — on SQLite, while it may hold the write lock, and the pool can be held by
        requests that queue behind that lock: a deadlock until the pool's timeout (``database is locked``,
        500s; docs/performance.md, "The order and the end", item 5, and the stall after it). Re-entrant."""
        depth = getattr(self._agent_nodes_held, "depth", 0)
        if not depth and (self._agent_nodes_due or self._agent_seen < self._agent_changes):
            self._read_agent_nodes()  # before the caller's transaction: first use, a change, or asked for stale
        self._agent_nodes_held.depth = depth + 1
        try:
            yield
        finally:
            self._agent_nodes_held.depth = depth

    def agent_nodes_changed(self) -> None:
        """A node got (or lost) its agent here, or an agent reported: read the agent nodes again at the next use."""
        self._agent_changes += 1
        self._agent_nodes_at = -AGENT_NODES_TTL_S
        self._agent_nodes_due = True

    def attached(self, kind: Callable[[Platform], T]) -> T:
        """The one object ``kind(self)`` of this platform, made on first use and kept with it: its
        placement loop, its replica's leadership, what it caches between requests."""
        with self._attached_lock:
            found = self._attached.get(kind)
            if found is None:
                found = self._attached[kind] = kind(self)
            return cast(T, found)

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any exception. Every change it makes is
        recorded in the audit trail in the same transaction (:mod:`suanli.store.audit_recorder`).
        Inside the background work it first checks the leader's fencing token (:mod:`suanli.service.fencing`).
        Serving a read (a GET: :func:`audit_context.reads_only`), it is a :meth:`read`: the database
        refuses a write in it."""
        if audit_context.reads_only():
            with self.read() as s:
                yield s
            return
        with self.agent_nodes_held(), self._sessions.begin() as s:
            fencing.check(s, self.clock.now())
            yield s

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A transaction that only reads (a GET): one consistent snapshot, no write lock on SQLite
        (plain ``BEGIN``), ``READ ONLY`` on PostgreSQL. Reads never write: see docs/platform.md."""
        with self.agent_nodes_held(), self._sessions(bind=self._read_engine) as s, s.begin():
            yield s

    def catalog(self, s: Session) -> Catalog:
        """Built-in models plus the operator's additions and overrides."""
        return self._builtin.with_models(fleet_store.list_models(s))

    @property
    def sandbox(self) -> dict[str, object] | None:
        """How tenant jobs are confined on this server's engine (``None``: not the local engine)."""
        sandbox = getattr(self._driver, "sandbox", None)
        return sandbox.status.to_dict() if isinstance(sandbox, Sandbox) else None

    @property
    def slice_probe(self) -> dict[str, object] | None:
        """MIG part: the local engine's slice mechanisms and where each came from (probed at start or the
        operator's declaration; docs/slices.md). ``None``: not the local engine."""
        found = getattr(self._driver, "slice_probe", None)
        if found is None:
            return None
        return {"mechanisms": sorted(m.value for m in found.mechanisms), "probed": found.probed,
                "reasons": dict(found.reasons)}

    def job_api_server(self, nodes: Collection[str]) -> str | None:
        """``SUANLI_SERVER`` for a job on these nodes: the API's Unix socket as the job sees it, where the
        local engine runs it (``None``: another engine or a node agent's host, which has no such socket)."""
        sandbox = getattr(self._driver, "sandbox", None)
        if not isinstance(sandbox, Sandbox) or sandbox.api_socket is None or set(nodes) & self.agent_nodes():
            return None
        if sandbox.status.isolation is Isolation.OFF:  # a plain process sees the host's path
            return f"unix:{sandbox.api_socket}"
        return f"unix:{JOB_API_SOCKET}"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

"""The platform object: settings, database, clock, catalog and placement policy, built once.

Every use case takes a :class:`Platform` and opens its own transactions with :meth:`Platform.tx`;
that is the only place transactions begin. Time comes from the injected clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from suanli.domain.catalog import Catalog
from suanli.domain.catalog_data import builtin_catalog
from suanli.domain.clock import Clock, SystemClock
from suanli.settings import Settings
from suanli.store import fleet as fleet_store
from suanli.store.db import make_engine, session_factory, upgrade


class Platform:
    def __init__(self, settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None,
                 migrate: bool = True) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.engine = engine or make_engine(settings.sqlalchemy_url)
        if migrate:
            upgrade(self.engine)
        self._sessions = session_factory(self.engine)
        self._builtin = builtin_catalog()

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any exception."""
        with self._sessions.begin() as s:
            yield s

    def catalog(self, s: Session) -> Catalog:
        """Built-in models plus the operator's additions and overrides."""
        return self._builtin.with_models(fleet_store.list_models(s))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

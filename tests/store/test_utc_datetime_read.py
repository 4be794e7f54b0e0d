"""``UTCDateTime`` reads: SQLite's fast path (the stored naive UTC text parsed with its zone in one
step) gives exactly what the general path (the dialect's parser, then ``process_result_value``) gives,
for every value this type writes and for text it did not write (another zone, no fraction, a date),
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert, select, text

from suanli.store.db import make_engine
from suanli.store.types import UTCDateTime

META = MetaData()
T = Table("utc_read_probe", META, Column("id", Integer, primary_key=True), Column("at", UTCDateTime, nullable=True))

WRITTEN = [
    datetime(2026, 12, 7, 6, 19, 31, 123456, tzinfo=UTC),
    datetime(2026, 12, 7, 6, 19, 31, tzinfo=UTC),  # no fraction
    datetime(2026, 12, 7, 6, 19, 31, 1, tzinfo=UTC),
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 12, 7, 14, 0, tzinfo=timezone(timedelta(hours=8))),  # stored as 06:00 UTC
    None,
]


@pytest.fixture
def engine(db_url: str | None, tmp_path: Path) -> Iterator[Engine]:
    e = make_engine(db_url.replace("postgresql://", "postgresql+psycopg://") if db_url
                    else f"sqlite:///{tmp_path / 'probe.db'}")
    META.create_all(e)
    yield e
    META.drop_all(e)
    e.dispose()


def test_what_it_writes_it_reads_back_in_utc(engine: Engine) -> None:
    with engine.begin() as c:
        c.execute(insert(T), [{"id": i, "at": v} for i, v in enumerate(WRITTEN)])
    with engine.begin() as c:
        got = [v for _i, v in c.execute(select(T.c.id, T.c.at).order_by(T.c.id))]
    assert got == [None if v is None else v.astimezone(UTC) for v in WRITTEN]
    assert all(v.tzinfo is not None and v.utcoffset() == timedelta(0) for v in got if v is not None)


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-12-07 06:19:31.123456", datetime(2026, 12, 7, 6, 19, 31, 123456, tzinfo=UTC)),
    ("2026-12-07 06:19:31", datetime(2026, 12, 7, 6, 19, 31, tzinfo=UTC)),
    ("2026-12-07T06:19:31", datetime(2026, 12, 7, 6, 19, 31, tzinfo=UTC)),
    ("2026-12-07 08:19:31+02:00", datetime(2026, 12, 7, 6, 19, 31, tzinfo=UTC)),  # its own zone: the general path
    ("2026-12-07", datetime(2026, 12, 7, tzinfo=UTC)),
])
def test_sqlite_text_it_did_not_write_reads_as_the_general_path_does(tmp_path: Path, raw: str,
                                                                     expected: datetime) -> None:
    e = make_engine(f"sqlite:///{tmp_path / 'probe.db'}")
    META.create_all(e)
    with e.begin() as c:
        c.execute(text("INSERT INTO utc_read_probe (id, at) VALUES (1, :raw)"), {"raw": raw})
    with e.begin() as c:
        got = c.execute(select(T.c.at)).scalar_one()
        general = UTCDateTime().process_result_value(datetime.fromisoformat(raw), e.dialect)
    e.dispose()
    assert got == expected == general
    assert got.utcoffset() == timedelta(0)

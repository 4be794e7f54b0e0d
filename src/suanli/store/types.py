"""Column types that keep the domain's invariants across SQLite and PostgreSQL.

- :class:`DecimalText`: money and rates as exact decimal strings on SQLite (whose NUMERIC is a
  float) and ``NUMERIC`` on PostgreSQL; always returns ``Decimal``.
- :class:`UTCDateTime`: aware UTC datetimes in, aware UTC datetimes out (SQLite drops tzinfo).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class DecimalText(TypeDecorator[Decimal]):
    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(38, 12, asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money columns take Decimal, not {type(value).__name__}")
        return value if dialect.name == "postgresql" else format(value, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        d = Decimal(str(value))
        return d.normalize() if d == d.to_integral() else d


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise TypeError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        dt: datetime = value
        if dt.tzinfo is None:
            return dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """On SQLite, one function per value instead of the decorator's chain (the dialect's parser,
        then :meth:`process_result_value`), with the zone parsed from the text: the naive UTC text this
        type writes, plus ``+00:00``, through ``datetime.fromisoformat`` (~0.4 µs), where
        ``datetime.replace(tzinfo=UTC)`` alone costs ~2.5 µs; a page of 50 leases reads ~350 of them.
        Any other value (text with its own zone, a number) takes the general path, as before."""
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or general is None:
            return general
        parse = datetime.fromisoformat

        def process(value: Any) -> datetime | None:
            if value.__class__ is str:
                try:
                    dt = parse(value + "+00:00")
                except ValueError:  # text with a zone of its own
                    dt = None
                if dt is not None and dt.tzinfo is not None:  # (a bare date parses, zone dropped)
                    return dt
            out: datetime | None = general(value)
            return out

        return process

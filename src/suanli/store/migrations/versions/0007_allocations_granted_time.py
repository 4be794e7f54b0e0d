"""allocations granted time (Trust II): the database refuses allocations beyond a device's capacity

- ``allocations.drawn_from`` (nullable lease id): an allocation drawn from a reservation that
  already holds the capacity; such rows do not count against the device again.
- ``ck_allocations_window`` allows zero-length windows (``end_at = start_at``): a lease given up
  in the second it was granted keeps its record (zero seconds billed).
- ``ix_allocations_device_end``: the capacity check's lookups of a device's open allocations.
- The capacity rule itself (:mod:`suanli.store.capacity`): an exclusion constraint and a trigger
  on PostgreSQL, triggers on SQLite.

Rows recorded before this revision could overlap beyond capacity (a grant recorded from the
order's arrival instead of its grant). They are repaired first, per device in grant order (row
id): a row that does not fit starts when enough of the device was given up; one that never fits
becomes zero-length. Each repaired row is one line of the upgrade's log.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from suanli.store import capacity
from suanli.store.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

_alloc = sa.table("allocations", sa.column("id", sa.Integer), sa.column("device_id", sa.Integer),
                  sa.column("milli", sa.Integer), sa.column("start_at", UTCDateTime()),
                  sa.column("end_at", UTCDateTime()))

Window = tuple[int, datetime, "datetime | None", int]  # id, start, end, milli


def _load(accepted: list[Window], start: datetime, end: datetime | None) -> int:
    """Highest load of ``accepted`` over [start, end)."""
    points = {start} | {a[1] for a in accepted if a[1] > start and (end is None or a[1] < end)}
    return max(sum(a[3] for a in accepted if a[1] <= t and (a[2] is None or a[2] > t)) for t in points)


def _fit(accepted: list[Window], row: Window) -> tuple[datetime, datetime | None]:
    """The row's window, started late enough to fit beside ``accepted`` (zero-length if never)."""
    _id, start, end, milli = row
    if end is not None and end <= start:
        return start, end
    for t in sorted({start} | {a[2] for a in accepted if a[2] is not None and a[2] > start}):
        if end is not None and t >= end:
            break
        if _load(accepted, t, end) + milli <= 1000:
            return t, end
    stop = end if end is not None else start
    return stop, stop


def _repair_overlaps(conn: sa.Connection) -> None:
    rows = conn.execute(sa.select(_alloc.c.id, _alloc.c.device_id, _alloc.c.start_at, _alloc.c.end_at,
                                  _alloc.c.milli).order_by(_alloc.c.device_id, _alloc.c.id)).all()
    by_device: dict[int, list[Window]] = {}
    for rid, device, start, end, milli in rows:
        by_device.setdefault(device, []).append((rid, start, end, milli))
    for device, windows in by_device.items():
        accepted: list[Window] = []
        for w in windows:
            start, end = _fit(accepted, w)
            if (start, end) != (w[1], w[2]):
                log.warning("allocation %s of device %s overlapped beyond capacity: [%s, %s) recorded as [%s, %s)",
                            w[0], device, w[1], w[2], start, end)
                conn.execute(sa.update(_alloc).where(_alloc.c.id == w[0]).values(start_at=start, end_at=end))
            accepted.append((w[0], start, end, w[3]))


def upgrade() -> None:
    with op.batch_alter_table("allocations", schema=None) as batch_op:  # SQLite: table copy; PostgreSQL: ALTER
        batch_op.add_column(sa.Column("drawn_from", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key("fk_allocations_drawn_from", "leases", ["drawn_from"], ["id"])
        batch_op.drop_constraint("ck_allocations_window", type_="check")
        batch_op.create_check_constraint("ck_allocations_window", "end_at is null or end_at >= start_at")
        batch_op.create_index("ix_allocations_device_end", ["device_id", "end_at"], unique=False)
    conn = op.get_bind()
    _repair_overlaps(conn)
    capacity.install(conn)  # after the batch copy: SQLite drops triggers with the old table


def downgrade() -> None:
    conn = op.get_bind()
    capacity.uninstall(conn)
    op.execute("DELETE FROM allocations WHERE end_at IS NOT NULL AND end_at <= start_at")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index("ix_allocations_device_end")
        batch_op.drop_constraint("ck_allocations_window", type_="check")
        batch_op.create_check_constraint("ck_allocations_window", "end_at is null or end_at > start_at")
        batch_op.drop_constraint("fk_allocations_drawn_from", type_="foreignkey")
        batch_op.drop_column("drawn_from")

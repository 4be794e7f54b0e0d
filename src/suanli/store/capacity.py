"""The database refuses allocations of one device beyond its capacity.

Rule (:mod:`suanli.domain.capacity`): at every instant, the milli of the allocations of one device
whose window ``[start_at, end_at)`` contains it sum to at most 1000. Rows with ``drawn_from`` set
(capacity drawn from a reservation that already counts) and zero-length rows are not counted.

- PostgreSQL: an exclusion constraint for whole devices (``btree_gist``; no two ``milli = 1000``
  rows of a device with overlapping ``tstzrange``), and a ``BEFORE INSERT OR UPDATE`` trigger for
  fractions that locks the device row (``FOR UPDATE``: concurrent grants of one device queue, and
  under READ COMMITTED each statement then sees the grants committed before) and checks the summed
  milli at the new row's start and at every start inside its window.
- SQLite: the same check in ``BEFORE INSERT`` / ``BEFORE UPDATE`` triggers (``RAISE(ABORT)``);
  writers already run one at a time (``BEGIN IMMEDIATE``).

An UPDATE that only shrinks a counted row (same device, no more milli, a window inside the old one:
ending a lease, giving devices up) can never add load: neither check runs for it, so ending a lease
takes no device row lock and never queues behind a grant in flight (migration 0020).

Both fail with an integrity error whose message contains :data:`OVER_CAPACITY` (or the exclusion
constraint's name, :data:`WHOLE_DEVICE`); :func:`is_over_capacity` recognises it so that the
store can turn it into a retry (``StaleClaim``), never a 500.

SQLite drops a table's triggers when ``batch_alter_table`` copies it: a later migration that
alters ``allocations`` must call :func:`install` again (tests/store/test_allocations.py fails
otherwise).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

OVER_CAPACITY = "allocation over device capacity"
WHOLE_DEVICE = "ex_allocations_whole_device"
HOST_OVER_CAPACITY = "node allocation over host capacity"
"""The message of the host-resource rule of ``node_allocations`` (:mod:`suanli.store.shapes`)."""

_POINTS = """
    SELECT NEW.start_at AS t
    UNION
    SELECT b.start_at FROM allocations b
     WHERE b.device_id = NEW.device_id AND b.drawn_from IS NULL AND b.start_at > NEW.start_at
       AND (NEW.end_at IS NULL OR b.start_at < NEW.end_at) {self_b}
"""
_LOAD = """
    SELECT coalesce(sum(a.milli), 0) FROM allocations a
     WHERE a.device_id = NEW.device_id AND a.drawn_from IS NULL AND a.start_at <= p.t
       AND (a.end_at IS NULL OR a.end_at > p.t) {self_a}
"""


def _peak_sql(exclude_self: bool) -> str:
    """The highest load of the device's other allocations over the new row's window."""
    self_a = "AND a.id <> NEW.id" if exclude_self else ""
    self_b = "AND b.id <> NEW.id" if exclude_self else ""
    return (f"SELECT coalesce(max(({_LOAD.format(self_a=self_a)})), 0) "
            f"FROM ({_POINTS.format(self_b=self_b)}) AS p")


_SQLITE_WHEN = "NEW.drawn_from IS NULL AND (NEW.end_at IS NULL OR NEW.end_at > NEW.start_at)"
SHRINKS = ("NEW.device_id = OLD.device_id AND NEW.milli <= OLD.milli AND OLD.drawn_from IS NULL "
           "AND NEW.start_at >= OLD.start_at AND NEW.end_at IS NOT NULL "
           "AND (OLD.end_at IS NULL OR NEW.end_at <= OLD.end_at)")
"""An UPDATE of a counted row to a window inside its old one, on the same device, with no more milli."""

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION allocations_within_capacity() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    peak integer;
BEGIN
    IF NEW.drawn_from IS NOT NULL OR (NEW.end_at IS NOT NULL AND NEW.end_at <= NEW.start_at) THEN
        RETURN NEW;
    END IF;
    {{shrink}}
    PERFORM 1 FROM devices WHERE id = NEW.device_id FOR UPDATE;
    peak := ({_peak_sql(True)});
    IF peak + NEW.milli > 1000 THEN
        RAISE EXCEPTION USING ERRCODE = 'exclusion_violation',
            MESSAGE = '{OVER_CAPACITY}: device ' || NEW.device_id || ' would hold ' || (peak + NEW.milli)
                      || ' milli (at most 1000)';
    END IF;
    RETURN NEW;
END $$
"""


def _pg_function(shrink_exempt: bool) -> str:
    skip = f"IF TG_OP = 'UPDATE' AND {SHRINKS} THEN\n        RETURN NEW;\n    END IF;" if shrink_exempt else ""
    return _PG_FUNCTION.replace("{shrink}", skip)


def install(conn: Connection) -> None:
    """Create the constraint and triggers on ``conn``'s dialect (idempotent for the triggers)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS btree_gist"))
        conn.execute(text(
            f"ALTER TABLE allocations ADD CONSTRAINT {WHOLE_DEVICE} EXCLUDE USING gist "
            "(device_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
            "WHERE (milli = 1000 AND drawn_from IS NULL)"))
    install_checks(conn)


def install_checks(conn: Connection, *, shrink_exempt: bool = True) -> None:
    """(Re)create the trigger checks (not the whole-device constraint); ``shrink_exempt=False`` gives
    the rule as it was before migration 0020 (every UPDATE checked)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(_pg_function(shrink_exempt)))
        conn.execute(text("DROP TRIGGER IF EXISTS tr_allocations_capacity ON allocations"))
        conn.execute(text(
            "CREATE TRIGGER tr_allocations_capacity BEFORE INSERT OR UPDATE OF device_id, milli, start_at, end_at, "
            "drawn_from ON allocations FOR EACH ROW EXECUTE FUNCTION allocations_within_capacity()"))
        return
    for name, event, exclude in (("tr_allocations_capacity_insert", "INSERT", False),
                                 ("tr_allocations_capacity_update",
                                  "UPDATE OF device_id, milli, start_at, end_at, drawn_from", True)):
        when = f"{_SQLITE_WHEN} AND NOT ({SHRINKS})" if exclude and shrink_exempt else _SQLITE_WHEN
        conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        conn.execute(text(
            f"CREATE TRIGGER {name} BEFORE {event} ON allocations WHEN {when} BEGIN "
            f"SELECT RAISE(ABORT, '{OVER_CAPACITY}') WHERE NEW.milli + ({_peak_sql(exclude)}) > 1000; END"))


def uninstall(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("DROP TRIGGER IF EXISTS tr_allocations_capacity ON allocations"))
        conn.execute(text("DROP FUNCTION IF EXISTS allocations_within_capacity()"))
        conn.execute(text(f"ALTER TABLE allocations DROP CONSTRAINT IF EXISTS {WHOLE_DEVICE}"))
        return
    conn.execute(text("DROP TRIGGER IF EXISTS tr_allocations_capacity_insert"))
    conn.execute(text("DROP TRIGGER IF EXISTS tr_allocations_capacity_update"))


def is_over_capacity(error: BaseException) -> bool:
    """Is this database error the capacity rule refusing an allocation?"""
    msg = str(getattr(error, "orig", error))
    return OVER_CAPACITY in msg or WHOLE_DEVICE in msg or HOST_OVER_CAPACITY in msg

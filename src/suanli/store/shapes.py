"""Host resources held per lease and node (``node_allocations``) and resource list prices.

The database refuses a hold beyond a node's host capacity at any instant (same shape of rule as
:mod:`suanli.store.capacity` for devices): for each of CPU milli, RAM MiB, NIC Mbps and disk GiB,
the sum over the node's rows whose ``[start_at, end_at)`` contains an instant is at most the node's
capacity (:class:`suanli.domain.shapes.NodeCapacity`). The check runs at the new row's start and
at every start of another row of the node inside its window (the load only rises at a start).

- PostgreSQL: a ``BEFORE INSERT OR UPDATE`` trigger that first locks the node row (``FOR UPDATE``:
  concurrent holds on one node queue, and each then sees the ones committed before).
- SQLite: ``BEFORE INSERT`` / ``BEFORE UPDATE`` triggers (``RAISE(ABORT)``); writers already run one
  at a time.

An UPDATE that only shrinks a row (same node, no more of anything, a window inside the old one:
ending, interrupting, suspending a lease) is never checked, so giving resources up never queues.
Both fail with a message containing :data:`HOST_OVER_CAPACITY`, which
:func:`suanli.store.capacity.is_over_capacity` recognises (the writer re-places: ``StaleClaim``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, literal, or_, select, text, update
from sqlalchemy.orm import Session

from suanli.domain.leases import LeaseState
from suanli.domain.shapes import (
    Amounts,
    Hold,
    HoldSpan,
    NodeCapacity,
    ResourceKind,
    ResourcePrice,
    Shape,
    hold_for,
)
from suanli.errors import ConflictError
from suanli.store.capacity import HOST_OVER_CAPACITY
from suanli.store.db import unsynchronized
from suanli.store.shapes_tables import NodeAllocationRow, ResourcePriceRow
from suanli.store.tables import DeviceRow, LeaseRow, NodeRow

ALL_SITES = "*"

_POINTS = """SELECT NEW.start_at AS t UNION
    SELECT b.start_at FROM node_allocations b
     WHERE b.node_id = NEW.node_id AND b.start_at > NEW.start_at
       AND (NEW.end_at IS NULL OR b.start_at < NEW.end_at) {self_b}"""


def _load(col: str, self_a: str) -> str:
    return (f"(SELECT coalesce(sum(a.{col}), 0) FROM node_allocations a WHERE a.node_id = NEW.node_id "
            f"AND a.start_at <= p.t AND (a.end_at IS NULL OR a.end_at > p.t) AND (a.end_at IS NULL OR "
            f"a.end_at > a.start_at) {self_a})")


def _over_sql(exclude_self: bool) -> str:
    """Rows (one per instant) at which the new row would overfill its node."""
    self_a = "AND a.id <> NEW.id" if exclude_self else ""
    self_b = "AND b.id <> NEW.id" if exclude_self else ""
    return (f"SELECT 1 FROM ({_POINTS.format(self_b=self_b)}) p, nodes n WHERE n.id = NEW.node_id AND ("
            f"{_load('cpu_milli', self_a)} + NEW.cpu_milli > n.cpu_cores * 1000 OR "
            f"{_load('ram_mib', self_a)} + NEW.ram_mib > n.memory_gib * 1024 OR "
            f"{_load('nic_mbps', self_a)} + NEW.nic_mbps > n.nic_gbps * 1000 OR "
            f"{_load('disk_gib', self_a)} + NEW.disk_gib > CAST(n.disk_gb AS BIGINT) * 1000000000 / 1073741824)")


_COUNTED = "(NEW.end_at IS NULL OR NEW.end_at > NEW.start_at)"
_SHRINKS = ("NEW.node_id = OLD.node_id AND NEW.cpu_milli <= OLD.cpu_milli AND NEW.ram_mib <= OLD.ram_mib "
            "AND NEW.nic_mbps <= OLD.nic_mbps AND NEW.disk_gib <= OLD.disk_gib AND NEW.start_at >= OLD.start_at "
            "AND NEW.end_at IS NOT NULL AND (OLD.end_at IS NULL OR NEW.end_at <= OLD.end_at)")


def install(conn: Connection) -> None:
    """Create the capacity triggers of ``node_allocations`` on ``conn``'s dialect (idempotent)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"""
CREATE OR REPLACE FUNCTION node_allocations_within_capacity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT {_COUNTED} THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND {_SHRINKS} THEN
        RETURN NEW;
    END IF;
    PERFORM 1 FROM nodes WHERE id = NEW.node_id FOR UPDATE;
    IF EXISTS ({_over_sql(True)}) THEN
        RAISE EXCEPTION USING ERRCODE = 'exclusion_violation',
            MESSAGE = '{HOST_OVER_CAPACITY}: node ' || NEW.node_id || ' would hold more CPU, RAM, NIC or disk '
                      || 'than it has';
    END IF;
    RETURN NEW;
END $$"""))
        conn.execute(text("DROP TRIGGER IF EXISTS tr_node_allocations_capacity ON node_allocations"))
        conn.execute(text(
            "CREATE TRIGGER tr_node_allocations_capacity BEFORE INSERT OR UPDATE ON node_allocations "
            "FOR EACH ROW EXECUTE FUNCTION node_allocations_within_capacity()"))
        return
    for name, event, exclude in (("tr_node_allocations_capacity_insert", "INSERT", False),
                                 ("tr_node_allocations_capacity_update", "UPDATE", True)):
        when = f"{_COUNTED} AND NOT ({_SHRINKS})" if exclude else _COUNTED
        conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        conn.execute(text(
            f"CREATE TRIGGER {name} BEFORE {event} ON node_allocations WHEN {when} BEGIN "
            f"SELECT RAISE(ABORT, '{HOST_OVER_CAPACITY}') WHERE EXISTS ({_over_sql(exclude)}); END"))


def uninstall(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("DROP TRIGGER IF EXISTS tr_node_allocations_capacity ON node_allocations"))
        conn.execute(text("DROP FUNCTION IF EXISTS node_allocations_within_capacity()"))
        return
    conn.execute(text("DROP TRIGGER IF EXISTS tr_node_allocations_capacity_insert"))
    conn.execute(text("DROP TRIGGER IF EXISTS tr_node_allocations_capacity_update"))


# --------------------------------------------------------------------------- holds
def add_holds(s: Session, lease_id: str, holds: Iterable[Hold], start: datetime, end: datetime | None) -> None:
    """Stage the lease's holds (by node id: concurrent writers lock nodes in one order). The caller's
    next flush runs the capacity check: stage them before :func:`suanli.store.leases.insert_allocations`,
    whose flush turns a refusal into ``StaleClaim`` (:func:`suanli.store.order_batch.insert_order_rows`
    inserts :func:`hold_rows` itself)."""
    for row in hold_rows(lease_id, holds, start, end):
        s.add(NodeAllocationRow(**row))


def hold_rows(lease_id: str, holds: Iterable[Hold], start: datetime, end: datetime | None) -> list[dict[str, Any]]:
    """The ``node_allocations`` rows of the lease's holds, by node id (none for a hold of nothing)."""
    return [dict(lease_id=lease_id, node_id=h.node_id, cpu_milli=h.held.cpu_milli, ram_mib=h.held.ram_mib,
                 nic_mbps=h.held.nic_mbps, disk_gib=h.held.disk_gib, extra_cpu_milli=h.extra.cpu_milli,
                 extra_ram_mib=h.extra.ram_mib, extra_nic_mbps=h.extra.nic_mbps, extra_disk_gib=h.extra.disk_gib,
                 start_at=start, end_at=end)
            for h in sorted(holds, key=lambda x: x.node_id) if h.held.any]


def end_open_holds(s: Session, lease_id: str, at: datetime) -> None:
    """Give up the lease's host resources at ``at`` (as :func:`suanli.store.leases.end_open_allocations`
    gives up its devices: a hold not started by then is kept zero-length)."""
    row = NodeAllocationRow
    not_started = row.start_at >= at
    stmt = (update(row)
            .where(row.lease_id == lease_id,
                   or_(and_(not_started, or_(row.end_at.is_(None), row.end_at > row.start_at)),
                       and_(row.start_at < at, or_(row.end_at.is_(None), row.end_at > at))))
            .values(end_at=case((not_started, row.start_at), else_=literal(at, type_=row.end_at.type))))
    s.execute(unsynchronized(s, stmt))


def held_now(s: Session, lease_id: str, at: datetime) -> dict[str, tuple[int, int]]:
    """Node name -> (CPU milli, RAM MiB) the lease holds at ``at`` (what its jobs are limited to)."""
    row = NodeAllocationRow
    out: dict[str, tuple[int, int]] = {}
    for name, cpu, ram in s.execute(select(NodeRow.name, row.cpu_milli, row.ram_mib).join(
            row, row.node_id == NodeRow.id).where(row.lease_id == lease_id, row.start_at <= at,
                                                  or_(row.end_at.is_(None), row.end_at > at))):
        c, r = out.get(name, (0, 0))
        out[name] = (c + cpu, r + ram)
    return out


def nodes_held(s: Session, lease_id: str, at: datetime) -> set[str]:
    """The names of the nodes whose host resources the lease holds at ``at`` or later."""
    row = NodeAllocationRow
    return set(s.scalars(select(NodeRow.name).join(row, row.node_id == NodeRow.id).where(
        row.lease_id == lease_id, or_(row.end_at.is_(None), row.end_at > at), or_(row.end_at.is_(None),
                                                                                   row.end_at > row.start_at))))


def hold_shares(s: Session, parts: Sequence[tuple[str, int, int, datetime, datetime | None]]) -> None:
    """Hold the proportional host share of these (lease, device, milli, start, end) device parts, per
    lease, node and window (allocations that stopped being drawn on a term's reservation)."""
    if not parts:
        return
    devices = {d: n for d, n in s.execute(select(DeviceRow.id, DeviceRow.node_id).where(
        DeviceRow.id.in_(sorted({p[1] for p in parts}))))}
    nodes = {r.id: r for r in s.execute(select(NodeRow.id, NodeRow.cpu_cores, NodeRow.memory_gib, NodeRow.nic_gbps,
                                                NodeRow.disk_gb, NodeRow.device_count)
                                         .where(NodeRow.id.in_(sorted(set(devices.values())))))}
    acc: dict[tuple[str, int, datetime, datetime | None], int] = {}
    for lease, device, milli, start, end in parts:
        key = (lease, devices[device], start, end)
        acc[key] = acc.get(key, 0) + milli
    for (lease, node, start, end), milli in sorted(acc.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        n = nodes[node]
        cap = NodeCapacity.of(n.cpu_cores, n.memory_gib, n.nic_gbps, n.disk_gb)
        add_holds(s, lease, [hold_for(node, cap, n.device_count, milli, Shape(), cpu_only=False,
                                      whole_node=milli >= n.device_count * 1000)], start, end)
    s.flush()


def hold_end_moved(lease_id: str, old_end: datetime, new_end: datetime) -> Any:
    """The UPDATE that extends the lease's current holds (those ending at ``old_end``), as its
    allocations are; run it through the caller's refusal mapping (the added time is checked)."""
    row = NodeAllocationRow
    return (update(row).where(row.lease_id == lease_id, row.end_at == old_end, row.end_at > row.start_at)
            .values(end_at=new_end))


@dataclass(frozen=True)
class NodeHost:
    """A node's host capacity and where it is."""

    node_id: int
    name: str
    site: str
    supplier: str
    state: str
    capacity: NodeCapacity


def node_hosts(s: Session) -> dict[str, NodeHost]:
    """Every node's host capacity, by name."""
    q = select(NodeRow.id, NodeRow.name, NodeRow.site, NodeRow.supplier, NodeRow.state, NodeRow.cpu_cores,
               NodeRow.memory_gib, NodeRow.nic_gbps, NodeRow.disk_gb)
    return {r.name: NodeHost(r.id, r.name, r.site, r.supplier, r.state,
                             NodeCapacity.of(r.cpu_cores, r.memory_gib, r.nic_gbps, r.disk_gb)) for r in s.execute(q)}


_LIVE = (LeaseState.SCHEDULED.value, LeaseState.ACTIVE.value)


def held_by_node(s: Session, start: datetime, end: datetime | None, *, exclude_lease: str | None = None
                 ) -> dict[int, Amounts]:
    """Per node id: host resources held by live leases over [start, end), summed over every hold that
    overlaps the window (the worst case, as devices' busy allocations are counted)."""
    row = NodeAllocationRow
    cond = [LeaseRow.state.in_(_LIVE), or_(row.end_at.is_(None), row.end_at > start),
            or_(row.end_at.is_(None), row.end_at > row.start_at)]
    if end is not None:
        cond.append(row.start_at < end)
    if exclude_lease is not None:
        cond.append(row.lease_id != exclude_lease)
    q = (select(row.node_id, row.cpu_milli, row.ram_mib, row.nic_mbps, row.disk_gib)
         .join(LeaseRow, LeaseRow.id == row.lease_id).where(*cond))
    out: dict[int, Amounts] = {}
    for node, c, r, n, d in s.execute(q):
        o = out.get(node, Amounts())
        out[node] = Amounts(o.cpu_milli + c, o.ram_mib + r, o.nic_mbps + n, o.disk_gib + d)
    return out


def holds_of(s: Session, lease_ids: Sequence[str], *, since: datetime | None = None,
             until: datetime | None = None) -> list[HoldSpan]:
    """The stored holds of these leases (zero-length ones left out), optionally overlapping [since, until)."""
    if not lease_ids:
        return []
    row = NodeAllocationRow
    q = (select(row, NodeRow.name, NodeRow.site, NodeRow.supplier).join(NodeRow, NodeRow.id == row.node_id)
         .where(row.lease_id.in_(list(lease_ids)), or_(row.end_at.is_(None), row.end_at > row.start_at))
         .order_by(row.lease_id, NodeRow.name, row.start_at))
    if since is not None:
        q = q.where(or_(row.end_at.is_(None), row.end_at > since))
    if until is not None:
        q = q.where(row.start_at < until)
    return [HoldSpan(r.lease_id, name, site, supplier,
                     Amounts(r.cpu_milli, r.ram_mib, r.nic_mbps, r.disk_gib),
                     Amounts(r.extra_cpu_milli, r.extra_ram_mib, r.extra_nic_mbps, r.extra_disk_gib),
                     r.start_at, r.end_at)
            for r, name, site, supplier in s.execute(q)]


def tenant_extra_holds(s: Session, tenant_id: str, since: datetime, until: datetime) -> list[HoldSpan]:
    """The tenant's holds with extras (what resource prices bill) overlapping [since, until)."""
    row = NodeAllocationRow
    ids = list(s.scalars(select(row.lease_id).distinct().join(LeaseRow, LeaseRow.id == row.lease_id).where(
        LeaseRow.tenant_id == tenant_id, row.start_at < until, or_(row.end_at.is_(None), row.end_at > since),
        or_(row.extra_cpu_milli > 0, row.extra_ram_mib > 0, row.extra_nic_mbps > 0, row.extra_disk_gib > 0))))
    return [h for h in holds_of(s, ids, since=since, until=until) if h.extra.any]


# --------------------------------------------------------------------------- resource prices
def add_resource_price(s: Session, price: ResourcePrice, now: datetime) -> None:
    site = price.site or ALL_SITES
    row = ResourcePriceRow
    clash = s.scalar(select(row.id).where(row.resource == price.resource.value, row.site == site,
                                          row.effective_from == price.effective_from))
    if clash is not None:
        raise ConflictError(f"a {price.resource.value} price at {site} effective {price.effective_from.isoformat()} "
                            "already exists; prices are effective-dated: add one with a later effective_from",
                            resource=price.resource.value, site=site)
    s.add(row(resource=price.resource.value, site=site, amount=price.amount, currency=price.currency,
              effective_from=price.effective_from, created_at=now))
    s.flush()


def list_resource_prices(s: Session) -> list[ResourcePrice]:
    row = ResourcePriceRow
    rows = s.scalars(select(row).order_by(row.resource, row.site, row.effective_from))
    return [ResourcePrice(ResourceKind(r.resource), None if r.site == ALL_SITES else r.site, r.amount, r.currency,
                          r.effective_from) for r in rows]

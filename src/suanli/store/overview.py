"""Reads for the operator's overview: the allocation windows of a period, whatever their lease's state.

Recorded time is granted time: an allocation row's ``[start_at, end_at)`` is exactly when its
lease held the device (a suspended or ended lease's rows carry their end), so the load of any past
instant and the rented device-hours of any past period are recomputed from these rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from suanli.domain.leases import Allocation, ProductForm
from suanli.domain.overview import LeaseHold
from suanli.store.tables import AllocationRow, DeviceRow, LeaseRow, NodeRow


def holds(s: Session, start: datetime, end: datetime) -> list[LeaseHold]:
    """The allocation windows overlapping ``[start, end)`` (zero-length windows excluded), one query."""
    q = (select(AllocationRow.lease_id, LeaseRow.tenant_id, LeaseRow.form, LeaseRow.commission_rate,
                DeviceRow.id, NodeRow.name, DeviceRow.slot, DeviceRow.model, NodeRow.site, NodeRow.supplier,
                NodeRow.fabric, AllocationRow.milli, AllocationRow.memory_mib, AllocationRow.start_at,
                AllocationRow.end_at, AllocationRow.drawn_from)
         .join(LeaseRow, LeaseRow.id == AllocationRow.lease_id)
         .join(DeviceRow, DeviceRow.id == AllocationRow.device_id)
         .join(NodeRow, NodeRow.id == DeviceRow.node_id)
         .where(AllocationRow.start_at < end,
                or_(AllocationRow.end_at.is_(None), and_(AllocationRow.end_at > start,
                                                         AllocationRow.end_at > AllocationRow.start_at)))
         .order_by(AllocationRow.id))
    return [LeaseHold(lid, tid, ProductForm(form), rate, Allocation(*rest))
            for lid, tid, form, rate, *rest in s.execute(q)]

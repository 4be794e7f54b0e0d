from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, StrictBool

from suanli.api.schemas.common import (
    MAX_LIST,
    Count,
    Dec,
    GiB,
    Hours,
    Instant,
    MaxRttMs,
    MiB,
    Name,
    Percent,
    PFlops,
    Text,
    Wire,
)
from suanli.api.schemas.shapes import Cores, DiskGiB, NicGbps, RamGiB


class OrderRequest(Wire):
    """One product form; see PRODUCT.md. Unused fields for a form must be left out. Bounds: docs/api.md
    "Input rules"."""

    form: Name = Field(description="server | gpu | slice | cluster | flops | cpu (a CPU-only instance: cpu_cores "
                       "and ram_gib required)")
    quantity: Count | None = Field(None, description="servers, GPUs or cluster nodes: 1 to 10,000")
    models: list[Name] | None = Field(None, max_length=MAX_LIST)
    sites: list[Name] | None = Field(None, max_length=MAX_LIST)
    regions: list[Name] | None = Field(None, max_length=MAX_LIST)
    vendors: list[Name] | None = Field(None, max_length=MAX_LIST)
    share_pct: Percent | None = Field(None, description="slice: compute share 1-100")
    memory_mib: MiB | None = Field(None, description="slice: device memory in MiB")
    p: PFlops | None = Field(None, description="flops: PFLOPS dense FP16, above 0 up to 100,000")
    min_memory_gib: GiB | None = None
    topology: Name | None = Field(None, description="flops: node | fabric | any")
    start: Instant | None = Field(None, description="future start = reservation; default now; with a time zone")
    end: Instant | None = Field(None, description="with a time zone")
    hours: Hours | None = Field(None, description="term in hours (instead of end), above 0 up to 87,600; "
                                                  "neither = open-ended")
    max_rtt_ms: MaxRttMs | None = Field(None, description="only sites whose measured round-trip time (median of "
                                        "their agents' measurements) is at most this many ms: above 0 up to 10,000")
    allow_unenforced: StrictBool | None = Field(None, description="slice: accept a slice that no mechanism (MIG, "
                                          "HAMi, MPS, vNPU) can hold to its share; refused (422) otherwise")
    migratable: StrictBool | None = Field(None, description="gpu or slice: the lease accepts moves to other devices "
                                    "with notice (defragmentation), for the operator's discount (docs/defrag.md)")
    wait_until: Instant | None = Field(None, description="the order may wait in the queue until then if it does not "
                                       "fit now (future, at most 30 days ahead; docs/queue.md)")
    priority: Name | None = Field(None, description="queue priority class: high | normal (default) | low; high only "
                                  "for tenants the operator allows")
    slice_class: Name | None = Field(None, description="slice: guaranteed (default) | burstable (compute may be "
                                     "oversold, priced lower; docs/slices.md)")
    cpu_cores: Cores | None = Field(None, description="gpu, slice, flops (per node), cpu: host CPU cores held; "
                                    "beyond the devices' share billed per core-hour (docs/orders.md Custom shapes)")
    ram_gib: RamGiB | None = Field(None, description="host RAM in GiB (not device memory); as cpu_cores")
    nic_gbps: NicGbps | None = Field(None, description="NIC bandwidth held, Gbps; as cpu_cores")
    disk_gib: DiskGiB | None = Field(None, description="local disk held, GiB; as cpu_cores")

    def to_raw(self) -> dict[str, Any]:
        raw = self.model_dump(exclude_none=True)
        for k in ("p", "hours", "max_rtt_ms"):
            if k in raw:
                raw[k] = str(raw[k])
        return raw


class QuoteLineResponse(BaseModel):
    """The rate of one (model, site) of the lease from ``valid_from`` on (a later line: an extension's added time)."""

    model: str
    site: str
    valid_from: datetime
    devices: Dec
    device_hour: Dec = Field(description="rate per device-hour (12 places): what a quoted lease is billed")
    p_year: Dec | None = Field(description="the same rate per P-year (元/P/年); none for a model without a P figure")
    list_device_hour: Dec | None = Field(description="the list price per device-hour in force at the quote")
    plan: str = Field(description="the tenant's plan in force at the quote ('' for none)")
    basis: str = Field(description="plan_rate | commit_price | list (list price less the plan's discount) | "
                                   "burstable (list price; devices = sold share less the burstable discount)")
    hourly: Dec = Field(description="devices x device_hour: the lease's cost per hour at this rate")
    term_hours: Dec | None = None
    term_total: Dec | None = Field(None, description="fixed term: rounded once per invoice line (per node)")


class QuoteResponse(BaseModel):
    """A lease's price quote. ``pricing``: ``quoted`` (a fixed term or a reservation: billed at this
    quote whatever prices do later) or ``list`` (open-ended: follows the list price and plan in
    force at each second; the quote shows what it cost at the grant)."""

    pricing: str
    currency: str
    hourly: Dec
    term_total: Dec | None = None
    note: str = ""
    lines: list[QuoteLineResponse]
    enforcement: str | None = None
    """A would-be slice: how it would be held to its share (docs/slices.md)."""


class QueuePlaceResponse(BaseModel):
    position: int = Field(description="1 = served next (priority class, weighted fair share, arrival)")
    priority: str
    wait_until: datetime
    estimated_start: datetime | None = Field(description="from the reservation calendar; none: not within the horizon")


class OrderResponse(BaseModel):
    id: str
    tenant_id: str
    form: str
    spec: dict[str, Any]
    start: datetime
    end: datetime | None
    status: str
    reason: str
    created_at: datetime
    lease_id: str | None
    ordered_by: str | None = None
    """The account that placed it: the organisation's own or one of its members."""
    replayed: bool = False
    quote: QuoteResponse | None = None
    """The lease's price quote (on the response that places or replays the order)."""
    enforcement: str | None = None
    """A slice: how it is held to its share (``mig:1g.10gb``, ``hami``, ``mps``, ``vnpu:vir05_1c_16g``,
    ``none``; docs/slices.md), on the response that places it."""
    queue: QueuePlaceResponse | None = None
    """A queued order's place in the queue (status ``queued``: answered 202; docs/queue.md)."""



class AllocationResponse(BaseModel):
    node: str
    device: int
    model: str
    site: str
    fabric: str
    milli: int
    memory_mib: int
    start: datetime
    end: datetime | None = None
    """A lease re-placed after a failure lists its old devices (ended) and its current ones."""
    held: bool = True
    """The lease holds this now (or gave it up last, once it is over); false: history, given up
    at ``end`` before a re-placement or a resume."""
    sold_milli: int | None = None
    """A burstable slice's sold share (``milli`` is then the device capacity it takes: docs/slices.md)."""


class LeaseEventResponse(BaseModel):
    at: datetime
    from_state: str
    to_state: str
    reason: str
    actor: str = "system"
    """Who caused it: an account name, or ``system`` (the platform's own: a term over, a reconciler)."""


class LeaseResponse(BaseModel):
    id: str
    order_id: str
    tenant_id: str
    form: str
    state: str
    start: datetime
    end: datetime | None
    activated_at: datetime | None
    ended_at: datetime | None
    reason: str
    placement: str
    devices: Dec
    """Devices the lease holds now (shares summed; once it is over, what it held last); never its history."""
    allocations: list[AllocationResponse]
    events: list[LeaseEventResponse] | None = None
    pricing: str | None = None
    """``quoted`` or ``list`` (see :class:`QuoteResponse`); shown with one lease to its tenant and the operator."""
    quote: QuoteResponse | None = None
    enforcement: str | None = None
    """A slice lease, shown alone: how it is held to its share (docs/slices.md)."""
    preempt_at: datetime | None = None
    """A spot lease under notice, shown alone: it ends at this instant for a queued on-demand order (docs/queue.md)."""


class ExtendRequest(Wire):
    hours: Hours | None = Field(None, description="more hours: above 0 up to 87,600")
    end: Instant | None = Field(None, description="the new end, with a time zone")


class EndRequest(Wire):
    reason: Text = ""

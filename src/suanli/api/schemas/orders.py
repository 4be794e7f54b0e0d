from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from suanli.api.schemas.common import Dec, Wire


class OrderRequest(Wire):
    """One product form; see PRODUCT.md. Unused fields for a form must be left out."""

    form: str = Field(description="server | gpu | slice | cluster | flops")
    quantity: int | None = Field(None, description="servers, GPUs or cluster nodes")
    models: list[str] | None = None
    sites: list[str] | None = None
    regions: list[str] | None = None
    vendors: list[str] | None = None
    share_pct: int | None = Field(None, description="slice: compute share 1-100")
    memory_mib: int | None = Field(None, description="slice: device memory in MiB")
    p: Dec | None = Field(None, description="flops: PFLOPS dense FP16")
    min_memory_gib: int | None = None
    topology: str | None = Field(None, description="flops: node | fabric | any")
    start: datetime | None = Field(None, description="future start = reservation; default now")
    end: datetime | None = None
    hours: Dec | None = Field(None, description="term in hours (instead of end); neither = open-ended")

    def to_raw(self) -> dict[str, Any]:
        raw = self.model_dump(exclude_none=True)
        for k in ("p", "hours"):
            if k in raw:
                raw[k] = str(raw[k])
        return raw


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
    replayed: bool = False


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


class LeaseEventResponse(BaseModel):
    at: datetime
    from_state: str
    to_state: str
    reason: str


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


class ExtendRequest(Wire):
    hours: Dec | None = None
    end: datetime | None = None


class EndRequest(Wire):
    reason: str = ""

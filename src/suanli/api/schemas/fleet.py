from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from suanli.api.schemas.common import Amount, Dec, Instant, Name, Text, Wire


class AcceleratorResponse(BaseModel):
    name: str
    vendor: str
    kind: str
    memory_gib: int
    fp16_tflops: Dec
    fp32_tflops: Dec
    tdp_watts: int
    interconnect_gbps: int
    p: Dec
    source: str


class FleetImportResponse(BaseModel):
    models: int
    sites: int
    suppliers: int
    nodes: int
    new_nodes: int
    prices: int
    floors: int


class NodeResponse(BaseModel):
    name: str
    site: str
    supplier: str
    model: str
    devices: int
    cpu_cores: int
    memory_gib: int
    fabric: str
    state: str
    state_reason: str = ""


class NodeStateRequest(Wire):
    state: Name
    reason: Text = Field("", max_length=400, description="At most 400 characters without control characters.")


class NodeStateResponse(BaseModel):
    name: str
    state: str
    reason: str


class NodeTransferRequest(Wire):
    """Give a node to another supplier from ``effective_from`` (default: now) on; never earlier."""

    supplier: Name
    effective_from: Instant | None = Field(None, description="ISO-8601 with a time zone; now or later.")
    reason: Text = Field(min_length=1)


class OwnershipSpan(BaseModel):
    supplier: str
    start: datetime
    end: datetime | None = Field(description="None: still owns it.")
    reason: str


class NodeOwnershipResponse(BaseModel):
    """Who owns a node now and who owned it when (usage is attributed to the owner at its instant)."""

    node: str
    supplier: str
    history: list[OwnershipSpan]


class FloorRequest(Wire):
    model: Name
    device_hour: Amount


class FloorResponse(BaseModel):
    supplier: str
    model: str
    device_hour: Dec


FleetDocument = dict[str, Any]

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from suanli.api.schemas.common import Dec, Wire


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
    state: str
    reason: str = ""


class NodeStateResponse(BaseModel):
    name: str
    state: str
    reason: str


class FloorRequest(Wire):
    model: str
    device_hour: Dec


class FloorResponse(BaseModel):
    supplier: str
    model: str
    device_hour: Dec


FleetDocument = dict[str, Any]

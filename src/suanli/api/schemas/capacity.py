"""Wire schemas of the capacity and energy report (``GET /v1/reports/capacity``, ``/v1/reports/energy``,
``/v1/reports/capacity/now``) and the fleet heatmap (``GET /v1/fleet/heatmap``); importable without FastAPI.

Every figure is an exact decimal string: rates 4 places, device-equivalents and device-hours 3,
kWh 3, money 2 (docs/capacity.md).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from suanli.api.schemas.common import Dec, Money


class CapacityFiguresOut(BaseModel):
    observed_seconds: Dec = Field(description="seconds of the period covered by samples")
    devices: Dec = Field(description="mean devices (available + down)")
    available: Dec = Field(description="mean devices on available nodes")
    down: Dec = Field(description="mean devices on nodes down or in maintenance")
    allocated: Dec = Field(description="mean allocated device-equivalents at the samples' instants")
    rented: Dec = Field(description="mean rented device-equivalents (exact, from the allocation records)")
    fragmented: Dec = Field(description="mean idle device-equivalents the typical requests cannot use (FGD)")
    unrented: Dec = Field(description="mean idle device-equivalents the typical requests can use")
    available_device_hours: Dec
    rented_device_hours: Dec
    allocation_rate: Dec | None = Field(description="allocated / available (分配率)")
    lease_rate: Dec | None = Field(description="rented device-hours / available device-hours (出租率)")
    utilisation: Dec | None = Field(description="measured busy share where telemetry reports it, else null")
    it_kwh: Dec
    measured_kwh: Dec = Field(description="the part of it_kwh measured by telemetry; the rest is modelled")
    facility_kwh: Dec = Field(description="it_kwh x the site's PUE")
    power_cost: Money = Field(description="facility_kwh x the site's power price")


class CapacityGroupOut(BaseModel):
    group: str = Field(description="site, model, supplier or node name; 'total' for by=none")
    figures: CapacityFiguresOut


class CapacityPointOut(BaseModel):
    at: datetime
    group: str
    figures: CapacityFiguresOut


class CapacityReportResponse(BaseModel):
    start: datetime
    end: datetime
    by: str
    step: str = Field(description="raw (one point per sample), hour or day")
    currency: str
    total: CapacityFiguresOut
    groups: list[CapacityGroupOut]
    points: list[CapacityPointOut]


class EnergyGroupOut(BaseModel):
    group: str
    it_kwh: Dec
    measured_kwh: Dec
    facility_kwh: Dec
    power_cost: Money


class EnergyReportResponse(BaseModel):
    start: datetime
    end: datetime
    by: str
    currency: str
    total: EnergyGroupOut
    groups: list[EnergyGroupOut]


class CapacityNowResponse(BaseModel):
    at: datetime
    by: str
    currency: str
    power_kw: Dec = Field(description="IT power now (measured where telemetry reports it, else modelled)")
    facility_kw: Dec
    power_cost_per_hour: Money
    total: CapacityFiguresOut
    groups: list[CapacityGroupOut]


class HeatLeaseOut(BaseModel):
    lease: str
    state: str
    share: Dec = Field(description="of the device, 0..1")
    tenant: str | None = Field(description="the tenant's id (null for a supplier)")
    tenant_name: str | None = Field(description="the tenant's name (null for a supplier)")
    drawn: bool = Field(description="drawn on a reservation whose own allocation holds the device")


class HeatDeviceOut(BaseModel):
    slot: int
    model: str
    fill: Dec = Field(description="share held by leases, 0..1")
    state: str = Field(description="the node's state: available, down or maintenance")
    leases: list[HeatLeaseOut]


class HeatNodeOut(BaseModel):
    node: str
    site: str
    model: str
    supplier: str
    state: str
    devices: list[HeatDeviceOut]


class HeatmapResponse(BaseModel):
    at: datetime
    nodes: list[HeatNodeOut]

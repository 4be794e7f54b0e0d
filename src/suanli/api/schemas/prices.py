from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from suanli.api.schemas.common import Dec, Wire


class PriceSetRequest(Wire):
    model: str
    amount: Dec
    unit: str = "device_hour"
    site: str | None = None
    effective_from: datetime | None = None
    currency: str | None = None


class PriceResponse(BaseModel):
    model: str
    site: str | None
    unit: str
    amount: Dec
    currency: str
    effective_from: datetime
    device_hour: Dec
    p_year: Dec


class OfferResponse(BaseModel):
    model: str
    vendor: str
    memory_gib: int
    p_per_device: Dec
    site: str
    region: str
    tier: str
    devices: int
    free_devices: int
    free_device_equiv: Dec
    nodes: int
    price_device_hour: Dec | None
    price_p_year: Dec | None
    currency: str
    energy_cost_per_p_hour: Dec

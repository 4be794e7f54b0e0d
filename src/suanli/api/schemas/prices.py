from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from suanli.api.schemas.common import Amount, Dec, Instant, Name, Text, Wire


class PriceSetRequest(Wire):
    model: Name
    amount: Amount
    unit: Name = "device_hour"
    site: Name | None = None
    effective_from: Instant | None = None
    """Now or later (omitted: now); a past instant is a 422 (correct the past with a price correction)."""
    currency: Name | None = None


class PriceResponse(BaseModel):
    model: str
    site: str | None
    unit: str
    amount: Dec
    currency: str
    effective_from: datetime
    device_hour: Dec
    p_year: Dec


class PriceCorrectionRequest(BaseModel):
    """Over the past window [from, to) the price of ``model`` (at ``site``, else every site) was ``amount``.
    Unknown fields are refused (422); ``from`` and ``to`` are the wire names of ``start`` and ``end``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    model: Name
    amount: Amount
    unit: Name = "device_hour"
    site: Name | None = None
    start: Instant = Field(alias="from")
    end: Instant = Field(alias="to")
    reason: Text


class CorrectionNoteResponse(BaseModel):
    id: str
    kind: str
    invoice: str
    tenant: str
    amount: Dec
    tax: Dec
    total: Dec
    supplier_share: Dec | None = None
    """The operator's view only (as the commission)."""
    commission: Dec | None = None
    to_wallet: bool
    lines: list[dict[str, str]]
    at: datetime


class PriceCorrectionResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
    id: str
    model: str
    site: str | None
    unit: str
    amount: Dec
    device_hour: Dec
    currency: str
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    reason: str
    by: str
    at: datetime
    old_prices: list[dict[str, str | None]]
    notes: list[CorrectionNoteResponse]


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
    rtt_ms: Dec | None = Field(None, description="the site's measured round-trip time in ms (median of its approved "
                               "agents heard from within agent_down_s); none: not measured (an order with "
                               "max_rtt_ms never lands there)")

"""Wire schemas of oversubscription (docs/slices.md "Oversubscription")."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field

from suanli.api.schemas.common import Dec, Name, Wire
from suanli.domain.oversub import MAX_DISCOUNT_PCT, MAX_FACTOR, MIN_FACTOR

FactorIn = Annotated[Decimal, Field(ge=MIN_FACTOR, le=MAX_FACTOR, decimal_places=2,
                                    description=f"{MIN_FACTOR} to {MAX_FACTOR}, 2 decimal places")]
DiscountIn = Annotated[Decimal, Field(gt=0, le=MAX_DISCOUNT_PCT, decimal_places=2,
                                      description=f"% off the list price: above 0 up to {MAX_DISCOUNT_PCT}")]


class FactorSetRequest(Wire):
    """A new factor for a (site, model); a change applies to new grants only."""

    site: Name
    model: Name
    factor: FactorIn
    discount_pct: DiscountIn
    offered: bool = True
    """False: stop selling burstable slices there (leases keep their terms)."""


class FactorResponse(BaseModel):
    id: int
    site: str
    model: str
    factor: Dec
    discount_pct: Dec
    offered: bool
    set_by: str
    set_at: datetime


class PoolResponse(BaseModel):
    site: str
    model: str
    pool_devices: int
    slices: int
    charged_milli: int
    sold_compute_milli: int
    oversold: Dec
    """Compute sold ÷ the pool's physical compute."""


class PoolDeviceResponse(BaseModel):
    node: str
    slot: int
    model: str
    site: str
    slices: int
    charged_milli: int
    sold_compute_milli: int
    samples: int
    saturated: int
    contention: Dec | None
    """Share of the telemetry samples in which the device was saturated (none without samples)."""


class OversubResponse(BaseModel):
    as_of: datetime
    max_factor: Dec
    max_discount_pct: Dec
    saturated_pct: int
    in_force: list[FactorResponse]
    history: list[FactorResponse]
    pools: list[PoolResponse]
    devices: list[PoolDeviceResponse]


class BurstableOfferResponse(BaseModel):
    site: str
    model: str
    discount_pct: Dec
    note: str

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from suanli.api.schemas.common import Dec


class InvoiceLineResponse(BaseModel):
    lease_id: str
    form: str
    model: str
    site: str
    devices: Dec
    start: datetime
    end: datetime
    seconds: int
    unit_price: Dec
    amount: Dec


class InvoiceResponse(BaseModel):
    tenant: str
    period: str
    currency: str
    issued_at: datetime
    rounding: str = "each line: seconds x unit price / 3600, rounded once to 0.01, half up"
    lines: list[InvoiceLineResponse]
    total: Dec


class RevenueResponse(BaseModel):
    supplier: str
    period: str
    currency: str
    gross: Dec
    supplier_share: Dec
    commission: Dec
    lines: int

"""Wire schemas of custom shapes: the order fields' types and resource list prices (docs/orders.md
"Custom shapes", docs/billing.md "Resource prices")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from suanli.api.schemas.common import Amount, Dec, Instant, Name, Wire, _Int, _int_range
from suanli.domain.shapes import LIMITS


def _json(key: str) -> Any:
    return Field(json_schema_extra={"minimum": 1, "maximum": LIMITS[key]})


Cores = Annotated[_Int, _int_range(1, LIMITS["cpu_cores"], "cores"), _json("cpu_cores")]
RamGiB = Annotated[_Int, _int_range(1, LIMITS["ram_gib"], "GiB of RAM"), _json("ram_gib")]
NicGbps = Annotated[_Int, _int_range(1, LIMITS["nic_gbps"], "Gbps"), _json("nic_gbps")]
DiskGiB = Annotated[_Int, _int_range(1, LIMITS["disk_gib"], "GiB of disk"), _json("disk_gib")]


class ResourcePriceSetRequest(Wire):
    resource: Name = Field(description="cpu_core_hour | ram_gib_hour | nic_gbps_hour | disk_gib_month")
    amount: Amount
    site: Name | None = Field(None, description="one site; omitted: every site (a site's own price wins)")
    effective_from: Instant | None = Field(None, description="now or later (omitted: now); never in the past")
    currency: Name | None = Field(None, description="the operator's currency (the default)")


class ResourcePriceResponse(BaseModel):
    resource: str
    unit: str = Field(description="core-hour | GiB-hour | Gbps-hour | GiB-month (730 hours)")
    site: str | None
    amount: Dec
    currency: str
    effective_from: datetime

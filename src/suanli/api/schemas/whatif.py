"""Wire schemas of what-if runs: the change to simulate, and a run with its progress and result."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field

from suanli.api.schemas.common import Dec, Exact, Name, Wire


class WhatIfAddNodes(Wire):
    """Nodes added to the fleet for the changed run."""

    model: Annotated[Name, Field(description="Accelerator model of the new nodes (a catalog name).")]
    count: Annotated[int, Field(strict=True, ge=1, le=1000, description="How many nodes (1..1000).")]
    site: Annotated[Name, Field(description="The site they are added at.")]
    devices: Annotated[int, Field(strict=True, ge=1, le=64, description="Devices per node (default 8).")] = 8
    cpu_cores: Annotated[int, Field(strict=True, ge=1, le=4096, description="CPU cores per node.")] = 128
    supplier: Annotated[str, Field(max_length=64, description="The supplier paid for their time; empty: the "
                                                              "operator's own nodes (no supplier share).")] = ""


class WhatIfRequest(Wire):
    """A what-if: the last ``days`` days of orders replayed on the fleet as it is and with this change."""

    days: Annotated[int, Field(strict=True, ge=1, le=90, description="History window replayed, and the horizon "
                                                                     "(1..90 days).")] = 7
    seed: Annotated[int, Field(strict=True, ge=0, le=2**31 - 1, description="Seed of both runs.")] = 42
    policy: Annotated[str | None, Field(max_length=32, description="Placement policy of the changed run "
                                                                   "(a scheduler registry name); default: today's.")] = None
    price_change_pct: Annotated[Exact, Field(description="List price change in percent (> -100), e.g. \"-10\".")] = Decimal(0)
    price_models: Annotated[list[Name], Field(max_length=64, description="Models whose price changes; empty: all.")] \
        = []  # noqa: RUF012
    elasticity: Annotated[Exact, Field(description="Demand response: % change of arrivals per % change of price "
                                                   "(-10..10; 0 = none, the default).")] = Decimal(0)
    growth: Annotated[Exact, Field(description="Factor on the arrival rate (> 0, at most 100; 1 = today).")] = Decimal(1)
    add_nodes: Annotated[list[WhatIfAddNodes], Field(max_length=50)] = []  # noqa: RUF012
    remove_nodes: Annotated[list[Name], Field(max_length=1000, description="Nodes taken out (names).")] = []  # noqa: RUF012
    trace: Annotated[str | None, Field(max_length=32, description="openb: replay the Alibaba openb trace's last "
                                                                  "days days instead of the fleet's own orders.")] = None


class WhatIfRunResponse(BaseModel):
    """A run: its state (queued, running, done, failed, cancelled), progress 0..1 over both runs, the
    parameters, and when done the result: ``baseline`` and ``changed`` (both simulated, same seed),
    ``actual`` (today's figures from the records); amounts are decimal strings in ``currency``."""

    id: str
    state: str
    progress: Dec
    params: dict[str, Any]
    result: dict[str, Any] | None = None
    error: str = ""
    estimate_seconds: Dec
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime
    cancel_requested: bool = False

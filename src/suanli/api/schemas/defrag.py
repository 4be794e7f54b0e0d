"""Wire schemas of defragmentation (docs/defrag.md)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from suanli.api.schemas.common import Dec, Name, Wire
from suanli.domain.defrag import MAX_DISCOUNT_PCT, MAX_NOTICE_S


class DefragSettingsRequest(Wire):
    """A change of the operator's defragmentation settings; a field left out keeps its value."""

    auto: bool | None = None
    """True: the background pass proposes and approves plans itself."""
    notice_s: Annotated[int, Field(ge=0, le=MAX_NOTICE_S)] | None = None
    """Seconds between the notice to a moved lease and its move."""
    discount_pct: Annotated[Decimal, Field(ge=0, le=MAX_DISCOUNT_PCT, decimal_places=2)] | None = None
    """% off the list price for migratable leases granted from now on."""


class DefragSettingsResponse(BaseModel):
    auto: bool
    notice_s: int
    discount_pct: Dec


class DefragTarget(Wire):
    """A shape to free room for (besides the orders waiting in the queue)."""

    form: Literal["gpu", "server", "cluster"]
    quantity: Annotated[int, Field(ge=1, le=64)] = 1
    models: list[Name] = Field(default_factory=list)
    sites: list[Name] = Field(default_factory=list)


class DefragProposeRequest(Wire):
    targets: list[DefragTarget] = Field(default_factory=list)


class DefragGrant(BaseModel):
    device_id: int
    milli: int
    memory_mib: int


class DefragMoveResponse(BaseModel):
    id: int
    lease_id: str
    state: str
    from_devices: list[int]
    to: list[DefragGrant]
    frees: str
    due_at: datetime | None
    done_at: datetime | None
    reason: str


class DefragTargetResult(BaseModel):
    target: str
    freed: bool
    moves: list[str]
    nodes: list[str]
    reason: str


class DefragPlanResponse(BaseModel):
    id: str
    state: str
    auto: bool
    summary: str
    notice_s: int
    created_by: str
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    finished_at: datetime | None
    targets: list[DefragTargetResult]
    moves: list[DefragMoveResponse]


class DefragProposeResponse(BaseModel):
    plan: DefragPlanResponse | None
    """None: no move of a migratable lease makes room for any target now."""
    message: str

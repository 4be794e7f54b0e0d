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


class DefragDevice(BaseModel):
    """A device a move takes the lease from or to, in the fleet's names."""

    device_id: int = Field(description="The device's internal id (what the move claims).")
    node: str = Field(description="The node's name (\"\" for a device no longer in the fleet).")
    device: int = Field(description="The device's slot on its node, as lease allocations name it (-1 for a device "
                                    "no longer in the fleet).")
    model: str = Field(description="The device's model, e.g. A100-80GB.")
    site: str = Field(description="The node's site.")
    milli: int = Field(description="The lease's share of the device in thousandths (1000: the whole device).")
    memory_mib: int = Field(description="The device memory the share holds (0: as the share allots).")


class DefragMoveResponse(BaseModel):
    """One lease's move: where it is before (``from_devices``) and after (``to``), readable in ``route``."""

    id: int
    lease_id: str
    state: str
    from_devices: list[DefragDevice] = Field(description="Where the lease is before the move.")
    to: list[DefragDevice] = Field(description="Where the lease is after the move.")
    from_where: str = Field(description="node/device(s) (share when a fraction, model, site), e.g. "
                                        "nx-a100-01/7 (A100-80GB, nx-west-1) or nx-a100-01/7 (0.5, A100-80GB, "
                                        "nx-west-1).")
    to_where: str = Field(description="As from_where; (model, site) only where they differ from the origin's, "
                                      "e.g. nx-a100-02/1 or nx-a100-02/1 (0.5).")
    route: str = Field(description="from_where → to_where.")
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

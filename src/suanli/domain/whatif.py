"""What-if runs as the store keeps them, and the past grants a run replays (docs/whatif.md).

A run moves ``queued -> running -> done | failed | cancelled``; ``queued`` and ``running`` are
*live*. A live run carries a heartbeat (written by the server process that runs it); a live run
whose heartbeat is older than :data:`HEARTBEAT_TTL_S` belongs to a process that is gone and is
marked failed by the next background pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

HEARTBEAT_TTL_S = 120.0
"""A live run not heard of for this long is failed by the background pass."""


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def live(self) -> bool:
        return self in (RunState.QUEUED, RunState.RUNNING)


@dataclass(frozen=True)
class WhatIfRun:
    id: str
    state: RunState
    progress: Decimal
    """0..1 over both simulated runs."""
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str
    estimate_seconds: Decimal
    created_at: datetime
    created_by: str
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime
    replica: str
    cancel_requested: bool


@dataclass(frozen=True)
class PastGrant:
    """A lease's devices on one node, granted at ``start`` (one row per lease, node and grant instant)."""

    lease: str
    tenant: str
    form: str
    node: str
    model: str
    devices: int
    milli: int
    start: datetime
    end: datetime | None
    """When the devices were given up (or the fixed end); ``None``: open-ended, still held."""

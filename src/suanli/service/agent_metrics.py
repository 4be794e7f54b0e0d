"""What ``/metrics`` shows of agent nodes: per node its health (``up`` 1, ``suspect`` 0.5, ``down`` 0,
derived on read by :func:`suanli.domain.agents.health_of`), its measured round-trip time and the
age of its last heartbeat; per device the latest telemetry the agent reported (``agent_telemetry``).
A figure the device does not report is left out, never invented. Read only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from suanli.domain.agents import AgentHealth, AgentNode, Telemetry
from suanli.settings import Settings
from suanli.store import agents as agent_store

UP_VALUE = {AgentHealth.UP: 1.0, AgentHealth.SUSPECT: 0.5, AgentHealth.DOWN: 0.0}


@dataclass(frozen=True)
class AgentFigures:
    node: str
    site: str
    model: str
    state: str
    health: AgentHealth
    health_reason: str
    rtt_ms: Decimal | None
    last_seen_age_s: float | None
    """Seconds since the last heartbeat (server clock); None: never heard from."""
    devices: tuple[Telemetry, ...]

    @property
    def up(self) -> float:
        return UP_VALUE[self.health]


def agent_figures(s: Session, settings: Settings, now: datetime, models: Mapping[str, str]) -> list[AgentFigures]:
    """``models``: node -> its accelerator model (the fleet's)."""
    return [_figures(a, models.get(a.node, ""), settings, now) for a in agent_store.list_agents(s)]


def _figures(a: AgentNode, model: str, settings: Settings, now: datetime) -> AgentFigures:
    health, reason = a.health(now, settings.agent_suspect_s, settings.agent_down_s)
    age = None if a.last_seen_at is None else max(0.0, (now - a.last_seen_at).total_seconds())
    return AgentFigures(a.node, a.site, model, a.state.value, health, reason, a.rtt_ms, age,
                        tuple(sorted(a.telemetry, key=lambda t: t.index)))

"""The latest telemetry of agent nodes, as the capacity sampler uses it: only approved agents'
samples taken at or after ``since`` (older ones are stale: the agent fell silent). Read only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from suanli.domain.agents import Telemetry
from suanli.store.agent_tables import AgentNodeRow, AgentTelemetryRow


def fresh_telemetry(s: Session, since: datetime) -> list[tuple[str, Telemetry]]:
    """(node, sample) of every device of an approved agent whose latest sample is at or after ``since``."""
    rows = s.scalars(
        select(AgentTelemetryRow)
        .join(AgentNodeRow, AgentNodeRow.node == AgentTelemetryRow.node)
        .where(AgentNodeRow.state == "approved", AgentTelemetryRow.at >= since)
        .order_by(AgentTelemetryRow.node, AgentTelemetryRow.device_index))
    return [(r.node, Telemetry(index=r.device_index, at=r.at, name=r.name, uuid=r.uuid,
                               utilisation_pct=r.utilisation_pct, memory_used_mib=r.memory_used_mib,
                               memory_total_mib=r.memory_total_mib, power_w=r.power_w,
                               temperature_c=r.temperature_c, errors=r.errors, energy_kwh=r.energy_kwh))
            for r in rows]

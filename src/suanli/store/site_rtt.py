"""Measured round-trip times of sites, from the agents' heartbeats (``agent_nodes.rtt_ms``).

Read only. See :mod:`suanli.domain.nearness` for the rule (median of the site's approved agents
heard from within the grace)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from suanli.domain.nearness import SiteRtt, site_rtts
from suanli.store.agent_tables import AgentNodeRow
from suanli.store.tables import NodeRow


def measured_site_rtts(s: Session, heard_since: datetime) -> dict[str, SiteRtt]:
    """Each site's median RTT over its approved agents whose ``last_seen_at`` >= ``heard_since``."""
    rows = s.execute(
        select(NodeRow.site, AgentNodeRow.rtt_ms)
        .join(NodeRow, NodeRow.name == AgentNodeRow.node)
        .where(AgentNodeRow.state == "approved", AgentNodeRow.rtt_ms.is_not(None),
               AgentNodeRow.last_seen_at.is_not(None), AgentNodeRow.last_seen_at >= heard_since)
    ).all()
    return site_rtts((site, ms) for site, ms in rows if ms is not None)

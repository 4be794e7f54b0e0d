"""The agents' work (docs/agents.md, wire routes 3 and 4), on the node credential:

- ``GET /v1/agents/{node}/work`` -> the node's leases not released and jobs not finished, with their
  cancel flags and the list's generation (a read: nothing is written);
- ``POST /v1/agents/{node}/reports`` -> job states, usage records, log tails; idempotent.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.agent_auth import AgentNodeDep, NodePath
from suanli.api.deps import PlatformDep
from suanli.api.schemas.agent_work import ReportRequest, ReportResponse, WorkResponse
from suanli.service import agent_work
from suanli.service.agent_work import JobReport, JobState, LogReport, UsageReport

router = APIRouter(tags=["agents"])


@router.get("/v1/agents/{node}/work", response_model=WorkResponse)
def work(node: NodePath, agent: AgentNodeDep, p: PlatformDep) -> dict[str, Any]:
    """What the node's agent should hold and run now: leases (each grant restricted to this node) and
    jobs not finished (``cancel``: stop it). Empty while the agent is not approved. ``generation`` is the
    number the heartbeat replies carry as ``work``."""
    w = agent_work.work_list(p, agent)
    return {"generation": w.generation, "leases": w.leases, "jobs": w.jobs}


@router.post("/v1/agents/{node}/reports", response_model=ReportResponse)
def reports(node: NodePath, body: ReportRequest, agent: AgentNodeDep, p: PlatformDep) -> dict[str, Any]:
    """Job states, usage records of finished jobs and log tails (each at most 64 KiB). Sending the same
    report again changes nothing: a finished job's state is final, a job's usage is stored once. A job the
    node does not hold, or usage its job could not have used, refuses the whole report (404 / 422,
    audited); nothing of it is stored."""
    done = agent_work.ingest_report(
        p, agent,
        jobs=[JobReport(j.job_id, JobState(j.state), j.start, j.end, j.exit_code, j.reason, tuple(j.device_indices))
              for j in body.jobs],
        usage=[UsageReport(u.job_id, u.lease_id, tuple(u.device_indices), u.devices, u.start, u.end,
                           JobState(u.state), u.exit_code, u.device_seconds) for u in body.usage],
        logs=[LogReport(g.job_id, g.stdout, g.stderr) for g in body.logs])
    return {"jobs": done.jobs, "usage_new": done.usage_new}

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PageDep, PlatformDep, PrincipalDep
from suanli.api.schemas.common import Name, Page
from suanli.api.schemas.jobs import JobLogsResponse, JobResponse, JobSubmitRequest, LeaseUsageResponse
from suanli.service import jobs

router = APIRouter(tags=["jobs"])


@router.post("/v1/leases/{lease_id}/jobs", response_model=JobResponse, status_code=201)
def submit(lease_id: Name, body: JobSubmitRequest, p: PlatformDep, who: PrincipalDep) -> Any:
    """Run work on the lease's devices (the engine pins it to them). Refused for a lease that is
    not active, another tenant's lease, more devices than the lease holds there."""
    return jobs.submit_job(p, who, lease_id, body.command, devices=body.devices, node=body.node, env=body.env,
                           name=body.name, time_limit_s=body.time_limit_s).__dict__


@router.get("/v1/jobs", response_model=Page[JobResponse])
def list_jobs(p: PlatformDep, who: PrincipalDep, page: PageDep, lease_id: Name | None = None) -> dict[str, Any]:
    offset, limit = page
    items = jobs.list_jobs(p, who, lease_id, offset, limit + 1)
    return {"items": [j.__dict__ for j in items[:limit]], "offset": offset, "limit": limit,
            "next_offset": offset + limit if len(items) > limit else None}


@router.get("/v1/jobs/{job_id}", response_model=JobResponse)
def show(job_id: Name, p: PlatformDep, who: PrincipalDep) -> Any:
    return jobs.get_job(p, who, job_id).__dict__


@router.get("/v1/jobs/{job_id}/logs", response_model=JobLogsResponse)
def logs(job_id: Name, p: PlatformDep, who: PrincipalDep) -> dict[str, str]:
    return {"job_id": job_id, "logs": jobs.job_logs(p, who, job_id)}


@router.post("/v1/jobs/{job_id}/cancel", response_model=JobResponse)
def cancel(job_id: Name, p: PlatformDep, who: PrincipalDep) -> Any:
    return jobs.cancel_job(p, who, job_id).__dict__


@router.get("/v1/leases/{lease_id}/usage", response_model=LeaseUsageResponse)
def lease_usage(lease_id: Name, p: PlatformDep, who: PrincipalDep) -> dict[str, Any]:
    """Device-seconds allocated (billed) next to device-seconds jobs used, and SLA credits."""
    return jobs.lease_usage(p, who, lease_id)

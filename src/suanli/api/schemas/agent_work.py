"""Wire schemas of the agents' work (docs/agents.md, wire routes 3 and 4): the work list an agent
fetches, and the report it sends back (job states, usage records, log tails). Times are RFC 3339
with a zone; device-seconds are decimal strings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from suanli.api.schemas.common import Exact, Instant, Wire

JobStateName = Literal["pending", "running", "completed", "failed", "cancelled", "timeout", "node_fail", "lost"]
FinalState = Literal["completed", "failed", "cancelled", "timeout", "node_fail", "lost"]
JobId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$",
                             description="the server's job id (agj_…)")]
LeaseId = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Indices = Annotated[list[Annotated[int, Field(strict=True, ge=0, le=4095)]],
                    Field(max_length=1024, description="node-local device indices, 0 to 4095")]
ExitCode = Annotated[int | None, Field(strict=True, ge=-255, le=255, description="-255 to 255, or null")]
MAX_ITEMS = 1000
LOG_CHARS = 64 * 1024


class WorkLease(BaseModel):
    lease_id: str
    grant: dict[str, Any]
    """``LeaseGrant.to_dict()`` restricted to this node."""


class WorkJob(BaseModel):
    job_id: str
    lease_id: str
    spec: dict[str, Any]
    """``command``, ``env``, ``devices``, ``node``, ``cpus``, ``memory_mib``, ``time_limit_s``, ``name``."""
    cancel: bool


class WorkResponse(BaseModel):
    generation: int
    leases: list[WorkLease]
    jobs: list[WorkJob]


class JobReportIn(Wire):
    job_id: JobId
    state: JobStateName
    start: Instant | None = None
    end: Instant | None = None
    exit_code: ExitCode = None
    reason: Annotated[str, Field(max_length=400)] = ""
    device_indices: Annotated[Indices, Field(default_factory=list)]


class UsageIn(Wire):
    job_id: JobId
    lease_id: LeaseId
    device_indices: Annotated[Indices, Field(default_factory=list)]
    devices: Annotated[int, Field(strict=True, ge=0, le=1024)]
    start: Instant
    end: Instant
    state: FinalState
    exit_code: ExitCode = None
    device_seconds: Annotated[Exact, Field(description='device-seconds used, a decimal string >= "0"')]


class LogsIn(Wire):
    job_id: JobId
    stdout: Annotated[str, Field(max_length=LOG_CHARS, description="the tail, at most 64 KiB")] = ""
    stderr: Annotated[str, Field(max_length=LOG_CHARS, description="the tail, at most 64 KiB")] = ""


class ReportRequest(Wire):
    jobs: Annotated[list[JobReportIn], Field(max_length=MAX_ITEMS, default_factory=list)]
    usage: Annotated[list[UsageIn], Field(max_length=MAX_ITEMS, default_factory=list)]
    logs: Annotated[list[LogsIn], Field(max_length=MAX_ITEMS, default_factory=list)]


class ReportResponse(BaseModel):
    jobs: int
    """Job states that changed."""
    usage_new: int
    """Usage records stored for the first time (a record sent again is not counted)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from suanli.api.schemas.common import Dec, Wire
from suanli.domain.jobs import MAX_ARGS, MAX_COMMAND_BYTES, MAX_TIME_LIMIT_S


class JobSubmitRequest(Wire):
    command: list[str] = Field(min_length=1, max_length=MAX_ARGS,
                               description="argv, e.g. ['python3', 'train.py']; no shell unless you run one. The "
                                           "program must exist in the job sandbox (system-wide, under /usr); no "
                                           f"NUL bytes; at most {MAX_ARGS} arguments and {MAX_COMMAND_BYTES} bytes")
    devices: int | None = Field(None, ge=0, le=1024, description="devices on the node; default all the lease "
                                                               "holds there")
    node: str | None = Field(None, max_length=255, description="which of the lease's nodes; default the first")
    env: dict[str, str] = Field(default_factory=dict, max_length=256)
    name: str | None = Field(None, max_length=200)
    time_limit_s: int | None = Field(None, ge=1, le=MAX_TIME_LIMIT_S,
                                     description="seconds; the job also ends with its lease")


class JobResponse(BaseModel):
    id: str
    lease_id: str
    driver: str
    driver_job_id: str
    name: str
    command: list[str]
    node: str | None
    devices: int
    device_indices: list[int] | None
    state: str
    reason: str
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    device_seconds: Dec | None


class JobLogsResponse(BaseModel):
    job_id: str
    logs: str


class SlaCreditResponse(BaseModel):
    start: datetime
    end: datetime | None
    seconds: int
    amount: Dec
    currency: str
    reason: str


class LeaseUsageResponse(BaseModel):
    lease_id: str
    allocated_device_seconds: Dec
    used_device_seconds: Dec
    used_share: Dec
    jobs: int
    finished_jobs: int
    sla_credits: list[SlaCreditResponse]


class EngineImportRequest(Wire):
    site: str
    supplier: str
    fabric: str | None = None

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from suanli.api.schemas.common import Dec, Devices, Label, Name, Seconds, Wire
from suanli.domain.jobs import MAX_ARGS, MAX_COMMAND_BYTES, MAX_TIME_LIMIT_S
from suanli.domain.text import NAME_MAX


def _no_nul(v: str) -> str:
    if "\x00" in v:
        raise PydanticCustomError("string_nul", "contains a NUL byte (U+0000); allowed: any text without NUL "
                                  "(an argument or env value reaches the program as a C string)")
    return v


Arg = Annotated[str, AfterValidator(_no_nul)]
"""An argument or an env value: any text without NUL (its length is bounded by the command's bytes)."""
def _env_name(v: str) -> str:
    if len(v) > NAME_MAX or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
        raise PydanticCustomError("env_name", "{value} is not a variable name; allowed: a letter or '_' then "
                                  f"letters, digits and '_', at most {NAME_MAX} characters", {"value": repr(v[:40])})
    return v


EnvName = Annotated[str, AfterValidator(_env_name)]


class JobSubmitRequest(Wire):
    command: list[Arg] = Field(min_length=1, max_length=MAX_ARGS,
                               description="argv, e.g. ['python3', 'train.py']; no shell unless you run one. The "
                                           "program must exist in the job sandbox (system-wide, under /usr); no "
                                           f"NUL bytes; at most {MAX_ARGS} arguments and {MAX_COMMAND_BYTES} bytes")
    devices: Devices | None = Field(None, description="devices on the node, 0 to 1,024; default all the lease "
                                                      "holds there")
    node: Name | None = Field(None, description="which of the lease's nodes; default the first")
    env: dict[EnvName, Arg] = Field(default_factory=dict, max_length=256,
                                    description="at most 256 variables: names [A-Za-z_][A-Za-z0-9_]*, values "
                                                "without NUL")
    name: Label | None = Field(None, description="1 to 120 characters without control characters")
    time_limit_s: Seconds | None = Field(None, description=f"seconds, 1 to {MAX_TIME_LIMIT_S}; the job also "
                                                           "ends with its lease")

    @model_validator(mode="after")
    def _env_bytes(self) -> JobSubmitRequest:
        size = sum(len(k.encode()) + len(v.encode()) + 2 for k, v in self.env.items())
        if size > MAX_COMMAND_BYTES:
            raise PydanticCustomError("env_size", "env is {size} bytes; allowed: at most "
                                      f"{MAX_COMMAND_BYTES} bytes of names and values", {"size": size})
        return self


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
    site: Name
    supplier: Name
    fabric: Label | None = None

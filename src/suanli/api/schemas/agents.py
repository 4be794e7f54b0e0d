"""Wire schemas of node agents' identity (docs/agents.md): join tokens, join, heartbeat with
telemetry, and the operator's list of agents. Times are RFC 3339 with a zone; decimals are strings.

Telemetry ranges are those of :data:`suanli.domain.agents.TELEMETRY_RANGES` (checked here and again
in the domain); an impossible value is a 422 naming the field and the range, audited, nothing stored.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

from suanli.api.schemas.common import Dec, Exact, Instant, Name, Wire
from suanli.domain.agents import (
    BACKENDS,
    JOIN_TTL_DEFAULT_S,
    JOIN_TTL_MAX_S,
    JOIN_TTL_MIN_S,
    TELEMETRY_RANGES,
    range_text,
)

Backend = Literal["nvml", "npu-smi", "cnmon", "hy-smi", "none"]
assert set(BACKENDS) == {"nvml", "npu-smi", "cnmon", "hy-smi", "none"}
Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$",
                             description="1 to 64 letters, digits, '.', '_', ':', '-' (a UUID fits)")]
DeviceIndex = Annotated[int, Field(strict=True, ge=0, le=4095, description="the device's index on the node, 0 to 4095")]
MiBOrNone = Annotated[int | None, Field(strict=True, ge=0, le=1 << 31, description="MiB, 0 to 2^31, or null")]
ShortText = Annotated[str, Field(max_length=120, pattern=r"^[^\x00-\x1f\x7f]*$",
                                 description="at most 120 characters, no control characters")]
MAX_DEVICES = 1024


def _ttl(v: int) -> int:
    if not JOIN_TTL_MIN_S <= v <= JOIN_TTL_MAX_S:
        raise PydanticCustomError("range", "{value} is not allowed; allowed: {lo} to {hi} seconds (1 minute to 7 days)",
                                  {"value": v, "lo": JOIN_TTL_MIN_S, "hi": JOIN_TTL_MAX_S})
    return v


class JoinTokenCreateRequest(Wire):
    node: Name
    ttl_s: Annotated[int, Field(strict=True), AfterValidator(_ttl),
                     Field(json_schema_extra={"minimum": JOIN_TTL_MIN_S, "maximum": JOIN_TTL_MAX_S},
                           description="how long the token may be used: 60 s to 7 days (default 1 h)")] = \
        JOIN_TTL_DEFAULT_S
    approve: Annotated[bool, Field(strict=True, description="operator only: the agent joining with it is approved at "
                                                            "once")] = False


class JoinTokenCreatedResponse(BaseModel):
    id: str
    token: str
    """The join token's secret (``slj_…``): shown in this answer only."""
    node: str
    expires_at: datetime
    approve: bool


class AgentDeviceIn(Wire):
    index: DeviceIndex
    name: ShortText = ""
    uuid: ShortText = ""
    memory_total_mib: MiBOrNone = None


SLICE_MECHANISMS_DOC = ("what the agent probed on its node: mig, mps, vnpu, hami (docs/slices.md); null: not "
                        "reported (the heartbeat keeps the last report; at join: none)")


class JoinRequest(Wire):
    token: Annotated[str, Field(min_length=1, max_length=100, description="the join token, slj_…")]
    node: Name
    agent_id: Ident
    boot_id: Ident
    version: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9._+-]*$")] = ""
    backend: Backend
    devices: Annotated[list[AgentDeviceIn], Field(max_length=MAX_DEVICES)]
    slice_mechanisms: Annotated[list[str] | None, Field(max_length=4, description=SLICE_MECHANISMS_DOC)] = None


class JoinResponse(BaseModel):
    node: str
    credential: str
    """The node credential (``sln_…``): shown in this answer only; send it as ``Authorization: Bearer``."""
    state: str
    heartbeat_s: float
    suspect_s: float
    down_s: float
    fence_s: float
    server_time: datetime


def _between(lo: Decimal, hi: Decimal) -> AfterValidator:
    """A figure from ``lo`` to ``hi`` inclusive, with a message naming the range (the loc names the field)."""

    def check(v: Decimal | int | None) -> Decimal | int | None:
        if v is not None and not lo <= v <= hi:
            raise PydanticCustomError("range", "{value} is impossible; allowed: {lo} to {hi}, or null",
                                      {"value": str(v)[:40], "lo": str(lo), "hi": str(hi)})
        return v

    return AfterValidator(check)


def _in_range(name: str) -> AfterValidator:
    lo, hi = TELEMETRY_RANGES[name]
    assert lo is not None and hi is not None
    return _between(lo, hi)


def _says(name: str, unit: str) -> Any:
    return Field(description=f"{unit}: {range_text(name)}, or null if the device does not report it")


_Int = Annotated[int, Field(strict=True)]


class TelemetryIn(Wire):
    index: DeviceIndex
    name: ShortText = ""
    uuid: ShortText = ""
    utilisation_pct: Annotated[_Int | None, _in_range("utilisation_pct"), _says("utilisation_pct", "percent")] = None
    memory_used_mib: Annotated[_Int | None, _in_range("memory_used_mib"), _says("memory_used_mib", "MiB")] = None
    memory_total_mib: Annotated[_Int | None, _in_range("memory_total_mib"), _says("memory_total_mib", "MiB")] = None
    power_w: Annotated[Exact | None, _in_range("power_w"), _says("power_w", "watts, a decimal string")] = None
    temperature_c: Annotated[_Int | None, _in_range("temperature_c"), _says("temperature_c", "degrees Celsius")] = None
    errors: Annotated[_Int | None, _in_range("errors"), _says("errors", "uncorrected memory errors")] = None
    energy_kwh: Annotated[Exact | None, _in_range("energy_kwh"),
                          _says("energy_kwh", "the cumulative energy counter in kWh, a decimal string")] = None
    at: Instant | None = None


class HeartbeatRequest(Wire):
    boot_id: Ident
    sent_at: Instant | None = None
    rtt_ms: Annotated[Exact | None, _between(Decimal(0), Decimal(600_000)),
                      Field(description='the agent\'s moving median round trip, ms: "0" to "600000", '
                                        "or null before it measured one")] = None
    devices: Annotated[list[TelemetryIn], Field(default_factory=list, max_length=MAX_DEVICES)]
    slice_mechanisms: Annotated[list[str] | None, Field(max_length=4, description=SLICE_MECHANISMS_DOC)] = None


class HeartbeatResponse(BaseModel):
    state: str
    server_time: datetime
    heartbeat_s: float
    fence_s: float
    work: int


class AgentDeviceOut(BaseModel):
    index: int
    name: str
    uuid: str
    memory_total_mib: int | None = None


class TelemetryOut(BaseModel):
    index: int
    at: datetime
    name: str
    uuid: str
    utilisation_pct: int | None = None
    memory_used_mib: int | None = None
    memory_total_mib: int | None = None
    power_w: Dec | None = None
    temperature_c: int | None = None
    errors: int | None = None
    energy_kwh: Dec | None = None


class AgentResponse(BaseModel):
    node: str
    site: str
    region: str
    supplier: str
    state: str
    health: str
    """``up``, ``suspect`` or ``down`` now (derived from the last heartbeat; never stored)."""
    health_reason: str
    last_seen_at: datetime | None = None
    rtt_ms: Dec | None = None
    version: str
    backend: str
    slice_mechanisms: list[str] = Field(default_factory=list, description="what the agent probed on its node "
                                        "(mig, mps, vnpu, hami; docs/slices.md)")
    devices: list[AgentDeviceOut]
    device_count: int
    """The fleet's device count of the node."""
    address: str
    boot_id: str
    credential_prefix: str
    joined_at: datetime | None = None
    approved_at: datetime | None = None
    approved_by: str
    telemetry: list[TelemetryOut]

"""Node agents: who an agent is (:class:`AgentNode`), its state in the operator's hands
(:class:`AgentState`) and its health, derived on read from the server time of its last heartbeat
(:func:`health_of`; never stored, so a read never writes).

States: ``awaiting_join`` (a join token exists, no agent joined yet) -> ``pending`` (joined, the
operator has not approved it) -> ``approved`` (gets work) ; any -> ``revoked`` (its credential is
refused; a new join token and a re-join bring it back to ``pending``).

Health (numbers in :class:`suanli.settings.Settings`, docs/agents.md): an approved agent heard from
within ``suspect_s`` is ``up``, within ``down_s`` ``suspect``, later ``down``; an agent that is not
approved is ``down`` whatever its heartbeats say, with the reason why.

Telemetry ranges (:data:`TELEMETRY_RANGES`) are checked here as well as in the wire schema, so a
caller that does not come through the API cannot store an impossible value either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from suanli.errors import ValidationError

JOIN_TOKEN_PREFIX = "slj_"
CREDENTIAL_PREFIX = "sln_"
BACKENDS = ("nvml", "npu-smi", "cnmon", "hy-smi", "none")
JOIN_TTL_MIN_S = 60
JOIN_TTL_MAX_S = 7 * 24 * 3600
JOIN_TTL_DEFAULT_S = 3600


class AgentState(StrEnum):
    AWAITING_JOIN = "awaiting_join"
    PENDING = "pending"
    APPROVED = "approved"
    REVOKED = "revoked"


class AgentHealth(StrEnum):
    UP = "up"
    SUSPECT = "suspect"
    DOWN = "down"


@dataclass(frozen=True)
class AgentDevice:
    """A device the agent detected at join."""

    index: int
    name: str = ""
    uuid: str = ""
    memory_total_mib: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "uuid": self.uuid, "memory_total_mib": self.memory_total_mib}


@dataclass(frozen=True)
class Telemetry:
    """One device's latest sample (``None``: the backend does not report that figure)."""

    index: int
    at: datetime
    name: str = ""
    uuid: str = ""
    utilisation_pct: int | None = None
    memory_used_mib: int | None = None
    memory_total_mib: int | None = None
    power_w: Decimal | None = None
    temperature_c: int | None = None
    errors: int | None = None
    energy_kwh: Decimal | None = None


@dataclass(frozen=True)
class AgentNode:
    """A node whose devices are run by an agent (a row of ``agent_nodes``), with what the fleet says
    about the node (site, region, supplier, device count)."""

    node: str
    state: AgentState
    site: str = ""
    region: str = ""
    supplier: str = ""
    device_count: int = 0
    credential_prefix: str = ""
    agent_id: str = ""
    boot_id: str = ""
    version: str = ""
    backend: str = ""
    devices: tuple[AgentDevice, ...] = ()
    address: str = ""
    joined_at: datetime | None = None
    approved_at: datetime | None = None
    approved_by: str = ""
    last_seen_at: datetime | None = None
    rtt_ms: Decimal | None = None
    telemetry: tuple[Telemetry, ...] = field(default=())
    slice_mechanisms: tuple[str, ...] = ()
    """What the agent probed on its node: mig, mps, vnpu, hami (docs/slices.md)."""

    def health(self, now: datetime, suspect_s: float, down_s: float) -> tuple[AgentHealth, str]:
        return health_of(self.state, self.last_seen_at, now, suspect_s, down_s)


def _secs(x: float) -> str:
    return f"{x:.0f}" if x >= 10 or float(x).is_integer() else f"{x:.1f}"


def health_of(state: AgentState, last_seen_at: datetime | None, now: datetime, suspect_s: float,
              down_s: float) -> tuple[AgentHealth, str]:
    """An agent's health now and why: ``up`` heard from within ``suspect_s``, ``suspect`` within
    ``down_s``, ``down`` after (or never heard from, or not approved)."""
    if state is AgentState.AWAITING_JOIN:
        return AgentHealth.DOWN, "agent not joined"
    if state is AgentState.PENDING:
        return AgentHealth.DOWN, "agent awaiting approval"
    if state is AgentState.REVOKED:
        return AgentHealth.DOWN, "agent revoked"
    if last_seen_at is None:
        return AgentHealth.DOWN, "agent not joined"
    age = max(0.0, (now - last_seen_at).total_seconds())
    if age <= suspect_s:
        return AgentHealth.UP, ""
    if age <= down_s:
        return AgentHealth.SUSPECT, f"suspect: no heartbeat for {_secs(age)} s"
    return AgentHealth.DOWN, f"agent: no heartbeat for {_secs(age)} s (grace {_secs(down_s)} s)"


TELEMETRY_RANGES: Mapping[str, tuple[Decimal | None, Decimal | None]] = {
    "utilisation_pct": (Decimal(0), Decimal(100)),
    "memory_used_mib": (Decimal(0), Decimal(1 << 31)),
    "memory_total_mib": (Decimal(0), Decimal(1 << 31)),
    "power_w": (Decimal(0), Decimal(5000)),
    "temperature_c": (Decimal(-40), Decimal(150)),
    "errors": (Decimal(0), Decimal(1 << 62)),
    "energy_kwh": (Decimal(0), Decimal(10) ** 12),
}
"""Inclusive bounds of each telemetry figure; anything outside is impossible and refused."""


def range_text(name: str) -> str:
    lo, hi = TELEMETRY_RANGES[name]
    return f"{lo} to {hi}"


def check_telemetry(t: Telemetry) -> None:
    """Raise :class:`ValidationError` naming the field (``devices[i].field``) and its range when a
    figure is impossible."""
    if not 0 <= t.index < 4096:
        raise ValidationError(f"devices[].index {t.index} is not a device index 0 to 4095", field="index")
    for name, (lo, hi) in TELEMETRY_RANGES.items():
        v = getattr(t, name)
        if v is None:
            continue
        try:
            d = Decimal(v)
        except (InvalidOperation, ValueError, TypeError):
            raise ValidationError(f"device {t.index}: {name} {v!r} is not a number; allowed: {range_text(name)}",
                                  field=name) from None
        if not d.is_finite() or (lo is not None and d < lo) or (hi is not None and d > hi):
            raise ValidationError(f"device {t.index}: {name} {v} is impossible; allowed: {range_text(name)}",
                                  field=name, device=t.index)
    if t.memory_used_mib is not None and t.memory_total_mib is not None and t.memory_used_mib > t.memory_total_mib:
        raise ValidationError(f"device {t.index}: memory_used_mib {t.memory_used_mib} is more than memory_total_mib "
                              f"{t.memory_total_mib}", field="memory_used_mib", device=t.index)


def check_join_ttl(ttl_s: int) -> None:
    if not JOIN_TTL_MIN_S <= ttl_s <= JOIN_TTL_MAX_S:
        raise ValidationError(f"ttl_s {ttl_s} is out of range; allowed: {JOIN_TTL_MIN_S} to {JOIN_TTL_MAX_S} "
                              "seconds (1 minute to 7 days)", field="ttl_s")

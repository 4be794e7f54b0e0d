"""The pure rules of node agents: health from the last heartbeat (boundaries included), the states
that are down whatever the heartbeats say, telemetry ranges, join token lifetimes; and the agent
timing settings that keep a fenced job from outliving the grace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from suanli.domain.agents import (
    AgentHealth,
    AgentState,
    Telemetry,
    check_join_ttl,
    check_telemetry,
    health_of,
)
from suanli.errors import ValidationError
from suanli.settings import Settings

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


@pytest.mark.parametrize(("age", "health", "reason"), [
    (0, AgentHealth.UP, ""), (15, AgentHealth.UP, ""),
    (15.5, AgentHealth.SUSPECT, "suspect: no heartbeat for 16 s"), (30, AgentHealth.SUSPECT, "suspect: no heartbeat for 30 s"),
    (30.25, AgentHealth.DOWN, "agent: no heartbeat for 30 s (grace 30 s)"),
    (3600, AgentHealth.DOWN, "agent: no heartbeat for 3600 s (grace 30 s)"),
])
def test_health_of_an_approved_agent(age: float, health: AgentHealth, reason: str) -> None:
    assert health_of(AgentState.APPROVED, ago(age), NOW, 15, 30) == (health, reason)


def test_a_heartbeat_from_the_future_is_up() -> None:
    assert health_of(AgentState.APPROVED, NOW + timedelta(seconds=5), NOW, 15, 30) == (AgentHealth.UP, "")
    assert health_of(AgentState.APPROVED, ago(1.2), NOW, 0.6, 2) == (AgentHealth.SUSPECT, "suspect: no heartbeat for 1.2 s")


@pytest.mark.parametrize(("state", "seen", "reason"), [
    (AgentState.AWAITING_JOIN, None, "agent not joined"), (AgentState.PENDING, NOW, "agent awaiting approval"),
    (AgentState.REVOKED, NOW, "agent revoked"), (AgentState.APPROVED, None, "agent not joined"),
])
def test_not_approved_is_down_whatever_the_heartbeats(state: AgentState, seen: datetime | None, reason: str) -> None:
    assert health_of(state, seen, NOW, 15, 30) == (AgentHealth.DOWN, reason)


@pytest.mark.parametrize(("field", "value", "allowed"), [
    ("utilisation_pct", 101, "0 to 100"), ("utilisation_pct", -1, "0 to 100"), ("power_w", Decimal("-0.1"), "0 to 5000"),
    ("power_w", Decimal("5000.1"), "0 to 5000"), ("power_w", Decimal("NaN"), "0 to 5000"),
    ("temperature_c", -41, "-40 to 150"), ("temperature_c", 151, "-40 to 150"), ("errors", -1, "0 to"),
    ("energy_kwh", Decimal(-1), "0 to"), ("memory_used_mib", -5, "0 to"),
])
def test_impossible_telemetry_is_refused_by_the_domain(field: str, value: object, allowed: str) -> None:
    with pytest.raises(ValidationError) as e:
        check_telemetry(Telemetry(index=2, at=NOW, **{field: value}))  # type: ignore[arg-type]
    assert field in e.value.message and allowed in e.value.message and "device 2" in e.value.message


def test_possible_telemetry_passes_and_memory_used_cannot_exceed_total() -> None:
    check_telemetry(Telemetry(index=0, at=NOW, utilisation_pct=100, power_w=Decimal(0), temperature_c=-40,
                              errors=0, energy_kwh=Decimal("1.5"), memory_used_mib=10, memory_total_mib=10))
    with pytest.raises(ValidationError, match="more than memory_total_mib"):
        check_telemetry(Telemetry(index=0, at=NOW, memory_used_mib=11, memory_total_mib=10))


@pytest.mark.parametrize("ttl", [59, 7 * 86400 + 1, 0, -5])
def test_join_token_lifetime(ttl: int) -> None:
    with pytest.raises(ValidationError, match="60 to 604800"):
        check_join_ttl(ttl)
    check_join_ttl(60)
    check_join_ttl(7 * 86400)


def test_agent_timing_settings() -> None:
    s = Settings()
    assert (s.agent_heartbeat_s, s.agent_suspect_s, s.agent_down_s, s.agent_fence_s, s.agent_kill_grace_s) == \
        (5.0, 15.0, 30.0, 20.0, 5.0)
    Settings(agent_heartbeat_s=0.2, agent_suspect_s=0.6, agent_down_s=2, agent_fence_s=1.2, agent_kill_grace_s=0.5)
    with pytest.raises(ValidationError, match=r"SUANLI_AGENT_FENCE_S \(26\) must be .* less than .*30 - 5 = 25"):
        Settings(agent_fence_s=26)
    with pytest.raises(ValidationError, match="SUANLI_AGENT_HEARTBEAT_S"):
        Settings(agent_heartbeat_s=20)


def test_agent_timing_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUANLI_AGENT_DOWN_S", "10")
    monkeypatch.setenv("SUANLI_AGENT_SUSPECT_S", "6")
    with pytest.raises(ValidationError, match="SUANLI_AGENT_FENCE_S"):  # the default fence 20 s is too long now
        Settings.from_env()
    monkeypatch.setenv("SUANLI_AGENT_FENCE_S", "4")
    assert Settings.from_env().agent_fence_s == 4

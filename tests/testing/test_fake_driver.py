"""FakeDriver: records calls, lets a handler answer or fail, defaults behave like a driver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from suanli.drivers.base import DeviceAllocation, Driver, JobSpec, JobState, LeaseGrant, NodeState
from suanli.errors import EngineError, ValidationError
from suanli.testing.fake_driver import DEFAULT, DriverCall, FakeDriver

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class _Clock:
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> datetime:
        return self.t


def _grant(lease_id: str = "L1") -> LeaseGrant:
    return LeaseGrant(lease_id, "t", T0, T0 + timedelta(hours=1), (DeviceAllocation("n1", (0, 1), (1000, 1000)),))


def test_default_behaviour_and_recorded_calls() -> None:
    clock = _Clock()
    d = FakeDriver(clock=clock)
    assert isinstance(d, Driver)
    assert d.provision(_grant()).created and not d.provision(_grant()).created
    h = d.submit("L1", JobSpec(command=("x",), devices=1))
    assert h.job_id == "fake-1" and d.poll(h.job_id).state is JobState.RUNNING
    with pytest.raises(ValidationError, match="lease L1 holds 2"):
        d.submit("L1", JobSpec(command=("x",), devices=3))
    clock.t = T0 + timedelta(seconds=30)
    d.finish_job(h.job_id)
    [u] = d.usage(T0)
    assert u.device_seconds == 30 and u.device_indices == (0,)
    h2 = d.submit("L1", JobSpec(command=("x",)))
    d.release("L1")
    assert d.poll(h2.job_id).state is JobState.CANCELLED
    d.set_node("n1", NodeState.DOWN, "PSU")
    assert d.node_health()[0].reason == "PSU"
    assert d.methods()[:3] == ["provision", "provision", "submit"]
    assert d.calls[0].args["grant"].lease_id == "L1"


def test_handler_can_answer_or_fail() -> None:
    def handler(call: DriverCall) -> Any:
        if call.method == "provision":
            raise EngineError("slurmctld unreachable", retryable=True, lease_id=call.args["grant"].lease_id)
        if call.method == "logs":
            return "hello\n"
        return DEFAULT

    d = FakeDriver(handler)
    with pytest.raises(EngineError) as ei:
        d.provision(_grant())
    assert ei.value.details == {"retryable": True, "lease_id": "L1"}
    assert d.logs("anything") == "hello\n"
    with pytest.raises(EngineError, match="lease L1: lease is not provisioned"):
        d.submit("L1", JobSpec(command=("x",)))

"""Protocol data types: validation messages, capabilities, grant round-trip, retry back-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from suanli.domain.catalog import Vendor
from suanli.drivers.base import (
    Capabilities,
    DeviceAllocation,
    Feature,
    JobSpec,
    JobState,
    LeaseGrant,
    check_submit,
    device_seconds,
)
from suanli.drivers.retry import RetryPolicy, RetryState, call_with_retry, is_retryable
from suanli.errors import ConflictError, EngineError, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _alloc(**kw) -> DeviceAllocation:  # type: ignore[no-untyped-def]
    return DeviceAllocation(**{"node": "n1", "device_indices": (0, 1), "device_milli": (1000, 1000), **kw})


def test_allocation_validation_says_what_is_allowed() -> None:
    with pytest.raises(ValidationError, match="one share per device"):
        _alloc(device_milli=(1000,))
    with pytest.raises(ValidationError, match="unique"):
        _alloc(device_indices=(1, 1))
    with pytest.raises(ValidationError, match=r"1\.\.1000"):
        _alloc(device_milli=(0, 1000))
    a = _alloc(vendor=Vendor.HUAWEI)
    assert a.visible_devices_env == "ASCEND_RT_VISIBLE_DEVICES" and a.whole and a.device_count == 2


def test_grant_validation_and_round_trip() -> None:
    with pytest.raises(ValidationError, match="lease id 'a/b' is not allowed"):
        LeaseGrant("a/b", "t", T0, None, (_alloc(),))
    with pytest.raises(ValidationError, match="must be after start"):
        LeaseGrant("L", "t", T0, T0, (_alloc(),))
    with pytest.raises(ValidationError, match="timezone-aware"):
        LeaseGrant("L", "t", datetime(2026, 1, 1), None, (_alloc(),))
    with pytest.raises(ValidationError, match="tenant account 'Bad Name' is not allowed"):
        LeaseGrant("L", "Bad Name", T0, None, (_alloc(),))
    with pytest.raises(ValidationError, match="node listed twice"):
        LeaseGrant("L", "t", T0, None, (_alloc(), _alloc()))
    g = LeaseGrant("L", "t", T0, T0 + timedelta(hours=1), (_alloc(model="a100"), _alloc(node="n2", vendor=Vendor.AMD)))
    assert LeaseGrant.from_dict(g.to_dict()) == g
    assert g.covers(T0) and not g.covers(T0 + timedelta(hours=1))


def test_job_spec_validation() -> None:
    with pytest.raises(ValidationError, match="argv list"):
        JobSpec(command="python train.py")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="not valid variable names"):
        JobSpec(command=("true",), env={"A-B": "1"})
    with pytest.raises(ValidationError, match="cpus must be >= 1"):
        JobSpec(command=("true",), cpus=0)
    assert JobSpec(command=["a", "b"]).command == ("a", "b")  # type: ignore[arg-type]


def test_check_submit_window_and_devices() -> None:
    g = LeaseGrant("L", "t", T0, T0 + timedelta(hours=1), (_alloc(),))
    with pytest.raises(ConflictError, match="lease L starts at"):
        check_submit(g, JobSpec(command=("x",)), T0 - timedelta(seconds=1), driver="d")
    with pytest.raises(ConflictError, match="lease L ended at"):
        check_submit(g, JobSpec(command=("x",)), T0 + timedelta(hours=1), driver="d")
    with pytest.raises(ValidationError, match=r"asked for 3\. Ask for at most 2"):
        check_submit(g, JobSpec(command=("x",), devices=3), T0, driver="d")
    assert check_submit(g, JobSpec(command=("x",), devices=1), T0, driver="d")[1] == 1
    assert check_submit(g, JobSpec(command=("x",)), T0, driver="d")[1] == 2


def test_capabilities_need_a_reason_for_every_missing_feature() -> None:
    with pytest.raises(ValueError, match="neither supported nor explained"):
        Capabilities("d", frozenset({Feature.WHOLE_DEVICES}))
    caps = Capabilities("d", frozenset(set(Feature) - {Feature.FRACTIONAL_DEVICES}),
                        {Feature.FRACTIONAL_DEVICES: "fractional GPU: not supported"})
    with pytest.raises(ValidationError, match="lease L: the d driver cannot do this: fractional GPU"):
        caps.require(Feature.FRACTIONAL_DEVICES, "L")
    assert caps.to_dict()["missing"] == {"fractional_devices": "fractional GPU: not supported"}


def test_device_seconds_is_exact_for_fractions() -> None:
    assert device_seconds(10, (1000, 500)) == Decimal(15)
    assert device_seconds(3, (333,)) == Decimal("0.999")
    assert JobState.LOST.terminal and not JobState.PENDING.terminal


def test_retry_policy_backs_off_deterministically_and_caps() -> None:
    p = RetryPolicy(base=timedelta(seconds=1), factor=2, cap=timedelta(seconds=10), jitter=0)
    assert [p.delay(n).total_seconds() for n in range(1, 6)] == [1, 2, 4, 8, 10]
    j = RetryPolicy(base=timedelta(seconds=10), jitter=0.5)
    assert j.delay(1, "L1") == j.delay(1, "L1")
    assert timedelta(seconds=5) <= j.delay(1, "L1") <= timedelta(seconds=10)
    s = RetryState()
    assert s.due(T0)
    s = s.failed(T0, p, key="L1", error="down")
    assert not s.due(T0) and s.due(T0 + timedelta(seconds=1)) and s.attempts == 1
    s = s.failed(T0, p)
    assert s.next_at == T0 + timedelta(seconds=2)
    assert RetryState(attempts=3).exhausted(RetryPolicy(max_attempts=3))


def test_call_with_retry_retries_only_retryable_errors_without_sleeping() -> None:
    slept: list[float] = []
    attempts = iter([EngineError("down", retryable=True), EngineError("down", retryable=True), "ok"])

    def fn() -> str:
        item = next(attempts)
        if isinstance(item, Exception):
            raise item
        return item

    p = RetryPolicy(base=timedelta(seconds=1), jitter=0, max_attempts=5)
    assert call_with_retry(fn, policy=p, sleep=slept.append) == "ok"
    assert slept == [1.0, 2.0]
    refused = EngineError("refused", retryable=False)
    assert not is_retryable(refused)

    def refuse() -> None:
        raise refused

    with pytest.raises(EngineError, match="refused"):
        call_with_retry(refuse, policy=p, sleep=slept.append)
    assert slept == [1.0, 2.0]

    def down() -> None:
        raise EngineError("down", retryable=True)

    with pytest.raises(EngineError):
        call_with_retry(down, policy=RetryPolicy(jitter=0, max_attempts=3), sleep=slept.append)
    assert len(slept) == 4

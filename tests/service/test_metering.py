"""Metering of gateway requests (service.inference_metering): one transaction, idempotent by request id."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from suanli.domain.accounts import Principal, Role
from suanli.errors import ValidationError
from suanli.service import accounts
from suanli.service.inference_metering import MeteredRequest, meter
from suanli.service.platform import Platform
from suanli.store import usage as usage_store
from suanli.store.inference_tables import InferenceKeyUsageRow, InferenceRequestRow
from suanli.testing.clock import FakeClock


def _request(who: Principal, clock: FakeClock, rid: str, **kw: object) -> MeteredRequest:
    base: dict[str, object] = dict(id=rid, token_id=who.token_id, tenant_id=who.tenant_id, deployment_id="dep_x",
                                   replica_id="rep_x", model="tiny-gpt", endpoint="chat", status="ok", stream=True,
                                   started_at=clock.now() - timedelta(seconds=1), ended_at=clock.now(),
                                   first_token_at=clock.now(), prompt_tokens=11, completion_tokens=7,
                                   cached_tokens=0)
    base.update(kw)
    return MeteredRequest(**base)  # type: ignore[arg-type]


def test_one_request_is_one_row_its_events_and_its_keys_tokens_once(platform: Platform, operator: Principal,
                                                                     clock: FakeClock) -> None:
    p = platform
    _who, token = accounts.create_account(p, operator, "acme", Role.TENANT)
    who = accounts.authenticate(p, token)
    r = _request(who, clock, "req_1")
    assert meter(p, r) is True
    assert meter(p, r) is False  # a retry is a no-op
    assert meter(p, _request(who, clock, "req_2", prompt_tokens=5, completion_tokens=0, status="abandoned")) is True
    assert meter(p, _request(who, clock, "req_3", prompt_tokens=0, completion_tokens=0, status="failed")) is True
    period = clock.now().strftime("%Y-%m")
    with p.read() as s:
        rows = {x.id: x for x in s.scalars(select(InferenceRequestRow))}
        assert {k: (v.prompt_tokens, v.completion_tokens, v.status) for k, v in rows.items()} == {
            "req_1": (11, 7, "ok"), "req_2": (5, 0, "abandoned"), "req_3": (0, 0, "failed")}
        events = usage_store.events_for(s, who.tenant_id, period, source="gateway")
        assert sorted((e.id, e.meter.value, e.quantity, e.model) for e in events) == [
            ("req_1:completion", "inference_output_tokens", Decimal(7), "tiny-gpt"),
            ("req_1:prompt", "inference_input_tokens", Decimal(11), "tiny-gpt"),
            ("req_2:prompt", "inference_input_tokens", Decimal(5), "tiny-gpt")]
        key = s.get(InferenceKeyUsageRow, (who.token_id, period))
        assert key is not None and key.tokens == 11 + 7 + 5


def test_a_request_that_did_not_fit_the_checks_writes_nothing(platform: Platform, operator: Principal,
                                                              clock: FakeClock) -> None:
    _who, token = accounts.create_account(platform, operator, "acme", Role.TENANT)
    who = accounts.authenticate(platform, token)
    with pytest.raises(ValidationError, match="cached_tokens <= prompt_tokens"):
        meter(platform, _request(who, clock, "req_bad", prompt_tokens=1, cached_tokens=2))
    with platform.read() as s:
        assert s.scalars(select(InferenceRequestRow)).first() is None


def test_a_batch_meters_each_new_id_once(platform: Platform, operator: Principal, clock: FakeClock) -> None:
    from suanli.service.inference_metering import MeterQueue, meter_many

    p = platform
    _who, token = accounts.create_account(p, operator, "acme", Role.TENANT)
    who = accounts.authenticate(p, token)
    assert meter(p, _request(who, clock, "req_old")) is True
    batch = [_request(who, clock, "req_a"), _request(who, clock, "req_a"), _request(who, clock, "req_old"),
             _request(who, clock, "req_b", prompt_tokens=3, completion_tokens=2)]
    assert meter_many(p, batch) == 2
    queue = p.attached(MeterQueue)
    queue.submit(_request(who, clock, "req_c", prompt_tokens=1, completion_tokens=1))
    queue.flush()  # what the worker (or the exit) does
    assert queue.pending() == 0
    with p.read() as s:
        assert sorted(x.id for x in s.scalars(select(InferenceRequestRow))) == ["req_a", "req_b", "req_c", "req_old"]
        key = s.get(InferenceKeyUsageRow, (who.token_id, clock.now().strftime("%Y-%m")))
        assert key is not None and key.tokens == 18 + 18 + 5 + 2


def test_a_batch_adds_each_keys_own_tokens_in_each_month(platform: Platform, operator: Principal,
                                                         clock: FakeClock) -> None:
    """The key counter is one prebuilt statement over the batch: each (key, month) gets its own sum."""
    from suanli.service.inference_metering import meter_many

    p = platform
    _a, ta = accounts.create_account(p, operator, "acme", Role.TENANT)
    _b, tb = accounts.create_account(p, operator, "bolt", Role.TENANT)
    a, b = accounts.authenticate(p, ta), accounts.authenticate(p, tb)
    this = clock.now().strftime("%Y-%m")
    assert meter(p, _request(a, clock, "req_0", prompt_tokens=100, completion_tokens=0)) is True
    later = clock.now() + timedelta(days=40)
    nxt = later.strftime("%Y-%m")
    batch = [_request(a, clock, "req_1", prompt_tokens=3, completion_tokens=4),
             _request(b, clock, "req_2", prompt_tokens=5, completion_tokens=6),
             _request(a, clock, "req_3", prompt_tokens=1, completion_tokens=1, ended_at=later),
             _request(a, clock, "req_4", prompt_tokens=2, completion_tokens=0),
             _request(b, clock, "req_5", prompt_tokens=0, completion_tokens=0, status="failed")]
    assert meter_many(p, batch) == 5
    with p.read() as s:
        got = {(r.token_id, r.period): r.tokens for r in s.scalars(select(InferenceKeyUsageRow))}
    assert got == {(a.token_id, this): 100 + 7 + 2, (b.token_id, this): 11, (a.token_id, nxt): 2}

"""The capacity time series: sampled by the background pass (FakeClock), exact rented time, the idle split,
energy, downsampling and retention, who may read it, bad periods. SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from suanli.domain.accounts import Principal
from suanli.domain.capacity_series import Resolution, modelled_power_w
from suanli.drivers.telemetry import DeviceSample, NullTelemetry
from suanli.errors import FencedError, PermissionDeniedError, ValidationError
from suanli.service import accounts, capacity, fleet, leases, orders
from suanli.service.fencing import Fence, fenced
from suanli.service.leadership import Replica
from suanli.service.platform import Platform
from suanli.service.reconcile import run_now
from suanli.store import capacity_series as store
from suanli.store.capacity_series import CapacitySampleRow
from suanli.testing.clock import FakeClock

NONE = NullTelemetry()


class Reading:
    """What NVML would report for the devices of one node (a stand-in for the hardware)."""

    backend = "nvml"
    reason = None

    def __init__(self, node: str, util_pct: int, power_w: str, clock: FakeClock) -> None:
        self.node, self.util, self.power, self.clock = node, util_pct, Decimal(power_w), clock

    def read(self) -> list[DeviceSample]:
        return [DeviceSample(node=self.node, index=i, at=self.clock.now(), utilisation_pct=self.util,
                             power_w=self.power) for i in range(8)]


def _run(p: Platform, clock: FakeClock, minutes: int, reader: object = NONE) -> None:
    for _ in range(minutes):
        clock.advance(60)
        capacity.sample(p, reader)  # type: ignore[arg-type]


def _lease(p: Platform, who: Principal, **raw: object) -> str:
    res = orders.create_order(p, who, raw)
    assert res.order.lease_id is not None, res.order.reason
    return res.order.lease_id


def test_rented_time_is_exact_and_the_lease_rate_is_rented_over_available(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    capacity.sample(demo, NONE)
    t0 = clock.now()
    clock.advance(30)  # granted between two samples
    lease_id = _lease(demo, tenant, form="gpu", quantity=2, models=["H800"])
    _run(demo, clock, 90)
    clock.advance(17)
    leases.end_lease(demo, tenant, lease_id)  # given up between two samples
    _run(demo, clock, 30)
    rep = capacity.report(demo, operator, t0, clock.now(), by="model")
    h800 = next(g for g in rep.groups if g.key == "H800").figures
    held = Decimal(2) * (90 * 60 + 17) / 3600  # device-hours, to the second
    period = Decimal((clock.now() - t0).total_seconds()) / 3600
    assert h800.rented_device_hours == held.quantize(Decimal("0.001"))
    assert h800.available_device_hours == (32 * period).quantize(Decimal("0.001"))
    assert h800.lease_rate == (held / (32 * period)).quantize(Decimal("0.0001"))
    assert rep.total.rented_device_hours == h800.rented_device_hours
    others = [g for g in rep.groups if g.key != "H800"]
    assert others and all(g.figures.rented_device_hours == 0 and g.figures.lease_rate == 0 for g in others)
    assert rep.total.utilisation is None  # no telemetry: never invented


def test_idle_splits_into_fragmented_and_unrented_and_down_nodes_count_apart(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    _lease(demo, tenant, form="slice", share_pct=30, memory_mib=1024, models=["L20"])
    fleet.set_node_state(demo, operator, "sh-a800-01", "down", "fan")
    fleet.set_node_state(demo, operator, "sh-a800-02", "maintenance", "firmware")
    _run(demo, clock, 10)
    now = capacity.now(demo, operator, by="node")
    nodes = {g.key: g.figures for g in now.groups}
    assert nodes["sh-a800-01"].down == 8 and nodes["sh-a800-01"].available == 0
    assert nodes["sh-a800-02"].down == 8
    for f in nodes.values():  # every device is available or down; available = allocated + fragmented + unrented
        assert f.available + f.down == f.devices
        assert f.allocated + f.fragmented + f.unrented == f.available
    held = next(f for k, f in nodes.items() if k.startswith("sz-l20") and f.allocated > 0)
    assert held.allocated == Decimal("0.3") and held.fragmented > 0  # the 0.7 left on that device is a fragment
    rep = capacity.report(demo, operator, clock.now() - timedelta(minutes=10), clock.now(), by="site")
    sh = next(g for g in rep.groups if g.key == "sh-east-1").figures
    assert sh.down == 16 and sh.available == 32
    # energy: a node down draws nothing, one in maintenance its idle power (the model of docs/capacity.md)
    r = capacity.report(demo, operator, clock.now() - timedelta(minutes=10), clock.now(), by="node")
    by_node = {g.key: g.figures for g in r.groups}
    assert by_node["sh-a800-01"].it_kwh == 0
    idle_kw = modelled_power_w(400, 8, Decimal(0)) / 1000  # A800: 400 W TDP
    assert by_node["sh-a800-02"].it_kwh == (idle_kw * 10 / 60).quantize(Decimal("0.001"))
    assert by_node["sh-a800-02"].facility_kwh == (idle_kw * 10 / 60 * Decimal("1.30")).quantize(Decimal("0.001"))
    assert by_node["sh-a800-02"].power_cost == (idle_kw * 10 / 60 * Decimal("1.30") * Decimal("0.85")).quantize(
        Decimal("0.01"))


def test_measured_utilisation_and_power_where_telemetry_reports_them(
        demo: Platform, operator: Principal, clock: FakeClock) -> None:
    reader = Reading("sh-h800-01", 40, "350", clock)
    _run(demo, clock, 60, reader)
    rep = capacity.report(demo, operator, clock.now() - timedelta(hours=1), clock.now(), by="node")
    by_node = {g.key: g.figures for g in rep.groups}
    measured = by_node["sh-h800-01"]
    assert measured.utilisation == Decimal("0.4000")
    assert measured.it_kwh == measured.measured_kwh == Decimal("2.800")  # 8 × 350 W × 1 h
    assert by_node["sh-h800-02"].utilisation is None and by_node["sh-h800-02"].measured_kwh == 0
    assert rep.total.utilisation == Decimal("0.4000")  # over the devices that have a reading


def test_downsampling_keeps_the_totals_and_retention_drops_raw_rows_after_48_hours(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    demo.settings = replace(demo.settings, capacity_sample_seconds=600.0)
    capacity.sample(demo, NONE)
    t0 = clock.now()
    _lease(demo, tenant, form="gpu", quantity=4, models=["A100-80GB"])
    step = 600
    for _ in range(6 * 30):  # 30 hours
        clock.advance(step)
        capacity.sample(demo, NONE)
    before = capacity.report(demo, operator, t0, clock.now(), step="hour")
    with demo.read() as s:
        assert store.latest_start(s, Resolution.DAY) is not None  # a whole UTC day is behind us
    for _ in range(6 * 24):  # 24 hours more: the first raw rows pass their 48 hours
        clock.advance(step)
        capacity.sample(demo, NONE)
    with demo.read() as s:
        oldest_raw = store.oldest(s, Resolution.RAW)
        assert oldest_raw is not None and oldest_raw >= clock.now() - timedelta(hours=49)
    after = capacity.report(demo, operator, t0, t0 + (before.end - before.start), step="hour")
    assert after.total.rented_device_hours == before.total.rented_device_hours
    assert after.total.available_device_hours == before.total.available_device_hours
    assert after.total.it_kwh == before.total.it_kwh and after.total.power_cost == before.total.power_cost
    assert len({pt.at for pt in after.points}) == len({pt.at for pt in before.points})
    days = capacity.report(demo, operator, t0, clock.now(), step="day")
    assert days.total.rented_device_hours == capacity.report(demo, operator, t0, clock.now(), step="hour"
                                                             ).total.rented_device_hours


def test_sampling_is_idempotent_and_runs_in_the_leaders_pass(
        demo: Platform, operator: Principal, clock: FakeClock) -> None:
    first = run_now(demo, operator)["capacity"]
    assert first["sampled"] == 17  # one row per node
    assert run_now(demo, operator)["capacity"]["sampled"] == 0  # not due yet: nothing written
    with demo.read() as s:
        rows = store.spans_between(s, Resolution.RAW, clock.now() - timedelta(hours=1), clock.now() + timedelta(1))
    with demo.tx() as s:
        assert store.insert_spans(s, rows) == 0  # the same keys again (another replica, a retry): none inserted
    with demo.read() as s:
        assert s.scalar(select(func.count()).select_from(CapacitySampleRow)) == 17 + 17  # raw + the hour before


def test_a_supplier_reads_its_own_nodes_and_a_tenant_is_refused(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    _run(demo, clock, 5)
    sup, _token = accounts.create_account(demo, operator, "east-idc", "supplier", supplier="huadong-idc")
    rep = capacity.report(demo, sup, by="node")
    assert rep.groups and all(g.key.startswith(("sh-", "sz-l20")) for g in rep.groups)
    assert {g.key for g in capacity.report(demo, sup, by="supplier").groups} == {"huadong-idc"}
    assert {g.key for g in capacity.now(demo, sup, by="supplier").groups} == {"huadong-idc"}
    with pytest.raises(PermissionDeniedError):
        capacity.report(demo, tenant)
    with pytest.raises(PermissionDeniedError):
        capacity.now(demo, tenant)


@pytest.mark.parametrize(("kw", "field"), [
    ({"start": "end"}, "start"),
    ({"by": "tenant"}, "by"),
    ({"step": "minute"}, "step"),
    ({"step": "raw", "days": 3}, "step"),
    ({"days": 4000}, "end"),
])
def test_bad_periods_and_options_say_what_is_allowed(
        demo: Platform, operator: Principal, clock: FakeClock, kw: dict[str, object], field: str) -> None:
    now = clock.now()
    start = now if kw.get("start") == "end" else now - timedelta(days=int(kw.get("days", 1)))  # type: ignore[call-overload]
    with pytest.raises(ValidationError) as e:
        capacity.report(demo, operator, start, now, by=str(kw.get("by", "none")), step=kw.get("step"))  # type: ignore[arg-type]
    assert e.value.details.get("field") == field
    assert "allowed" in e.value.message or "before" in e.value.message


def test_only_the_leader_samples_and_a_replica_that_lost_the_lead_writes_nothing(
        demo: Platform, clock: FakeClock) -> None:
    a, b = Replica(demo, replica_id="r-a"), Replica(demo, replica_id="r-b")

    def rows() -> int:
        with demo.read() as s:
            return int(s.scalar(select(func.count()).select_from(CapacitySampleRow)) or 0)

    done = a.run(lambda: capacity.sample(demo, NONE))
    assert done is not None and done.sampled == 17
    clock.advance(5)
    assert b.run(lambda: capacity.sample(demo, NONE)) is None  # a leads (its lease runs 10 s): b does nothing
    written = rows()
    clock.advance(a.ttl.total_seconds() + 60)
    assert b.run(lambda: capacity.sample(demo, NONE)) is not None  # a's lease lapsed: b took over
    after_b = rows()
    assert after_b > written
    clock.advance(60)
    with pytest.raises(FencedError), fenced(Fence("background", "r-a", 1, a.ttl)):  # a, late, under epoch 1
        capacity.sample(demo, NONE)
    assert rows() == after_b

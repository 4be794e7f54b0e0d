"""Oversubscription through the service layer (docs/slices.md "Oversubscription"), SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from suanli.domain.accounts import Principal
from suanli.domain.quotes import Basis
from suanli.errors import CapacityError, PermissionDeniedError, ValidationError
from suanli.service import billing, fleet, leases, orders, oversub, quotes
from suanli.service.platform import Platform
from suanli.store import leases as lease_store
from suanli.store.leases import StaleClaim
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant


def tiny_fleet(devices: int = 1) -> dict[str, Any]:
    """One site, one node of ``devices`` L20 (48 GiB) at 2.60 per device-hour."""
    return {"sites": [{"name": "t-1", "region": "r-1", "tier": "edge", "pue": "1.20", "power_price_kwh": "0.50"}],
            "suppliers": [{"name": "sup", "display_name": "Sup"}],
            "nodes": [{"name": "n-01", "site": "t-1", "supplier": "sup", "cpu_cores": 32, "memory_gib": 256,
                       "nic_gbps": 100, "disk_gb": 1000, "fabric": "t-1/n-01",
                       "devices": {"model": "L20", "count": devices}}],
            "prices": [{"model": "L20", "unit": "device_hour", "amount": "2.60"}], "floors": []}


@pytest.fixture
def tiny(platform: Platform, operator: Principal) -> Platform:
    fleet.import_fleet(platform, operator, tiny_fleet())
    return platform


@pytest.fixture
def acme(tiny: Platform, operator: Principal) -> Principal:
    return make_tenant(tiny, operator, "acme")


def burst(p: Platform, who: Principal, share: int = 50, memory_mib: int = 8192, **kw: Any) -> orders.OrderResult:
    return orders.create_order(p, who, {"form": "slice", "share_pct": share, "memory_mib": memory_mib,
                                        "slice_class": "burstable", **kw})


def set2(p: Platform, op: Principal, factor: str = "2", discount: str = "20") -> None:
    oversub.set_factor(p, op, {"site": "t-1", "model": "L20", "factor": factor, "discount_pct": discount})


def test_a_tenant_cannot_set_or_read_factors(tiny: Platform, acme: Principal) -> None:
    with pytest.raises(PermissionDeniedError):
        oversub.set_factor(tiny, acme, {"site": "t-1", "model": "L20", "factor": "4", "discount_pct": "1"})
    with pytest.raises(PermissionDeniedError):
        oversub.list_factors(tiny, acme)
    assert oversub.offers(tiny, acme) == []


@pytest.mark.parametrize("factor,discount,field", [
    ("0.5", "20", "factor"), ("0.99", "20", "factor"), ("4.01", "20", "factor"), ("1e9", "20", "factor"),
    ("NaN", "20", "factor"), ("2.001", "20", "factor"), ("abc", "20", "factor"), (True, "20", "factor"),
    ("2", "0", "discount_pct"), ("2", "-5", "discount_pct"), ("2", "90.01", "discount_pct"),
    ("2", "Infinity", "discount_pct")])
def test_factor_bounds_are_named_and_nothing_is_written(tiny: Platform, operator: Principal, factor: Any,
                                                        discount: str, field: str) -> None:
    with pytest.raises(ValidationError) as e:
        oversub.set_factor(tiny, operator, {"site": "t-1", "model": "L20", "factor": factor, "discount_pct": discount})
    assert e.value.details.get("field") == field
    assert oversub.list_factors(tiny, operator)["history"] == []


def test_unknown_site_or_model_names_the_known_ones(tiny: Platform, operator: Principal) -> None:
    with pytest.raises(ValidationError, match="sites: t-1"):
        oversub.set_factor(tiny, operator, {"site": "nowhere", "model": "L20", "factor": "2", "discount_pct": "10"})
    with pytest.raises(ValidationError, match="unknown model"):
        oversub.set_factor(tiny, operator, {"site": "t-1", "model": "Z9", "factor": "2", "discount_pct": "10"})


def test_burstable_needs_a_factor_and_the_slice_form(tiny: Platform, acme: Principal) -> None:
    with pytest.raises(ValidationError, match="burstable slices are sold on: none") as e:
        burst(tiny, acme)
    assert e.value.details.get("field") == "slice_class"
    with pytest.raises(ValidationError, match="slice form only"):
        orders.create_order(tiny, acme, {"form": "gpu", "quantity": 1, "slice_class": "burstable"})
    with pytest.raises(ValidationError, match="allowed: guaranteed, burstable"):
        orders.create_order(tiny, acme, {"form": "slice", "share_pct": 10, "memory_mib": 10, "slice_class": "cheap"})


def test_factor_two_holds_four_half_slices_and_refuses_a_fifth(tiny: Platform, operator: Principal,
                                                               acme: Principal) -> None:
    set2(tiny, operator)
    ids = []
    for _ in range(4):
        res = burst(tiny, acme)
        assert res.order.status == "fulfilled", res.order.reason
        ids.append(res.order.lease_id or "")
    lease = leases.get_lease(tiny, acme, ids[0])[0]
    (a,) = lease.allocations
    assert (a.milli, a.sold_milli, a.limit_milli) == (250, 500, 500)  # charge, sold share, the job's limit
    with pytest.raises(CapacityError):
        burst(tiny, acme)
    doc = oversub.list_factors(tiny, operator)
    (pool,) = doc["pools"]
    assert (pool["pool_devices"], pool["slices"], pool["charged_milli"], pool["sold_compute_milli"]) == (1, 4, 1000, 2000)
    assert pool["oversold"] == Decimal("2.00")
    # the device is full for guaranteed work too
    with pytest.raises(CapacityError):
        orders.create_order(tiny, acme, {"form": "slice", "share_pct": 1, "memory_mib": 1})


def test_memory_is_never_oversold(tiny: Platform, operator: Principal, acme: Principal) -> None:
    set2(tiny, operator, factor="4")
    # 20 GiB of a 48 GiB L20 is 417 milli of memory: charged in full whatever the factor
    for _ in range(2):
        res = burst(tiny, acme, share=50, memory_mib=20480)
        assert res.order.status == "fulfilled"
    with pytest.raises(CapacityError):
        burst(tiny, acme, share=10, memory_mib=20480)
    held = lease_store.busy_allocations  # the database's view: 2 × 417 = 834 of 1000
    with tiny.tx() as s:
        assert sum(b.milli for b in held(s, tiny.clock.now(), None)) == 834


def test_the_database_refuses_beyond_capacity(tiny: Platform, operator: Principal, acme: Principal) -> None:
    set2(tiny, operator)
    for _ in range(4):
        burst(tiny, acme)
    lease_id = burst.__name__  # any live lease id will do: take the first one
    with tiny.read() as s:
        lease_id = s.execute(text("select lease_id from allocations limit 1")).scalar_one()
        device = s.execute(text("select device_id from allocations limit 1")).scalar_one()
    with pytest.raises(StaleClaim), tiny.tx() as s:
        lease_store.insert_allocations(s, lease_id, [(device, 1, 0)], tiny.clock.now(), None)


def test_pools_keep_guaranteed_and_burstable_apart(platform: Platform, operator: Principal) -> None:
    fleet.import_fleet(platform, operator, tiny_fleet(devices=2))
    acme = make_tenant(platform, operator, "acme")
    set2(platform, operator)
    g = orders.create_order(platform, acme, {"form": "slice", "share_pct": 10, "memory_mib": 1024})
    b1 = burst(platform, acme, share=30)
    b2 = burst(platform, acme, share=30)
    g2 = orders.create_order(platform, acme, {"form": "slice", "share_pct": 10, "memory_mib": 1024})

    def device(res: orders.OrderResult) -> int:
        return leases.get_lease(platform, acme, res.order.lease_id or "")[0].allocations[0].slot

    assert device(g) == device(g2) != device(b1) == device(b2)
    # neither device is whole: a whole-GPU order is refused
    with pytest.raises(CapacityError):
        orders.create_order(platform, acme, {"form": "gpu", "quantity": 1})


def test_priced_lower_exactly_and_says_so(tiny: Platform, operator: Principal, acme: Principal,
                                          clock: FakeClock) -> None:
    set2(tiny, operator, factor="2", discount="20")
    q = quotes.quote_order(tiny, acme, {"form": "slice", "share_pct": 50, "memory_mib": 8192,
                                        "slice_class": "burstable", "hours": 2})
    assert q.hourly == Decimal("1.04")  # 0.5 sold x 0.8 x 2.60
    assert q.term_total == Decimal("2.08")
    assert q.lines[0].basis is Basis.BURSTABLE
    assert "may be slowed when neighbours are busy; priced 20 % lower" in q.note
    res = burst(tiny, acme)
    assert res.quote is not None and res.quote.hourly == Decimal("1.04") and "priced 20 % lower" in res.quote.note
    assert res.order.spec["slice_class"] == "burstable"
    lease = leases.get_lease(tiny, acme, res.order.lease_id or "")[0]
    shown = quotes.lease_quote(tiny, acme, lease.id)
    assert shown is not None and shown.hourly == Decimal("1.04") and shown.lines[0].basis is Basis.BURSTABLE
    clock.advance(hours=3)
    leases.end_lease(tiny, acme, lease.id)
    draft = billing.preview(tiny, acme, "2026-11")
    assert draft.settlement.total == Decimal("3.12")  # 3 h x 1.04, rated through the ledger


def test_a_factor_change_applies_to_new_grants_only(tiny: Platform, operator: Principal, acme: Principal,
                                                    clock: FakeClock) -> None:
    set2(tiny, operator, factor="2", discount="20")
    first = burst(tiny, acme)
    clock.advance(60)
    set2(tiny, operator, factor="4", discount="40")
    second = burst(tiny, acme)
    a1 = leases.get_lease(tiny, acme, first.order.lease_id or "")[0].allocations[0]
    a2 = leases.get_lease(tiny, acme, second.order.lease_id or "")[0].allocations[0]
    assert (a1.milli, a1.discount_pct, a1.share) == (250, Decimal("20.00"), Decimal("0.4"))
    assert (a2.milli, a2.discount_pct, a2.share) == (167, Decimal("40.00"), Decimal("0.3"))  # 8 GiB of 48: 167
    doc = oversub.list_factors(tiny, operator)
    assert [f["factor"] for f in doc["in_force"]] == [Decimal("4.00")]
    assert [f["factor"] for f in doc["history"]] == [Decimal("4.00"), Decimal("2.00")]
    assert doc["history"][0]["set_by"] == "operator"


def test_not_offered_stops_new_burstable_sales(tiny: Platform, operator: Principal, acme: Principal) -> None:
    set2(tiny, operator)
    assert [o["discount_pct"] for o in oversub.offers(tiny, acme)] == [Decimal("20.00")]
    oversub.set_factor(tiny, operator, {"site": "t-1", "model": "L20", "factor": "2", "discount_pct": "20",
                                        "offered": False})
    assert oversub.offers(tiny, acme) == []
    with pytest.raises(ValidationError, match="burstable"):
        burst(tiny, acme)


def _telemetry(p: Platform, util: int) -> None:
    """What an agent's heartbeat leaves: its device 0's latest sample, now."""
    from suanli.domain.agents import Telemetry
    from suanli.store import agents as agent_store
    from suanli.store.agent_tables import AgentNodeRow

    now = p.clock.now()
    with p.tx() as s:
        s.merge(AgentNodeRow(node="n-01", state="approved", updated_at=now, last_seen_at=now,
                             slice_mechanisms="mps"))  # MIG part: the agent reports the MPS daemon it probed
        agent_store.upsert_telemetry(s, "n-01", [Telemetry(index=0, at=now, utilisation_pct=util)], now)


def test_contention_is_measured_from_telemetry_each_sample_once(tiny: Platform, operator: Principal,
                                                                 acme: Principal, clock: FakeClock) -> None:
    _telemetry(tiny, 100)
    assert oversub.sample_contention(tiny) == 0  # no burstable pool yet: nothing counted
    set2(tiny, operator)
    burst(tiny, acme)
    burst(tiny, acme)
    for util in (100, 40, 97, 10):
        clock.advance(30)
        _telemetry(tiny, util)
        assert oversub.sample_contention(tiny) == 1
        assert oversub.sample_contention(tiny) == 0  # the same sample again: counted once
    (dev,) = oversub.list_factors(tiny, operator)["devices"]
    assert (dev["samples"], dev["saturated"], dev["contention"]) == (4, 2, Decimal("0.5000"))
    clock.advance(3600)  # the agent fell silent: its last sample is stale, nothing more is counted
    assert oversub.sample_contention(tiny) == 0


def test_economics_shows_the_factor_and_the_extra_revenue(tiny: Platform, operator: Principal, acme: Principal,
                                                          clock: FakeClock) -> None:
    from suanli.service import economics

    start = clock.now()
    set2(tiny, operator, factor="2", discount="20")
    for _ in range(4):
        burst(tiny, acme)
    clock.advance(hours=2)
    doc = economics.economics_report(tiny, operator, start=start.isoformat(), end=clock.now().isoformat())
    o = doc["oversubscription"]
    assert [(f["site"], f["model"], f["factor"]) for f in o["in_force"]] == [("t-1", "L20", Decimal("2.00"))]
    # 4 slices x 0.5 sold x 0.8 x 2.60 x 2 h = 8.32; the device sold guaranteed: 1 x 2.60 x 2 h = 5.20
    assert o["burstable_revenue"] == Decimal("8.32")
    assert o["extra_revenue"] == Decimal("3.12")


def test_a_burstable_slice_is_enforced_by_limits_never_a_hard_partition(demo: Platform, operator: Principal,
                                                                         tenant: Principal) -> None:
    from suanli.service import slicing
    from suanli.store import leases as store

    for site, model in (("sz-edge-1", "L20"), ("nx-west-1", "Ascend-910B"), ("nx-west-1", "A100-80GB")):
        oversub.set_factor(demo, operator, {"site": site, "model": model, "factor": "2", "discount_pct": "20"})
    res = burst(demo, tenant, models=["A100-80GB"])  # a MIG model: still a limit-based burstable slice
    with demo.read() as s:
        lease = store.get_lease(s, res.order.lease_id or "")
        limits = slicing.limits_for(s, lease)
    assert limits is not None and limits.enforcement in ("hami", "mps") and limits.share_pct == 50
    assert not limits.enforcement.startswith("mig")
    # Ascend's vNPU templates are hard partitions: a burstable slice there is refused before it is granted
    with pytest.raises(ValidationError, match="cannot be enforced") as e:
        burst(demo, tenant, models=["Ascend-910B"])
    assert "L20" in e.value.message
    ok = burst(demo, tenant, models=["Ascend-910B"], allow_unenforced=True)
    assert ok.order.status == "fulfilled"
    assert slicing.enforcement_of(demo, ok.order.lease_id) == "none"

"""The store sums a month of usage as the pure ledger defines it (:func:`suanli.ledger.rating.summarise`),
on SQLite and PostgreSQL: late events of a closed month, zero quantities, events right on a cut,
quantities with twelve decimal places; and an invoice rated from sums (with the kinds a package
draws down one by one) is the one rated record by record."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from suanli.domain.accounts import Principal
from suanli.ledger.meters import Meter, UsageRecord
from suanli.ledger.rating import UsageSum, rate, summarise
from suanli.service import billing, packages, plans
from suanli.service.platform import Platform
from suanli.service.usage import store_records
from suanli.store import usage as usage_store
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant

OCT = datetime(2026, 10, 1, tzinfo=UTC)
NOV = datetime(2026, 11, 1, tzinfo=UTC)
DIMS = [("H800", "sh-east-1", "huadong-idc", "n1"), ("H800", "sh-east-1", "huadong-idc", ""),
        ("L20", "sz-edge-1", "huadong-idc", "n2"), ("RTX-4090", "sz-edge-1", "xibu-compute", "")]
CUTS = [OCT, OCT + timedelta(days=17, seconds=3), NOV, NOV + timedelta(days=4, hours=5), NOV + timedelta(days=9),
        datetime(2026, 12, 1, tzinfo=UTC)]


def _prices(p: Platform, operator: Principal, tenant: str) -> None:
    """Egress by tiers (default plan), a contract from mid-month, and the H800 list price changing."""
    plans.create_plan(p, operator, {"tenant": "*", "kind": "payg", "effective_from": "2026-01-01T00:00:00Z",
                                    "rates": [{"meter": "egress_gb", "tiers": [{"up_to": "40", "price": "0.8"},
                                                                               {"up_to": None, "price": "0.5"}]}]})
    plans.create_plan(p, operator, {"tenant": tenant, "kind": "spot", "discount": "0.35", "paid": True,
                                    "effective_from": "2026-11-04T05:00:00Z"})
    # a price history from before "now" (the service refuses back-dating; it was set ahead of time)
    from suanli.domain.prices import PriceEntry, PriceUnit
    from suanli.store import prices as price_store
    with p.tx() as s:
        price_store.add_price(s, PriceEntry("H800", None, PriceUnit.P_YEAR, Decimal(120000), "CNY",
                                            NOV + timedelta(days=9)), NOV)


def _records(rng: random.Random, tenant: str, start: datetime, days: int, n: int, tag: str) -> list[UsageRecord]:
    out = []
    for i in range(n):
        meter = rng.choice([Meter.DEVICE_SECONDS, Meter.DEVICE_SECONDS, Meter.EGRESS_GB])
        model, site, supplier, node = rng.choice(DIMS) if meter is Meter.DEVICE_SECONDS else ("", "", "", "")
        t = rng.choice(CUTS[:-1]) if rng.random() < 0.1 else start + timedelta(seconds=rng.randrange(days * 86400))
        q = Decimal(0) if rng.random() < 0.05 else Decimal(rng.randrange(1, 10**16)) / 10**12
        out.append(UsageRecord("test", f"{tag}{i}", meter, tenant, t, q, model, site, supplier, node,
                               lease=rng.choice(["", "l1"]), order=rng.choice(["", "o1"]), payload_hash=f"h{tag}{i}"))
    return out


def _as_set(sums: list[UsageSum]) -> set[tuple[object, ...]]:
    return {(x.meter, x.model, x.site, x.supplier, x.node, x.lease, x.order, x.quantity, x.records, x.first, x.last)
            for x in sums}


def test_the_store_sums_usage_as_the_ledger_defines_it(demo: Platform, operator: Principal,
                                                       clock: FakeClock) -> None:
    rng = random.Random(4)
    who = make_tenant(demo, operator, "summed")
    _prices(demo, operator, "summed")
    with demo.tx() as s:
        store_records(s, _records(rng, who.account_id, OCT, 31, 50, "a"), clock.now())
    billing.issue_invoice(demo, operator, "summed", "2026-10")  # October closes: later October usage bills in November
    with demo.tx() as s:
        store_records(s, _records(rng, who.account_id, OCT, 31, 150, "late")
                      + _records(rng, who.account_id, NOV, 22, 600, "b"), clock.now())
    with demo.tx() as s:
        records = usage_store.events_for(s, who.account_id, "2026-11")
        sums = usage_store.usage_sums(s, who.account_id, "2026-11", CUTS)
    assert len(records) >= 750 and sum(x.records for x in sums) == len(records)
    assert any(r.time < NOV for r in records) and any(x.first < NOV for x in sums)  # late usage is there
    assert len(sums) < 200  # summed, not one per record
    assert _as_set(sums) == _as_set(summarise(records, CUTS))


@pytest.mark.parametrize("package", [False, True])
def test_an_invoice_rated_from_sums_is_the_one_rated_record_by_record(demo: Platform, operator: Principal,
                                                                      clock: FakeClock, package: bool) -> None:
    rng = random.Random(11)
    who = make_tenant(demo, operator, "both-ways")
    _prices(demo, operator, "both-ways")
    if package:  # 40 L20 device-hours sold now (Nov 23), drawn by the week after: they run out in the month;
        # L20 usage is drawn one by one
        packages.sell_package(demo, operator, tenant="both-ways", reason="custom: a month-end bundle",
                              meter="device_seconds", model="L20", quantity=Decimal(40), price=Decimal("80.00"),
                              expires_at=datetime(2026, 12, 31, tzinfo=UTC))
    with demo.tx() as s:
        store_records(s, _records(rng, who.account_id, NOV, 22, 800, "c"), clock.now())
        if package:
            store_records(s, _records(rng, who.account_id, clock.now(), 7, 300, "d"), clock.now())
    if package:
        clock.set(NOV + timedelta(days=29, hours=12))
    draft = billing.preview(demo, operator, "2026-11", "both-ways")
    with demo.tx() as s:
        inp, n = billing._rating(demo, s, who, "2026-11", clock.now(), store_leases=False)
        records = usage_store.events_for(s, who.account_id, "2026-11")
    assert inp.sums and n == len(records) == sum(x.records for x in inp.sums) + len(inp.records) > 700
    l20 = [r for r in records if r.meter is Meter.DEVICE_SECONDS and r.model == "L20"]
    assert sorted(r.id for r in inp.records) == (sorted(r.id for r in l20) if package else [])
    assert all(x.model != "L20" for x in inp.sums) if package else any(x.model == "L20" for x in inp.sums)
    inp.records, inp.sums = records, ()
    one_by_one = rate(inp)
    assert draft.rated.lines == one_by_one.lines and draft.rated.total > 0
    assert {x.plan for x in one_by_one.lines} >= {"", "default"} and len({x.unit_price for x in one_by_one.lines}) > 4
    if package:
        assert one_by_one.package_draws and draft.rated.package_draws == one_by_one.package_draws
        assert {x.kind for x in one_by_one.lines} >= {"package_covered", "package_fee", "usage"}

"""Price quotes through the services, on SQLite and PostgreSQL: a fixed-term lease (or a
reservation) is billed at the quote it was granted with, an open-ended lease follows a list price
change at the second, an extension's added time is quoted when it is added, and the quoted term
total is the invoiced amount."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanli.domain.accounts import Principal
from suanli.domain.quotes import Pricing, q12
from suanli.service import billing, leases, orders, plans, prices, quotes
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant

H800_P = Decimal("0.9894")
DEC1 = datetime(2026, 12, 1, tzinfo=UTC)
LIST = q12(Decimal(90000) * H800_P / 8760)  # the demo list price of an H800, per device-hour, as quoted


def lease_lines(doc: dict[str, object], lease: str) -> list[dict[str, object]]:
    return [x for x in doc["lines"] if x["lease"] == lease]  # type: ignore[attr-defined,index]


def invoice(p: Platform, op: Principal, clock: FakeClock) -> dict[str, object]:
    clock.set(DEC1 + timedelta(hours=1))
    return billing.issue_invoice(p, op, "acme", "2026-11")


def test_price_change_mid_fixed_term_does_not_change_its_bill(demo: Platform, operator: Principal,
                                                                tenant: Principal, clock: FakeClock) -> None:
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["H800"], "hours": 10})
    lease_id = res.order.lease_id or ""
    quote = quotes.lease_quote(demo, tenant, lease_id)
    assert quote is not None and quote.pricing is Pricing.QUOTED
    (line,) = quote.lines
    assert (line.model, line.devices, line.device_hour, line.basis.value) == ("H800", 2, LIST, "list")
    assert abs((line.p_year or 0) - 90000) < Decimal("1e-6")
    assert quote.hourly == 2 * LIST and line.term_hours == 10
    assert quote.term_total == (2 * 10 * LIST).quantize(Decimal("0.01"))
    clock.advance(hours=2, minutes=49, seconds=31)
    prices.set_price(demo, operator, "H800", Decimal(180000), "p_year")  # now, mid-term: twice the price
    clock.advance(hours=20)  # the term is over
    doc = invoice(demo, operator, clock)
    lines = lease_lines(doc, lease_id)
    assert {x["unit_price"] for x in lines} == {LIST}
    assert sum(x["amount"] for x in lines) == quote.term_total  # type: ignore[misc]
    assert quotes.lease_quote(demo, tenant, lease_id) == quote  # the quote shown later is the same


def test_open_ended_lease_follows_the_change_at_the_second(demo: Platform, operator: Principal, tenant: Principal,
                                                           clock: FakeClock) -> None:
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["H800"]})
    lease_id = res.order.lease_id or ""
    quote = quotes.lease_quote(demo, tenant, lease_id)
    assert quote is not None and quote.pricing is Pricing.LIST and quote.term_total is None
    assert quote.hourly == 2 * LIST  # what it costs at the grant, informative
    clock.advance(hours=2, minutes=49, seconds=31)
    prices.set_price(demo, operator, "H800", Decimal(180000), "p_year")
    clock.advance(hours=1, minutes=10, seconds=29)
    leases.end_lease(demo, tenant, lease_id)
    doc = invoice(demo, operator, clock)
    by_price = {x["unit_price"]: x["quantity"] for x in lease_lines(doc, lease_id)}
    assert by_price == {LIST: q12(Decimal(2 * (2 * 3600 + 49 * 60 + 31)) / 3600),
                        q12(Decimal(180000) * H800_P / 8760): q12(Decimal(2 * (3600 + 10 * 60 + 29)) / 3600)}


def test_reservation_is_billed_at_its_quote(demo: Platform, operator: Principal, tenant: Principal,
                                            clock: FakeClock) -> None:
    start = clock.now() + timedelta(days=1)
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["H800"], "start": start})
    lease_id = res.order.lease_id or ""
    quote = quotes.lease_quote(demo, tenant, lease_id)
    assert quote is not None and quote.pricing is Pricing.QUOTED and quote.term_total is None  # open-ended
    clock.advance(hours=3)
    prices.set_price(demo, operator, "H800", Decimal(180000), "p_year")  # before it starts
    clock.set(start + timedelta(hours=5))
    leases.end_lease(demo, tenant, lease_id)
    doc = invoice(demo, operator, clock)
    (line,) = lease_lines(doc, lease_id)
    assert line["unit_price"] == LIST and line["quantity"] == 5
    assert line["amount"] == (5 * LIST).quantize(Decimal("0.01"))


def test_extension_quotes_the_added_time_at_the_extension(demo: Platform, operator: Principal, tenant: Principal,
                                                          clock: FakeClock) -> None:
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["H800"], "hours": 4})
    lease_id = res.order.lease_id or ""
    clock.advance(hours=1)
    prices.set_price(demo, operator, "H800", Decimal(180000), "p_year")
    clock.advance(hours=1)
    leases.extend_lease(demo, tenant, lease_id, hours=Decimal("2.5"))
    quote = quotes.lease_quote(demo, tenant, lease_id)
    assert quote is not None and quote.pricing is Pricing.QUOTED
    dearer = q12(Decimal(180000) * H800_P / 8760)
    assert [(x.device_hour, x.term_hours) for x in quote.lines] == [(LIST, 4), (dearer, Decimal("2.5"))]
    assert quote.hourly == 2 * dearer
    clock.advance(hours=10)
    doc = invoice(demo, operator, clock)
    lines = lease_lines(doc, lease_id)
    assert {x["unit_price"]: x["quantity"] for x in lines} == {LIST: 8, dearer: 5}
    assert sum(x["amount"] for x in lines) == quote.term_total  # type: ignore[misc]


def test_plan_in_force_at_the_grant_is_quoted_and_kept(demo: Platform, operator: Principal, tenant: Principal,
                                                       clock: FakeClock) -> None:
    now = clock.now()
    plans.create_plan(demo, operator, {"tenant": "acme", "kind": "payg", "discount": "0.2",
                                       "effective_from": now.isoformat(),
                                       "effective_to": (now + timedelta(hours=3)).isoformat()})
    plans.create_plan(demo, operator, {"tenant": "acme", "kind": "payg", "discount": "0.5",
                                       "effective_from": (now + timedelta(hours=3)).isoformat()})
    fixed = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["H800"], "hours": 6})
    open_ended = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["H800"]})
    quote = quotes.lease_quote(demo, tenant, fixed.order.lease_id or "")
    assert quote is not None
    (line,) = quote.lines
    exact = Decimal(90000) * H800_P / 8760
    assert line.device_hour == q12(exact * Decimal("0.8")) and line.list_device_hour == q12(exact)
    clock.advance(hours=6)
    leases.end_lease(demo, tenant, open_ended.order.lease_id or "")
    doc = invoice(demo, operator, clock)
    (f,) = lease_lines(doc, fixed.order.lease_id or "")
    assert f["unit_price"] == line.device_hour and f["amount"] == quote.term_total
    o = {x["unit_price"]: x["quantity"] for x in lease_lines(doc, open_ended.order.lease_id or "")}
    assert o == {q12(exact * Decimal("0.8")): 3, q12(exact * Decimal("0.5")): 3}  # follows the new contract


def test_a_quoted_lease_re_placed_elsewhere_keeps_its_price(platform: Platform, operator: Principal,
                                                             clock: FakeClock) -> None:
    from suanli.domain.demo import demo_fleet
    from suanli.service import fleet, health
    from suanli.testing.factories import make_tenant

    doc = demo_fleet()
    doc["nodes"].append({"name": "nx-l20-01", "site": "nx-west-1", "supplier": "xibu-compute", "cpu_cores": 64,
                         "memory_gib": 512, "nic_gbps": 100, "disk_gb": 7680, "fabric": "nx-west-1/nx-l20-01",
                         "devices": {"model": "L20", "count": 8}})
    fleet.import_fleet(platform, operator, doc)
    tenant = make_tenant(platform, operator, "acme")
    fixed = orders.create_order(platform, tenant, {"form": "gpu", "quantity": 8, "models": ["L20"],
                                                   "hours": 10}).order.lease_id or ""
    (held,) = {(a.node, a.site) for a in leases.get_lease(platform, tenant, fixed)[0].allocations}
    node, site = held
    other = "nx-west-1" if site == "sz-edge-1" else "sz-edge-1"
    for _ in range(2 if site == "sz-edge-1" else 0):  # fill the rest of its site: it can only move to the other
        orders.create_order(platform, tenant, {"form": "gpu", "quantity": 8, "models": ["L20"], "sites": [site]})
    clock.advance(hours=1)
    prices.set_price(platform, operator, "L20", Decimal(9), "device_hour")  # after the grant, every site
    fleet.set_node_state(platform, operator, node, "down", "PSU failed")
    assert health.check_health(platform).replaced == [fixed]
    assert {a.site for a in leases.get_lease(platform, tenant, fixed)[0].last_allocations()} == {other}
    quote = quotes.lease_quote(platform, tenant, fixed)
    assert quote is not None and quote.pricing is Pricing.QUOTED
    assert {(x.site, x.device_hour) for x in quote.lines} == {(site, Decimal("2.6")), (other, Decimal("2.6"))}
    clock.advance(hours=12)
    doc_ = invoice(platform, operator, clock)
    assert {x["unit_price"] for x in lease_lines(doc_, fixed)} == {Decimal("2.6")}


def test_a_prepaid_tenants_runway_burns_a_fixed_term_at_its_quote(demo: Platform, operator: Principal,
                                                                 tenant: Principal, clock: FakeClock) -> None:
    from suanli.service import wallets

    wallets.set_policy(demo, operator, "acme", Decimal(4), Decimal(2))
    wallets.top_up(demo, operator, "acme", Decimal("100.00"))
    orders.create_order(demo, tenant, {"form": "gpu", "quantity": 4, "models": ["L20"], "hours": 24})
    assert wallets.show_wallet(demo, tenant)["burn_per_hour"] == Decimal("10.40")  # 4 x 2.60
    clock.advance(minutes=1)
    prices.set_price(demo, operator, "L20", Decimal(26), "device_hour")  # ten times the list price
    w = wallets.show_wallet(demo, tenant)
    assert w["burn_per_hour"] == Decimal("10.40") and w["standing"] == "ok"  # it is billed at its quote
    assert wallets.check_runway(demo, operator) == []  # never suspended for a price it does not pay


def test_a_lease_drawn_on_a_term_reservation_says_the_term_covers_it(demo: Platform, operator: Principal,
                                                                     tenant: Principal, clock: FakeClock) -> None:
    plan = plans.create_plan(demo, operator, {"tenant": "acme", "kind": "term", "term": "month", "term_model": "H800",
                                              "term_devices": 8, "discount": "0.2", "paid": True,
                                              "effective_from": clock.now().isoformat()})
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["H800"], "hours": 5})
    quote = quotes.lease_quote(demo, tenant, res.order.lease_id or "")
    assert quote is not None and quote.pricing is Pricing.QUOTED
    assert plan["reservation"] in quote.note and "covers costs 0.00" in quote.note
    (line,) = quote.lines  # beyond the term: its discount over the list price
    assert line.device_hour == q12(Decimal(90000) * H800_P / 8760 * Decimal("0.8")) and line.plan == plan["id"]
    clock.advance(hours=6)
    doc = invoice(demo, operator, clock)
    assert {x["kind"] for x in lease_lines(doc, res.order.lease_id or "")} == {"term_covered"}


TENANTS = itertools.count()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(model=st.sampled_from(["L20", "H800", "A800"]),
       price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2),
       later=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2),
       seconds=st.integers(1, 3 * 86400), quantity=st.integers(1, 8), at=st.floats(0, 1))
def test_quoted_term_total_is_the_invoiced_amount(demo: Platform, operator: Principal, clock: FakeClock, model: str,
                                                  price: Decimal, later: Decimal, seconds: int, quantity: int,
                                                  at: float) -> None:
    """Random list prices, devices and terms, a price change mid-term: the order's quoted term total
    is what the month's draft (the invoice to be issued) charges for that lease. The database outlives
    the examples: each runs at its own later instant, for its own tenant, inside one month."""
    clock.advance(minutes=1)
    now = clock.now()
    end_of_month = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    if now + timedelta(seconds=seconds + 60) >= end_of_month:
        clock.set(end_of_month + timedelta(hours=1))
    floor = Decimal(7) if model == "H800" else Decimal(0)  # the demo's supplier floor: never offered below it
    prices.set_price(demo, operator, model, floor + price, "device_hour")
    who = make_tenant(demo, operator, f"t{next(TENANTS)}")
    res = orders.create_order(demo, who, {"form": "gpu", "quantity": quantity, "models": [model],
                                          "hours": str(Decimal(seconds) / 3600)})
    lease_id = res.order.lease_id or ""
    quote = quotes.lease_quote(demo, who, lease_id)
    assert quote is not None and quote.pricing is Pricing.QUOTED and quote.term_total is not None
    clock.advance(seconds=max(1, int(at * seconds)))
    prices.set_price(demo, operator, model, floor + later, "device_hour")  # mid-term: must not matter
    clock.advance(seconds=seconds + 1)
    month = f"{res.order.start.year:04d}-{res.order.start.month:02d}"
    draft = billing.draft_doc(billing.preview(demo, who, month), who)
    assert sum((x["amount"] for x in lease_lines(draft, lease_id)), Decimal("0.00")) == quote.term_total


def test_sla_credit_of_a_quoted_lease_is_valued_at_its_quote(demo: Platform, operator: Principal,
                                                             tenant: Principal, clock: FakeClock) -> None:
    from suanli.service import fleet, health
    from suanli.store import engine as engine_store

    lease_id = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 4, "models": ["A800"],
                                                  "hours": 10}).order.lease_id or ""
    clock.advance(hours=1)
    prices.set_price(demo, operator, "A800", Decimal(13), "device_hour")  # twice the list price it was granted at
    node = leases.get_lease(demo, tenant, lease_id)[0].allocations[0].node
    clock.advance(hours=1)
    fleet.set_node_state(demo, operator, node, "down", "PSU failed")
    assert health.check_health(demo).replaced == [lease_id]
    with demo.tx() as s:
        (credit,) = engine_store.sla_credits(s, lease_id=lease_id)
    assert credit.amount == 4 * Decimal("6.50")  # the 1-hour minimum at the hour it pays, not the new list price

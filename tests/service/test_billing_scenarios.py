"""The trade's billing scenarios end to end through the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from suanli.domain.accounts import Principal
from suanli.domain.leases import LeaseState
from suanli.errors import ConflictError, ValidationError
from suanli.service import (
    billing,
    health,
    leases,
    orders,
    packages,
    plans,
    prices,
    statements,
    usage,
    vouchers,
    wallets,
)
from suanli.service.platform import Platform
from suanli.store import leases as lease_store
from suanli.store import ledger as ledger_store
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant

H800_P = Decimal("0.9894")
DEC1 = datetime(2026, 12, 1, tzinfo=UTC)


def cents(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), ROUND_HALF_UP)


def ledger_is_balanced(p: Platform, op: Principal) -> None:
    check = billing.ledger_check(p, op)
    assert check["sum"] == 0 and check["unbalanced_entries"] == []


def test_tax_when_configured_is_one_line_on_the_subtotal(demo: Platform, operator: Principal, tenant: Principal,
                                                         clock: FakeClock) -> None:
    demo.settings = dataclasses.replace(demo.settings, tax_rate="0.06")  # SUANLI_TAX_RATE=0.06
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["H800"]})
    clock.advance(hours=3, seconds=17)
    leases.end_lease(demo, tenant, res.order.lease_id or "")
    clock.set(DEC1 + timedelta(hours=1))
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    assert doc["tax"] == cents(doc["subtotal"] * Decimal("0.06")) and doc["tax"] > 0
    assert doc["total"] == doc["subtotal"] + doc["tax"]
    ledger_is_balanced(demo, operator)


def test_payg_lease_is_metered_through_usage_and_invoiced(demo: Platform, operator: Principal, tenant: Principal,
                                                          clock: FakeClock) -> None:
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["H800"]})
    clock.advance(hours=3, seconds=17)
    leases.end_lease(demo, tenant, res.order.lease_id or "")
    draft = billing.preview(demo, tenant, "2026-11")
    hourly = 2 * Decimal(90000) * H800_P / 8760
    assert draft.settlement.total == cents(hourly * Decimal(3 * 3600 + 17) / 3600)
    clock.set(DEC1 + timedelta(hours=1))
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    assert doc["status"] == "issued" and doc["records"] == 4  # 3 whole hours + 17 s, one record each
    # one line per price segment of the lease (all 4 hour-records add into one line)
    (line,) = doc["lines"]
    exact = Decimal(2 * (3 * 3600 + 17)) / 3600
    assert line["quantity"] == exact.quantize(Decimal("1e-12"))  # stored with 12 places
    assert line["amount"] == cents(exact * Decimal(90000) * H800_P / 8760)
    assert line["supplier_share"] + line["commission"] == line["amount"]
    assert doc["total"] == line["amount"] == doc["amount_due"]
    # issuing again is refused by the database; re-metering ingested nothing twice
    with pytest.raises(ConflictError, match="live invoice"):
        billing.issue_invoice(demo, operator, "acme", "2026-11")
    paid = billing.pay_invoice(demo, operator, doc["id"])
    assert paid["status"] == "paid"
    ledger_is_balanced(demo, operator)


def test_p_year_contract_across_a_list_price_change(demo: Platform, operator: Principal, tenant: Principal,
                                                    clock: FakeClock) -> None:
    # contract: 100,000 元/P/年 for H800 from Nov 1 to Nov 24, then 80,000 from Nov 24 (a renegotiation)
    plans.create_plan(demo, operator, {"tenant": "acme", "kind": "payg", "paid": True,
                                       "effective_from": "2026-11-01T00:00:00Z", "effective_to": "2026-11-24T00:00:00Z",
                                       "rates": [{"meter": "device_seconds", "model": "H800", "unit": "p_year",
                                                  "price": "100000"}]})
    plans.create_plan(demo, operator, {"tenant": "acme", "kind": "payg", "paid": True,
                                       "effective_from": "2026-11-24T00:00:00Z",
                                       "rates": [{"meter": "device_seconds", "model": "H800", "unit": "p_year",
                                                  "price": "80000"}]})
    with pytest.raises(ValidationError, match="overlaps plan"):
        plans.create_plan(demo, operator, {"tenant": "acme", "kind": "spot", "discount": "0.5",
                                           "effective_from": "2026-11-20T00:00:00Z"})
    # and the list price changes too (it must not matter under the contract)
    prices.set_price(demo, operator, "H800", Decimal(180000), "p_year", effective_from=datetime(2026, 11, 23, 20,
                                                                                                 tzinfo=UTC))
    orders.create_order(demo, tenant, {"form": "gpu", "quantity": 8, "models": ["H800"]})  # 08:00 on the 23rd
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    by_price = {x["unit_price"]: x for x in doc["lines"]}
    first = Decimal(100000) * H800_P / 8760
    second = Decimal(80000) * H800_P / 8760
    assert set(by_price) == {first.quantize(Decimal("1e-12")), second.quantize(Decimal("1e-12"))}
    by_price = {k.quantize(Decimal("1e-10")): v for k, v in by_price.items()}
    first, second = first.quantize(Decimal("1e-10")), second.quantize(Decimal("1e-10"))
    assert by_price[first]["quantity"] == 8 * 16  # 08:00 -> 24:00 on Nov 23
    assert by_price[second]["quantity"] == 8 * 24 * 7  # Nov 24 .. Dec 1
    exact = Decimal(100000) * H800_P / 8760, Decimal(80000) * H800_P / 8760
    assert doc["total"] == cents(8 * 16 * exact[0]) + cents(8 * 168 * exact[1])
    ledger_is_balanced(demo, operator)


def test_term_holds_its_devices_and_bills_its_fee_in_advance(demo: Platform, operator: Principal,
                                                             tenant: Principal, clock: FakeClock) -> None:
    # 包月: 8 H800 for a month from now (Nov 23 08:00) at 20 % off the list; the fleet holds them for acme
    pl = plans.create_plan(demo, operator, {"tenant": "acme", "kind": "term", "term": "month", "term_model": "H800",
                                            "term_devices": 8, "discount": "0.2", "paid": True})
    assert pl["reservation"]
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 8, "models": ["H800"]})
    assert res.order.lease_id is not None
    clock.advance(hours=10)
    leases.end_lease(demo, tenant, res.order.lease_id)
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    (fee,) = [x for x in doc["lines"] if x["kind"] == "term_fee"]
    assert fee["quantity"] == 8 * 720 and fee["amount"] == cents(8 * 720 * Decimal(90000) * H800_P / 8760
                                                                 * Decimal("0.8")) == Decimal("46840.64")
    assert sum(x["quantity"] for x in doc["lines"] if x["kind"] == "term_covered") == 80
    assert doc["total"] == fee["amount"]
    ledger_is_balanced(demo, operator)


def test_spend_commitment_shortfall_is_billed_at_period_end(demo: Platform, operator: Principal, tenant: Principal,
                                                            clock: FakeClock) -> None:
    plans.create_plan(demo, operator, {"tenant": "acme", "kind": "spend_commitment", "paid": True,
                                       "effective_from": "2026-11-01T00:00:00Z",
                                       "commit_meter": "device_seconds", "commit_model": "RTX-4090",
                                       "commit_quantity": "1000", "commit_price": "1.50"})
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 4, "models": ["RTX-4090"]})
    clock.advance(hours=10)
    leases.end_lease(demo, tenant, res.order.lease_id or "")
    assert not [x for x in billing.preview(demo, tenant, "2026-11").rated.lines if x.kind == "commit_true_up"]
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    use = [x for x in doc["lines"] if x["kind"] == "usage"]
    (true_up,) = [x for x in doc["lines"] if x["kind"] == "commit_true_up"]
    assert sum(x["quantity"] for x in use) == 40 and all(x["unit_price"] == Decimal("1.50") for x in use)
    assert true_up["quantity"] == 960 and true_up["amount"] == Decimal("1440.00")
    assert doc["total"] == Decimal("60.00") + Decimal("1440.00")
    ledger_is_balanced(demo, operator)


def test_package_runs_out_mid_lease(demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    # the operator lists a product; the tenant buys it at the listed price (it never names one)
    packages.create_product(demo, operator, name="L20 5 h", meter="device_seconds", model="L20",
                            quantity=Decimal(5), price=Decimal("10.00"), valid_days=30)
    pkg = packages.buy_package(demo, tenant, "L20 5 h")
    assert pkg["price"] == Decimal("10.00") and pkg["list_price"] is None and pkg["sold_by"] == ""
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["L20"]})
    clock.advance(hours=4)  # 8 device-hours: 5 from the package, 3 billed at 2.60
    leases.end_lease(demo, tenant, res.order.lease_id or "")
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    covered = [x for x in doc["lines"] if x["kind"] == "package_covered"]
    billed = [x for x in doc["lines"] if x["kind"] == "usage"]
    assert sum(x["quantity"] for x in covered) == 5 and all(x["amount"] == 0 for x in covered)
    assert sum(x["quantity"] for x in billed) == 3 and sum(x["amount"] for x in billed) == Decimal("7.80")
    (fee,) = [x for x in doc["lines"] if x["kind"] == "package_fee"]
    assert fee["amount"] == Decimal("10.00") and doc["total"] == Decimal("17.80")
    (left,) = packages.list_packages(demo, tenant)
    assert left["id"] == pkg["id"] and left["left"] == 0
    ledger_is_balanced(demo, operator)


def test_spot_lease_interrupted_is_never_billed_after(demo: Platform, operator: Principal, tenant: Principal,
                                                      clock: FakeClock) -> None:
    plans.create_plan(demo, operator, {"tenant": "acme", "kind": "spot", "discount": "0.6",
                                       "effective_from": "2026-11-01T00:00:00Z"})
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["RTX-4090"], "sites": ["sz-edge-1"]})
    lease_id = res.order.lease_id or ""
    clock.advance(hours=2)
    with demo.tx() as s:
        leases.transition(s, lease_store.get_lease(s, lease_id, for_update=True), LeaseState.INTERRUPTED,
                          clock.now(), "spot capacity reclaimed")
    # a late agent event for after the interruption is ingested but never billed
    usage.ingest(demo, operator, [{"id": "gpu-1", "source": "agent/sz", "type": "device_seconds", "subject": "acme",
                                   "time": (clock.now() + timedelta(minutes=1)).isoformat(),
                                   "data": {"quantity": "600", "model": "RTX-4090", "lease": lease_id}}])
    clock.advance(hours=5)
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    (line,) = doc["lines"]
    assert line["quantity"] == 2 and line["unit_price"] == Decimal("2.10") * Decimal("0.4")
    assert doc["total"] == Decimal("1.68")


def test_voucher_within_cap_and_refused_for_related_party(demo: Platform, operator: Principal, clock: FakeClock
                                                          ) -> None:
    a = make_tenant(demo, operator, "a")
    b = make_tenant(demo, operator, "b")
    for t in ("a", "b"):
        plans.create_plan(demo, operator, {"tenant": t, "kind": "payg", "paid": True,
                                           "effective_from": "2026-11-01T00:00:00Z"})
        vouchers.issue_voucher(demo, operator, tenant=t, issuer="shanghai-city", percent=Decimal("0.3"),
                               cap=Decimal("20.00"), valid_from=datetime(2026, 11, 1, tzinfo=UTC),
                               valid_to=datetime(2027, 1, 1, tzinfo=UTC))
    vouchers.add_related_party(demo, operator, "b", "huadong-idc", "same parent company")
    orders.create_order(demo, a, {"form": "gpu", "quantity": 8, "models": ["L20"]})
    orders.create_order(demo, b, {"form": "gpu", "quantity": 8, "models": ["L20"]})
    clock.advance(hours=5)  # 40 device-hours x 2.60 = 104.00 each; 30 % = 31.20 > cap 20
    clock.set(DEC1)
    doc_a = billing.issue_invoice(demo, operator, "a", "2026-11")
    assert doc_a["vouchers"] == Decimal("20.00") and doc_a["amount_due"] == doc_a["total"] - Decimal("20.00")
    with pytest.raises(ValidationError, match="related parties"):
        billing.issue_invoice(demo, operator, "b", "2026-11",
                              vouchers=[vouchers.list_vouchers(demo, operator, tenant="b")[0]["id"]])
    doc_b = billing.issue_invoice(demo, operator, "b", "2026-11")  # default: vouchers where the rules allow
    assert doc_b["vouchers"] == 0
    audit = vouchers.audit(demo, operator, issuer="shanghai-city")
    assert {(x["tenant"], x["outcome"], x["rule"]) for x in audit} == {("a", "used", "capped_by_voucher"),
                                                                       ("b", "refused", "related_party")}
    assert all(x["rule_text"] for x in audit)  # the rule in words beside its id
    assert sum(x["amount"] for x in audit) == Decimal("20.00")
    (v_a,) = vouchers.list_vouchers(demo, operator, tenant="a")
    assert v_a["left"] == 0
    ledger_is_balanced(demo, operator)


def test_per_token_inference_billing_with_tiers(demo: Platform, operator: Principal, tenant: Principal,
                                                clock: FakeClock) -> None:
    plans.create_plan(demo, operator, {"tenant": "*", "kind": "payg", "effective_from": "2026-01-01T00:00:00Z",
                                       "rates": [{"meter": "inference_input_tokens", "price": "2"},
                                                 {"meter": "inference_output_tokens", "tiers": [
                                                     {"up_to": "10", "price": "8"}, {"up_to": None, "price": "6"}]}]})
    events = [{"id": f"req-{i}", "source": "gateway", "type": "suanli.usage.inference_input_tokens",
               "subject": "acme", "time": clock.now().isoformat(), "data": {"quantity": 1_500_000}}
              for i in range(3)]
    events += [{"id": f"out-{i}", "source": "gateway", "type": "inference_output_tokens", "subject": "acme",
                "time": clock.now().isoformat(), "data": {"quantity": "4000000"}} for i in range(4)]
    r = usage.ingest(demo, operator, events + events[:2])
    assert (r.accepted, r.duplicates) == (7, 2)
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    amounts = sorted((x["meter"], x["quantity"], x["amount"]) for x in doc["lines"])
    assert amounts == [("inference_input_tokens", Decimal("4.5"), Decimal("9.00")),
                       ("inference_output_tokens", Decimal(6), Decimal("36.00")),
                       ("inference_output_tokens", Decimal(10), Decimal("80.00"))]


def test_supplier_statements_and_commission_add_up_to_invoices(demo: Platform, operator: Principal,
                                                               clock: FakeClock) -> None:
    a, b = make_tenant(demo, operator, "a"), make_tenant(demo, operator, "b")
    orders.create_order(demo, a, {"form": "gpu", "quantity": 3, "models": ["H800"]})
    orders.create_order(demo, b, {"form": "gpu", "quantity": 4, "models": ["RTX-4090"]})
    orders.create_order(demo, b, {"form": "slice", "share_pct": 25, "memory_mib": 4096, "models": ["L20"]})
    clock.advance(hours=5, seconds=17)
    clock.set(DEC1)
    total = sum((billing.issue_invoice(demo, operator, t, "2026-11")["total"] for t in ("a", "b")), Decimal(0))
    st = [statements.supplier_statement(demo, operator, sup, "2026-11") for sup in ("huadong-idc", "xibu-compute")]
    assert sum(x["supplier_share"] + x["commission"] for x in st) == total
    report = statements.revenue_report(demo, operator, "2026-11")
    assert report["charges"] == total == report["supplier_share"] + report["commission"]
    assert report["ledger_sum"] == 0
    assert st[0]["payable_balance"] == st[0]["supplier_share"]
    statements.pay_supplier(demo, operator, "huadong-idc", st[0]["supplier_share"])
    ledger_is_balanced(demo, operator)


def test_a_tenant_billed_monthly_has_no_runway_and_is_never_suspended(demo: Platform, operator: Principal,
                                                                        tenant: Principal, clock: FakeClock) -> None:
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 4, "models": ["L20"]})
    clock.advance(hours=2)  # an empty wallet and 20.80 accrued: a prepaid tenant would be suspended by now
    w = wallets.show_wallet(demo, tenant)
    assert (w["prepaid"], w["standing"], w["runway_hours"]) == (False, "postpaid", None)
    assert w["accrued"] > 0
    assert wallets.enforce_runway(demo) == []
    lease, _ = leases.get_lease(demo, tenant, res.order.lease_id or "")
    assert lease.state is LeaseState.ACTIVE


def test_wallet_low_balance_suspends_and_resumes(demo: Platform, operator: Principal, tenant: Principal,
                                                 clock: FakeClock) -> None:
    wallets.set_policy(demo, operator, "acme", Decimal(4), Decimal(2))
    wallets.top_up(demo, operator, "acme", Decimal("30.00"))
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 4, "models": ["L20"]})  # 10.40/h
    lease_id = res.order.lease_id or ""
    assert wallets.show_wallet(demo, tenant)["standing"] == "ok"
    clock.advance(hours=1)  # 10.40 accrued: runway (30 - 10.40) / 10.40 = 1.88 h < 2
    changes = wallets.enforce_runway(demo)
    assert changes and changes[0]["action"] == "suspend"
    lease, events = leases.get_lease(demo, tenant, lease_id)
    assert lease.state is LeaseState.SUSPENDED and events[-1]["reason"] == wallets.SUSPEND_REASON
    assert all(a.end is not None for a in lease.allocations)  # a suspended lease gives up its devices
    assert health.replace_interrupted(demo).replaced == []  # failure recovery leaves suspensions alone
    clock.advance(hours=3)  # suspended time is not billed
    w = wallets.top_up(demo, operator, "acme", Decimal("100.00"))
    resumed, events = leases.get_lease(demo, tenant, lease_id)
    assert w["suspended_leases"] == [] and resumed.state is LeaseState.ACTIVE
    assert "same devices" in events[-1]["reason"]  # nobody took them meanwhile
    clock.advance(hours=1)
    draft = billing.preview(demo, tenant, "2026-11")
    assert sum(x.quantity for x in draft.rated.lines) == 8  # 4 devices x (1 h + 1 h)
    assert draft.settlement.wallet == draft.settlement.total == Decimal("20.80")


def test_void_and_credit_notes_are_new_entries(demo: Platform, operator: Principal, tenant: Principal,
                                               clock: FakeClock) -> None:
    orders.create_order(demo, tenant, {"form": "gpu", "quantity": 1, "models": ["L20"]})
    clock.advance(hours=10)
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    voided = billing.void_invoice(demo, operator, doc["id"], "wrong plan")
    assert voided["status"] == "void"
    again = billing.issue_invoice(demo, operator, "acme", "2026-11")
    assert again["total"] == doc["total"] and again["id"] != doc["id"]
    with pytest.raises(ConflictError):
        billing.void_invoice(demo, operator, doc["id"])
    billing.pay_invoice(demo, operator, again["id"])
    noted = billing.credit_note(demo, operator, again["id"], Decimal("5.00"), "SLA breach")
    assert noted["credit_notes"][0]["to_wallet"]
    assert wallets.show_wallet(demo, tenant)["balance"] == Decimal("5.00")
    with pytest.raises(ValidationError, match="exceeds"):
        billing.credit_note(demo, operator, again["id"], again["total"], "too much")
    ledger_is_balanced(demo, operator)


def test_supplier_statement_per_node_adds_up_to_the_invoices(demo: Platform, operator: Principal,
                                                             clock: FakeClock) -> None:
    a, b = make_tenant(demo, operator, "a"), make_tenant(demo, operator, "b")
    la = orders.create_order(demo, a, {"form": "gpu", "quantity": 8, "models": ["H800"]}).order.lease_id or ""
    lb = orders.create_order(demo, b, {"form": "cluster", "quantity": 2, "models": ["H800"]}).order.lease_id or ""
    nodes_a = {x.node for x in leases.get_lease(demo, a, la)[0].allocations}
    nodes_b = {x.node for x in leases.get_lease(demo, b, lb)[0].allocations}
    assert len(nodes_a | nodes_b) >= 2 and len(nodes_b) == 2  # b's lease spans two nodes
    clock.advance(hours=5, seconds=17)
    clock.set(DEC1)
    docs = [billing.issue_invoice(demo, operator, t, "2026-11") for t in ("a", "b")]
    total = sum((d["total"] for d in docs), Decimal(0))
    by_node_invoiced: dict[str, Decimal] = {}
    for d in docs:
        for x in d["lines"]:
            assert x["node"], x  # every lease-time line names its node
            by_node_invoiced[x["node"]] = by_node_invoiced.get(x["node"], Decimal(0)) + x["amount"]
    st = statements.supplier_statement(demo, operator, "huadong-idc", "2026-11")
    assert {n["node"] for n in st["nodes"]} == nodes_a | nodes_b
    for n in st["nodes"]:
        assert n["supplier_share"] + n["commission"] == n["gross"] == by_node_invoiced[n["node"]]
        assert n["supplier_share"] > 0 and n["commission"] > 0
    assert sum(n["supplier_share"] + n["commission"] for n in st["nodes"]) == total == st["gross"]
    assert sum(x["gross"] for x in st["lines"]) == total
    ledger_is_balanced(demo, operator)


def test_lease_time_metered_before_nodes_were_keyed_is_not_metered_again(demo: Platform, operator: Principal,
                                                                        tenant: Principal, clock: FakeClock) -> None:
    """A record of the old form (lease:model:site:supplier:start, no node) covers its piece."""
    from suanli.ledger.meters import Meter, UsageRecord
    lease_id = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["H800"]}).order.lease_id
    assert lease_id
    lease = leases.get_lease(demo, tenant, lease_id)[0]
    al = lease.allocations[0]
    t0 = clock.now()
    old = UsageRecord("suanli/leases", f"{lease_id}:H800:{al.site}:{al.supplier}:{t0.isoformat()}",
                      Meter.DEVICE_SECONDS, tenant.account_id, t0, Decimal(2 * 3600), "H800", al.site, al.supplier,
                      "", lease_id, lease.order_id, "legacy")
    with demo.tx() as s:
        usage.store_records(s, [old], t0)
    clock.advance(hours=3)
    leases.end_lease(demo, tenant, lease_id)
    draft = billing.preview(demo, tenant, "2026-11")
    assert sum(x.quantity for x in draft.rated.lines) == 6  # 3 h x 2 devices, the first hour once
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    assert sum(x["quantity"] for x in doc["lines"]) == 6 and doc["total"] == draft.settlement.total
    assert {x["node"] for x in doc["lines"]} == {"", al.node}  # the old hour has no node; the rest has


def test_sla_credit_of_a_node_failure_is_credited_once_on_the_next_invoice(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    from suanli.service import fleet
    from suanli.store import engine as engine_store
    lease_id = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 4, "models": ["A800"]}).order.lease_id
    assert lease_id
    node = leases.get_lease(demo, tenant, lease_id)[0].allocations[0].node
    clock.advance(hours=2)
    fleet.set_node_state(demo, operator, node, "down", "PSU failed")
    report = health.check_health(demo)
    assert report.interrupted == [lease_id] and report.replaced == [lease_id]
    with demo.tx() as s:
        (credit,) = engine_store.sla_credits(s, lease_id=lease_id)
    assert credit.amount == 4 * Decimal("6.50")  # the 1-hour minimum at the lease's hourly price
    draft = billing.preview(demo, tenant, "2026-11")
    assert [x["amount"] for x in billing.draft_doc(draft, tenant)["sla_credits"]] == [Decimal("26.00")]
    clock.advance(hours=3)
    leases.end_lease(demo, tenant, lease_id)
    clock.set(DEC1)
    doc = billing.issue_invoice(demo, operator, "acme", "2026-11")
    assert doc["total"] == cents(4 * 5 * Decimal("6.50")) == Decimal("130.00")
    assert doc["credits"] == Decimal("26.00") and doc["amount_due"] == Decimal("104.00")
    (applied,) = doc["sla_credits"]
    assert applied["id"] == credit.id and applied["lease"] == lease_id and applied["amount"] == Decimal("26.00")
    (part,) = applied["parts"]  # the failed node's supplier bears its share (1 - 15 %), the operator the rest
    assert part["node"] == node and Decimal(part["supplier_share"]) == Decimal("22.10")
    ledger = billing.ledger_check(demo, operator)
    assert ledger["sum"] == 0 and ledger["accounts"].get("credit:" + tenant.account_id, 0) == 0
    # once: voiding and issuing again spends the same credit again, it is not posted a second time
    billing.void_invoice(demo, operator, doc["id"], "re-issue")
    again = billing.issue_invoice(demo, operator, "acme", "2026-11")
    assert again["credits"] == Decimal("26.00") and [x["id"] for x in again["sla_credits"]] == [credit.id]
    with demo.tx() as s:
        entries = ledger_store.postings(s, ref=f"sla:{credit.id}")
    assert {r[1] for r in entries} == {"sla_credit"} and sum(r[6] for r in entries) == 0 and len(entries) == 3
    st = statements.supplier_statement(demo, operator, "huadong-idc", "2026-11")
    assert st["sla_share"] == Decimal("22.10") and [x["node"] for x in st["sla_credits"]] == [node]
    assert st["payable_balance"] == st["supplier_share"] - Decimal("22.10")
    assert statements.revenue_report(demo, operator, "2026-11")["sla_credits"] == Decimal("26.00")
    ledger_is_balanced(demo, operator)


def test_an_issued_month_shows_the_issued_invoice_and_late_usage_goes_to_the_next(
        demo: Platform, operator: Principal, tenant: Principal, clock: FakeClock) -> None:
    plans.create_plan(demo, operator, {"tenant": "*", "kind": "payg", "effective_from": "2026-01-01T00:00:00Z",
                                       "rates": [{"meter": "egress_gb", "price": "0.5"}]})
    packages.create_product(demo, operator, name="L20 5 h", meter="device_seconds", model="L20", quantity=Decimal(5),
                            price=Decimal("10.00"), valid_days=60)
    packages.buy_package(demo, tenant, "L20 5 h")
    lease_id = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["L20"]}).order.lease_id
    clock.advance(hours=4)
    leases.end_lease(demo, tenant, lease_id or "")
    assert billing.month_invoice(demo, tenant, "2026-11")["status"] == "preview"
    clock.set(DEC1)
    issued = billing.issue_invoice(demo, operator, "acme", "2026-11")
    # a re-rating now differs: the package was drawn by the issued invoice
    assert billing.preview(demo, tenant, "2026-11").settlement.total != issued["total"]
    shown = billing.month_invoice(demo, tenant, "2026-11")
    assert shown["id"] == issued["id"] and shown["status"] == "issued" and shown["total"] == issued["total"]
    assert shown["as_of"] == issued["issued_at"] and shown["lines"] == billing.invoice_doc(demo, tenant,
                                                                                          issued["id"])["lines"]
    # usage of November that arrives after November was issued bills on December, as an adjustment
    usage.ingest(demo, operator, [{"id": "late-1", "source": "gw", "type": "egress_gb", "subject": "acme",
                                   "time": "2026-11-30T12:00:00Z", "data": {"quantity": "10"}}])
    assert billing.month_invoice(demo, tenant, "2026-11")["total"] == issued["total"]
    dec = billing.month_invoice(demo, tenant, "2026-12")
    assert dec["status"] == "preview"
    (adj,) = [x for x in dec["lines"] if x["kind"] == "adjustment"]
    assert adj["usage_period"] == "2026-11" and adj["amount"] == Decimal("5.00")
    clock.set(datetime(2027, 1, 1, tzinfo=UTC))
    dec_issued = billing.issue_invoice(demo, operator, "acme", "2026-12")
    assert [x["amount"] for x in dec_issued["lines"] if x["kind"] == "adjustment"] == [Decimal("5.00")]
    ledger_is_balanced(demo, operator)


def test_supplier_sees_provisional_revenue_until_the_month_is_issued(demo: Platform, operator: Principal,
                                                                     clock: FakeClock) -> None:
    from suanli.service import accounts
    a, b = make_tenant(demo, operator, "a"), make_tenant(demo, operator, "b")
    sup = accounts.authenticate(demo, accounts.create_account(demo, operator, "east", "supplier",
                                                              supplier="huadong-idc")[1])
    orders.create_order(demo, a, {"form": "gpu", "quantity": 2, "models": ["L20"]})
    orders.create_order(demo, b, {"form": "gpu", "quantity": 1, "models": ["H800"]})
    clock.advance(hours=3)
    st = statements.supplier_statement(demo, sup, None, "2026-11")
    pv = st["provisional"]
    assert st["lines"] == [] and st["gross"] == 0  # nothing issued yet
    assert pv["status"] == "provisional" and pv["tenants"] == 2 and pv["as_of"] == clock.now()
    drafts = [billing.preview(demo, operator, "2026-11", t).settlement.total for t in ("a", "b")]
    assert pv["gross"] == sum(drafts) == pv["supplier_share"] + pv["commission"] and pv["gross"] > 0
    clock.set(DEC1)
    doc_a = billing.issue_invoice(demo, operator, "a", "2026-11")
    st = statements.supplier_statement(demo, sup, None, "2026-11")
    assert st["gross"] == doc_a["total"]  # issued: a's invoice
    assert st["provisional"]["tenants"] == 1  # b is still a draft
    assert st["provisional"]["gross"] == billing.preview(demo, operator, "2026-11", "b").settlement.total
    pv_b = st["provisional"]["gross"]
    doc_b = billing.issue_invoice(demo, operator, "b", "2026-11")
    assert doc_b["total"] == pv_b  # the month is over: the draft was what got issued
    st = statements.supplier_statement(demo, sup, None, "2026-11")
    assert st["provisional"]["lines"] == [] and st["provisional"]["gross"] == 0
    assert st["gross"] == st["supplier_share"] + st["commission"] == doc_a["total"] + doc_b["total"]

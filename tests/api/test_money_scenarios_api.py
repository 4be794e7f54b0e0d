"""The trade's billing scenarios end to end THROUGH THE API (SuanliClient + MoneyClient against the
FastAPI app), on SQLite and PostgreSQL: every step a user or the operator takes is an HTTP call;
after each scenario the ledger's trial balance sums to zero."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.client import SuanliClient
from suanli.client.errors import ApiConflictError, ApiError, ApiValidationError
from suanli.client.money import MoneyClient
from suanli.domain.demo import demo_fleet
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

H800_P = Decimal("0.9894")
DEC1 = datetime(2026, 12, 1, tzinfo=UTC)
Connect = Callable[[str], SuanliClient]


def cents(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), ROUND_HALF_UP)


@pytest.fixture
def connect(platform: Platform) -> Iterator[Connect]:
    with TestClient(create_app(platform)) as tc:
        yield lambda token: SuanliClient("http://testserver", token, http=tc)


@pytest.fixture
def op(platform: Platform, connect: Connect) -> SuanliClient:
    token = accounts.bootstrap_operator(platform)
    assert token
    c = connect(token)
    c.import_fleet(demo_fleet())
    return c


def account(op: SuanliClient, connect: Connect, name: str, role: str = "tenant", supplier: str | None = None
            ) -> SuanliClient:
    return connect(op.create_account(name, role, supplier).token)


def lease_of(order: Any) -> str:
    assert order.lease_id, order
    return str(order.lease_id)


def balanced(money: MoneyClient) -> dict[str, Decimal]:
    check = money.ledger_check()
    assert check.sum == 0 and check.unbalanced_entries == []
    return check.accounts


def test_p_year_contract_across_a_price_change(op: SuanliClient, connect: Connect, clock: FakeClock) -> None:
    t = account(op, connect, "acme")
    m = MoneyClient(op)
    m.create_plan({"tenant": "acme", "kind": "payg", "paid": True, "effective_from": "2026-11-01T00:00:00Z",
                   "effective_to": "2026-11-24T00:00:00Z",
                   "rates": [{"meter": "device_seconds", "model": "H800", "unit": "p_year", "price": "100000"}]})
    m.create_plan({"tenant": "acme", "kind": "payg", "paid": True, "effective_from": "2026-11-24T00:00:00Z",
                   "rates": [{"meter": "device_seconds", "model": "H800", "unit": "p_year", "price": "80000"}]})
    op.set_price("H800", Decimal(180000), "p_year", effective_from=datetime(2026, 11, 23, 20, tzinfo=UTC))
    t.create_order(form="gpu", quantity=8, models=["H800"])
    clock.set(DEC1)
    inv = m.issue_invoice("acme", "2026-11")
    first, second = Decimal(100000) * H800_P / 8760, Decimal(80000) * H800_P / 8760
    qty = {x.unit_price.quantize(Decimal("1e-10")): x.quantity for x in inv.lines}
    assert qty == {first.quantize(Decimal("1e-10")): 8 * 16, second.quantize(Decimal("1e-10")): 8 * 24 * 7}
    assert inv.total == cents(8 * 16 * first) + cents(8 * 168 * second)
    assert MoneyClient(t).billed_invoice(inv.id).total == inv.total  # the tenant sees its own
    balanced(m)


def test_spend_commitment_shortfall(op: SuanliClient, connect: Connect, clock: FakeClock) -> None:
    t = account(op, connect, "acme")
    m = MoneyClient(op)
    m.create_plan({"tenant": "acme", "kind": "spend_commitment", "paid": True, "effective_from": "2026-11-01T00:00:00Z",
                   "commit_meter": "device_seconds", "commit_model": "RTX-4090", "commit_quantity": "1000",
                   "commit_price": "1.50"})
    lease = lease_of(t.create_order(form="gpu", quantity=4, models=["RTX-4090"]))
    clock.advance(hours=10)
    t.end_lease(lease)
    assert not [x for x in t.invoice("2026-11").lines if x.kind == "commit_true_up"]  # not before period end
    clock.set(DEC1)
    inv = m.issue_invoice("acme", "2026-11")
    (true_up,) = [x for x in inv.lines if x.kind == "commit_true_up"]
    assert sum(x.quantity for x in inv.lines if x.kind == "usage") == 40
    assert true_up.quantity == 960 and true_up.amount == Decimal("1440.00")
    assert inv.total == Decimal("1500.00")
    balanced(m)


def test_package_runs_out_mid_lease(op: SuanliClient, connect: Connect, clock: FakeClock) -> None:
    t = account(op, connect, "acme")
    mt = MoneyClient(t)
    MoneyClient(op).create_package_product(name="L20 5 h", meter="device_seconds", model="L20", quantity=5,
                                           price="10.00", valid_days=30)
    pkg = mt.buy_package("L20 5 h")
    lease = lease_of(t.create_order(form="gpu", quantity=2, models=["L20"]))
    clock.advance(hours=4)
    t.end_lease(lease)
    clock.set(DEC1)
    inv = MoneyClient(op).issue_invoice("acme", "2026-11")
    covered = [x for x in inv.lines if x.kind == "package_covered"]
    billed = [x for x in inv.lines if x.kind == "usage"]
    assert sum(x.quantity for x in covered) == 5 and sum(x.amount for x in covered) == 0
    assert sum(x.quantity for x in billed) == 3 and sum(x.amount for x in billed) == Decimal("7.80")
    assert inv.total == Decimal("17.80")
    (left,) = mt.packages()
    assert left.id == pkg.id and left.left == 0
    balanced(MoneyClient(op))


def test_spot_lease_interrupted_by_the_platform(op: SuanliClient, connect: Connect, clock: FakeClock) -> None:
    t = account(op, connect, "acme")
    m = MoneyClient(op)
    m.create_plan({"tenant": "acme", "kind": "spot", "discount": "0.6", "effective_from": "2026-11-01T00:00:00Z"})
    lease = lease_of(t.create_order(form="gpu", quantity=1, models=["RTX-4090"], sites=["sz-edge-1"]))
    node = t.lease(lease).allocations[0].node
    clock.advance(hours=2)
    op.set_node_state(node, "down", "spot capacity reclaimed")
    op.reconcile()  # the health pass interrupts the lease; a spot lease ends there
    assert t.lease(lease).state == "ended"
    late = {"id": "gpu-1", "source": "agent/sz", "type": "device_seconds", "subject": "acme",
            "time": (clock.now() + timedelta(minutes=1)).isoformat(),
            "data": {"quantity": "600", "model": "RTX-4090", "lease": lease}}
    clock.advance(minutes=2)
    assert m.ingest([late]).accepted == 1  # ingested, never billed
    clock.set(DEC1)
    inv = m.issue_invoice("acme", "2026-11")
    (line,) = inv.lines
    assert line.quantity == 2 and line.unit_price == Decimal("0.84") and inv.total == Decimal("1.68")
    assert inv.sla_credits == []  # spot carries no SLA
    balanced(m)


def test_voucher_within_cap_and_refused_for_a_related_party(op: SuanliClient, connect: Connect,
                                                            clock: FakeClock) -> None:
    a, b = account(op, connect, "a"), account(op, connect, "b")
    m = MoneyClient(op)
    for name in ("a", "b"):
        m.create_plan({"tenant": name, "kind": "payg", "paid": True, "effective_from": "2026-11-01T00:00:00Z"})
        m.issue_voucher(tenant=name, issuer="shanghai-city", percent="0.3", cap="20.00",
                        valid_from=datetime(2026, 11, 1, tzinfo=UTC), valid_to=datetime(2027, 1, 1, tzinfo=UTC))
    m.add_related_party("b", "huadong-idc", "same parent company")
    a.create_order(form="gpu", quantity=8, models=["L20"])
    b.create_order(form="gpu", quantity=8, models=["L20"])
    clock.advance(hours=5)
    clock.set(DEC1)
    inv_a = m.issue_invoice("a", "2026-11")
    assert inv_a.vouchers == Decimal("20.00") and inv_a.amount_due == inv_a.total - Decimal("20.00")
    (vb,) = m.vouchers(tenant="b")
    with pytest.raises(ApiValidationError, match="related parties") as e:
        m.issue_invoice("b", "2026-11", vouchers=[vb.id])
    assert e.value.status == 422
    assert m.invoices(tenant="b") == []  # nothing half-written
    inv_b = m.issue_invoice("b", "2026-11")
    assert inv_b.vouchers == 0
    audit = m.voucher_audit(issuer="shanghai-city")
    assert {(x.tenant, x.outcome, x.rule) for x in audit} == {("a", "used", "capped_by_voucher"),
                                                              ("b", "refused", "related_party")}
    balanced(m)


def test_per_token_inference_billing(op: SuanliClient, connect: Connect, clock: FakeClock) -> None:
    t = account(op, connect, "acme")
    m = MoneyClient(op)
    m.create_plan({"tenant": "*", "kind": "payg", "effective_from": "2026-01-01T00:00:00Z",
                   "rates": [{"meter": "inference_input_tokens", "price": "2"},
                             {"meter": "inference_output_tokens",
                              "tiers": [{"up_to": "10", "price": "8"}, {"up_to": None, "price": "6"}]}]})
    events = [{"id": f"in-{i}", "source": "gateway", "type": "inference_input_tokens", "subject": "acme",
               "time": clock.now().isoformat(), "data": {"quantity": "1500000"}} for i in range(3)]
    events += [{"id": f"out-{i}", "source": "gateway", "type": "suanli.usage.inference_output_tokens",
                "subject": "acme", "time": clock.now().isoformat(), "data": {"quantity": "4000000"}} for i in range(4)]
    r = m.ingest(events + events[:2])
    assert (r.accepted, r.duplicates) == (7, 2)
    assert m.ingest(events[:3]).accepted == 0  # a retried batch never counts twice
    clock.set(DEC1)
    inv = m.issue_invoice("acme", "2026-11")
    got = sorted((x.meter, x.quantity, x.amount) for x in inv.lines)
    assert got == [("inference_input_tokens", Decimal("4.5"), Decimal("9.00")),
                   ("inference_output_tokens", Decimal(6), Decimal("36.00")),
                   ("inference_output_tokens", Decimal(10), Decimal("80.00"))]
    assert MoneyClient(t).billed_invoice(inv.id).total == Decimal("125.00")
    balanced(m)


def test_supplier_statement_per_node_adds_up_with_commission_to_the_invoices(
        op: SuanliClient, connect: Connect, clock: FakeClock) -> None:
    a, b = account(op, connect, "a"), account(op, connect, "b")
    east = MoneyClient(account(op, connect, "east", "supplier", "huadong-idc"))
    west = MoneyClient(account(op, connect, "west", "supplier", "xibu-compute"))
    la = lease_of(a.create_order(form="gpu", quantity=8, models=["H800"]))
    lb = lease_of(b.create_order(form="cluster", quantity=2, models=["H800"]))
    b.create_order(form="gpu", quantity=4, models=["Ascend-910B"])
    nodes = {x.node for x in a.lease(la).allocations} | {x.node for x in b.lease(lb).allocations}
    assert len(nodes) == 3
    clock.advance(hours=5, seconds=17)
    clock.set(DEC1)
    m = MoneyClient(op)
    invoices = [m.issue_invoice(x, "2026-11") for x in ("a", "b")]
    total = sum((x.total for x in invoices), Decimal(0))
    st_e, st_w = east.supplier_statement(period="2026-11"), west.supplier_statement(period="2026-11")
    assert {x.node for x in st_e.nodes} == nodes and len(st_w.nodes) == 1
    for st in (st_e, st_w):
        for n in st.nodes:
            assert n.supplier_share + n.commission == n.gross and n.supplier_share > 0 and n.commission > 0
    by_node = sum((n.supplier_share + n.commission for st in (st_e, st_w) for n in st.nodes), Decimal(0))
    assert by_node == total == st_e.gross + st_w.gross
    report = m.revenue_report("2026-11")
    assert report.charges == total == report.supplier_share + report.commission and report.ledger_sum == 0
    with pytest.raises(ApiError) as e:  # a supplier sees only its own payouts
        east.supplier_statement(supplier="xibu-compute")
    assert e.value.status == 404
    with pytest.raises(ApiError) as e:
        MoneyClient(a).supplier_statement(supplier="huadong-idc")
    assert e.value.status == 403
    assert op.revenue("2026-11", supplier="huadong-idc").nodes == st_e.nodes
    m.payout("huadong-idc", st_e.supplier_share)
    assert east.supplier_statement(period="2026-11").payable_balance == 0
    balanced(m)


def test_node_failure_sla_credit_reaches_the_invoice_once(op: SuanliClient, connect: Connect,
                                                          clock: FakeClock) -> None:
    t = account(op, connect, "acme")
    east = MoneyClient(account(op, connect, "east", "supplier", "huadong-idc"))
    m = MoneyClient(op)
    lease = lease_of(t.create_order(form="gpu", quantity=4, models=["A800"]))
    node = t.lease(lease).allocations[0].node
    clock.advance(hours=2)
    op.set_node_state(node, "down", "PSU failed")
    op.reconcile()  # interrupted, credited, re-placed on healthy devices
    after = t.lease(lease)
    assert after.state == "active" and node not in {x.node for x in after.allocations if x.end is None}
    clock.advance(hours=3)
    t.end_lease(lease)
    clock.set(DEC1)
    inv = m.issue_invoice("acme", "2026-11")
    (sla,) = inv.sla_credits
    assert sla.lease == lease and sla.amount == Decimal("26.00")  # 1-hour minimum x 4 x 6.50
    assert inv.total == Decimal("130.00") and inv.credits == Decimal("26.00") and inv.amount_due == Decimal("104.00")
    mine = MoneyClient(t).billed_invoice(inv.id)
    assert mine.sla_credits[0].amount == Decimal("26.00") and mine.sla_credits[0].parts is None  # not for tenants
    m.void_invoice(inv.id, "re-issue")
    again = m.issue_invoice("acme", "2026-11")
    assert again.credits == Decimal("26.00") and [x.id for x in again.sla_credits] == [sla.id]
    accounts_after = balanced(m)
    credit_accounts = {k: v for k, v in accounts_after.items() if k.startswith("credit:")}
    assert credit_accounts and set(credit_accounts.values()) == {0}  # posted once, spent once
    st = east.supplier_statement(period="2026-11")
    assert st.sla_share == Decimal("22.10") and [x.node for x in st.sla_credits] == [node]
    assert st.payable_balance == st.supplier_share - st.sla_share


def test_issued_month_shows_the_issued_invoice_late_usage_goes_to_the_next(
        op: SuanliClient, connect: Connect, clock: FakeClock) -> None:
    t = account(op, connect, "acme")
    m, mt = MoneyClient(op), MoneyClient(t)
    east = account(op, connect, "east", "supplier", "huadong-idc")
    m.create_plan({"tenant": "*", "kind": "payg", "effective_from": "2026-01-01T00:00:00Z",
                   "rates": [{"meter": "egress_gb", "price": "0.5"}]})
    m.create_package_product(name="L20 5 h", meter="device_seconds", model="L20", quantity=5, price="10.00",
                             valid_days=60)
    mt.buy_package("L20 5 h")
    lease = lease_of(t.create_order(form="gpu", quantity=2, models=["L20"]))
    clock.advance(hours=4)
    t.end_lease(lease)
    draft = t.invoice("2026-11")
    assert draft.status == "preview" and draft.id is None
    pv = east.revenue("2026-11").provisional
    assert pv is not None and pv.status == "provisional" and pv.gross == draft.total - Decimal("10.00")
    clock.set(DEC1)
    issued = m.issue_invoice("acme", "2026-11")
    assert mt.preview("2026-11").total != issued.total  # a re-rating differs (the package is drawn)
    shown = t.invoice("2026-11")
    assert shown.id == issued.id and shown.status == "issued" and shown.total == issued.total == draft.total
    rev = east.revenue("2026-11")
    assert rev.gross == draft.total - Decimal("10.00") and rev.provisional is not None and rev.provisional.gross == 0
    m.ingest([{"id": "late-1", "source": "gw", "type": "egress_gb", "subject": "acme",
               "time": "2026-11-30T12:00:00Z", "data": {"quantity": "10"}}])
    assert t.invoice("2026-11").total == issued.total
    clock.set(datetime(2027, 1, 1, tzinfo=UTC))
    dec = m.issue_invoice("acme", "2026-12")
    (adj,) = [x for x in dec.lines if x.kind == "adjustment"]
    assert adj.usage_period == "2026-11" and adj.amount == Decimal("5.00")
    balanced(m)


def test_bad_input_is_a_clear_4xx_and_nothing_is_half_written(op: SuanliClient, connect: Connect,
                                                              clock: FakeClock) -> None:
    t = account(op, connect, "acme")
    m = MoneyClient(op)
    good = {"id": "e0", "source": "gw", "type": "inference_input_tokens", "subject": "acme",
            "time": clock.now().isoformat(), "data": {"quantity": "1000"}}
    assert m.ingest([good]).accepted == 1

    def ev(**kw: Any) -> dict[str, Any]:
        data = {**good["data"], **kw.pop("data", {})}  # type: ignore[dict-item]
        return {**good, "id": "new", **kw, "data": data}

    cases: list[tuple[dict[str, Any], int, str]] = [
        (ev(type="gpu_minutes"), 422, "unknown meter 'gpu_minutes'; allowed: device_seconds"),
        (ev(subject="nobody"), 422, "unknown subject(s) ['nobody']"),
        (ev(data={"quantity": "-5"}), 422, "data.quantity must be >= 0"),
        (ev(time=(clock.now() + timedelta(days=30)).isoformat()), 422, "is in the future"),
        ({**good, "data": {"quantity": "999"}}, 409, "already ingested with a different payload: gw/e0"),
    ]
    for bad, status, message in cases:
        with pytest.raises(ApiError) as e:
            m.ingest([{**good, "id": "ok-in-batch"}, bad])
        assert e.value.status == status and message in e.value.message, e.value.message
    assert isinstance(e.value, ApiConflictError)
    (row,) = m.usage(tenant="acme")
    assert row.events == 1 and row.quantity == 1000  # no batch was half-written
    m.create_plan({"tenant": "acme", "kind": "payg", "effective_from": "2026-11-01T00:00:00Z"})
    m.create_plan({"tenant": "*", "kind": "payg", "effective_from": "2026-01-01T00:00:00Z",
                   "rates": [{"meter": "inference_input_tokens", "price": "2"}]})
    with pytest.raises(ApiValidationError, match="overlaps plan") as pe:
        m.create_plan({"tenant": "acme", "kind": "spot", "discount": "0.5",
                       "effective_from": "2026-11-20T00:00:00Z"})
    assert pe.value.status == 422 and len(m.plans(tenant="acme")) == 1
    nov = {"tenant": "acme", "kind": "payg", "effective_from": "2026-12-01T00:00:00Z"}
    for plan, message in [({**nov, "rates": [{"meter": "gpu_minutes", "price": "1"}]}, "unknown meter 'gpu_minutes'"),
                          ({**nov, "rates": [{"meter": "egress_gb", "price": "-1"}]}, "must be >= 0"),
                          ({**nov, "rates": [{"meter": "egress_gb", "price": 1.5}]}, "not a float"),
                          ({**nov, "tenant": "nobody"}, "unknown tenant 'nobody'"),
                          ({**nov, "effective_to": "2026-11-30T00:00:00Z"}, "effective_to must be after"),
                          ({**nov, "kind": "spot", "discount": "1.5"}, "discount must be a fraction")]:
        with pytest.raises(ApiValidationError) as pe:
            m.create_plan(plan)
        assert pe.value.status == 422 and message in pe.value.message, pe.value.message
    assert len(m.plans(tenant="acme")) == 1
    v = m.issue_voucher(tenant="acme", issuer="city", percent="0.5", cap="10",
                        valid_from=datetime(2026, 11, 1, tzinfo=UTC), valid_to=datetime(2027, 1, 1, tzinfo=UTC))
    t.create_order(form="gpu", quantity=1, models=["L20"])  # list price, not a paid contract
    clock.set(DEC1)
    with pytest.raises(ApiValidationError, match="paid contract") as ve:
        m.issue_invoice("acme", "2026-11", vouchers=[v.id])
    assert ve.value.status == 422 and m.invoices(tenant="acme") == []
    with pytest.raises(ApiValidationError) as pe2:
        m.issue_invoice("acme", "2026-13")
    assert "YYYY-MM" in pe2.value.message
    assert m.vouchers(tenant="acme")[0].used == 0
    balanced(m)

"""Voucher schemes end to end through the service layer, on SQLite and PostgreSQL: Beijing's
claim-then-redeem with contract rules, one claim per contract (UNIQUE), the scheme bounds at issue,
and every refusal a 4xx naming the rule with nothing written."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from suanli.domain.accounts import Principal
from suanli.errors import ConflictError, NotFoundError, ValidationError
from suanli.service import billing, leases, orders, plans, vouchers, wallets
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock
from suanli.testing.factories import make_tenant

NOV1 = datetime(2026, 11, 1, tzinfo=UTC)
DEC1 = datetime(2026, 12, 1, tzinfo=UTC)
JAN1 = datetime(2027, 1, 1, tzinfo=UTC)


def _balanced(p: Platform, op: Principal) -> dict[str, Decimal]:
    check = billing.ledger_check(p, op)
    assert check["sum"] == 0 and check["unbalanced_entries"] == []
    return check["accounts"]  # type: ignore[no-any-return]


def _contract(p: Platform, op: Principal, tenant: str, *, to: str | None = "2027-10-31T00:00:00Z") -> str:
    raw: dict[str, Any] = {"tenant": tenant, "kind": "payg", "paid": True, "effective_from": "2026-11-01T00:00:00Z"}
    if to:
        raw["effective_to"] = to
    return str(plans.create_plan(p, op, raw)["id"])


def _month_of_l20(p: Platform, who: Principal, clock: FakeClock) -> None:
    res = orders.create_order(p, who, {"form": "gpu", "quantity": 8, "models": ["L20"]})
    clock.advance(hours=5)  # 40 device-hours x 2.60 = 104.00
    leases.end_lease(p, who, res.order.lease_id or "")
    clock.set(DEC1)


def _bj(p: Platform, op: Principal, tenant: str, *, percent: str = "0.2", cap: str = "50000") -> str:
    return str(vouchers.issue_voucher(p, op, tenant=tenant, issuer="beijing-city", scheme="beijing",
                                      percent=Decimal(percent), cap=Decimal(cap), valid_from=NOV1,
                                      valid_to=JAN1)["id"])


def test_beijing_claim_then_redeem_with_invoice_and_evidence(demo: Platform, operator: Principal,
                                                             clock: FakeClock) -> None:
    a = make_tenant(demo, operator, "a")
    plan = _contract(demo, operator, "a")
    vouchers.record_contract(demo, operator, plan=plan, signed_on=date(2026, 10, 15), value=Decimal(1000))
    vid = _bj(demo, operator, "a")
    _month_of_l20(demo, a, clock)
    inv = billing.issue_invoice(demo, operator, "a", "2026-11")
    assert inv["vouchers"] == 0  # a claim-then-redeem voucher is not applied on issue
    assert vouchers.audit(demo, operator, tenant="a") == []

    with pytest.raises(ValidationError, match="rule claim_first"):
        vouchers.redeem(demo, operator, vid, inv["id"], "acceptance 2026-11-30")
    vouchers.claim(demo, operator, vid, plan)
    with pytest.raises(ValidationError, match="rule delivery_evidence"):
        vouchers.redeem(demo, operator, vid, inv["id"], "  ")
    with pytest.raises(ValidationError, match="rule supplier_not_approved"):  # not on the approved list yet
        vouchers.redeem(demo, operator, vid, inv["id"], "acceptance 2026-11-30")
    assert vouchers.audit(demo, operator, tenant="a") == []  # nothing half-written
    before = _balanced(demo, operator)

    vouchers.approve_supplier(demo, operator, "beijing", "huadong-idc")
    red = vouchers.redeem(demo, operator, vid, inv["id"], "acceptance 2026-11-30")
    assert red["amount"] == Decimal("20.80") and red["to"] == "wallet"  # 20 % of 104.00
    after = _balanced(demo, operator)
    wallet = f"wallet:{a.account_id}"
    assert after.get(wallet, Decimal(0)) - before.get(wallet, Decimal(0)) == Decimal("-20.80")
    assert after["voucher:beijing-city"] == Decimal("20.80")
    assert wallets.show_wallet(demo, operator, "a")["balance"] == Decimal("20.80")
    (row,) = vouchers.audit(demo, operator, tenant="a")
    assert (row["outcome"], row["rule"], row["amount"], row["contract"]) == ("used", "percent_of_line",
                                                                             Decimal("20.80"), plan)
    assert "percent" in row["rule_text"]
    # the same line never takes a second subsidy
    with pytest.raises(ValidationError, match="already_subsidised"):
        vouchers.redeem(demo, operator, vid, inv["id"], "again")
    (v,) = vouchers.list_vouchers(demo, a)
    assert v["used"] == Decimal("20.80") and v["claims"][0]["contract"] == plan
    assert v["claims"][0]["redemptions"][0]["evidence"] == "acceptance 2026-11-30"
    # voiding the invoice reverses the redemption with the rest and frees the voucher
    billing.void_invoice(demo, operator, inv["id"], "wrong month")
    assert vouchers.list_vouchers(demo, operator, tenant="a")[0]["used"] == 0
    _balanced(demo, operator)


def test_one_claim_per_contract_is_a_409_from_the_unique_key(demo: Platform, operator: Principal) -> None:
    make_tenant(demo, operator, "a")
    plan = _contract(demo, operator, "a")
    vouchers.record_contract(demo, operator, plan=plan, signed_on=date(2026, 10, 15), value=Decimal(1000))
    v1, v2 = _bj(demo, operator, "a"), _bj(demo, operator, "a")
    vouchers.claim(demo, operator, v1, plan)
    with pytest.raises(ConflictError, match="rule one_claim_per_contract") as e:
        vouchers.claim(demo, operator, v1, plan)  # the same voucher twice
    assert e.value.status == 409 and e.value.details["rule"] == "one_claim_per_contract"
    with pytest.raises(ConflictError, match="already claimed by voucher " + v1):
        vouchers.claim(demo, operator, v2, plan)  # another voucher on the same contract
    assert [len(v["claims"]) for v in vouchers.list_vouchers(demo, operator, tenant="a")] in ([1, 0], [0, 1])


def test_beijing_contract_rules_refuse_the_claim_naming_the_rule(demo: Platform, operator: Principal) -> None:
    make_tenant(demo, operator, "a")
    make_tenant(demo, operator, "b")
    vid = _bj(demo, operator, "a")
    open_ended = _contract(demo, operator, "a", to=None)
    with pytest.raises(ValidationError, match="rule no_contract_facts"):
        vouchers.claim(demo, operator, vid, open_ended)
    vouchers.record_contract(demo, operator, plan=open_ended, signed_on=date(2026, 10, 15), value=Decimal(100))
    with pytest.raises(ValidationError, match="rule term_too_long"):
        vouchers.claim(demo, operator, vid, open_ended)
    early = _contract(demo, operator, "b")
    vouchers.record_contract(demo, operator, plan=early, signed_on=date(2023, 8, 31), value=Decimal(100))
    vb = _bj(demo, operator, "b")
    with pytest.raises(ValidationError, match="rule signed_too_early"):
        vouchers.claim(demo, operator, vb, early)
    vouchers.record_contract(demo, operator, plan=early, signed_on=date(2023, 9, 1), value=Decimal(100),
                             other_subsidy="Haidian district compute subsidy 2026-117")
    with pytest.raises(ValidationError, match="rule other_subsidy"):
        vouchers.claim(demo, operator, vb, early)
    with pytest.raises(ValidationError, match="not a recorded paid contract"):  # a's voucher, b's contract
        vouchers.record_contract(demo, operator, plan=early, signed_on=date(2023, 9, 1), value=Decimal(100))
        vouchers.claim(demo, operator, vid, early)
    with pytest.raises(ValidationError, match="rule claim_not_needed"):
        custom = vouchers.issue_voucher(demo, operator, tenant="a", issuer="x", percent=Decimal("0.1"),
                                        cap=Decimal(5), valid_from=NOV1, valid_to=JAN1)
        vouchers.claim(demo, operator, custom["id"], open_ended)
    unpaid = str(plans.create_plan(demo, operator, {"tenant": "a", "kind": "payg", "order": "o1",
                                                    "effective_from": "2026-11-01T00:00:00Z"})["id"])
    with pytest.raises(ValidationError, match="rule paid_contract"):
        vouchers.record_contract(demo, operator, plan=unpaid, signed_on=date(2026, 1, 1), value=Decimal(1))
    with pytest.raises(NotFoundError):
        vouchers.claim(demo, operator, "vc_nope", early)
    assert all(not v["claims"] for v in vouchers.list_vouchers(demo, operator, tenant="a"))


def test_the_contract_share_caps_a_redemption(demo: Platform, operator: Principal, clock: FakeClock) -> None:
    a = make_tenant(demo, operator, "a")
    plan = _contract(demo, operator, "a")
    vouchers.record_contract(demo, operator, plan=plan, signed_on=date(2026, 10, 15), value=Decimal(60))
    vouchers.approve_supplier(demo, operator, "beijing", "huadong-idc")
    vid = _bj(demo, operator, "a")
    vouchers.claim(demo, operator, vid, plan)
    _month_of_l20(demo, a, clock)
    inv = billing.issue_invoice(demo, operator, "a", "2026-11")
    red = vouchers.redeem(demo, operator, vid, inv["id"], "dn-88")
    assert red["amount"] == Decimal("12.00")  # 20 % of the contract's 60.00, not 20 % of the 104.00 line
    assert [x["rule"] for x in red["lines"]] == ["capped_by_contract_share"]


@pytest.mark.parametrize(("scheme", "percent", "cap", "rule"), [
    ("beijing", "0.21", "100", "beijing.max_percent"),
    ("beijing", "0.2", "2000000.01", "beijing.firm_annual_cap"),
    ("shanghai", "0.31", "100", "shanghai.max_percent"),
    ("shenzhen", "0.51", "100", "shenzhen.max_percent"),
    ("shenzhen", "0.5", "10000001", "shenzhen.firm_annual_cap"),
])
def test_a_scheme_bounds_what_a_voucher_may_promise(demo: Platform, operator: Principal, scheme: str, percent: str,
                                                    cap: str, rule: str) -> None:
    make_tenant(demo, operator, "a")
    with pytest.raises(ValidationError, match=f"rule {rule}"):
        vouchers.issue_voucher(demo, operator, tenant="a", issuer="city", scheme=scheme, percent=Decimal(percent),
                               cap=Decimal(cap), valid_from=NOV1, valid_to=JAN1)
    assert vouchers.list_vouchers(demo, operator, tenant="a") == []


def test_shenzhen_pays_up_to_60_percent_for_a_start_up(demo: Platform, operator: Principal) -> None:
    make_tenant(demo, operator, "a")
    with pytest.raises(ValidationError, match=r"0\.60 for a start-up"):
        vouchers.issue_voucher(demo, operator, tenant="a", issuer="shenzhen-city", scheme="shenzhen",
                               percent=Decimal("0.6"), cap=Decimal(100), valid_from=NOV1, valid_to=JAN1)
    vouchers.set_firm(demo, operator, "a", startup=True, note="registered 2025")
    v = vouchers.issue_voucher(demo, operator, tenant="a", issuer="shenzhen-city", scheme="shenzhen",
                               percent=Decimal("0.6"), cap=Decimal(100), valid_from=NOV1, valid_to=JAN1)
    assert v["scheme"] == "shenzhen" and v["percent"] == Decimal("0.6")
    with pytest.raises(ValidationError, match="unknown voucher scheme 'tianjin'; allowed: custom, beijing"):
        vouchers.issue_voucher(demo, operator, tenant="a", issuer="x", scheme="tianjin", percent=Decimal("0.1"),
                               cap=Decimal(1), valid_from=NOV1, valid_to=JAN1)


def test_shanghai_applies_on_issue_to_rent_under_the_contract(demo: Platform, operator: Principal,
                                                              clock: FakeClock) -> None:
    a = make_tenant(demo, operator, "a")
    _contract(demo, operator, "a")
    vouchers.issue_voucher(demo, operator, tenant="a", issuer="shanghai-city", scheme="shanghai",
                           percent=Decimal("0.3"), cap=Decimal(1000), valid_from=NOV1, valid_to=JAN1)
    _month_of_l20(demo, a, clock)
    inv = billing.issue_invoice(demo, operator, "a", "2026-11")
    assert inv["vouchers"] == Decimal("31.20")  # 30 % of 104.00 of rent
    assert [(u["outcome"], u["rule"]) for u in inv["voucher_uses"]] == [("used", "percent_of_line")]
    (row,) = vouchers.audit(demo, operator, issuer="shanghai-city")
    assert row["rule"] == "percent_of_line" and row["scheme"] == "shanghai"
    _balanced(demo, operator)
    clock.set(DEC1 + timedelta(days=1))


def test_a_contract_claimed_for_beijing_takes_no_other_scheme(demo: Platform, operator: Principal,
                                                              clock: FakeClock) -> None:
    a = make_tenant(demo, operator, "a")
    plan = _contract(demo, operator, "a")
    vouchers.record_contract(demo, operator, plan=plan, signed_on=date(2026, 10, 15), value=Decimal(1000))
    vouchers.approve_supplier(demo, operator, "beijing", "huadong-idc")
    vid = _bj(demo, operator, "a")
    vouchers.claim(demo, operator, vid, plan)
    vouchers.issue_voucher(demo, operator, tenant="a", issuer="shanghai-city", scheme="shanghai",
                           percent=Decimal("0.3"), cap=Decimal(1000), valid_from=NOV1, valid_to=JAN1)
    _month_of_l20(demo, a, clock)
    inv = billing.issue_invoice(demo, operator, "a", "2026-11")
    assert inv["vouchers"] == 0  # Shanghai may not pay on a contract Beijing holds
    (refused,) = vouchers.audit(demo, operator, issuer="shanghai-city")
    assert (refused["outcome"], refused["rule"]) == ("refused", "other_subsidy")
    assert vouchers.redeem(demo, operator, vid, inv["id"], "dn-7")["amount"] == Decimal("20.80")

"""Voucher rules (ledger/vouchers.py): what a voucher may pay, by the rules of its scheme."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.catalog_data import builtin_catalog
from suanli.domain.money import round_line
from suanli.domain.prices import PriceBook, PriceEntry, PriceUnit
from suanli.errors import ValidationError
from suanli.ledger import invoices as inv
from suanli.ledger.meters import Meter, UsageRecord
from suanli.ledger.plans import PlanKind, PricePlan, Rate
from suanli.ledger.rating import RatingInput, rate
from suanli.ledger.vouchers import (
    RULE_TEXT,
    SCHEMES,
    Chargeable,
    Contract,
    Scheme,
    Voucher,
    VoucherContext,
    apply_vouchers,
    check_issue,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
T1 = datetime(2026, 12, 1, tzinfo=UTC)
MODELS = {m.name: m for m in builtin_catalog()}
BOOK = PriceBook([PriceEntry("L20", None, PriceUnit.DEVICE_HOUR, Decimal("2.60"), "CNY",
                             datetime(2020, 1, 1, tzinfo=UTC))], MODELS)
DEFAULT = PricePlan("default", "*", PlanKind.PAYG, datetime(2020, 1, 1, tzinfo=UTC),
                    rates=(Rate(Meter.INFERENCE_OUTPUT_TOKENS, Decimal(8)),))
PAID = PricePlan("pl_paid", "t1", PlanKind.PAYG, T0, paid=True)


def _rated(plans: list[PricePlan]) -> list[object]:
    recs = [UsageRecord("s", "d1", Meter.DEVICE_SECONDS, "t1", T0 + timedelta(hours=1), Decimal(36000), "L20",
                        "sh", "sup1"),
            UsageRecord("s", "k1", Meter.INFERENCE_OUTPUT_TOKENS, "t1", T0 + timedelta(hours=2), Decimal(5_000_000))]
    return list(rate(RatingInput("t1", T0, T1, recs, plans, BOOK, {k: m.p for k, m in MODELS.items()})).lines)


def test_a_voucher_never_pays_a_list_price_token_line_under_a_paid_contract() -> None:
    """The defect: the tenant's paid contract prices only its device time; its tokens are bought at
    the default plan's list price, and the voucher paid them too."""
    lines = _rated([DEFAULT, PAID])
    by_meter = {x.meter: x for x in lines}  # type: ignore[attr-defined]
    assert by_meter["device_seconds"].paid_contract and by_meter["device_seconds"].amount == Decimal("26.00")
    assert not by_meter["inference_output_tokens"].paid_contract  # 40.00 at the default plan's list price
    v = Voucher("v1", "city", "t1", Decimal("0.5"), Decimal(1000), T0, T1)
    s = inv.settle("t1", "inv1", T1, lines, vouchers=[v])  # type: ignore[arg-type]
    assert s.vouchers == Decimal("13.00")  # 50 % of the device line only
    (refused,) = s.refusals
    assert lines[refused.line_no].meter == "inference_output_tokens"  # type: ignore[attr-defined]
    assert refused.rule == "not_paid_contract"


def test_a_token_rate_of_the_paid_contract_itself_is_paid() -> None:
    plan = PricePlan("pl_paid", "t1", PlanKind.PAYG, T0, paid=True,
                     rates=(Rate(Meter.INFERENCE_OUTPUT_TOKENS, Decimal(6)),))
    lines = _rated([DEFAULT, plan])
    assert all(x.paid_contract for x in lines)  # type: ignore[attr-defined]


def test_no_contract_no_voucher() -> None:
    lines = _rated([DEFAULT])
    assert not any(x.paid_contract for x in lines)  # type: ignore[attr-defined]


# -- the schemes' rules, one by one ------------------------------------------------------------------

C1 = Contract("pl_c1", date(2024, 1, 10), Decimal(1000), T0, datetime(2027, 10, 31, tzinfo=UTC))


def _line(n: int, amount: str, *, meter: str = "device_seconds", supplier: str = "sup1", contract: str = "pl_c1",
          paid: bool = True) -> Chargeable:
    return Chargeable(n, Decimal(amount), supplier, T0 + timedelta(days=1), paid, meter=meter, contract=contract)


def _v(scheme: Scheme, percent: str = "0.2", cap: str = "100000", vid: str = "v1", used: str = "0") -> Voucher:
    return Voucher(vid, "city", "t1", Decimal(percent), Decimal(cap), T0, T1, Decimal(used), scheme)


def _rules(v: Voucher, line: Chargeable, ctx: VoucherContext) -> str:
    uses, refusals = apply_vouchers([v], [line], set(), ctx=ctx)
    return uses[0].rule if uses else refusals[0].rule


BJ_CTX = VoucherContext(contracts={"pl_c1": C1}, approved={Scheme.BEIJING: frozenset({"sup1"})},
                        claims={"v1": frozenset({"pl_c1"})}, redeeming=True)


def test_beijing_rules_each_refuse_naming_the_rule() -> None:
    v = _v(Scheme.BEIJING)
    assert _rules(v, _line(0, "100"), BJ_CTX) == "percent_of_line"
    assert _rules(v, _line(0, "100"), replace(BJ_CTX, redeeming=False)) == "not_claimed"  # applied on issue: no
    assert _rules(v, _line(0, "100", contract="pl_other"), BJ_CTX) == "not_claimed"
    assert _rules(v, _line(0, "100", supplier="sup2"), BJ_CTX) == "supplier_not_approved"
    early = replace(C1, signed_on=date(2023, 8, 31))
    assert _rules(v, _line(0, "100"), replace(BJ_CTX, contracts={"pl_c1": early})) == "signed_too_early"
    assert _rules(v, _line(0, "100"), replace(BJ_CTX, contracts={"pl_c1": replace(
        C1, signed_on=date(2023, 9, 1))})) == "percent_of_line"  # on the day: allowed
    long_term = replace(C1, term_end=datetime(2027, 11, 1, 0, 0, 1, tzinfo=UTC))
    assert _rules(v, _line(0, "100"), replace(BJ_CTX, contracts={"pl_c1": long_term})) == "term_too_long"
    assert _rules(v, _line(0, "100"), replace(BJ_CTX, contracts={"pl_c1": replace(C1, term_end=None)})) \
        == "term_too_long"
    other = replace(C1, other_subsidy="district subsidy")
    assert _rules(v, _line(0, "100"), replace(BJ_CTX, contracts={"pl_c1": other})) == "other_subsidy"
    assert _rules(v, _line(0, "100"), replace(BJ_CTX, contracts={})) == "no_contract_facts"
    assert _rules(v, _line(0, "100", paid=False), BJ_CTX) == "not_paid_contract"
    assert _rules(v, _line(0, "100"), replace(BJ_CTX, related=frozenset({"sup1"}))) == "related_party"
    assert _rules(v, _line(0, "6000"), BJ_CTX) == "capped_by_contract_share"  # 20 % of the 1,000 contract
    assert _rules(v, _line(0, "100"), replace(BJ_CTX, contract_used={(Scheme.BEIJING, "pl_c1"): Decimal(200)})) \
        == "contract_share_reached"
    assert _rules(v, _line(0, "100"), replace(BJ_CTX, firm_used={Scheme.BEIJING: Decimal(2_000_000)})) \
        == "firm_annual_cap_reached"
    assert _rules(v, _line(0, "100"), replace(BJ_CTX, firm_used={Scheme.BEIJING: Decimal("1999990")})) \
        == "capped_by_firm_annual_cap"


def test_shanghai_pays_rent_only_and_custom_any_contract_line() -> None:
    ctx = VoucherContext()
    assert _rules(_v(Scheme.SHANGHAI, "0.3"), _line(0, "100"), ctx) == "percent_of_line"
    assert _rules(_v(Scheme.SHANGHAI, "0.3"), _line(0, "100", meter="node_seconds"), ctx) == "percent_of_line"
    assert _rules(_v(Scheme.SHANGHAI, "0.3"), _line(0, "100", meter="inference_output_tokens"), ctx) == "rent_only"
    assert _rules(_v(Scheme.CUSTOM, "0.3"), _line(0, "100", meter="inference_output_tokens"), ctx) \
        == "percent_of_line"
    assert _rules(_v(Scheme.SHENZHEN, "0.5"), _line(0, "100"), ctx) == "no_contract_facts"  # % of a contract


def test_what_a_scheme_lets_a_voucher_promise() -> None:
    check_issue(Scheme.BEIJING, Decimal("0.2"), Decimal(2_000_000), startup=False)
    with pytest.raises(ValidationError, match=r"rule beijing\.max_percent"):
        check_issue(Scheme.BEIJING, Decimal("0.2000001"), Decimal(1), startup=False)
    with pytest.raises(ValidationError, match=r"rule shenzhen\.max_percent"):
        check_issue(Scheme.SHENZHEN, Decimal("0.6"), Decimal(1), startup=False)
    check_issue(Scheme.SHENZHEN, Decimal("0.6"), Decimal(10_000_000), startup=True)
    with pytest.raises(ValidationError, match=r"rule shenzhen\.firm_annual_cap"):
        check_issue(Scheme.SHENZHEN, Decimal("0.6"), Decimal("10000000.01"), startup=True)
    with pytest.raises(ValidationError, match=r"rule shanghai\.max_percent"):
        check_issue(Scheme.SHANGHAI, Decimal("0.31"), Decimal(1), startup=True)  # no start-up bound there
    check_issue(Scheme.CUSTOM, Decimal(1), Decimal(10**9), startup=False)


# -- properties: what a voucher pays never exceeds any of its bounds -----------------------------------

amounts = st.decimals(Decimal("0.01"), Decimal(5_000_000), places=2)
lines_st = st.lists(st.tuples(amounts, st.sampled_from(["pl_c1", "pl_c2", ""]),
                              st.sampled_from(["device_seconds", "inference_output_tokens"]),
                              st.sampled_from(["sup1", "sup2"]), st.booleans(), st.booleans()),
                    max_size=25)
vouchers_st = st.lists(st.tuples(st.sampled_from(list(Scheme)), st.decimals(Decimal("0.01"), Decimal(1), places=2),
                                 amounts, st.decimals(0, Decimal(3_000_000), places=2)),
                       min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(lines_st, vouchers_st, st.decimals(0, Decimal(12_000_000), places=2), st.booleans())
def test_uses_never_exceed_percent_line_cap_contract_share_or_firm_cap(
        raw_lines: list[tuple[Decimal, str, str, str, bool, bool]],
        raw_vouchers: list[tuple[Scheme, Decimal, Decimal, Decimal]], firm_used: Decimal, redeeming: bool) -> None:
    lines = [Chargeable(i, a, sup, T0 + timedelta(hours=i), paid, sub, meter, c)
             for i, (a, c, meter, sup, paid, sub) in enumerate(raw_lines)]
    vs = [Voucher(f"v{i}", "city", "t1", min(p, SCHEMES[sc].max_percent), cap, T0, T1,
                  min(used, cap), sc) for i, (sc, p, cap, used) in enumerate(raw_vouchers)]
    contracts = {"pl_c1": C1, "pl_c2": replace(C1, id="pl_c2", value=Decimal(50_000))}
    ctx = VoucherContext(contracts=contracts, approved={Scheme.BEIJING: frozenset({"sup1"})},
                         claims={v.id: frozenset({"pl_c1"}) for v in vs}, redeeming=redeeming,
                         firm_used={Scheme.BEIJING: min(firm_used, Decimal(2_000_000)),
                                    Scheme.SHENZHEN: min(firm_used, Decimal(10_000_000))})
    uses, refusals = apply_vouchers(vs, lines, set(), ctx=ctx)
    by_line = {x.line_no: x for x in lines}
    by_v = {v.id: v for v in vs}
    # a line takes at most one voucher, and a line subsidised before takes none
    assert len({u.line_no for u in uses}) == len(uses)
    assert not any(by_line[u.line_no].subsidised for u in uses)
    for u in uses:
        v, line = by_v[u.voucher_id], by_line[u.line_no]
        assert 0 < u.amount <= round_line(line.amount * v.percent)  # never more than percent x line
        assert line.paid_contract
        assert u.rule in RULE_TEXT
    for v in vs:
        paid = sum((u.amount for u in uses if u.voucher_id == v.id), Decimal(0))
        assert paid <= v.left  # the voucher's cap
    for sc in (Scheme.BEIJING, Scheme.SHENZHEN):  # percent of the contract's value, over all the scheme's vouchers
        mine = [v for v in vs if v.scheme is sc]
        for cid, c in contracts.items():
            on_c = sum((u.amount for u in uses if by_v[u.voucher_id].scheme is sc
                        and by_line[u.line_no].contract == cid), Decimal(0))
            assert on_c <= max((round_line(c.value * v.percent) for v in mine), default=Decimal(0))
    for sc, cap in ((Scheme.BEIJING, Decimal(2_000_000)), (Scheme.SHENZHEN, Decimal(10_000_000))):
        firm = sum((u.amount for u in uses if by_v[u.voucher_id].scheme is sc), Decimal(0))
        assert ctx.firm_used[sc] + firm <= cap  # per firm and calendar year, over all its vouchers
    # every (line, voucher) pair with an amount is decided once: used or refused by a named rule
    decided = {(u.line_no, u.voucher_id) for u in uses} | {(r.line_no, r.voucher_id) for r in refusals}
    assert len(decided) == len(uses) + len(refusals)
    assert decided == {(x.line_no, v.id) for x in lines if x.amount > 0 for v in vs}
    assert all(r.rule in RULE_TEXT for r in refusals)


def test_the_vouchers_of_one_scheme_share_one_contract_share() -> None:
    """Shenzhen pays up to 50 % of a contract, however many Shenzhen vouchers the tenant holds."""
    vs = [_v(Scheme.SHENZHEN, "0.5", vid="v1"), _v(Scheme.SHENZHEN, "0.5", vid="v2")]
    lines = [_line(0, "800"), _line(1, "800"), _line(2, "800")]
    uses, refusals = apply_vouchers(vs, lines, set(), ctx=VoucherContext(contracts={"pl_c1": C1}))
    assert [(u.voucher_id, u.amount, u.rule) for u in uses] == [
        ("v1", Decimal("400.00"), "percent_of_line"), ("v1", Decimal("100.00"), "capped_by_contract_share")]
    assert {(r.voucher_id, r.line_no, r.rule) for r in refusals} >= {
        ("v1", 2, "contract_share_reached"), ("v2", 2, "contract_share_reached")}


def test_no_other_subsidy_on_a_contract_beijing_holds() -> None:
    """Beijing forbids another municipal subsidy on its contract: once it is claimed, no other
    scheme's voucher pays on it; and Beijing pays nothing on a contract another scheme has paid."""
    sh = _v(Scheme.SHANGHAI, "0.3", vid="v_sh")
    claimed = VoucherContext(claimed={"pl_c1": Scheme.BEIJING})
    assert _rules(sh, _line(0, "100"), claimed) == "other_subsidy"
    assert _rules(sh, _line(0, "100", contract="pl_c2"), claimed) == "percent_of_line"  # another contract
    assert _rules(_v(Scheme.BEIJING), _line(0, "100"), replace(BJ_CTX, claimed={"pl_c1": Scheme.BEIJING})) \
        == "percent_of_line"
    paid_by_sh = replace(BJ_CTX, contract_used={(Scheme.SHANGHAI, "pl_c1"): Decimal("0.01")})
    assert _rules(_v(Scheme.BEIJING), _line(0, "100"), paid_by_sh) == "other_subsidy"
    # Shanghai and Shenzhen on one contract: neither forbids it
    sz = VoucherContext(contracts={"pl_c1": C1}, contract_used={(Scheme.SHANGHAI, "pl_c1"): Decimal(5)})
    assert _rules(_v(Scheme.SHENZHEN, "0.5"), _line(0, "100"), sz) == "percent_of_line"

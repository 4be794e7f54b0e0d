"""Every line has its supplier: usage is attributed through its node (or its lease's node at that
instant) to the supplier that owned the node at that instant; per-node supplier shares +
commission add up to what tenants are charged, to the cent; a transfer splits at its instant."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.catalog_data import builtin_catalog
from suanli.domain.fleet import BEGINNING, Owners, Ownership
from suanli.domain.leases import Allocation, Lease, LeaseState, ProductForm
from suanli.domain.prices import PriceBook, PriceEntry, PriceUnit
from suanli.errors import ValidationError
from suanli.ledger.metering import lease_records
from suanli.ledger.meters import Meter, UsageRecord
from suanli.ledger.plans import PlanKind, PricePlan, Rate, Tier
from suanli.ledger.rating import RatingInput, cuts, rate, summarise
from suanli.ledger.revenue import attribute, split

T0 = datetime(2026, 11, 1, tzinfo=UTC)
T1 = datetime(2026, 12, 1, tzinfo=UTC)
CAT = builtin_catalog()
MODELS = {m.name: m for m in CAT}
BOOK = PriceBook([PriceEntry("H800", None, PriceUnit.P_YEAR, Decimal(90000), "CNY", BEGINNING),
                  PriceEntry("L20", None, PriceUnit.DEVICE_HOUR, Decimal("2.60"), "CNY", BEGINNING),
                  PriceEntry("L20", None, PriceUnit.DEVICE_HOUR, Decimal("2.35"), "CNY", T0 + timedelta(days=9))],
                 MODELS)
DEFAULT = PricePlan("default", "*", PlanKind.PAYG, BEGINNING, rates=(
    Rate(Meter.INFERENCE_INPUT_TOKENS, Decimal("2.00"),
         tiers=(Tier(Decimal("0.5"), Decimal("2.00")), Tier(None, Decimal("1.50")))),
    Rate(Meter.STORAGE_GB_HOURS, Decimal("0.12"))))
TIERED = PricePlan("volume", "t1", PlanKind.PAYG, BEGINNING, rates=(  # graduated device-hours of L20
    Rate(Meter.DEVICE_SECONDS, Decimal("2.40"), model="L20", unit="device_hour",
         tiers=(Tier(Decimal(3), Decimal("2.40")), Tier(Decimal(9), Decimal("2.00")), Tier(None, Decimal("1.70")))),))
NODES = {"n1": "H800", "n2": "H800", "n3": "L20", "n4": "L20"}
SUPPLIERS = ["s1", "s2", "s3"]
FLOORS = {("s1", "H800"): Decimal("7.00"), ("s2", "L20"): Decimal("2.50")}


def owners_of(first: dict[str, str], transfers: list[tuple[str, datetime, str]]) -> Owners:
    """Ownership spans: each node's first owner from the beginning, then ``transfers`` in time order."""
    spans: list[Ownership] = []
    for node, sup in first.items():
        changes = sorted((t, s) for n, t, s in transfers if n == node)
        start, owner = BEGINNING, sup
        for t, s in changes:
            if t <= start or s == owner:
                continue
            spans.append(Ownership(node, owner, start, t))
            start, owner = t, s
        spans.append(Ownership(node, owner, start, None))
    return Owners(spans)


def test_owners_at_an_instant() -> None:
    t = T0 + timedelta(days=3, seconds=17)
    o = owners_of({"n1": "s1"}, [("n1", t, "s2")])
    assert o.at("n1", t - timedelta(microseconds=1)) == "s1" and o.at("n1", t) == "s2"
    assert o.at("n1", BEGINNING) == "s1" and o.at("n9", t) is None and o.changes("n1") == [t]


def rec(i: int = 0, *, meter: Meter = Meter.DEVICE_SECONDS, t: datetime = T0, node: str = "", lease: str = "",
        supplier: str = "", model: str = "H800") -> UsageRecord:
    return UsageRecord("src", f"e{i}", meter, "t1", t, Decimal(3600), model=model, supplier=supplier, node=node,
                       lease=lease)


def test_an_event_naming_a_node_but_no_supplier_gets_the_owner_at_its_instant() -> None:
    cut = T0 + timedelta(days=10, hours=8, minutes=49, seconds=31)
    o = owners_of({"n1": "s1"}, [("n1", cut, "s2")])
    assert attribute(rec(node="n1", t=cut - timedelta(seconds=1)), o, {}).supplier == "s1"
    assert attribute(rec(node="n1", t=cut), o, {}).supplier == "s2"
    assert attribute(rec(node="n1", t=cut, supplier="s2"), o, {}).supplier == "s2"  # naming the owner is fine


def test_a_supplier_that_contradicts_the_owner_is_refused_naming_both() -> None:
    o = owners_of({"n1": "s1"}, [])
    with pytest.raises(ValidationError, match=r"event 3: data.supplier 's2' contradicts the owner of node n1.*'s1'"):
        attribute(rec(node="n1", supplier="s2"), o, {}, where="event 3: ")


def test_the_site_is_the_nodes() -> None:
    o = owners_of({"n1": "s1"}, [])
    assert attribute(rec(node="n1"), o, {}, sites={"n1": "sh"}).site == "sh"
    assert attribute(rec(lease="l", t=T0), o, {"l": [(T0, None, "n1")]}, sites={"n1": "sh"}).site == "sh"
    with pytest.raises(ValidationError, match=r"data\.site 'bj' contradicts node n1, which is at site 'sh'"):
        attribute(replace(rec(node="n1"), site="bj"), o, {}, sites={"n1": "sh"})


def test_unknown_node_and_supplier_without_node_are_refused() -> None:
    o = owners_of({"n1": "s1"}, [])
    with pytest.raises(ValidationError, match="unknown node 'n7'"):
        attribute(rec(node="n7"), o, {})
    with pytest.raises(ValidationError, match="without a node"):
        attribute(rec(supplier="s1"), o, {})


def test_an_event_naming_a_lease_takes_the_lease_node_at_that_instant() -> None:
    o = owners_of({"n1": "s1", "n2": "s2"}, [])
    moved = T0 + timedelta(hours=5)
    held = {"ls": [(T0, moved, "n1"), (moved, None, "n2")], "wide": [(T0, None, "n1"), (T0, None, "n2")]}
    r = attribute(rec(lease="ls", t=moved - timedelta(seconds=1), meter=Meter.INFERENCE_INPUT_TOKENS, model=""), o,
                  held)
    assert (r.node, r.supplier) == ("n1", "s1")
    assert (attribute(rec(lease="ls", t=moved), o, held).node, attribute(rec(lease="ls", t=moved), o, held).supplier
            ) == ("n2", "s2")
    assert attribute(rec(lease="ls", t=T0 - timedelta(seconds=1)), o, held).node == ""  # held nothing then
    assert attribute(rec(lease="gone", t=T0), o, held).supplier == ""
    with pytest.raises(ValidationError, match=r"lease wide held devices on 2 nodes \(n1, n2\).*data.node"):
        attribute(rec(lease="wide", t=T0), o, held)


def test_no_node_is_the_operators_own() -> None:
    r = rec(meter=Meter.INFERENCE_INPUT_TOKENS, model="")
    assert attribute(r, owners_of({"n1": "s1"}, []), {}) is r


def _lease(node: str, start: datetime, end: datetime) -> Lease:
    al = Allocation(device_id=1, node=node, slot=0, model="H800", site="sh", supplier="stale", fabric="f", milli=1000,
                    memory_mib=0, start=start, end=end)
    return Lease(id="ls_1", order_id="od_1", tenant_id="t1", form=ProductForm("gpu"), state=LeaseState.ENDED,
                 start=start, end=end, activated_at=start, ended_at=end, reason="", commission_rate=Decimal("0.15"),
                 placement="", created_at=start, allocations=(al,))


def test_lease_time_splits_at_the_transfer_instant() -> None:
    a, b = T0 + timedelta(hours=10), T0 + timedelta(hours=12)
    cut = T0 + timedelta(hours=10, minutes=30, seconds=15)
    o = owners_of({"n1": "s1"}, [("n1", cut, "s2")])
    recs = lease_records(_lease("n1", a, b), [(a, b)], T0, T1, owners=o)
    assert [(r.time, r.quantity, r.supplier) for r in recs] == [
        (a, Decimal(1815), "s1"), (cut, Decimal(1785), "s2"), (T0 + timedelta(hours=11), Decimal(3600), "s2")]
    assert len({r.id for r in recs}) == 3


# -- the property: for usage with nodes only, per-node shares + commission = invoices, to the cent

times = st.integers(0, 30 * 86400 - 1).map(lambda s: T0 + timedelta(seconds=s))


@st.composite
def month(draw: st.DrawFn) -> tuple[Owners, list[tuple[str, datetime, str]], list[UsageRecord]]:
    first = {n: draw(st.sampled_from(SUPPLIERS)) for n in NODES}
    transfers = draw(st.lists(st.tuples(st.sampled_from(sorted(NODES)), times, st.sampled_from(SUPPLIERS)),
                              max_size=6))
    owners = owners_of(first, transfers)
    out = []
    for i in range(draw(st.integers(1, 80))):
        node = draw(st.sampled_from(sorted(NODES)))
        meter = draw(st.sampled_from([Meter.DEVICE_SECONDS, Meter.DEVICE_SECONDS, Meter.INFERENCE_INPUT_TOKENS,
                                      Meter.STORAGE_GB_HOURS]))
        q = Decimal(draw(st.integers(0, 10_000_000))) / draw(st.sampled_from([1, 7, 1000]))
        r = UsageRecord("agent", f"e{i}", meter, "t1", draw(times), q,
                        model=NODES[node] if meter is Meter.DEVICE_SECONDS else "", site="sh", node=node,
                        lease=draw(st.sampled_from(["", "l1", "l2"])))
        out.append(attribute(r, owners, {}))
    return owners, transfers, out


@settings(max_examples=200, deadline=None)
@given(m=month(), from_sums=st.booleans(), commission=st.sampled_from([Decimal("0.15"), Decimal("0.3"), Decimal(0)]),
       tiered=st.booleans())
def test_per_node_shares_and_commission_add_up_to_the_invoice(
        m: tuple[Owners, list[tuple[str, datetime, str]], list[UsageRecord]], from_sums: bool,
        commission: Decimal, tiered: bool) -> None:
    """Volume tiers (tokens always, L20 device time with ``tiered``) count across nodes, and each
    tier line still names one node and its supplier."""
    owners, _transfers, records = m
    assert all(r.supplier == owners.at(r.node, r.time) for r in records)
    plans = [DEFAULT, TIERED] if tiered else [DEFAULT]
    at = cuts("t1", T0, T1, plans, BOOK, {})
    inp = RatingInput(tenant="t1", period_start=T0, period_end=T1, records=[] if from_sums else records,
                      plans=plans, book=BOOK, device_p={k: v.p for k, v in MODELS.items()}, floors=FLOORS,
                      commission_rate=commission, lease_commission={"l2": Decimal("0.2")},
                      sums=summarise(records, at) if from_sums else ())
    lines = rate(inp).lines
    invoice = sum((x.amount for x in lines), Decimal("0.00"))
    per_node: dict[str, Decimal] = {}
    for x in lines:
        assert x.node and x.supplier, x  # every line has its node and its supplier
        assert x.supplier_share + x.commission == x.amount and x.supplier_share >= 0
        # a line holds one supplier's records: its first and last were on the node while it owned it
        assert owners.at(x.node, x.start) == owners.at(x.node, x.end) == x.supplier, x
        per_node[x.node] = per_node.get(x.node, Decimal("0.00")) + x.supplier_share + x.commission
    assert sum(per_node.values(), Decimal("0.00")) == invoice
    # and per supplier: what each earned is exactly the share of the lines on nodes it owned then
    for sup in SUPPLIERS:
        mine = [x for x in lines if x.supplier == sup]
        assert sum((x.supplier_share for x in mine), Decimal(0)) == sum(
            (x.supplier_share for x in lines if owners.at(x.node, x.start) == sup), Decimal(0))


@settings(max_examples=200, deadline=None)
@given(amount=st.integers(0, 10**9).map(lambda c: Decimal(c) / 100), rate_=st.decimals("0", "1", places=3),
       floor=st.one_of(st.none(), st.decimals("0", "50", places=2)), hours=st.decimals("0", "1000", places=4))
def test_split_adds_up_and_pays_the_floor_when_covered(amount: Decimal, rate_: Decimal, floor: Decimal | None,
                                                       hours: Decimal) -> None:
    share, commission = split(amount, rate_, floor, hours)
    assert share + commission == amount and Decimal(0) <= share <= amount
    if floor is not None and floor * hours <= amount:
        assert share >= (floor * hours).quantize(Decimal("0.01")) - Decimal("0.01")


def test_tiers_fill_in_order_of_use_and_each_tier_line_keeps_its_node() -> None:
    o = owners_of({"n3": "s2", "n4": "s1"}, [])
    recs = [attribute(UsageRecord("a", f"e{i}", Meter.DEVICE_SECONDS, "t1", T0 + timedelta(hours=h), Decimal(secs),
                                  model="L20", node=node), o, {})
            for i, (h, secs, node) in enumerate([(1, 7200, "n3"), (2, 18000, "n4")])]
    inp = RatingInput(tenant="t1", period_start=T0, period_end=T1, records=recs, plans=[DEFAULT, TIERED], book=BOOK,
                      device_p={k: v.p for k, v in MODELS.items()}, floors=FLOORS)
    got = [(x.node, x.supplier, x.quantity, x.unit_price, x.amount, x.description) for x in rate(inp).lines]
    assert got == [("n3", "s2", 2, Decimal("2.40"), Decimal("4.80"), "tier 1"),
                   ("n4", "s1", 1, Decimal("2.40"), Decimal("2.40"), "tier 1"),
                   ("n4", "s1", 4, Decimal("2.00"), Decimal("8.00"), "tier 2")]
    (n3,) = [x for x in rate(inp).lines if x.node == "n3"]
    assert n3.supplier_share == Decimal("4.80")  # s2's floor (2.50/h) exceeds the charge: all of it

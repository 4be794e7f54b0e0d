"""The price in force at each second applies: lease time metered across list-price changes at
arbitrary seconds is billed exactly sum(seconds_i x rate_i) / 3600, each line rounded once."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.catalog_data import builtin_catalog
from suanli.domain.leases import Allocation, Lease, LeaseState, ProductForm
from suanli.domain.money import round_line
from suanli.domain.prices import PriceBook, PriceEntry, PriceUnit
from suanli.ledger.metering import lease_records
from suanli.ledger.rating import RatingInput, rate

CAT = builtin_catalog()
T0 = datetime(2026, 11, 1, tzinfo=UTC)
MONTH_END = datetime(2026, 12, 1, tzinfo=UTC)


def _lease(start: datetime, end: datetime, devices: int) -> Lease:
    allocs = tuple(Allocation(device_id=i, node="n1", slot=i, model="H800", site="sh", supplier="s1", fabric="f",
                              milli=1000, memory_mib=81920, start=start, end=end) for i in range(devices))
    return Lease(id="ls_1", order_id="ord_1", tenant_id="t1", form=ProductForm("gpu"), state=LeaseState.ENDED,
                 start=start, end=end, activated_at=start, ended_at=end, reason="", commission_rate=Decimal("0.15"),
                 placement="", created_at=start, allocations=allocs)


@settings(max_examples=150, deadline=None)
@given(
    start_s=st.integers(0, 5 * 86400),
    length_s=st.integers(1, 3 * 86400),
    changes=st.lists(st.tuples(st.integers(1, 8 * 86400), st.decimals("0.01", "1000", places=2)),
                     max_size=8, unique_by=lambda c: c[0]),
    base=st.decimals("0.01", "1000", places=2),
    devices=st.integers(1, 8),
)
def test_lease_across_price_changes_is_billed_by_the_second(start_s: int, length_s: int,
                                                            changes: list[tuple[int, Decimal]], base: Decimal,
                                                            devices: int) -> None:
    start = T0 + timedelta(seconds=start_s)
    end = start + timedelta(seconds=length_s)
    entries = [PriceEntry("H800", None, PriceUnit.DEVICE_HOUR, base, "CNY", T0)]
    entries += [PriceEntry("H800", None, PriceUnit.DEVICE_HOUR, p, "CNY", T0 + timedelta(seconds=s))
                for s, p in changes]
    book = PriceBook(entries, {"H800": CAT.get("H800")})
    records = lease_records(_lease(start, end, devices), [(start, end)], T0, MONTH_END,
                            [t for t in book.instants() if T0 < t < MONTH_END])
    lines = rate(RatingInput(tenant="t1", period_start=T0, period_end=MONTH_END, records=records, plans=[],
                             book=book, device_p={"H800": CAT.get("H800").p})).lines
    # the reference: walk the lease second by second through the price history
    by_rate: dict[Decimal, int] = {}
    history = sorted(entries, key=lambda e: e.effective_from)
    cut_points = sorted({start, end, *(e.effective_from for e in history if start < e.effective_from < end)})
    for a, b in itertools.pairwise(cut_points):
        r = [e for e in history if e.effective_from <= a][-1].amount
        by_rate[r] = by_rate.get(r, 0) + int((b - a).total_seconds()) * devices
    exact = sum((Decimal(secs) * r / 3600 for r, secs in by_rate.items()), Decimal(0))
    assert {x.unit_price: x.quantity for x in lines} == {r: Decimal(secs) / 3600 for r, secs in by_rate.items()}
    assert abs(sum((x.quantity * x.unit_price for x in lines), Decimal(0)) - exact) < Decimal("1e-18")
    for x in lines:  # each line rounded once, from its exact seconds x rate
        assert x.amount == round_line(x.quantity * x.unit_price)
    assert abs(sum(x.amount for x in lines) - round_line(exact)) <= Decimal("0.005") * len(lines) + Decimal("0.005")


def test_without_cuts_at_price_changes_the_hour_piece_takes_its_start_price() -> None:
    """The defect this guards: pieces cut at hours only bill 08:49:31-09:00 at the old price."""
    change = datetime(2026, 11, 23, 8, 49, 31, tzinfo=UTC)
    book = PriceBook([PriceEntry("H800", None, PriceUnit.DEVICE_HOUR, Decimal("6.5"), "CNY", T0),
                      PriceEntry("H800", None, PriceUnit.DEVICE_HOUR, Decimal(9), "CNY", change)],
                     {"H800": CAT.get("H800")})
    a, b = datetime(2026, 11, 23, 8, tzinfo=UTC), datetime(2026, 11, 23, 10, tzinfo=UTC)
    recs = lease_records(_lease(a, b, 1), [(a, b)], T0, MONTH_END, book.instants())
    assert [r.time for r in recs] == [a, change, datetime(2026, 11, 23, 9, tzinfo=UTC)]
    lines = rate(RatingInput(tenant="t1", period_start=T0, period_end=MONTH_END, records=recs, plans=[], book=book,
                             device_p={"H800": CAT.get("H800").p})).lines
    assert {x.unit_price: x.quantity for x in lines} == {Decimal("6.5"): Decimal(2971) / 3600,
                                                         Decimal(9): Decimal(7200 - 2971) / 3600}

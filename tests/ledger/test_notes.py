"""Credit and debit notes of a price correction: the difference per line, split like the line; every
note's entry balances and the notes add up to the change in the rated total (property tests)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.money import round_line
from suanli.errors import ValidationError
from suanli.ledger.notes import debit_note, line_differences, note_entry
from suanli.ledger.postings import balances
from suanli.ledger.rating import ChargeLine
from suanli.ledger.revenue import split

T = datetime(2026, 11, 23, tzinfo=UTC)


def _line(lease: str, supplier: str, hours: Decimal, price: Decimal, floor: Decimal | None) -> ChargeLine:
    amount = round_line(hours * price)
    share, commission = split(amount, Decimal("0.15"), floor, hours) if supplier else (Decimal("0.00"), amount)
    return ChargeLine("usage", "device_seconds", "H800", "sh", supplier, lease, "", "", T, T, hours, "device-hour",
                      price, amount, share, commission, 1, False, "2026-11", node="n1" if supplier else "")


line_specs = st.lists(st.tuples(st.sampled_from(["ls_1", "ls_2", "ls_3"]), st.sampled_from(["s1", "s2", ""]),
                                st.decimals("0.01", "500", places=2), st.decimals("0.01", "100", places=2),
                                st.decimals("0.01", "100", places=2), st.one_of(st.none(), st.decimals("1", "50", places=0))),
                      min_size=1, max_size=6, unique_by=lambda x: (x[0], x[1]))


@given(specs=line_specs, tax=st.sampled_from([Decimal(0), Decimal("0.06"), Decimal("0.13")]))
def test_notes_are_the_difference_split_like_the_lines_and_balance(specs: list[tuple[str, str, Decimal, Decimal,
                                                                                     Decimal, Decimal | None]],
                                                                   tax: Decimal) -> None:
    old = [_line(lease, sup, h, p_old, floor) for lease, sup, h, p_old, _p_new, floor in specs]
    new = [_line(lease, sup, h, p_new, floor) for lease, sup, h, _p_old, p_new, floor in specs]
    diffs = line_differences(old, new)
    assert sum((d.amount for d in diffs), Decimal(0)) == sum((x.amount for x in new), Decimal(0)) - sum(
        (x.amount for x in old), Decimal(0))
    for d in diffs:
        assert d.supplier_share + d.commission == d.amount  # split like the line
    entries = []
    for kind, part in (("credit", [d for d in diffs if d.amount < 0]), ("debit", [d for d in diffs if d.amount > 0])):
        if part:
            t = note_entry(kind, "acme", "inv_1", f"n_{kind}", T, part, tax_rate=tax, reason="r")
            assert t.amount == abs(sum((d.amount for d in part), Decimal(0)))
            assert t.supplier_share + t.commission == t.amount or any(d.supplier_share * d.amount < 0 for d in part)
            assert t.tax == round_line(t.amount * tax)
            entries.append(t.entry)
    assert all(v == 0 for v in [sum(p.amount for p in e.postings) for e in entries])
    bal = balances(entries)
    assert sum(bal.values(), Decimal(0)) == 0


def test_a_note_takes_only_lines_of_its_direction_and_a_debit_note_needs_whole_cents() -> None:
    old = [_line("ls_1", "s1", Decimal(2), Decimal(10), None)]
    new = [_line("ls_1", "s1", Decimal(2), Decimal(9), None)]
    (d,) = line_differences(old, new)
    assert d.amount == Decimal("-2.00") and d.supplier_share == Decimal("-1.70") and d.commission == Decimal("-0.30")
    with pytest.raises(ValueError, match="only lines that went up"):
        note_entry("debit", "acme", "inv_1", "dn_1", T, [d], tax_rate=Decimal(0), reason="r")
    e = note_entry("credit", "acme", "inv_1", "cn_1", T, [d], tax_rate=Decimal(0), reason="r").entry
    assert {p.account: p.amount for p in e.postings} == {"wallet:acme": Decimal("-2.00"),
                                                         "payable:s1": Decimal("1.70"),
                                                         "revenue:operator": Decimal("0.30")}
    assert line_differences(old, old) == []
    with pytest.raises(ValidationError, match="whole cents"):
        debit_note("acme", "inv_1", "dn_2", T, Decimal("1.001"), reason="r")
    assert {p.account: p.amount for p in debit_note("acme", "inv_1", "dn_3", T, Decimal(5), reason="r").postings} == {
        "receivable:acme": Decimal(5), "revenue:operator": Decimal(-5)}

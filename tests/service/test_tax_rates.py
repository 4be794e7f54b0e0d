"""Tax rates per product type in the service: a price correction's note on an issued invoice is taxed
at the compute rate that invoice was issued with, not at a rate set since nor at the default."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from suanli.domain.accounts import Principal
from suanli.domain.money import round_line
from suanli.service import billing, leases, legal, orders
from suanli.service import price_corrections as corrections
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

FROM = datetime(2026, 11, 23, 8, 49, 31, tzinfo=UTC)
TO = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def test_a_correction_note_is_taxed_at_the_rate_the_invoice_kept(demo: Platform, operator: Principal,
                                                                 tenant: Principal, clock: FakeClock) -> None:
    legal.set_tax_rate(demo, operator, "compute", Decimal("0.06"), None)
    res = orders.create_order(demo, tenant, {"form": "gpu", "quantity": 2, "models": ["H800"]})  # 08:00
    clock.set(datetime(2026, 11, 23, 10, tzinfo=UTC))
    leases.end_lease(demo, tenant, res.order.lease_id or "")
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    issued = billing.issue_invoice(demo, operator, "acme", "2026-11")
    assert [(g["rate"], g["product_types"]) for g in issued["taxes"]] == [(Decimal("0.06"), ["compute"])]
    assert issued["tax"] == round_line(issued["subtotal"] * Decimal("0.06"))
    legal.set_tax_rate(demo, operator, "compute", Decimal("0.13"), None)  # later: not for this invoice
    clock.set(datetime(2026, 12, 2, 9, tzinfo=UTC))
    doc = corrections.correct_price(demo, operator, "H800", "9", FROM, TO, "pilot hour at 9")
    (note,) = doc["notes"]
    assert note["tax"] == round_line(note["amount"] * Decimal("0.06")) > 0
    assert note["total"] == note["amount"] + note["tax"]
    check = billing.ledger_check(demo, operator)
    assert check["sum"] == 0 and check["unbalanced_entries"] == []

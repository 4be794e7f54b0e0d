"""Supplier statements and the operator's revenue report, from issued (not void) invoices.

A supplier statement lists, per period and node (and model and site on the node), what its
devices earned: the gross charged to tenants, its share (at least its floor) and the operator's
commission; the two always add up to the gross, and the nodes' subtotals add up to the totals.
SLA credits the supplier bore (:mod:`suanli.ledger.sla`) are listed per node apart from the gross:
they lower what is payable to it, not what tenants were charged. ``provisional`` adds, clearly
apart, the supplier's lines on the drafts of tenants whose invoice for the month (the current
month when none is named) is not issued yet: what it will earn if nothing changes. A supplier's
lines are those attributed to it: usage on a node it owned at the usage's instant
(:mod:`suanli.ledger.revenue`); lines with no node are the operator's own and on no supplier's
statement. The operator report adds up every invoice of a period: charges, of them what ran on
suppliers' nodes and the operator's own revenue (its own row), supplier shares, commission,
vouchers, credits, wallet, amount due, and the ledger's trial balance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.invoices import InvoiceStatus
from suanli.errors import NotFoundError, ValidationError
from suanli.ledger.postings import payable
from suanli.ledger.rating import month_of, period_bounds
from suanli.service import billing, payouts
from suanli.service.platform import Platform
from suanli.store import billing as store
from suanli.store import fleet as fleet_store
from suanli.store import ledger as ledger_store

ZERO = Decimal("0.00")


def supplier_statement(p: Platform, actor: Principal, supplier: str | None = None, period: str | None = None
                       ) -> dict[str, Any]:
    """A supplier's share of issued invoices (a month, or all time), per period, node, model and site;
    a supplier sees only its own. Usage counts once its tenant's invoice is issued."""
    supplier = authorize(actor, Action.READ_SUPPLIER_STATEMENT).named_supplier(supplier)
    if not supplier:
        raise ValidationError("name the supplier (supplier=NAME)", field="supplier")
    if period is not None:
        period_bounds(period)  # a 422 unless YYYY-MM
    with p.tx() as s:
        if not fleet_store.supplier_exists(s, supplier):
            raise NotFoundError(f"no supplier {supplier!r}")
        rows = store.supplier_lines(s, supplier, period)
        payable_now = -ledger_store.balance(s, payable(supplier))
        sla: list[dict[str, Any]] = [{"period": posted.period, "node": part["node"], "lease": posted.credit.lease_id, "sla_credit": posted.credit.id,
            "credit": Decimal(part["amount"]), "supplier_share": Decimal(part["supplier_share"])}
            for posted in store.sla_postings(s, period=period) for part in posted.parts
            if part["supplier"] == supplier]
    items, nodes = _group_by_node((line.amount, line.supplier_share, line.commission, line.quantity, invoice.period,
                                   line.node, line.model, line.site, line.lease) for line, invoice in rows)
    draft_period = period or month_of(p.clock.now())
    drafts, tenants = billing.provisional_lines(p, draft_period, supplier)
    p_items, p_nodes = _group_by_node((x.amount, x.supplier_share, x.commission, x.quantity, draft_period, x.node,
                                       x.model, x.site, x.lease) for x, _t in drafts)
    provisional = {
        "status": InvoiceStatus.PROVISIONAL, "period": draft_period, "as_of": p.clock.now(), "tenants": tenants,
        "note": "drafts of invoices not issued yet: may change until each tenant's invoice is issued",
        "lines": p_items, "nodes": p_nodes, "gross": sum((x["gross"] for x in p_items), ZERO),
        "supplier_share": sum((x["supplier_share"] for x in p_items), ZERO),
        "commission": sum((x["commission"] for x in p_items), ZERO)}
    return {"supplier": supplier, "period": period, "currency": p.settings.currency, "lines": items, "nodes": nodes,
            "provisional": provisional,
            "gross": sum((x["gross"] for x in items), ZERO),
            "supplier_share": sum((x["supplier_share"] for x in items), ZERO),
            "commission": sum((x["commission"] for x in items), ZERO), "sla_credits": sla,
            "sla_share": sum((x["supplier_share"] for x in sla), ZERO), "payable_balance": payable_now}


def _group_by_node(rows: Iterable[tuple[Decimal, Decimal, Decimal, Decimal, str, str, str, str, str]]
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Statement lines per (period, node, model, site) and subtotals per (period, node).
    Rows: (amount, share, commission, device-hours, period, node, model, site, lease)."""
    groups: dict[tuple[str, str, str, str], list[Any]] = defaultdict(lambda: [ZERO, ZERO, ZERO, Decimal(0), set()])
    for amount, share, commission, hours, per, node, model, site, lease in rows:
        g = groups[(per, node, model, site)]
        g[0] += amount
        g[1] += share
        g[2] += commission
        g[3] += hours
        if lease:
            g[4].add(lease)
    items = [{"period": k[0], "node": k[1], "model": k[2], "site": k[3], "leases": len(v[4]), "device_hours": v[3],
              "gross": v[0], "supplier_share": v[1], "commission": v[2]} for k, v in sorted(groups.items())]
    per_node: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO, Decimal(0)])
    for x in items:
        n = per_node[(x["period"], x["node"])]
        n[0] += x["gross"]
        n[1] += x["supplier_share"]
        n[2] += x["commission"]
        n[3] += x["device_hours"]
    nodes = [{"period": k[0], "node": k[1], "device_hours": v[3], "gross": v[0], "supplier_share": v[1],
              "commission": v[2]} for k, v in sorted(per_node.items())]
    return items, nodes


def revenue_report(p: Platform, actor: Principal, period: str | None = None) -> dict[str, Any]:
    """Every live invoice of a period (or all time), added up. ``charges`` = ``supplier_gross``
    (lines on suppliers' nodes: ``supplier_share`` + ``supplier_commission``) + ``operator_own``
    (lines with no node and so no supplier: the operator's own revenue, per meter or fee kind in
    ``operator_own_by``); ``commission`` is everything that is not a supplier's share (the
    commission on nodes + the operator's own)."""
    authorize(actor, Action.READ_REVENUE_REPORT)
    with p.tx() as s:
        live = store.list_invoices(s, tenant_id=None, period=period, live=True)
        lines = store.invoice_lines(s, [r.id for r in live])
        bal = ledger_store.balances(s)
        sla = store.sla_postings(s, period=period)
    by_kind: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_supplier: dict[str, Decimal] = defaultdict(lambda: ZERO)
    own_by: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for x in lines:
        by_kind[x.kind] += x.amount
        if x.supplier:
            by_supplier[x.supplier] += x.supplier_share
        else:  # no node, no supplier: the operator's own revenue (tokens from a gateway, storage, fees)
            own_by[x.kind if x.kind not in ("usage", "adjustment") else x.meter] += x.amount
    on_nodes = [x for x in lines if x.supplier]
    return {
        "period": period, "currency": p.settings.currency, "invoices": len(live),
        "charges": sum((x.amount for x in lines), ZERO), "tax": sum((r.tax for r in live), ZERO),
        "supplier_gross": sum((x.amount for x in on_nodes), ZERO),
        "supplier_commission": sum((x.commission for x in on_nodes), ZERO),
        "operator_own": sum(own_by.values(), ZERO), "operator_own_by": dict(sorted(own_by.items())),
        "supplier_share": sum((x.supplier_share for x in lines), ZERO),
        "commission": sum((x.commission for x in lines), ZERO),
        "vouchers": sum((r.vouchers for r in live), ZERO), "credits": sum((r.credits for r in live), ZERO),
        "wallet": sum((r.wallet for r in live), ZERO), "amount_due": sum((r.amount_due for r in live), ZERO),
        "by_kind": dict(sorted(by_kind.items())), "by_supplier": dict(sorted(by_supplier.items())),
        "sla_credits": sum((x.amount for x in sla), ZERO),
        "sla_supplier_share": sum((x.supplier_share for x in sla), ZERO),
        "ledger_sum": sum(bal.values(), ZERO),
    }


def pay_supplier(p: Platform, actor: Principal, supplier: str, amount: Decimal) -> dict[str, Any]:
    """Record a payout to a supplier (operator only; :func:`suanli.service.payouts.record_payout`:
    payable down, cash down, at most what is owed) and return the supplier's statement after it."""
    payouts.record_payout(p, actor, supplier, amount)
    return supplier_statement(p, actor, supplier)

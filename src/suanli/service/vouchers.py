"""Compute vouchers (算力券): issue under a scheme (operator, on behalf of a named issuer), list,
claim against a contract and redeem with an issued invoice and delivery evidence (Beijing), the
facts the rules need (contracts, approved suppliers, start-ups), related parties, and the audit.

The rules are in :mod:`suanli.ledger.vouchers`; vouchers of every scheme but the claim-then-redeem
ones are applied when an invoice is issued (:mod:`suanli.service.billing`). Every refusal is a 4xx
naming the rule (``rule <id>: words``) and writes nothing.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.invoices import InvoiceStatus
from suanli.domain.money import check_amount
from suanli.errors import ConflictError, ValidationError
from suanli.ledger.meters import Meter
from suanli.ledger.plans import DEFAULT_TENANT
from suanli.ledger.vouchers import (
    RULE_TEXT,
    SCHEMES,
    Chargeable,
    Voucher,
    apply_vouchers,
    check_issue,
    parse_scheme,
    priced_by_contract,
    redemption_entry,
)
from suanli.service import voucher_rules
from suanli.service.billing import entry_values, resolve_tenant
from suanli.service.plan_rows import plan_from_row
from suanli.service.platform import Platform
from suanli.store import accounts as account_store
from suanli.store import billing as store
from suanli.store import fleet as fleet_store
from suanli.store import ledger as ledger_store
from suanli.store import vouchers as vstore
from suanli.store.money_tables import (
    VoucherClaimRow,
    VoucherContractRow,
    VoucherFirmRow,
    VoucherRedemptionRow,
    VoucherRow,
)

MAX_PERCENT = Decimal(1)
MAX_EVIDENCE = 500
METERS = {m.value for m in Meter}


def _locked_voucher(s: Session, voucher_id: str) -> VoucherRow:
    """The voucher, with every voucher of its tenant locked in the order an invoice issue locks them
    (PostgreSQL): the caps shared across them (per firm and year) are read and spent by one at a time."""
    tenant_id = vstore.get_voucher(s, voucher_id).tenant_id
    return next(r for r in vstore.lock_vouchers(s, tenant_id) if r.id == voucher_id)


def _refuse(rule: str, message: str, **details: Any) -> ValidationError:
    return ValidationError(f"rule {rule}: {message}", rule=rule, **details)


def issue_voucher(p: Platform, actor: Principal, *, tenant: str, issuer: str, percent: Any, cap: Any,
                  valid_from: datetime, valid_to: datetime, scheme: str = "custom") -> dict[str, Any]:
    """Issue a voucher under a scheme's rule set (operator). The scheme bounds the percent (its
    start-up bound for a tenant marked a start-up) and the cap; a refusal names the rule."""
    grant = authorize(actor, Action.ISSUE_VOUCHER)
    sc = parse_scheme(scheme)
    try:
        percent = check_amount(percent, "percent", max=MAX_PERCENT)
    except ValidationError as e:
        raise ValidationError(f"voucher percent must be a fraction in (0, 1] (0.3 = 30 %): {e}",
                              field="percent") from None
    cap = check_amount(cap, "cap")
    if not issuer or len(issuer) > 120:
        raise ValidationError("issuer must name who funds the voucher (e.g. shanghai-city), 1-120 characters",
                              field="issuer")
    with p.tx() as s:
        who = resolve_tenant(s, grant, tenant)
        f = vstore.firm(s, who.account_id)
        check_issue(sc, percent, cap, startup=bool(f and f.startup))
        v = Voucher("vc_" + secrets.token_hex(6), issuer, who.account_id, percent, cap, valid_from, valid_to,
                    scheme=sc)
        store.add_voucher(s, VoucherRow(id=v.id, issuer=issuer, tenant_id=who.account_id, percent=percent, cap=cap,
                                        valid_from=valid_from, valid_to=valid_to, created_at=p.clock.now(),
                                        scheme=sc.value))
    return _doc(v, who.name, Decimal(0))


def _doc(v: Voucher, tenant: str, used: Decimal, claims: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": v.id, "issuer": v.issuer, "tenant": tenant, "scheme": v.scheme.value,
            "rules": SCHEMES[v.scheme].title, "percent": v.percent, "cap": v.cap, "used": used,
            "left": v.cap - used, "valid_from": v.valid_from, "valid_to": v.valid_to, "claims": claims or []}


def list_vouchers(p: Platform, actor: Principal, *, tenant: str | None = None, issuer: str | None = None
                  ) -> list[dict[str, Any]]:
    grant = authorize(actor, Action.READ_VOUCHERS)
    with p.tx() as s:
        tid = resolve_tenant(s, grant, tenant).account_id if tenant else grant.tenant_id
        rows = store.vouchers_for(s, tid, issuer=issuer)
        ids = [r.id for r in rows]
        used = store.voucher_used(s, ids)
        claims: dict[str, list[dict[str, Any]]] = {}
        for c in vstore.claims_for(s, ids):
            claims.setdefault(c.voucher_id, []).append({"id": c.id, "contract": c.contract, "at": c.at})
        for r in vstore.redemptions_for(s, ids):
            for doc in claims.get(r.voucher_id, []):
                if doc["id"] == r.claim_id:
                    doc.setdefault("redemptions", []).append({"invoice": r.invoice_id, "evidence": r.evidence,
                                                            "amount": str(r.amount), "at": r.at.isoformat()})
        names = {a.account_id: a.name for a in account_store.list_accounts(s)}
    return [_doc(voucher_rules.voucher_from_row(r, used[r.id]), names.get(r.tenant_id, r.tenant_id), used[r.id],
                 claims.get(r.id)) for r in rows]


def audit(p: Platform, actor: Principal, *, issuer: str | None = None, tenant: str | None = None
          ) -> list[dict[str, Any]]:
    """Every use and refusal of vouchers, line by line, with the rule that allowed or refused it
    (id and words; operator; a tenant its own)."""
    grant = authorize(actor, Action.READ_VOUCHERS)
    with p.tx() as s:
        tid = resolve_tenant(s, grant, tenant).account_id if tenant else grant.tenant_id
        rows = store.vouchers_for(s, tid, issuer=issuer)
        by_id = {r.id: r for r in rows}
        names = {a.account_id: a.name for a in account_store.list_accounts(s)}
        out = vstore.audit_rows(s, list(by_id))
    for x in out:
        v = by_id[x["voucher"]]
        x["issuer"], x["tenant"], x["scheme"] = v.issuer, names.get(v.tenant_id, v.tenant_id), v.scheme
        x["rule_text"] = RULE_TEXT.get(x["rule"], x["rule"])
    return out


def add_related_party(p: Platform, actor: Principal, tenant: str, supplier: str, note: str = "") -> dict[str, Any]:
    """Register that a buyer and a supplier are related parties (operator only)."""
    grant = authorize(actor, Action.MANAGE_RELATED_PARTIES)
    with p.tx() as s:
        who = resolve_tenant(s, grant, tenant)
        if not fleet_store.supplier_exists(s, supplier):
            raise ValidationError(f"unknown supplier {supplier!r}", field="supplier")
        store.add_related(s, who.account_id, supplier, note)
    return {"tenant": who.name, "supplier": supplier, "note": note}


# -- the facts the rules need (operator) ------------------------------------------------------------


def record_contract(p: Platform, actor: Principal, *, plan: str, signed_on: date, value: Any,
                    other_subsidy: str = "") -> dict[str, Any]:
    """Record what a voucher needs to know about a paid contract (a plan with ``paid: true``): its
    signing date, its value and any other municipal subsidy on it. Its term is the plan's dates."""
    grant = authorize(actor, Action.MANAGE_VOUCHER_RULES)
    value = check_amount(value, "value")
    if len(other_subsidy) > 500:
        raise ValidationError("other_subsidy is at most 500 characters", field="other_subsidy")
    with p.tx() as s:
        row = vstore.get_plan(s, plan)
        if row is None:
            raise ValidationError(f"no price plan {plan!r}; a contract is a tenant's plan with paid: true",
                                  field="plan")
        if row.tenant == DEFAULT_TENANT or not row.paid:
            raise _refuse("paid_contract", f"plan {plan} is not a paid contract (a tenant's plan with paid: true)",
                          field="plan")
        resolve_tenant(s, grant, row.tenant)
        vstore.save_contract(s, VoucherContractRow(plan_id=plan, tenant_id=row.tenant, signed_on=signed_on,
                                                   value=value, other_subsidy=other_subsidy,
                                                   recorded_at=p.clock.now()))
        tenant = account_store.get_account(s, row.tenant).name
        return _contract_doc(plan, tenant, signed_on, value, other_subsidy, row.effective_from, row.effective_to)


def _contract_doc(plan: str, tenant: str, signed_on: date, value: Decimal, other: str, start: datetime,
                  end: datetime | None) -> dict[str, Any]:
    return {"plan": plan, "tenant": tenant, "signed_on": signed_on, "value": value, "other_subsidy": other,
            "term_start": start, "term_end": end}


def list_contracts(p: Platform, actor: Principal, *, tenant: str | None = None) -> list[dict[str, Any]]:
    grant = authorize(actor, Action.READ_VOUCHERS)
    with p.tx() as s:
        tid = resolve_tenant(s, grant, tenant).account_id if tenant else grant.tenant_id
        names = {a.account_id: a.name for a in account_store.list_accounts(s)}
        return [_contract_doc(c.plan_id, names.get(c.tenant_id, c.tenant_id), c.signed_on, c.value, c.other_subsidy,
                              pl.effective_from, pl.effective_to) for c, pl in vstore.contracts_for(s, tid)]


def approve_supplier(p: Platform, actor: Principal, scheme: str, supplier: str) -> dict[str, Any]:
    """Put a supplier on a scheme's approved supplier list."""
    authorize(actor, Action.MANAGE_VOUCHER_RULES)
    sc = parse_scheme(scheme)
    with p.tx() as s:
        if not fleet_store.supplier_exists(s, supplier):
            raise ValidationError(f"unknown supplier {supplier!r}", field="supplier")
        vstore.add_approved(s, sc.value, supplier, p.clock.now())
        return {"scheme": sc.value, "suppliers": sorted(vstore.approved_suppliers(s).get(sc.value, set()))}


def approved_suppliers(p: Platform, actor: Principal) -> dict[str, list[str]]:
    authorize(actor, Action.READ_VOUCHERS)
    with p.tx() as s:
        return {k: sorted(v) for k, v in sorted(vstore.approved_suppliers(s).items())}


def set_firm(p: Platform, actor: Principal, tenant: str, *, startup: bool, note: str = "") -> dict[str, Any]:
    """Mark a tenant (firm) a start-up or not: Shenzhen's scheme pays up to 60 % for one."""
    grant = authorize(actor, Action.MANAGE_VOUCHER_RULES)
    with p.tx() as s:
        who = resolve_tenant(s, grant, tenant)
        vstore.save_firm(s, VoucherFirmRow(tenant_id=who.account_id, startup=startup, note=note))
    return {"tenant": who.name, "startup": startup, "note": note}


# -- claim, then redeem ---------------------------------------------------------------------------


def claim(p: Platform, actor: Principal, voucher_id: str, contract: str) -> dict[str, Any]:
    """Record a claim of a voucher against a contract (operator). The contract's rules are checked
    now (signed date, term, no other subsidy); one claim per contract, ever (UNIQUE: 409)."""
    authorize(actor, Action.CLAIM_VOUCHER)
    now = p.clock.now()
    with p.tx() as s:
        row = _locked_voucher(s, voucher_id)
        v = voucher_rules.voucher_from_row(row, Decimal(0))
        rules = v.rules
        if not rules.claim_required:
            raise _refuse("claim_not_needed", f"a {v.scheme.value} voucher is applied when an invoice is issued; "
                          "only a scheme with claim-then-redeem (beijing) takes a claim", voucher=voucher_id)
        facts = {c.plan_id: (c, pl) for c, pl in vstore.contracts_for(s, row.tenant_id)}
        if contract not in facts:
            raise _refuse("no_contract_facts", f"contract {contract} is not a recorded paid contract of the "
                          f"voucher's tenant; {RULE_TEXT['no_contract_facts']} (POST /v1/vouchers/contracts)",
                          field="contract")
        c = voucher_rules.contract_of(*facts[contract])
        if rules.signed_on_or_after is not None and c.signed_on < rules.signed_on_or_after:
            raise _refuse("signed_too_early", f"contract {contract} was signed {c.signed_on}; a {v.scheme.value} "
                          f"voucher needs a contract signed on or after {rules.signed_on_or_after}", field="contract")
        if rules.max_term_months is not None and not c.term_within(rules.max_term_months):
            raise _refuse("term_too_long", f"contract {contract} runs {c.term_start.date()} to "
                          f"{c.term_end.date() if c.term_end else 'open-ended'}; a {v.scheme.value} voucher needs a "
                          f"term of at most {rules.max_term_months} months", field="contract")
        if rules.no_other_subsidy:
            others = vstore.vouchers_on_contract(s, contract) - {voucher_id}
            if c.other_subsidy or others:
                what = c.other_subsidy or f"voucher(s) {sorted(others)}"
                raise _refuse("other_subsidy", f"contract {contract} already has another municipal subsidy "
                              f"({what}); {RULE_TEXT['other_subsidy']}", field="contract")
        claim_id = "vcl_" + secrets.token_hex(6)
        vstore.add_claim(s, VoucherClaimRow(id=claim_id, voucher_id=voucher_id, contract=contract,
                                            tenant_id=row.tenant_id, at=now))
    return {"id": claim_id, "voucher": voucher_id, "contract": contract, "at": now}


def redeem(p: Platform, actor: Principal, voucher_id: str, invoice_id: str, evidence: str) -> dict[str, Any]:
    """Redeem a claimed voucher against an issued invoice of its tenant, with a delivery evidence
    reference (operator). Each line of the invoice goes through the scheme's rules; the issuer
    pays what is allowed into the tenant's wallet (the issued invoice is left as it is). If no
    line may be paid it is a 422 naming the rules and nothing is written."""
    authorize(actor, Action.REDEEM_VOUCHER)
    evidence = evidence.strip()
    if not evidence or len(evidence) > MAX_EVIDENCE:
        raise _refuse("delivery_evidence", f"redemption needs a delivery evidence reference (1-{MAX_EVIDENCE} "
                      "characters: acceptance record, delivery note number ...)", field="evidence")
    now = p.clock.now()
    with p.tx() as s:
        row = _locked_voucher(s, voucher_id)
        used = store.voucher_used(s, [voucher_id])[voucher_id]
        v = voucher_rules.voucher_from_row(row, used)
        claims = vstore.claims_for(s, [voucher_id])
        if not v.rules.claim_required:
            raise _refuse("claim_not_needed", f"a {v.scheme.value} voucher is applied when an invoice is issued, "
                          "not redeemed", voucher=voucher_id)
        if not claims:
            raise _refuse("claim_first", f"voucher {voucher_id} is not claimed against a contract; claim it first "
                          "(POST /v1/vouchers/{id}/claims)", voucher=voucher_id)
        invoice = vstore.invoice_facts(s, invoice_id, row.tenant_id)
        if invoice.status not in (InvoiceStatus.ISSUED, InvoiceStatus.PAID):
            raise ConflictError(f"rule issued_invoice: invoice {invoice_id} is {invoice.status}; a voucher is "
                                "redeemed against an issued (or paid) invoice", invoice=invoice_id,
                                rule="issued_invoice")
        plans = {r.id: plan_from_row(r) for r in store.plans_for(s, [row.tenant_id])}
        taken = vstore.subsidised_lines(s, invoice_id)
        lines = [Chargeable(x.line_no, x.amount, x.supplier, x.start,
                            x.kind in ("usage", "adjustment") and x.meter in METERS
                            and priced_by_contract(plans.get(x.plan), Meter(x.meter), x.model),
                            x.line_no in taken, x.meter, x.plan)
                 for x in vstore.line_facts(s, invoice_id)]
        ctx = voucher_rules.context(s, row.tenant_id, [v], now, redeeming=True)
        uses, refusals = apply_vouchers([v], lines, set(), invoice.currency, ctx)
        if not uses:
            rules = sorted({r.rule for r in refusals})
            why = "; ".join(f"rule {r}: {RULE_TEXT[r]}" for r in rules) or "the invoice has no line with an amount"
            raise ValidationError(f"voucher {voucher_id} cannot pay any line of invoice {invoice_id}: {why}",
                                  voucher=voucher_id, rules=rules)
        ids = vstore.line_ids(s, invoice_id)
        store.add_voucher_outcomes(
            s, [{"voucher_id": u.voucher_id, "invoice_id": invoice_id, "line_id": ids[u.line_no], "amount": u.amount,
                 "rule": u.rule, "at": now} for u in uses],
            [{"voucher_id": r.voucher_id, "invoice_id": invoice_id, "line_id": ids[r.line_no], "rule": r.rule,
              "at": now} for r in refusals])
        amount = sum((u.amount for u in uses), Decimal("0.00"))
        paid_on = {x.line_no: x.contract for x in lines}
        claim_row = next(c for c in claims if c.contract == paid_on[uses[0].line_no])
        red_id = "vrd_" + secrets.token_hex(6)
        vstore.add_redemption(s, VoucherRedemptionRow(id=red_id, voucher_id=voucher_id, claim_id=claim_row.id,
                                                      invoice_id=invoice_id, evidence=evidence, amount=amount, at=now))
        e = redemption_entry(row.tenant_id, invoice_id, now, uses, invoice.currency)
        if e is not None:
            ledger_store.add_entries(s, [entry_values(e)])
    return {"id": red_id, "voucher": voucher_id, "contract": claim_row.contract, "invoice": invoice_id,
            "evidence": evidence, "amount": amount, "to": "wallet", "at": now,
            "lines": [{"line_no": u.line_no, "outcome": "used", "amount": u.amount, "rule": u.rule,
                       "rule_text": RULE_TEXT[u.rule]} for u in uses]
            + [{"line_no": r.line_no, "outcome": "refused", "amount": Decimal("0.00"), "rule": r.rule,
                "rule_text": RULE_TEXT[r.rule]} for r in refusals]}



def schemes(p: Platform, actor: Principal) -> list[dict[str, Any]]:
    """The rule presets an operator may issue a voucher under."""
    authorize(actor, Action.READ_VOUCHERS)
    return [{"scheme": r.scheme.value, "title": r.title, "max_percent": r.max_percent,
             "startup_percent": r.startup_percent, "firm_annual_cap": r.firm_annual_cap, "of_contract": r.of_contract,
             "rent_only": r.rent_only, "claim_required": r.claim_required,
             "signed_on_or_after": r.signed_on_or_after, "max_term_months": r.max_term_months,
             "approved_suppliers": r.approved_suppliers, "no_other_subsidy": r.no_other_subsidy}
            for r in SCHEMES.values()]

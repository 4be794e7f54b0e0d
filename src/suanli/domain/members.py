"""Organisation members (子账号): what each member role may do, and the monthly spend rule.

A tenant account is an **organisation**. Its members are tenant accounts that belong to it
(``Principal.organisation``); everything they order, run or buy belongs to the organisation, and
they see exactly what it sees. The organisation's own account acts as its admin.

What a member may do is decided by :data:`MEMBER_ACTIONS`, consulted by
:func:`suanli.domain.authz.authorize` after the tenant role itself was allowed (so a member can
never do more than its organisation). The table names actions by their value (the
``authz.Action`` enum is defined on top of this module); ``tests/domain/test_members.py`` checks
that every name is a real action and that every action a tenant may do has a decision::

    admin      everything the tenant may do, managing members, the organisation's audit trail
    developer  orders, quotes, leases, jobs, calls models; reads usage, offers, prices
    finance    invoices (pays them from the wallet), wallet, usage (inference usage per key too), packages
               (buys them), plans, vouchers, price corrections, the organisation's legal profile on its
               invoices; reads orders and leases (what the bills are for); runs no work
    viewer     reads what the organisation sees (not its members or audit trail)
    everyone   the catalog, prices, offers, package products, and its own API tokens

An action a tenant may do that has no row here is the admin's alone (fail closed).

Spend limits: a member may have a monthly limit (the operator's currency). Its spend in a
calendar month (UTC) is what it committed that month: the committed cost of each order it placed
(not cancelled), the quoted cost of the time it added to leases by extending them, and the price
of each package it bought. See :func:`order_commitment` and :mod:`suanli.service.spend`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from suanli.domain.money import minor, round_line
from suanli.errors import ConflictError, ValidationError


class MemberRole(StrEnum):
    ADMIN = "admin"
    DEVELOPER = "developer"
    FINANCE = "finance"
    VIEWER = "viewer"


_READS_ALL = frozenset({
    "read_self", "read_catalog", "read_prices", "read_offers", "read_package_products",
    "read_tokens", "manage_own_tokens",  # every member lists, makes and revokes its own API tokens
    "read_seller_profile", "read_tax_rates",  # what every invoice prints
})
_WORK = frozenset({
    "place_order", "read_orders", "cancel_order", "read_leases", "change_lease",
    "submit_job", "read_jobs", "cancel_job", "read_lease_usage", "read_usage",
    "call_models", "report_training_tokens",  # the inference gateway; a training job's token counts
    "manage_deployments", "read_deployments",  # model deployments on the organisation's leases
})
_MONEY = frozenset({
    "read_invoices", "read_wallet", "read_usage", "read_lease_usage", "buy_package", "read_packages",
    "read_plans", "read_vouchers", "read_price_corrections", "read_orders", "read_leases",
    "pay_invoice",  # from the organisation's wallet balance
    "read_buyer_profile", "set_buyer_profile",  # the organisation's legal details on its invoices
    "read_inference_usage",  # usage and cost per inference key and model
})
_READ_ONLY = frozenset({
    "read_orders", "read_leases", "read_jobs", "read_lease_usage", "read_usage", "read_wallet",
    "read_packages", "read_plans", "read_vouchers", "read_invoices", "read_price_corrections", "read_buyer_profile",
    "read_deployments",
})

ADMIN_ONLY = frozenset({"manage_members", "read_audit"})
"""Actions of the organisation's admin alone (named here so the refusal can say so)."""

MEMBER_ACTIONS: dict[MemberRole, frozenset[str] | None] = {
    MemberRole.ADMIN: None,  # None: every action the tenant role may do
    MemberRole.DEVELOPER: _READS_ALL | _WORK,
    MemberRole.FINANCE: _READS_ALL | _MONEY,
    MemberRole.VIEWER: _READS_ALL | _READ_ONLY,
}
"""Member role -> the actions (by ``authz.Action`` value) it may do; ``None``: all the tenant may."""


def member_may(role: MemberRole, action: str) -> bool:
    allowed = MEMBER_ACTIONS[role]
    return allowed is None or action in allowed


def roles_for(action: str) -> list[MemberRole]:
    """The member roles that may do ``action`` (for a refusal: "needs the admin or finance member role")."""
    return [r for r in MemberRole if member_may(r, action)]


def parse_member_role(value: object) -> MemberRole:
    try:
        return MemberRole(str(value))
    except ValueError:
        raise ValidationError(f"member role {value!r} not allowed; allowed: "
                              f"{', '.join(r.value for r in MemberRole)}", field="role") from None


def month_start(at: datetime) -> datetime:
    """The first instant of ``at``'s calendar month in UTC (spend limits are per calendar month, UTC)."""
    u = at.astimezone(UTC)
    return datetime(u.year, u.month, 1, tzinfo=UTC)


def next_month(at: datetime) -> datetime:
    s = month_start(at)
    return datetime(s.year + (s.month == 12), s.month % 12 + 1, 1, tzinfo=UTC)


def order_commitment(hourly: Decimal, term_total: Decimal | None, start: datetime, currency: str) -> Decimal:
    """What an order commits against its member's monthly limit: a fixed term its quoted total; an
    open-ended order its hourly cost from its start to the end of the calendar month (UTC) it
    starts in, and at least one hour, rounded once to the currency's minor unit (half up)."""
    if term_total is not None:
        return minor(term_total, currency)
    hours = Decimal(int((next_month(start) - start).total_seconds())) / Decimal(3600)
    return round_line(hourly * max(hours, Decimal(1)), currency)


class SpendLimitError(ConflictError):
    """An order or purchase would take a member over its monthly spend limit (409 ``spend_limit``)."""

    code = "spend_limit"


def check_spend(member: str, limit: Decimal | None, spent: Decimal, cost: Decimal, currency: str,
                month: datetime, what: str) -> None:
    """Refuse ``what`` if ``spent + cost`` exceeds ``limit`` (``None``: no limit)."""
    if limit is None or spent + cost <= limit:
        return
    spent, cost = minor(spent, currency), minor(cost, currency)
    raise SpendLimitError(
        f"{what} would take member {member!r} over its monthly spend limit: limit {limit:f} {currency}, spent "
        f"{spent} {currency} in {month:%Y-%m} (UTC), this costs {cost} {currency}; ask the organisation's admin "
        f"to raise the limit (`suanli member set {member} --limit AMOUNT`)",
        member=member, limit=f"{limit:f}", spent=str(spent), cost=str(cost), currency=currency,
        month=f"{month:%Y-%m}")


@dataclass(frozen=True)
class Member:
    """A member of a tenant organisation as its admin sees it."""

    account_id: str
    name: str
    organisation: str
    """The organisation's account name."""
    role: MemberRole
    spend_limit: Decimal | None
    """Monthly, in the operator's currency; ``None``: no limit."""
    created_at: datetime
    spent: Decimal = Decimal(0)
    """What it committed in the current calendar month (UTC), when read with its spend."""

"""Organisation members: their account rows, their monthly spend, and the lock that makes a spend
limit race-safe (the member's account row, ``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
serialises writers with ``BEGIN IMMEDIATE``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from suanli.domain.members import Member, MemberRole
from suanli.errors import NotFoundError
from suanli.store.money_tables import PackageRow
from suanli.store.tables import AccountRow, ApiTokenRow, MemberSpendRow, OrderRow


def _member(row: AccountRow, organisation: str) -> Member:
    assert row.member_role is not None
    return Member(account_id=row.id, name=row.name, organisation=organisation, role=MemberRole(row.member_role),
                  spend_limit=row.spend_limit, created_at=row.created_at)


def list_members(s: Session, org_id: str, organisation: str) -> list[Member]:
    rows = s.scalars(select(AccountRow).where(AccountRow.organisation_id == org_id, AccountRow.removed_at.is_(None))
                     .order_by(AccountRow.created_at, AccountRow.name))
    return [_member(r, organisation) for r in rows]


def get_member(s: Session, org_id: str, organisation: str, name_or_id: str, *, for_update: bool = False) -> Member:
    """A current member of the organisation; anyone else (another organisation's, removed) is 404."""
    q = select(AccountRow).where(AccountRow.organisation_id == org_id, AccountRow.removed_at.is_(None),
                                 (AccountRow.name == name_or_id) | (AccountRow.id == name_or_id))
    row = s.scalar(q.with_for_update() if for_update else q)
    if row is None:
        raise NotFoundError(f"no member {name_or_id!r} in organisation {organisation!r}", member=name_or_id)
    return _member(row, organisation)


def join(s: Session, account_id: str, org_id: str, role: MemberRole, limit: Decimal | None) -> None:
    """Make a (just created) tenant account a member of the organisation."""
    s.execute(update(AccountRow).where(AccountRow.id == account_id)
              .values(organisation_id=org_id, member_role=role.value, spend_limit=limit))


def change(s: Session, account_id: str, *, role: MemberRole | None = None, limit: Decimal | None = None,
           clear_limit: bool = False) -> None:
    values: dict[str, object] = {}
    if role is not None:
        values["member_role"] = role.value
    if limit is not None or clear_limit:
        values["spend_limit"] = limit
    if values:
        s.execute(update(AccountRow).where(AccountRow.id == account_id).values(**values))


def remove(s: Session, account_id: str, now: datetime) -> int:
    """Mark the member removed and revoke every live token of it; returns how many were revoked."""
    s.execute(update(AccountRow).where(AccountRow.id == account_id).values(removed_at=now))
    done = s.execute(update(ApiTokenRow).where(ApiTokenRow.account_id == account_id, ApiTokenRow.revoked_at.is_(None))
                     .values(revoked_at=now))
    return int(getattr(done, "rowcount", 0) or 0)


def lock_limit(s: Session, account_id: str) -> Decimal | None:
    """The member's monthly limit, its account row locked until the transaction ends: two orders of
    one member serialise here, so the second sees the first's commitment."""
    row = s.execute(select(AccountRow.spend_limit).where(AccountRow.id == account_id).with_for_update()).one()
    return row[0]


def spent(s: Session, account_id: str, start: datetime, end: datetime) -> Decimal:
    """What the member committed in [start, end): its orders placed then (not cancelled), the lease
    extensions it made then and the packages it bought then."""
    orders = s.scalars(select(OrderRow.committed).where(
        OrderRow.ordered_by == account_id, OrderRow.created_at >= start, OrderRow.created_at < end,
        OrderRow.status != "cancelled", OrderRow.committed.is_not(None)))
    packages = s.scalars(select(PackageRow.price).where(
        PackageRow.bought_by == account_id, PackageRow.created_at >= start, PackageRow.created_at < end))
    extensions = s.scalars(select(MemberSpendRow.amount).where(
        MemberSpendRow.account_id == account_id, MemberSpendRow.at >= start, MemberSpendRow.at < end))
    return (sum((x for x in orders if x is not None), Decimal(0)) + sum(packages, Decimal(0))
            + sum(extensions, Decimal(0)))


def mark_order(s: Session, order_id: str, ordered_by: str, committed: Decimal | None) -> None:
    s.execute(update(OrderRow).where(OrderRow.id == order_id).values(ordered_by=ordered_by, committed=committed))


def mark_package(s: Session, package_id: str, bought_by: str) -> None:
    s.execute(update(PackageRow).where(PackageRow.id == package_id).values(bought_by=bought_by))


def add_spend(s: Session, account_id: str, lease_id: str, amount: Decimal, at: datetime) -> None:
    """A member's spend that no order or package row carries: the added time of a lease it extended."""
    s.add(MemberSpendRow(account_id=account_id, lease_id=lease_id, amount=amount, at=at))
    s.flush()

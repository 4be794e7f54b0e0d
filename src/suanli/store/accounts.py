"""Accounts and API tokens (stored as SHA-256 hashes only)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal, Role
from suanli.domain.members import MemberRole
from suanli.errors import ConflictError, NotFoundError
from suanli.store.tables import AccountRow, ApiTokenRow

TOKEN_PREFIX = "sl_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


def _principal(row: AccountRow, token_prefix: str | None = None, s: Session | None = None) -> Principal:
    """The account as a principal; a tenant's carries its organisation (read with ``s``) and member role."""
    org_name = None
    if Role(row.role) is Role.TENANT and row.organisation_id is not None and s is not None:
        org_name = s.scalar(select(AccountRow.name).where(AccountRow.id == row.organisation_id))
    return principal_of(row.id, row.name, row.role, row.supplier, row.organisation_id, row.member_role,
                        token_prefix=token_prefix, organisation_name=org_name)


def principal_of(account_id: str, name: str, role_value: str, supplier: str | None, organisation_id: str | None,
                 member_role: str | None, *, token_prefix: str | None = None,
                 organisation_name: str | None = None) -> Principal:
    """An account's columns as a principal; a tenant's carries its organisation (its name as the caller
    read it) and member role (the organisation's own account: admin)."""
    role = Role(role_value)
    org = org_name = None
    member = None
    if role is Role.TENANT:
        member = MemberRole(member_role) if member_role else MemberRole.ADMIN
        if organisation_id is not None:
            org, org_name = organisation_id, organisation_name
    return Principal(account_id=account_id, name=name, role=role, supplier=supplier, token_prefix=token_prefix,
                     organisation=org, organisation_name=org_name, member_role=member)


def create_account(s: Session, name: str, role: Role, supplier: str | None, now: datetime) -> Principal:
    if s.scalar(select(AccountRow).where(AccountRow.name == name)) is not None:
        raise ConflictError(f"an account named {name!r} already exists", name=name)
    row = AccountRow(id=new_id("acc"), name=name, role=role.value, supplier=supplier, created_at=now)
    s.add(row)
    try:
        s.flush()
    except IntegrityError as e:
        raise ConflictError(f"could not create account {name!r}: {e.orig}") from None
    return _principal(row)


def issue_token(s: Session, account_id: str, now: datetime) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    s.add(ApiTokenRow(account_id=account_id, token_hash=hash_token(token), prefix=token[:10], created_at=now))
    s.flush()
    return token


def get_account(s: Session, name_or_id: str) -> Principal:
    row = s.scalar(select(AccountRow).where((AccountRow.name == name_or_id) | (AccountRow.id == name_or_id)))
    if row is None:
        raise NotFoundError(f"no account {name_or_id!r}", account=name_or_id)
    return _principal(row, s=s)


def list_accounts(s: Session) -> list[Principal]:
    return [_principal(r, s=s) for r in s.scalars(select(AccountRow).order_by(AccountRow.created_at, AccountRow.name))]


def count_accounts(s: Session) -> int:
    return len(s.scalars(select(AccountRow.id)).all())

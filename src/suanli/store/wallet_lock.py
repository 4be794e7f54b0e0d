"""A lock on one tenant's money for the length of a transaction.

Paying from a wallet reads the balance and then spends it; two payments of one tenant must not both
read the same balance. :func:`lock_tenant` takes the row lock of the tenant's account
(``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite a write transaction already holds the database's
one write lock).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from suanli.store.tables import AccountRow


def lock_tenant(s: Session, tenant_id: str) -> None:
    s.execute(select(AccountRow.id).where(AccountRow.id == tenant_id).with_for_update())

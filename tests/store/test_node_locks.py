"""Attribution and a change of owner serialise in the database (PostgreSQL; SQLite takes one writer
at a time): an ingest holds its nodes' rows shared while it decides who owned them, a transfer
takes the row exclusively, so neither can slip in between the other's read and write."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from suanli.service.platform import Platform
from suanli.store import fleet as fleet_store


def _try_lock(p: Platform, exclusive: bool) -> bool:
    """Can a second transaction take the node's row now (waiting at most 200 ms)?"""
    with Session(p.engine) as s, s.begin():
        s.execute(text("SET LOCAL lock_timeout = '200ms'"))
        try:
            fleet_store.lock_nodes(s, ["sh-h800-01"], exclusive=exclusive)
        except OperationalError as e:
            assert "lock timeout" in str(e.orig) or "lock_not_available" in str(e.orig) or "canceling" in str(e.orig)
            return False
    return True


@pytest.mark.second_connection  # one session holds the lock while another tries it, on one thread
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite runs one writer at a time: nothing to interleave
def test_ingest_and_transfer_locks_conflict(demo: Platform) -> None:
    with Session(demo.engine) as ingest, ingest.begin():
        assert fleet_store.lock_nodes(ingest, ["sh-h800-01", "nope"]) == {"sh-h800-01"}
        assert not _try_lock(demo, exclusive=True)  # a transfer waits for the ingest
        assert _try_lock(demo, exclusive=False)  # another ingest does not
    with Session(demo.engine) as transfer, transfer.begin():
        fleet_store.lock_nodes(transfer, ["sh-h800-01"], exclusive=True)
        assert not _try_lock(demo, exclusive=False)  # an ingest waits for the transfer
    assert _try_lock(demo, exclusive=True)

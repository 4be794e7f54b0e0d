"""Every line has its supplier, over HTTP (SQLite and PostgreSQL): bad attribution and bad transfers
are 4xx that say what is wrong and write nothing; a transfer splits a node's revenue at its
instant; per-node supplier shares + commission = the invoices; the operator's own revenue apart."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.client import SuanliClient
from suanli.client.errors import ApiError
from suanli.client.money import MoneyClient
from suanli.domain.demo import demo_fleet
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

DEC1 = datetime(2026, 12, 1, tzinfo=UTC)
Connect = Callable[[str], SuanliClient]


@pytest.fixture
def connect(platform: Platform) -> Iterator[Connect]:
    with TestClient(create_app(platform)) as tc:
        yield lambda token: SuanliClient("http://testserver", token, http=tc)


@pytest.fixture
def op(platform: Platform, connect: Connect) -> SuanliClient:
    token = accounts.bootstrap_operator(platform)
    assert token
    c = connect(token)
    c.import_fleet(demo_fleet())
    return c


def ev(i: str, t: datetime, meter: str = "device_seconds", **data: Any) -> dict[str, Any]:
    return {"id": i, "source": "agent", "type": meter, "subject": "acme", "time": t.isoformat(),
            "data": {"quantity": "3600", **data}}


def test_over_http(op: SuanliClient, connect: Connect, clock: FakeClock) -> None:
    t = connect(op.create_account("acme", "tenant").token)
    east = connect(op.create_account("east", "supplier", "huadong-idc").token)
    m = MoneyClient(op)
    m.create_plan({"tenant": "*", "kind": "payg", "effective_from": clock.now().isoformat(),
                   "rates": [{"meter": "inference_input_tokens", "price": "2"}]})
    now = clock.now()
    node = "sh-h800-01"
    with pytest.raises(ApiError) as e:
        m.ingest([ev("a", now, model="H800", node=node), ev("b", now, model="H800", node=node,
                                                             supplier="xibu-compute")])
    assert e.value.status == 422 and "event 1: data.supplier 'xibu-compute' contradicts the owner" in e.value.message
    with pytest.raises(ApiError) as e:
        m.ingest([ev("c", now, model="H800", node="nowhere")])
    assert e.value.status == 422 and "unknown node 'nowhere'" in e.value.message
    assert m.usage() == []  # nothing of a refused batch was stored
    for body, status, words in [
        ({"supplier": "xibu-compute", "reason": "sold", "effective_from": (now - timedelta(hours=1)).isoformat()},
         422, "in the past"),
        ({"supplier": "xibu-compute", "reason": ""}, 422, "reason"),
        ({"supplier": "nobody", "reason": "sold"}, 422, "unknown supplier"),
        ({"supplier": "xibu-compute", "reason": "sold", "price": "1"}, 422, "price"),
    ]:
        with pytest.raises(ApiError) as e:
            op.request("POST", f"/v1/nodes/{node}/transfer", json=body)
        assert e.value.status == status and words in e.value.message, (body, e.value.message)
    with pytest.raises(ApiError) as e:
        east.transfer_node(node, "xibu-compute", "mine to give")
    assert e.value.status == 403
    assert [x.supplier for x in op.node_owners(node).history] == ["huadong-idc"]

    cut = now + timedelta(hours=2, seconds=1)
    moved = op.transfer_node(node, "xibu-compute", "sold to the west", cut)
    assert moved.supplier == "huadong-idc" and [x.end for x in moved.history] == [cut, None]
    assert node in {n.name for n in east.nodes()}
    clock.advance(hours=3)
    assert node not in {n.name for n in east.nodes()}  # the owner now follows the clock
    with pytest.raises(ApiError) as e:
        east.node_owners("nx-910b-01")
    assert e.value.status == 404
    assert [x.supplier for x in east.node_owners(node).history] == ["huadong-idc", "xibu-compute"]
    m.ingest([ev("before", cut - timedelta(seconds=1), model="H800", node=node),
              ev("after", cut, model="H800", node=node),
              ev("gw", clock.now() - timedelta(minutes=1), "inference_input_tokens", quantity="1000000")])
    clock.set(DEC1)
    inv = m.issue_invoice("acme", "2026-11")
    assert {(x.node, x.supplier) for x in inv.lines if x.node} == {(node, "huadong-idc"), (node, "xibu-compute")}
    st = [m.supplier_statement(supplier=s, period="2026-11") for s in ("huadong-idc", "xibu-compute")]
    assert st[0].gross == st[1].gross > 0
    by_node = sum((n.supplier_share + n.commission for s in st for n in s.nodes), Decimal(0))
    rev = m.revenue_report("2026-11")
    assert by_node == rev.supplier_gross and rev.operator_own == Decimal("2.00")
    assert rev.charges == rev.supplier_gross + rev.operator_own == sum((x.amount for x in inv.lines), Decimal(0))
    assert MoneyClient(t).billed_invoice(inv.id).total == inv.total

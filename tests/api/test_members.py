"""Organisation members over HTTP, on SQLite and PostgreSQL: what each member role may not do, that
a member sees exactly its organisation's objects (another organisation's answer 404), monthly spend
limits at order time (also when orders race, on PostgreSQL), and that removing a member stops its
token at once.

Demo fleet prices: an L20 is 2.60 an hour, so one L20 for 10 hours commits 26.00.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.errors import SuanliError
from suanli.service import accounts, members, orders
from suanli.service.platform import Platform
from suanli.store.money_tables import PackageRow
from suanli.store.tables import AccountRow, LeaseRow, OrderRow

L20_10H = {"form": "gpu", "quantity": 1, "models": ["L20"], "hours": 10}
A800_4H = {"form": "gpu", "quantity": 1, "models": ["A800"], "hours": 4}  # 6.50 x 4 = 26.00
H = dict[str, str]


class Org:
    def __init__(self, c: TestClient, op: H, name: str) -> None:
        r = c.post("/v1/accounts", json={"name": name, "role": "tenant"}, headers=op)
        assert r.status_code == 201, r.text
        self.c, self.name, self.admin = c, name, _h(r.json()["token"])

    def add(self, name: str, role: str, limit: str | None = None) -> H:
        body: dict[str, Any] = {"name": name, "role": role}
        if limit is not None:
            body["spend_limit"] = limit
        r = self.c.post("/v1/members", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        assert r.json()["organisation"] == self.name and r.json()["role"] == role
        return _h(r.json()["token"])


def _h(token: str) -> H:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, H]]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        yield c, _h(token)


def _refused(r: Any, status: int, *said: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    for s in said:
        assert s in err["message"], err["message"]
    return err


def _count(p: Platform, table: Any) -> int:
    with p.tx() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_member_roles_refuse_what_they_may_not_do(http: tuple[TestClient, H], demo: Platform) -> None:
    c, op = http
    acme = Org(c, op, "acme")
    dev, fin, view = acme.add("acme-dev", "developer"), acme.add("acme-fin", "finance"), acme.add("acme-view", "viewer")
    orders_before = _count(demo, OrderRow)
    # a viewer cannot order (nor ask for a quote), and nothing is written
    _refused(c.post("/v1/orders", json=L20_10H, headers=view), 403, "ordering needs the admin or developer member role",
             "'acme-view' is a viewer")
    _refused(c.post("/v1/quotes", json=L20_10H, headers=view), 403, "developer")
    assert _count(demo, OrderRow) == orders_before
    # a developer orders for the organisation: the order is acme's, seen by its admin and its viewer
    made = c.post("/v1/orders", json=L20_10H, headers=dev)
    assert made.status_code == 201, made.text
    lease = made.json()["lease_id"]
    assert made.json()["ordered_by"] == "acme-dev" and made.json()["tenant_id"] != ""
    listed = c.get("/v1/orders", headers=acme.admin).json()["items"]
    assert [o["ordered_by"] for o in listed if o["id"] == made.json()["id"]] == ["acme-dev"]
    for who in (acme.admin, view, fin):
        assert lease in {x["id"] for x in c.get("/v1/leases", headers=who).json()["items"]}
    # a finance member cannot run a job (nor end the lease, nor order)
    _refused(c.post(f"/v1/leases/{lease}/jobs", json={"command": ["echo", "hi"]}, headers=fin), 403,
             "running a job on a lease needs the admin or developer member role", "'acme-fin' is a finance")
    _refused(c.post(f"/v1/leases/{lease}/end", json={}, headers=fin), 403, "developer")
    _refused(c.post("/v1/orders", json=L20_10H, headers=fin), 403)
    # ... but reads the organisation's bills and wallet
    assert c.get("/v1/billing/invoices", headers=fin).status_code == 200
    assert c.get("/v1/wallet", headers=fin).json()["tenant"] == "acme"
    assert c.get("/v1/invoices/2026-11", headers=fin).status_code == 200
    # a developer cannot read invoices or the wallet, nor manage members
    _refused(c.get("/v1/billing/invoices", headers=dev), 403, "reading invoices needs the admin, finance or viewer "
             "member role")
    _refused(c.get("/v1/wallet", headers=dev), 403, "finance")
    _refused(c.get("/v1/members", headers=dev), 403, "needs the admin member role")
    _refused(c.post("/v1/members", json={"name": "sneaky", "role": "admin"}, headers=dev), 403, "admin member role")
    _refused(c.patch("/v1/members/acme-dev", json={"role": "admin"}, headers=dev), 403)
    _refused(c.delete("/v1/members/acme-fin", headers=view), 403)
    with demo.tx() as s:
        assert s.scalar(select(AccountRow).where(AccountRow.name == "sneaky")) is None
    # a viewer reads, but writes nothing
    assert c.get("/v1/usage", headers=view).status_code == 200
    _refused(c.post(f"/v1/leases/{lease}/extend", json={"hours": 1}, headers=view), 403, "viewer")
    # whoami says who and for which organisation
    assert c.get("/v1/me", headers=dev).json()["name"] == "acme-dev"


def test_a_member_sees_its_organisation_and_nothing_of_another(http: tuple[TestClient, H]) -> None:
    c, op = http
    acme, beta = Org(c, op, "acme"), Org(c, op, "beta")
    a_dev, b_dev = acme.add("acme-dev", "developer"), beta.add("beta-dev", "developer")
    b_view = beta.add("beta-view", "viewer")
    a_lease = c.post("/v1/orders", json=L20_10H, headers=acme.admin).json()["lease_id"]
    b = c.post("/v1/orders", json=L20_10H, headers=b_dev).json()
    # the member sees its organisation's lease (ordered by the admin), not another organisation's
    assert c.get(f"/v1/leases/{a_lease}", headers=a_dev).status_code == 200
    for path in (f"/v1/leases/{b['lease_id']}", f"/v1/leases/{b['lease_id']}/usage"):
        _refused(c.get(path, headers=a_dev), 404)
    _refused(c.post(f"/v1/orders/{b['id']}/cancel", headers=a_dev), 404)
    _refused(c.post(f"/v1/leases/{b['lease_id']}/end", json={}, headers=a_dev), 404)
    assert {x["id"] for x in c.get("/v1/leases", headers=a_dev).json()["items"]} == {a_lease}
    assert b["id"] not in c.get("/v1/orders", headers=a_dev).text
    # naming the other organisation (or its member) answers 404, as if it did not exist
    _refused(c.get("/v1/usage", params={"tenant": "beta"}, headers=a_dev), 404)
    _refused(c.get("/v1/billing/invoices", params={"tenant": "beta"}, headers=acme.add("acme-fin", "finance")), 404)
    _refused(c.get("/v1/members", params={"tenant": "beta"}, headers=acme.admin), 404)
    _refused(c.patch("/v1/members/beta-view", json={"role": "admin"}, headers=acme.admin), 404, "no member")
    _refused(c.delete("/v1/members/beta-view", headers=acme.admin), 404)
    assert c.get("/v1/leases", headers=b_view).status_code == 200  # beta's viewer still works
    # the operator lists any organisation's members
    listed = c.get("/v1/members", params={"tenant": "beta"}, headers=op).json()
    assert {m["name"] for m in listed} == {"beta-dev", "beta-view"}
    _refused(c.get("/v1/members", headers=op), 422, "name the tenant")
    _refused(c.get("/v1/members", params={"tenant": "beta-dev"}, headers=op), 422, "is a member of organisation 'beta'; name the organisation")


def test_a_member_over_its_limit_cannot_order_and_nothing_is_written(http: tuple[TestClient, H],
                                                                    demo: Platform) -> None:
    c, op = http
    acme = Org(c, op, "acme")
    dev = acme.add("acme-dev", "developer", limit="50")
    first = c.post("/v1/orders", json=L20_10H, headers=dev)
    assert first.status_code == 201, first.text
    listed = {m["name"]: m for m in c.get("/v1/members", headers=acme.admin).json()}
    assert listed["acme-dev"]["spent"] == "26.00" and listed["acme-dev"]["spend_limit"] == "50"
    me = c.get("/v1/me", headers=dev).json()  # a member reads its own limit and spend
    assert (me["spend_limit"], me["spent"], me["currency"], me["organisation"]) == ("50", "26.00", "CNY", "acme")
    assert c.get("/v1/me", headers=acme.admin).json()["spent"] is None
    before = (_count(demo, OrderRow), _count(demo, LeaseRow))
    err = _refused(c.post("/v1/orders", json=L20_10H, headers=dev), 409,
                   "over its monthly spend limit: limit 50 CNY, spent 26.00 CNY in 2026-11 (UTC), this costs 26.00 CNY")
    assert err["code"] == "spend_limit" and err["details"]["cost"] == "26.00"
    assert (_count(demo, OrderRow), _count(demo, LeaseRow)) == before
    # a smaller order fits; the organisation's own account has no limit
    assert c.post("/v1/orders", json=L20_10H | {"hours": 5}, headers=dev).status_code == 201  # 13.00: 39.00
    assert c.post("/v1/orders", json=L20_10H, headers=acme.admin).status_code == 201
    # an open-ended order commits until the end of the month: 2026-11-23 08:00 -> 12-01 is 184 h x 2.60
    _refused(c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["L20"]}, headers=dev), 409,
             "this costs 478.40 CNY")
    # the admin raises the limit; then it fits
    r = c.patch("/v1/members/acme-dev", json={"spend_limit": "600"}, headers=acme.admin)
    assert r.status_code == 200 and r.json()["spend_limit"] == "600", r.text
    assert c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["L20"]}, headers=dev).status_code == 201
    assert c.get("/v1/members", headers=acme.admin).json()[0]["spent"] == "517.40"
    # bad limits are refused with what is allowed
    for bad, said in ((-1, "must be >= 0"), ("1e12", "above the largest"), ("x", "not a number"), (1.5, "float")):
        _refused(c.patch("/v1/members/acme-dev", json={"spend_limit": bad}, headers=acme.admin), 422, said)
    # clearing the limit
    r = c.patch("/v1/members/acme-dev", json={"clear_limit": True}, headers=acme.admin)
    assert r.json()["spend_limit"] is None


def test_extending_a_lease_counts_against_the_limit(http: tuple[TestClient, H], demo: Platform) -> None:
    """Ordering one hour and extending it by a thousand is spend too: the added time's quoted cost."""
    c, op = http
    acme = Org(c, op, "acme")
    dev = acme.add("acme-dev", "developer", limit="40")
    lease = c.post("/v1/orders", json=L20_10H | {"hours": 1}, headers=dev).json()["lease_id"]  # 2.60
    r = c.post(f"/v1/leases/{lease}/extend", json={"hours": 10}, headers=dev)  # 26.00: 28.60
    assert r.status_code == 200, r.text
    with demo.tx() as s:
        end_before = s.scalar(select(LeaseRow.end_at).where(LeaseRow.id == lease))
    _refused(c.post(f"/v1/leases/{lease}/extend", json={"hours": 10}, headers=dev), 409,
             "extending lease", "spent 28.60 CNY", "this costs 26.00 CNY")
    with demo.tx() as s:
        assert s.scalar(select(LeaseRow.end_at).where(LeaseRow.id == lease)) == end_before
    assert c.get("/v1/members", headers=acme.admin).json()[0]["spent"] == "28.60"
    assert c.post(f"/v1/leases/{lease}/extend", json={"hours": 4}, headers=dev).status_code == 200  # 10.40: 39.00
    # the organisation's admin extends without a limit
    assert c.post(f"/v1/leases/{lease}/extend", json={"hours": 100}, headers=acme.admin).status_code == 200
    assert c.get("/v1/members", headers=acme.admin).json()[0]["spent"] == "39.00"


def test_cancelling_a_reservation_gives_its_commitment_back(http: tuple[TestClient, H]) -> None:
    c, op = http
    acme = Org(c, op, "acme")
    dev = acme.add("acme-dev", "developer", limit="30")
    later = L20_10H | {"start": "2026-11-24T08:00:00Z"}
    order = c.post("/v1/orders", json=later, headers=dev).json()
    _refused(c.post("/v1/orders", json=later, headers=dev), 409, "spent 26.00 CNY")
    assert c.post(f"/v1/orders/{order['id']}/cancel", headers=dev).status_code == 200
    assert c.get("/v1/members", headers=acme.admin).json()[0]["spent"] == "0.00"
    assert c.post("/v1/orders", json=later, headers=dev).status_code == 201


def test_usage_reported_for_a_member_is_its_organisations(http: tuple[TestClient, H]) -> None:
    """A gateway that names the member as the subject bills the organisation (members have no invoices)."""
    c, op = http
    acme = Org(c, op, "acme")
    acme.add("acme-dev", "developer")
    event = {"id": "e1", "source": "gw", "type": "inference_input_tokens", "subject": "acme-dev",
             "time": "2026-11-23T07:00:00Z", "data": {"quantity": "1000000"}}
    assert c.post("/v1/usage/events", json=event, headers=op).status_code == 202
    rows = c.get("/v1/usage", headers=acme.admin).json()
    assert [r["quantity"] for r in rows if r["meter"] == "inference_input_tokens"] == ["1000000"], rows
    # the operator names organisations, not members, for money
    for path, body in (("/v1/plans", {"tenant": "acme-dev", "kind": "payg", "effective_from": "2026-12-01T00:00:00Z"}),
                       ("/v1/wallet/top-ups", {"tenant": "acme-dev", "amount": "5"})):
        _refused(c.post(path, json=body, headers=op), 422, "is a member of organisation 'acme'; name the organisation")


def test_a_package_purchase_counts_against_the_limit(http: tuple[TestClient, H], demo: Platform) -> None:
    c, op = http
    assert c.post("/v1/package-products", json={"name": "l20-5h", "meter": "device_seconds", "model": "L20",
                                                "quantity": "5", "price": "10.00", "valid_days": 30},
                  headers=op).status_code == 201
    acme = Org(c, op, "acme")
    fin = acme.add("acme-fin", "finance", limit="25")
    assert c.post("/v1/packages", json={"product": "l20-5h", "count": 2}, headers=fin).status_code == 201
    _refused(c.post("/v1/packages", json={"product": "l20-5h"}, headers=fin), 409, "spent 20.00 CNY", "costs 10.00")
    with demo.tx() as s:
        assert s.scalar(select(func.count()).select_from(PackageRow)) == 1
    packages = c.get("/v1/packages", headers=acme.admin).json()
    assert len(packages) == 1 and packages[0]["tenant"] == "acme"


def test_a_removed_member_is_stopped_at_once(http: tuple[TestClient, H]) -> None:
    c, op = http
    acme = Org(c, op, "acme")
    dev = acme.add("acme-dev", "developer")
    assert c.get("/v1/me", headers=dev).status_code == 200
    gone = c.delete("/v1/members/acme-dev", headers=acme.admin)
    assert gone.status_code == 200 and gone.json()["name"] == "acme-dev"
    _refused(c.get("/v1/me", headers=dev), 401)
    _refused(c.post("/v1/orders", json=L20_10H, headers=dev), 401)
    assert c.get("/v1/members", headers=acme.admin).json() == []
    _refused(c.delete("/v1/members/acme-dev", headers=acme.admin), 404)
    # an operator-issued fresh token for a removed member does not bring it back
    extra = c.post("/v1/accounts/acme-dev/tokens", headers=op)
    if extra.status_code == 201:
        _refused(c.get("/v1/me", headers=_h(extra.json()["token"])), 401)


def test_adding_members_refuses_bad_input(http: tuple[TestClient, H]) -> None:
    c, op = http
    acme = Org(c, op, "acme")
    acme.add("acme-dev", "developer")
    for body, status, said in (
        ({"name": "x", "role": "owner"}, 422, "allowed: admin, developer, finance, viewer"),
        ({"name": "bad name", "role": "viewer"}, 422, "characters of letters"),
        ({"name": "acme-dev", "role": "viewer"}, 409, "already exists"),
        ({"name": "y", "role": "viewer", "spend_limit": 3.5}, 422, "float"),
        ({"name": "z", "role": "viewer", "price": "1"}, 422, "sets no price"),
    ):
        _refused(c.post("/v1/members", json=body, headers=acme.admin), status, said)
    # an admin member manages members too
    adm = acme.add("acme-adm", "admin")
    assert c.post("/v1/members", json={"name": "acme-new", "role": "viewer"}, headers=adm).status_code == 201


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_racing_orders_of_one_member_cannot_both_pass_the_limit(demo: Platform, operator: Principal) -> None:
    """Eight orders of 26.00 (on two models, so that they do not just queue for one device) race for a
    limit of 60: exactly two are placed (the member's row is locked by each order's transaction)."""
    org, _ = accounts.create_account(demo, operator, "acme", "tenant")
    dev, token = members.add_member(demo, org, "acme-dev", "developer", "60")
    actor = accounts.authenticate(demo, token)
    assert actor.organisation == org.account_id

    def order(_i: int) -> str:
        try:
            orders.create_order(demo, actor, dict(L20_10H) if _i % 2 else dict(A800_4H))
            return "placed"
        except SuanliError as e:
            return e.code

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(order, range(8)))
    assert outcomes.count("placed") == 2, outcomes
    assert outcomes.count("spend_limit") == 6, outcomes
    with demo.tx() as s:
        committed = list(s.scalars(select(OrderRow.committed).where(OrderRow.ordered_by == dev.account_id)))
    assert sorted(committed) == [Decimal("26.00"), Decimal("26.00")]

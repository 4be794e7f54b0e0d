"""API tokens attacked over HTTP (SQLite and PostgreSQL): revoked and expired tokens stop at once, a
read token writes nothing, a lease token sees one lease only, nobody lists or revokes another
account's tokens, and no token makes a wider one. Then what a user does: list (no secrets), create
with a scope and an expiry, revoke, last use recorded at most once a minute."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.drivers.local import LocalDriver
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.store import tokens as token_store
from suanli.testing.clock import FakeClock

H = dict[str, str]


def bearer(token: str) -> H:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[tuple[TestClient, H, H]]:
    op = bearer(accounts.issue_token(demo, operator, operator.name))
    with TestClient(create_app(demo)) as c:
        r = c.post("/v1/accounts", json={"name": "acme", "role": "tenant"}, headers=op)
        yield c, op, bearer(r.json()["token"])


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def make(c: TestClient, who: H, **body: Any) -> dict[str, Any]:
    out: dict[str, Any] = ok(c.post("/v1/tokens", json=body, headers=who), 201)
    return out


def test_a_revoked_token_is_refused_at_once(http: tuple[TestClient, H, H]) -> None:
    c, op, t = http
    made = make(c, t, label="laptop")
    mine = bearer(made["token"])
    assert ok(c.get("/v1/me", headers=mine))["name"] == "acme"
    revoked = ok(c.post(f"/v1/tokens/{made['id']}/revoke", headers=t))
    assert revoked["state"] == "revoked" and revoked["revoked_at"]
    r = c.get("/v1/me", headers=mine)
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    assert c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["H800"]}, headers=mine).status_code == 401
    # revoking again keeps the first time; the tenant's other token still works
    assert ok(c.post(f"/v1/tokens/{made['id']}/revoke", headers=t))["revoked_at"] == revoked["revoked_at"]
    assert ok(c.get("/v1/me", headers=t))["name"] == "acme"
    # a token revokes itself; the operator revokes anyone's
    own = make(c, t)
    ok(c.post(f"/v1/tokens/{own['id']}/revoke", headers=bearer(own["token"])))
    assert c.get("/v1/me", headers=bearer(own["token"])).status_code == 401
    theirs = make(c, t)
    ok(c.post(f"/v1/tokens/{theirs['id']}/revoke", headers=op))
    assert c.get("/v1/me", headers=bearer(theirs["token"])).status_code == 401


def test_an_expired_token_is_refused(http: tuple[TestClient, H, H], clock: FakeClock) -> None:
    c, _, t = http
    hour = make(c, t, expires_in_s=3600)
    at = make(c, t, expires_at=(clock.now() + timedelta(days=1)).isoformat())
    assert hour["expires_at"] and at["expires_at"]
    clock.advance(3599)
    ok(c.get("/v1/me", headers=bearer(hour["token"])))
    clock.advance(1)
    r = c.get("/v1/me", headers=bearer(hour["token"]))
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    listed = {x["id"]: x["state"] for x in ok(c.get("/v1/tokens", headers=t))}
    assert listed[hour["id"]] == "expired" and listed[at["id"]] == "active"
    clock.advance(days=1)
    assert c.get("/v1/leases", headers=bearer(at["token"])).status_code == 401


def test_a_read_token_changes_nothing(http: tuple[TestClient, H, H]) -> None:
    c, op, t = http
    lease = ok(c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["H800"]}, headers=t), 201)
    read = bearer(make(c, t, scope="read")["token"])
    op_read = bearer(make(c, op, scope="read")["token"])
    assert ok(c.get("/v1/leases", headers=read))["items"][0]["id"] == lease["lease_id"]
    ok(c.get("/v1/wallet", headers=read))
    ok(c.get("/v1/accounts", headers=op_read))
    for who, method, url, body in (
            (read, "POST", "/v1/orders", {"form": "gpu", "quantity": 1, "models": ["H800"]}),
            (read, "POST", f"/v1/leases/{lease['lease_id']}/end", None),
            (read, "POST", f"/v1/leases/{lease['lease_id']}/jobs", {"command": ["true"]}),
            (read, "POST", "/v1/tokens", {"scope": "read"}),
            (read, "POST", "/v1/tokens", {"scope": "full"}),
            (op_read, "POST", "/v1/accounts", {"name": "mallory", "role": "operator"}),
            (op_read, "POST", "/v1/accounts/acme/tokens", None),
            (op_read, "POST", "/v1/prices", {"model": "H800", "amount": "1", "unit": "device_hour"})):
        r = c.request(method, url, json=body, headers=who)
        assert r.status_code == 403, (url, r.text)
        assert "read-only token" in r.json()["error"]["message"]
    assert ok(c.get(f"/v1/leases/{lease['lease_id']}", headers=t))["state"] == "active"
    assert sorted(a["name"] for a in ok(c.get("/v1/accounts", headers=op))) == ["acme", "operator"]
    assert len(ok(c.get("/v1/tokens", headers=t))) == 2  # its first token and the read one


def test_a_lease_token_sees_one_lease_only(http: tuple[TestClient, H, H], demo: Platform) -> None:
    c, _op, t = http
    mine = ok(c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["A800"]}, headers=t), 201)
    other = ok(c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["A800"]}, headers=t), 201)
    lease, elsewhere = mine["lease_id"], other["lease_id"]
    other_job = ok(c.post(f"/v1/leases/{elsewhere}/jobs", json={"command": ["true"]}, headers=t), 201)
    made = make(c, t, scope="lease", lease=lease, label="job credentials")
    assert made["scope"] == "lease" and made["lease"] == lease
    lt = bearer(made["token"])
    # its lease: read it, run, read and cancel jobs, read usage
    assert ok(c.get(f"/v1/leases/{lease}", headers=lt))["id"] == lease
    assert [x["id"] for x in ok(c.get("/v1/leases", headers=lt))["items"]] == [lease]
    job = ok(c.post(f"/v1/leases/{lease}/jobs", json={"command": ["true"]}, headers=lt), 201)
    assert isinstance(demo.driver, LocalDriver)
    demo.driver.wait(job["driver_job_id"], 30)
    assert [j["id"] for j in ok(c.get("/v1/jobs", headers=lt))["items"]] == [job["id"]]
    ok(c.get(f"/v1/jobs/{job['id']}", headers=lt))
    ok(c.get(f"/v1/jobs/{job['id']}/logs", headers=lt))
    ok(c.post(f"/v1/jobs/{job['id']}/cancel", headers=lt))
    assert ok(c.get(f"/v1/leases/{lease}/usage", headers=lt))["lease_id"] == lease
    # the tenant's other lease and its job: 404, as if they did not exist
    for method, url, params in (("GET", f"/v1/leases/{elsewhere}", None), ("GET", "/v1/jobs", {"lease_id": elsewhere}),
                                ("POST", f"/v1/leases/{elsewhere}/jobs", None),
                                ("GET", f"/v1/jobs/{other_job['id']}", None),
                                ("GET", f"/v1/jobs/{other_job['id']}/logs", None),
                                ("POST", f"/v1/jobs/{other_job['id']}/cancel", None),
                                ("GET", f"/v1/leases/{elsewhere}/usage", None)):
        body = {"command": ["true"]} if url.endswith("/jobs") and method == "POST" else None
        r = c.request(method, url, params=params, json=body, headers=lt)
        assert r.status_code == 404 and "visible to you" in r.json()["error"]["message"], (method, url, r.text)
    # everything else: 403 before anything is read (orders, ending or extending its lease, money, tokens)
    for method, url, body in (("GET", "/v1/orders", None), ("POST", f"/v1/orders/{mine['id']}/cancel", None),
                              ("POST", f"/v1/leases/{lease}/end", None),
                              ("POST", f"/v1/leases/{lease}/extend", {"hours": 1}),
                              ("GET", "/v1/wallet", None), ("GET", "/v1/usage", None), ("GET", "/v1/tokens", None),
                              ("POST", "/v1/tokens", {"scope": "lease", "lease": lease}),
                              ("POST", "/v1/orders", {"form": "gpu", "quantity": 1, "models": ["A800"]})):
        r = c.request(method, url, json=body, headers=lt)
        assert r.status_code == 403, (method, url, r.text)
        assert "lease token" in r.json()["error"]["message"]
    assert ok(c.get(f"/v1/leases/{lease}", headers=t))["state"] == "active"


def test_a_tenant_cannot_list_or_revoke_another_accounts_tokens(http: tuple[TestClient, H, H]) -> None:
    c, op, t = http
    beta = bearer(ok(c.post("/v1/accounts", json={"name": "beta", "role": "tenant"}, headers=op), 201)["token"])
    acme_tokens = ok(c.get("/v1/tokens", headers=t))
    assert [x["account"] for x in acme_tokens] == ["acme"]
    target = acme_tokens[0]["id"]
    r = c.post(f"/v1/tokens/{target}/revoke", headers=beta)
    assert r.status_code == 404 and "acme" not in r.text
    assert c.post("/v1/tokens/999999/revoke", headers=beta).status_code == 404  # the same answer as a missing id
    assert c.get("/v1/tokens", params={"account": "acme"}, headers=beta).status_code == 404
    assert c.get("/v1/tokens", params={"all": "true"}, headers=beta).status_code == 403
    ok(c.get("/v1/me", headers=t))  # still works
    # the operator: any account's, or all
    assert {x["account"] for x in ok(c.get("/v1/tokens", params={"account": "acme"}, headers=op))} == {"acme"}
    assert {x["account"] for x in ok(c.get("/v1/tokens", params={"all": "true"}, headers=op))} >= {
        "operator", "acme", "beta"}


def test_no_token_makes_a_wider_one(http: tuple[TestClient, H, H], clock: FakeClock) -> None:
    c, op, t = http
    lease = ok(c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["H800"]}, headers=t), 201)["lease_id"]
    # an expiring token cannot make one that outlives it; without an expiry the new one gets its expiry
    day = make(c, t, expires_in_s=86_400)
    short = bearer(day["token"])
    r = c.post("/v1/tokens", json={"expires_in_s": 2 * 86_400}, headers=short)
    assert r.status_code == 422 and "cannot outlive" in r.json()["error"]["message"]
    assert make(c, short)["expires_at"] == day["expires_at"]
    # read and lease tokens make nothing (a token is a change)
    for scope, extra in (("read", {}), ("lease", {"lease": lease})):
        narrow = bearer(make(c, t, scope=scope, **extra)["token"])
        for want in ({"scope": "full"}, {"scope": "read"}, {"scope": "lease", "lease": lease}):
            assert c.post("/v1/tokens", json=want, headers=narrow).status_code == 403
    # a lease token only for the tenant's own live lease
    beta = bearer(ok(c.post("/v1/accounts", json={"name": "beta", "role": "tenant"}, headers=op), 201)["token"])
    assert c.post("/v1/tokens", json={"scope": "lease", "lease": lease}, headers=beta).status_code == 404
    r = c.post("/v1/tokens", json={"scope": "lease", "lease": lease}, headers=op)
    assert r.status_code == 422 and "tenant's own lease" in r.json()["error"]["message"]
    ok(c.post(f"/v1/leases/{lease}/end", headers=t))
    r = c.post("/v1/tokens", json={"scope": "lease", "lease": lease}, headers=t)
    assert r.status_code == 409 and "live" in r.json()["error"]["message"]
    # the operator issues another account's token with the same options (and the old bodiless call works)
    issued = ok(c.post("/v1/accounts/acme/tokens", json={"scope": "read", "label": "auditor"}, headers=op), 201)
    assert issued["scope"] == "read" and issued["account"] == "acme" and issued["token"].startswith("sl_")
    assert c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["H800"]},
                  headers=bearer(issued["token"])).status_code == 403
    assert ok(c.post("/v1/accounts/acme/tokens", headers=op), 201)["scope"] == "full"


@pytest.mark.parametrize("body, says", [
    ({"scope": "admin"}, "allowed: full, read, lease"),
    ({"scope": "lease"}, "needs the lease"),
    ({"scope": "read", "lease": "lse_x"}, "only with scope lease"),
    ({"scope": "lease", "lease": "ls_a\u0000b"}, "lease"),  # a NUL reached PostgreSQL: 500
    ({"scope": "lease", "lease": "x" * 5000}, "lease"),
    ({"label": "a\x1b[31mred"}, "control"),
    ({"label": "\u202eevil"}, "control"),
    ({"label": "x" * 81}, "80"),
    ({"expires_in_s": True}, "expires_in_s"),
    ({"expires_in_s": 1e30}, "expires_in_s"),
    ({"expires_in_s": 10}, "expires_in_s"),
    ({"expires_at": "2027-01-01T00:00:00"}, "time zone"),
    ({"expires_at": "9999-12-31T00:00:00Z"}, "within"),
    ({"expires_at": "2000-01-01T00:00:00Z"}, "after now"),
    ({"expires_at": "2027-01-01T00:00:00Z", "expires_in_s": 3600}, "not both"),
    ({"secret": "sl_mine"}, "secret"),
])
def test_bad_token_options_are_refused_and_write_nothing(http: tuple[TestClient, H, H], body: dict[str, Any],
                                                         says: str) -> None:
    c, _, t = http
    before = ok(c.get("/v1/tokens", headers=t))
    r = c.post("/v1/tokens", json=body, headers=t)
    assert r.status_code == 422, r.text
    assert says in r.text
    assert len(ok(c.get("/v1/tokens", headers=t))) == len(before)


def test_bad_token_ids(http: tuple[TestClient, H, H]) -> None:
    c, op, _ = http
    for bad in ("0", "-1", "abc", str(2**63), "1" * 40):
        assert c.post(f"/v1/tokens/{bad}/revoke", headers=op).status_code == 422, bad
    assert c.post("/v1/tokens/424242/revoke", headers=op).status_code == 404


def test_list_shows_no_secret_and_last_use_to_the_minute(http: tuple[TestClient, H, H], clock: FakeClock,
                                                         demo: Platform) -> None:
    c, op, t = http
    made = make(c, t, label="ci runner", expires_in_s=7 * 86_400)
    listed = next(x for x in ok(c.get("/v1/tokens", headers=t)) if x["id"] == made["id"])
    assert "token" not in listed and made["token"] not in c.get("/v1/tokens", headers=t).text
    assert made["token"].startswith(listed["prefix"]) and listed["label"] == "ci runner"
    assert listed["last_used_at"] is None and listed["scope"] == "full" and listed["state"] == "active"

    def last_used() -> str | None:
        rows = ok(c.get("/v1/tokens", headers=bearer(made["token"])))
        out: str | None = next(x for x in rows if x["id"] == made["id"])["last_used_at"]
        return out

    first = last_used()  # this request itself is the first use
    assert first is not None
    clock.advance(59)
    assert last_used() == first  # a read within the minute writes nothing
    clock.advance(1)
    later = last_used()
    assert later is not None and later > first

    def stored() -> datetime | None:
        with demo.tx() as s:
            return token_store.get(s, made["id"], account_id=None).last_used_at

    # the uses were noted in memory, not written by the reads; the background pass writes the last one
    assert stored() is None
    assert ok(c.post("/v1/engine/reconcile", headers=op))["token_uses"] >= 1
    assert stored() == datetime.fromisoformat(later.replace("Z", "+00:00"))
    assert last_used() == later

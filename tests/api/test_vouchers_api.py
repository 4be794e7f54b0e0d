"""Voucher routes over HTTP on SQLite and PostgreSQL: every bad request is a 4xx that names the rule
or field and what is allowed, and writes nothing; a contract claimed by two requests at once is
claimed once (the UNIQUE key decides, the loser gets a 409)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

Http = tuple[TestClient, dict[str, str]]
WINDOW = {"valid_from": "2026-11-01T00:00:00Z", "valid_to": "2027-01-01T00:00:00Z"}


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[Http]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        yield c, {"Authorization": f"Bearer {token}"}


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code < 300, r.text
    out: dict[str, Any] = r.json()
    return out


def _setup(c: TestClient, op: dict[str, str]) -> dict[str, str]:
    token = _ok(c.post("/v1/accounts", json={"name": "acme", "role": "tenant"}, headers=op))["token"]
    plan = _ok(c.post("/v1/plans", json={"tenant": "acme", "kind": "payg", "paid": True,
                                         "effective_from": "2026-11-01T00:00:00Z",
                                         "effective_to": "2027-10-31T00:00:00Z"}, headers=op))["id"]
    _ok(c.post("/v1/vouchers/contracts", json={"plan": plan, "signed_on": "2026-10-15", "value": "5000"}, headers=op))
    v1 = _ok(c.post("/v1/vouchers", json={"tenant": "acme", "issuer": "beijing-city", "scheme": "beijing",
                                          "percent": "0.2", "cap": "100", **WINDOW}, headers=op))["id"]
    v2 = _ok(c.post("/v1/vouchers", json={"tenant": "acme", "issuer": "beijing-city", "scheme": "beijing",
                                          "percent": "0.1", "cap": "100", **WINDOW}, headers=op))["id"]
    return {"plan": plan, "v1": v1, "v2": v2, "token": token}


def _state(c: TestClient, op: dict[str, str]) -> tuple[str, str, str, str]:
    return (c.get("/v1/vouchers", params={"tenant": "acme"}, headers=op).text,
            c.get("/v1/vouchers/contracts", params={"tenant": "acme"}, headers=op).text,
            c.get("/v1/vouchers/approved-suppliers", headers=op).text,
            c.get("/v1/ledger/check", headers=op).text)


def test_bad_voucher_requests_are_4xx_naming_what_is_allowed_and_write_nothing(http: Http) -> None:
    c, op = http
    ids = _setup(c, op)
    before = _state(c, op)
    bad: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("POST", "/v1/vouchers", {"tenant": "acme", "issuer": "x", "scheme": "tianjin", "percent": "0.1",
                                  "cap": "1", **WINDOW}, 422, "allowed: custom, beijing, shanghai, shenzhen"),
        ("POST", "/v1/vouchers", {"tenant": "acme", "issuer": "x", "scheme": "beijing", "percent": "0.3",
                                  "cap": "1", **WINDOW}, 422, "rule beijing.max_percent"),
        ("POST", "/v1/vouchers", {"tenant": "acme", "issuer": "x", "scheme": "shenzhen", "percent": "0.5",
                                  "cap": "99999999", **WINDOW}, 422, "rule shenzhen.firm_annual_cap"),
        ("POST", "/v1/vouchers", {"tenant": "acme", "issuer": "x", "percent": "-0.1", "cap": "1", **WINDOW}, 422,
         "percent must be a fraction"),
        ("POST", "/v1/vouchers", {"tenant": "acme", "issuer": "x", "percent": 0.1, "cap": "1", **WINDOW}, 422,
         "not 0.1 (a float is never"),
        ("POST", "/v1/vouchers/contracts", {"plan": ids["plan"], "signed_on": "2026-10-15", "value": 5.5}, 422,
         "a float is never"),
        ("POST", "/v1/vouchers", {"tenant": "acme", "issuer": "x", "percent": "0.1", "cap": "1e12", **WINDOW}, 422,
         "cap"),
        ("POST", "/v1/vouchers/contracts", {"plan": ids["plan"], "signed_on": "2026-10-15", "value": "-5"}, 422,
         "value must be > 0"),
        ("POST", "/v1/vouchers/contracts", {"plan": ids["plan"], "signed_on": "yesterday", "value": "5"}, 422,
         "signed_on"),
        ("POST", "/v1/vouchers/contracts", {"plan": "pl_nope", "signed_on": "2026-10-15", "value": "5"}, 422,
         "no price plan"),
        ("POST", "/v1/vouchers/approved-suppliers", {"scheme": "tianjin", "supplier": "huadong-idc"}, 422,
         "unknown voucher scheme"),
        ("POST", "/v1/vouchers/approved-suppliers", {"scheme": "beijing", "supplier": "nobody"}, 422,
         "unknown supplier"),
        ("PUT", "/v1/vouchers/firms/nobody", {"startup": True}, 404, "nobody"),
        ("POST", f"/v1/vouchers/{ids['v1']}/claims", {"contract": "pl_nope"}, 422, "rule no_contract_facts"),
        ("POST", "/v1/vouchers/vc_nope/claims", {"contract": ids["plan"]}, 404, "no voucher"),
        ("POST", f"/v1/vouchers/{ids['v1']}/redemptions", {"invoice": "inv_nope", "evidence": "dn-1"}, 422,
         "rule claim_first"),
        ("POST", f"/v1/vouchers/{ids['v1']}/redemptions", {"invoice": "inv_nope", "evidence": ""}, 422,
         "rule delivery_evidence"),
        ("POST", f"/v1/vouchers/{ids['v1']}/redemptions", {"invoice": "inv_nope", "evidence": "x" * 501}, 422,
         "too long (501 characters); allowed: at most 500 characters"),
        ("POST", f"/v1/vouchers/{ids['v1']}/claims", {"contract": ids["plan"], "price": "0"}, 422, "price"),
    ]
    for method, url, body, status, words in bad:
        r = c.request(method, url, json=body, headers=op)
        assert r.status_code == status and words in r.text, (url, body, r.status_code, r.text)
        assert _state(c, op) == before, (url, body)


def test_two_claims_of_one_contract_at_once_one_wins_the_other_is_a_409(http: Http) -> None:
    c, op = http
    ids = _setup(c, op)
    statuses: list[int] = []
    go = threading.Barrier(2)

    def claim(voucher: str) -> None:
        go.wait()
        statuses.append(c.post(f"/v1/vouchers/{voucher}/claims", json={"contract": ids["plan"]},
                               headers=op).status_code)

    threads = [threading.Thread(target=claim, args=(v,)) for v in (ids["v1"], ids["v2"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409]
    claims = [x for v in c.get("/v1/vouchers", params={"tenant": "acme"}, headers=op).json() for x in v["claims"]]
    assert [x["contract"] for x in claims] == [ids["plan"]]


def test_two_redemptions_of_one_invoice_at_once_pay_it_once(http: Http, clock: FakeClock) -> None:
    c, op = http
    ids = _setup(c, op)
    _ok(c.post(f"/v1/vouchers/{ids['v1']}/claims", json={"contract": ids["plan"]}, headers=op))
    _ok(c.post("/v1/vouchers/approved-suppliers", json={"scheme": "beijing", "supplier": "huadong-idc"}, headers=op))
    tenant = {"Authorization": f"Bearer {ids['token']}"}
    order = _ok(c.post("/v1/orders", json={"form": "gpu", "quantity": 8, "models": ["L20"]}, headers=tenant))
    clock.advance(hours=5)
    _ok(c.post(f"/v1/leases/{order['lease_id']}/end", headers=tenant))
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    inv = _ok(c.post("/v1/billing/invoices", json={"tenant": "acme", "period": "2026-11"}, headers=op))
    statuses: list[int] = []
    go = threading.Barrier(2)

    def redeem(evidence: str) -> None:
        go.wait()
        statuses.append(c.post(f"/v1/vouchers/{ids['v1']}/redemptions", json={"invoice": inv["id"],
                                                                              "evidence": evidence},
                               headers=op).status_code)

    threads = [threading.Thread(target=redeem, args=(f"dn-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 422]  # the second finds the line paid (rule already_subsidised)
    (v,) = [x for x in c.get("/v1/vouchers", params={"tenant": "acme"}, headers=op).json() if x["id"] == ids["v1"]]
    assert v["used"] == "20.8" and len(v["claims"][0]["redemptions"]) == 1
    check = c.get("/v1/ledger/check", headers=op).json()
    assert check["sum"] == "0" and check["accounts"]["voucher:beijing-city"] == "20.8"

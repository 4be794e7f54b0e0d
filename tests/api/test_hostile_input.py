"""Hostile input over HTTP (issue 11, "No 5xx from any input"): every request the fuzzer and the
issue found, and the rest of their class read off each schema, answers a 4xx whose message says
what is allowed, and writes nothing."""

from __future__ import annotations

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

H = dict[str, str]


class Api:
    def __init__(self, c: TestClient, op: H, t: H) -> None:
        self.c, self.op, self.t = c, op, t

    def refused(self, method: str, path: str, who: H, body: Any = None, *, says: str = "", status: int = 422,
                params: dict[str, Any] | None = None) -> str:
        """The request is a 4xx (``status``) in the error format; returns its message."""
        r = self.c.request(method, path, headers=who, json=body, params=params)
        assert r.status_code == status, (method, path, body, r.status_code, r.text[:500])
        message: str = r.json()["error"]["message"]
        assert says in message, (says, message)
        return message


@pytest.fixture
def api(demo: Platform, operator: Principal) -> Iterator[Api]:
    op = {"Authorization": f"Bearer {accounts.issue_token(demo, operator, operator.name)}"}
    with TestClient(create_app(demo), raise_server_exceptions=False) as c:
        r = c.post("/v1/accounts", json={"name": "acme", "role": "tenant"}, headers=op)
        assert r.status_code == 201, r.text
        yield Api(c, op, {"Authorization": f"Bearer {r.json()['token']}"})


BIG = "9223372036854775808"
CONTROL = ["a\x00b", "a\x1b[31mred", "invoice\u202egnp.exe", "bell\x07"]
"""NUL, ESC, a bidi override (RLO), BEL."""


# --- pages: offset and limit are bounded on every list ---------------------------------------------

@pytest.mark.parametrize("path", ["/v1/leases", "/v1/orders", "/v1/jobs"])
@pytest.mark.parametrize(("params", "says"), [
    ({"offset": BIG}, "less than or equal to 1000000000"),
    ({"offset": "-1"}, "greater than or equal to 0"),
    ({"offset": "1e3"}, "offset"),
    ({"limit": "0"}, "greater than or equal to 1"),
    ({"limit": "501"}, "less than or equal to 500"),
    ({"limit": BIG}, "less than or equal to 500"),
])
def test_a_page_out_of_bounds_is_a_422(api: Api, path: str, params: dict[str, str], says: str) -> None:
    api.refused("GET", path, api.t, params=params, says=says)


# --- orders ------------------------------------------------------------------------------------------

GPU = {"form": "gpu", "quantity": 1, "models": ["H800"]}


@pytest.mark.parametrize(("change", "says"), [
    ({"hours": "1e16"}, "hours, a decimal string or integer above 0 to 87600"),
    ({"hours": "NaN"}, "NaN and Infinity are not numbers"),
    ({"hours": "Infinity"}, "NaN and Infinity are not numbers"),
    ({"hours": "1e999"}, "above 0 to 87600"),
    ({"hours": "-0"}, "above 0 to 87600"),
    ({"hours": "-5"}, "above 0 to 87600"),
    ({"hours": ""}, "is not a number"),
    ({"hours": 1.5}, "a float is never exact"),
    ({"hours": True}, "a boolean is not a number"),
    ({"hours": "1" * 10_000}, "at most 100 characters"),
    ({"quantity": True}, "give a whole number"),
    ({"quantity": 1.0}, "give a whole number"),
    ({"quantity": "1"}, "give a whole number"),
    ({"quantity": 0}, "from 1 to 10000"),
    ({"quantity": int(BIG)}, "from 1 to 10000"),
    ({"start": "2026-12-01T00:00:00"}, "has no time zone"),
    ({"start": "9999-12-31T00:00:00Z"}, "from 2000-01-01 to 2100-01-01"),
    ({"end": "9999-12-31T00:00:00+00:00"}, "from 2000-01-01 to 2100-01-01"),
    ({"start": 1_800_000_000}, "give a string"),
    ({"start": "next tuesday"}, "is not a date-time"),
    ({"models": ["H800\x00"]}, "U+0000"),
    ({"models": ["x" * 5000]}, "too long (5000 characters)"),
    ({"models": ["H800"] * 10_001}, "at most"),
    ({"form": "gpu\x1b"}, "U+001B"),
    ({"topology": "x" * 5000}, "too long"),
    ({"p": "NaN"}, "NaN and Infinity are not numbers"),
    ({"share_pct": 1000}, "from 1 to 100"),
    ({"memory_mib": int(BIG)}, "MiB"),
    ({"min_memory_gib": -1}, "GiB"),
])
def test_a_hostile_order_is_a_422_and_writes_nothing(api: Api, change: dict[str, Any], says: str) -> None:
    api.refused("POST", "/v1/orders", api.t, {**GPU, **change}, says=says)
    api.refused("POST", "/v1/quotes", api.t, {**GPU, **change}, says=says)
    assert api.c.get("/v1/orders", headers=api.t).json()["items"] == []
    assert api.c.get("/v1/leases", headers=api.t).json()["items"] == []


def test_a_reservation_too_far_ahead_holds_no_device(api: Api) -> None:
    api.refused("POST", "/v1/orders", api.t, {**GPU, "start": "2099-12-31T00:00:00Z", "hours": "1"},
                says="too far ahead; a reservation starts at most 366 days from now")
    assert api.c.get("/v1/leases", headers=api.t).json()["items"] == []


def test_an_extension_is_bounded(api: Api) -> None:
    lease = api.c.post("/v1/orders", json={**GPU, "hours": "2"}, headers=api.t).json()["lease_id"]
    for body, says in [({"hours": "1e16"}, "above 0 to 87600"), ({"hours": 2.5}, "a float is never exact"),
                       ({"end": "2026-12-01T00:00:00"}, "has no time zone"),
                       ({"end": "9999-01-01T00:00:00Z"}, "2100-01-01")]:
        api.refused("POST", f"/v1/leases/{lease}/extend", api.t, body, says=says)
    for reason in [*CONTROL, "x" * 5000]:
        api.refused("POST", f"/v1/leases/{lease}/end", api.t, {"reason": reason}, says="allowed: at most 500")
    assert api.c.get(f"/v1/leases/{lease}", headers=api.t).json()["state"] == "active"


# --- jobs --------------------------------------------------------------------------------------------

def test_a_hostile_job_is_a_422_and_runs_nothing(api: Api) -> None:
    lease = api.c.post("/v1/orders", json={**GPU, "models": ["A800"]}, headers=api.t).json()["lease_id"]
    path = f"/v1/leases/{lease}/jobs"
    for body, says in [
        ({"command": ["echo", "a\x00b"]}, "NUL"),
        ({"command": ["true"], "time_limit_s": 10**20}, "from 1 to 31622400"),
        ({"command": ["true"], "time_limit_s": 1e20}, "give a whole number"),
        ({"command": ["true"], "time_limit_s": True}, "give a whole number"),
        ({"command": ["true"], "devices": True}, "give a whole number"),
        ({"command": ["true"], "name": "job\x1b]0;pwned\x07"}, "U+001B"),
        ({"command": ["true"], "name": "x" * 5000}, "too long"),
        ({"command": ["true"], "env": {"A": "b\x00c"}}, "NUL"),
        ({"command": ["true"], "env": {"A\x00": "b"}}, "not a variable name"),
        ({"command": ["true"], "env": {"A": "x" * 200_000}}, "at most 131072 bytes"),
        ({"command": ["true"], "node": "n\x00"}, "U+0000"),
    ]:
        api.refused("POST", path, api.t, body, says=says)
    assert api.c.get("/v1/jobs", headers=api.t).json()["items"] == []


# --- money: one rule (decimal strings or integers; the check_amount range) ---------------------------

def test_a_hostile_top_up_or_credit_is_a_422_and_the_wallet_is_unchanged(api: Api) -> None:
    before = api.c.get("/v1/wallet", params={"tenant": "acme"}, headers=api.op).json()
    for amount, says in [("1e30", "<= 1000000000"), ("1e255", "<= 1000000000"), (1e30, "a float is never exact"),
                         (12.5, "a float is never exact"), (True, "a boolean is not a number"),
                         ("NaN", "NaN and Infinity"), ("-Infinity", "NaN and Infinity"), ("0", "> 0"),
                         ("-1", "> 0"), ("1.001", "at most 2 decimal places"), ("", "is not a number")]:
        api.refused("POST", "/v1/wallet/top-ups", api.op, {"tenant": "acme", "amount": amount}, says=says)
        api.refused("POST", "/v1/wallet/credits", api.op, {"tenant": "acme", "amount": amount, "reason": "r"},
                    says=says)
    api.refused("POST", "/v1/wallet/top-ups", api.op, {"tenant": "acme", "amount": "10", "reference": "r\x00"},
                says="U+0000")
    api.refused("POST", "/v1/wallet/credits", api.op, {"tenant": "acme", "amount": "10", "reason": "x" * 5000},
                says="at most 500")
    api.refused("PUT", "/v1/wallet/policy", api.op, {"tenant": "acme", "warn_hours": "1e16"}, says="87600")
    api.refused("PUT", "/v1/wallet/policy", api.op, {"tenant": "acme", "suspend_hours": 0.5}, says="float")
    assert api.c.get("/v1/wallet", params={"tenant": "acme"}, headers=api.op).json() == before


@pytest.mark.parametrize(("amount", "says"), [
    (9.5, "a float is never exact"), (True, "a boolean is not a number"), ("1e30", "<= 1000000000"),
    ("NaN", "NaN and Infinity"), ("Infinity", "NaN and Infinity"), ("0.0000001", "decimal places"),
])
def test_money_is_one_rule_on_every_route(api: Api, amount: Any, says: str) -> None:
    before = api.c.get("/v1/prices", headers=api.op).json()
    api.refused("POST", "/v1/prices", api.op, {"model": "H800", "amount": amount}, says=says)
    api.refused("PUT", "/v1/suppliers/huadong-idc/floors", api.op, {"model": "H800", "device_hour": amount},
                says=says)
    api.refused("POST", "/v1/package-products", api.op,
                {"name": "p", "meter": "device_seconds", "quantity": "10", "price": amount, "valid_days": 30},
                says=says)
    api.refused("POST", "/v1/payouts", api.op, {"supplier": "huadong-idc", "amount": amount}, says=says)
    assert api.c.get("/v1/prices", headers=api.op).json() == before
    assert api.c.get("/v1/package-products", headers=api.op).json() == []


def test_vouchers_are_bounded(api: Api) -> None:
    good = {"tenant": "acme", "issuer": "bj-gov", "percent": "0.3", "cap": "1000",
            "valid_from": "2026-11-01T00:00:00Z", "valid_to": "2027-11-01T00:00:00Z"}
    for change, says in [({"percent": "NaN"}, "NaN and Infinity"), ({"cap": "1e255"}, "<= 1000000000"),
                         ({"cap": 100.5}, "a float is never exact"),
                         ({"valid_to": "9999-12-31T00:00:00Z"}, "2100-01-01"),
                         ({"valid_from": "2026-11-01T00:00:00"}, "has no time zone"),
                         ({"issuer": "gov\u202e"}, "U+202E"), ({"scheme": "x" * 5000}, "too long")]:
        api.refused("POST", "/v1/vouchers", api.op, {**good, **change}, says=says)
    assert api.c.get("/v1/vouchers", headers=api.op).json() == []


# --- periods -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("period", ["9999-12", "2026-13", "2026-00", "1999-12", "abc", "2026-1x", "-1-01"])
def test_a_period_out_of_range_is_a_4xx_naming_the_form(api: Api, period: str) -> None:
    api.refused("GET", f"/v1/invoices/{period}", api.t, says="YYYY-MM")
    api.refused("GET", f"/v1/billing/preview/{period}", api.op, params={"tenant": "acme"}, says="YYYY-MM")
    api.refused("GET", "/v1/usage", api.op, params={"period": period}, says="YYYY-MM")
    api.refused("GET", "/v1/statements/revenue", api.op, params={"period": period}, says="YYYY-MM")
    api.refused("POST", "/v1/billing/invoices", api.op, {"tenant": "acme", "period": period}, says="YYYY-MM")


# --- names and free text -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [*CONTROL, "x" * 5000, "", "two words", "../etc"])
def test_an_account_name_is_an_identifier(api: Api, name: str) -> None:
    api.refused("POST", "/v1/accounts", api.op, {"name": name, "role": "tenant"}, says="allowed: 1 to 64 characters")
    assert sorted(a["name"] for a in api.c.get("/v1/accounts", headers=api.op).json()) == ["acme", "operator"]


@pytest.mark.parametrize("reason", [*CONTROL, "x" * 5000])
def test_reasons_are_plain_bounded_text(api: Api, reason: str) -> None:
    api.refused("POST", "/v1/nodes/sh-h800-01/state", api.op, {"state": "draining", "reason": reason},
                says="at most 500 characters")
    api.refused("POST", "/v1/nodes/sh-h800-01/transfer", api.op, {"supplier": "huadong-idc", "reason": reason},
                says="at most 500 characters")
    assert {n["name"]: n["state"] for n in api.c.get("/v1/nodes", headers=api.op).json()}["sh-h800-01"] == "available"


def test_a_bounded_query_number_is_a_422(api: Api) -> None:
    api.refused("GET", "/v1/offers", api.t, params={"min_memory_gib": BIG}, says="less than or equal to 16384")


@pytest.mark.parametrize(("method", "path", "params"), [
    ("GET", "/v1/leases/a%00b", None), ("GET", "/v1/jobs/a%00b", None), ("POST", "/v1/orders/a%00b/cancel", None),
    ("GET", "/v1/nodes/a%00b/owners", None), ("GET", "/v1/leases", {"state": "a\x00b"}),
    ("GET", "/v1/jobs", {"lease_id": "a\x00b"}), ("GET", "/v1/offers", {"model": "a\x00b"}),
("GET", "/v1/usage", {"tenant": "a\x00b"}),
    ("GET", "/v1/usage", {"source": "a\x00b"}), ("GET", "/v1/wallet", {"tenant": "a\x00b"}),
    ("GET", "/v1/packages", {"tenant": "a\x00b"}), ("GET", "/v1/vouchers", {"issuer": "a\x00b"}),
    ("GET", "/v1/billing/invoices", {"status": "a\x00b"}), ("GET", "/v1/prices/corrections", {"model": "a\x00b"}),
    ("GET", "/v1/billing/invoices/a%00b", None), ("GET", "/v1/plans", {"tenant": "a\x00b"}),
    ("GET", "/v1/audit", {"object_id": "a\x00b"}), ("GET", "/v1/audit", {"actor": "a\x00b"}),
    ("GET", "/v1/audit", {"since": "2026\x00"}), ("GET", "/v1/audit/export", {"object_type": "a\x00b"}),
    ("GET", "/v1/tokens", {"account": "a\x00b"}), ("POST", "/v1/accounts/a%00b/tokens", None),
    ("GET", "/v1/members", {"tenant": "a\x00b"}),
])
def test_a_control_character_in_a_path_or_query_is_a_422(api: Api, method: str, path: str,
                                                          params: dict[str, str] | None) -> None:
    api.refused(method, path, api.op, params=params, says="control character")


# --- an unpriced meter never makes an invoice unreadable -----------------------------------------------

def test_usage_of_a_meter_no_plan_prices_shows_as_an_unpriced_line_at_zero(api: Api) -> None:
    event = {"id": "e1", "source": "gw", "type": "egress_gb", "subject": "acme", "time": "2026-11-23T07:00:00Z",
             "data": {"quantity": "5"}}
    r = api.c.post("/v1/usage/events", json=event, headers=api.op)
    assert r.status_code == 202, r.text
    r = api.c.get("/v1/invoices/2026-11", headers=api.t)
    assert r.status_code == 200, r.text
    doc = r.json()
    [line] = [x for x in doc["lines"] if x["meter"] == "egress_gb"]
    assert (line["kind"], line["quantity"], line["unit_price"], line["amount"]) == ("unpriced", "5", "0", "0.00")
    assert "unpriced" in line["description"] and "no price for meter egress_gb" in line["description"]
    for fmt in ("csv", "html"):
        r = api.c.get("/v1/invoices/2026-11", params={"format": fmt}, headers=api.t)
        assert r.status_code == 200 and "unpriced" in r.text
    # the operator prices it: the draft re-rates
    r = api.c.post("/v1/plans", headers=api.op, json={"tenant": "*", "kind": "payg", "effective_from":
                                                      "2026-11-01T00:00:00Z",
                                                      "rates": [{"meter": "egress_gb", "price": "0.5"}]})
    assert r.status_code == 201, r.text
    [line] = [x for x in api.c.get("/v1/invoices/2026-11", headers=api.t).json()["lines"] if x["meter"] == "egress_gb"]
    assert (line["kind"], line["amount"]) == ("usage", "2.50")


def test_an_invoice_with_unpriced_usage_issues_with_the_line_at_zero(api: Api, clock: FakeClock) -> None:
    event = {"id": "e1", "source": "gw", "type": "egress_gb", "subject": "acme", "time": "2026-11-23T07:00:00Z",
             "data": {"quantity": "5"}}
    assert api.c.post("/v1/usage/events", json=event, headers=api.op).status_code == 202
    clock.set(datetime(2026, 12, 2, tzinfo=UTC))
    r = api.c.post("/v1/billing/invoices", json={"tenant": "acme", "period": "2026-11"}, headers=api.op)
    assert r.status_code == 201, r.text
    [line] = [x for x in r.json()["lines"] if x["meter"] == "egress_gb"]
    assert (line["kind"], line["amount"]) == ("unpriced", "0.00") and "unpriced" in line["description"]
    assert api.c.get("/v1/ledger/check", headers=api.op).json()["unbalanced_entries"] == []
    r = api.c.get(f"/v1/billing/invoices/{r.json()['id']}", params={"format": "html"}, headers=api.op)
    assert r.status_code == 200 and "unpriced" in r.text


@pytest.mark.parametrize(("change", "says"), [
    ({"id": "e\x00"}, "without control characters"), ({"subject": "acme\u202e"}, "without control characters"),
    ({"time": "9999-12-31T23:59:59-05:00"}, "out of range"), ({"time": "0001-01-01T00:00:00+05:00"}, "out of range"),
    ({"data": {"quantity": "1e30"}}, "<= 1000000000000000"), ({"data": {"quantity": "1e-20"}}, "decimal places"),
    ({"data": {"quantity": "1", "model": "x" * 5000}}, "at most 64 characters"),
])
def test_a_hostile_usage_event_is_a_422_and_writes_nothing(api: Api, change: dict[str, Any], says: str) -> None:
    event = {"id": "e1", "source": "gw", "type": "egress_gb", "subject": "acme", "time": "2026-11-23T07:00:00Z",
             "data": {"quantity": "5"}, **change}
    api.refused("POST", "/v1/usage/events", api.op, event, says=says)
    api.refused("POST", "/v1/usage/batch", api.op, {"events": [event]}, says=says)
    assert api.c.get("/v1/usage", headers=api.op).json() == []


# --- free-form documents (a price plan, a fleet file): checked once, then field by field ------------------

NODE = {"name": "n9", "site": "sh-east-1", "supplier": "huadong-idc", "cpu_cores": 8, "memory_gib": 64,
        "devices": {"model": "H800", "count": 8}}


@pytest.mark.parametrize(("path", "body", "says"), [
    ("/v1/plans", {"tenant": "acme\x00", "kind": "payg"}, "tenant has the control character U+0000"),
    ("/v1/plans", {"tenant": "acme", "kind": "payg", "name": "x" * 5000}, "is too long (5000 characters)"),
    ("/v1/plans", {"tenant": "acme", "kind": "payg", "name": "x" * 300}, "at most 200 characters"),
    ("/v1/plans", {"tenant": "acme", "kind": "payg", "order": "o" * 64}, "at most 32 characters"),
    ("/v1/plans", {"tenant": "acme", "kind": "payg", "effective_from": "9999-12-31T23:59:59-05:00"},
     "out of range; allowed: 2000-01-01 to 2100-01-01"),
    ("/v1/plans", {"tenant": "acme", "kind": "payg", "effective_from": "0001-01-01T00:00:00+05:00"},
     "out of range"),
    ("/v1/plans", {"tenant": "acme", "kind": "payg", "discount": 10**30}, "out of range"),
    ("/v1/plans", {"tenant": "acme", "kind": "payg", "rates": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
     "32 levels"),
    ("/v1/fleet/import", {"sites": [{"name": "s\x1b", "region": "r", "pue": "1.3", "power_price_kwh": "1"}]},
     "U+001B"),
    ("/v1/fleet/import", {"sites": [{"name": "s" * 80, "region": "r", "pue": "1.3", "power_price_kwh": "1"}]},
     "1 to 64 characters"),
    ("/v1/fleet/import", {"sites": [{"name": "s1", "region": "r", "pue": "1e300", "power_price_kwh": "1"}]},
     "<= 1000000000"),
    ("/v1/fleet/import", {"nodes": [{**NODE, "devices": {"model": "H800", "count": 100_000}}]}, "from 1 to 1024"),
    ("/v1/fleet/import", {"nodes": [{**NODE, "cpu_cores": 10**20}]}, "out of range"),
    ("/v1/fleet/import", {"prices": [{"model": "H800", "amount": "1", "effective_from": "9999-12-31T23:00:00-05:00"}]},
     "2100-01-01"),
    ("/v1/fleet/import", {"models": [{"name": "X1", "vendor": "nvidia", "kind": "gpu", "memory_gib": 80,
                                      "fp16_tflops": "NaN", "fp32_tflops": "1", "tdp_watts": 300}]}, "finite"),
])
def test_a_hostile_document_is_a_422_and_writes_nothing(api: Api, path: str, body: dict[str, Any], says: str) -> None:
    plans = api.c.get("/v1/plans", headers=api.op).json()
    fleet = api.c.get("/v1/fleet/export", headers=api.op).json()
    api.refused("POST", path, api.op, body, says=says)
    assert api.c.get("/v1/plans", headers=api.op).json() == plans
    assert api.c.get("/v1/fleet/export", headers=api.op).json() == fleet

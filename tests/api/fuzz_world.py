"""The world the API fuzzing runs in (``test_fuzz_openapi``, ``test_fuzz_regressions``): a platform on
real SQLite with the demo fleet and real objects made through the API, the actors' tokens, and a
valid request body for each operation that has one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.demo import demo_fleet
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.testing.clock import FakeClock
from suanli.testing.fake_driver import FakeDriver

START = datetime(2026, 10, 20, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
TENANT = "acme"
SUPPLIER = "huadong-idc"
NODE = "sh-h800-01"
PRODUCT = "h800-10h"
MEMBER = "acme-dev"


@dataclass
class World:
    """The app under test, the actors' tokens and the real values for path and query parameters."""

    app: FastAPI
    platform: Platform
    tokens: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)
    protected: dict[str, set[str]] = field(default_factory=dict)
    """Path parameter -> values no request may name: the actors' own tokens (revoking one would
    answer every later request 401) and the tenant's admin (a member route could remove it)."""

    def path_values(self, path: str) -> dict[str, str]:
        i = self.ids
        return {"deployment_id": i["deployment"], "lease_id": i["lease"], "job_id": i["job"], "order_id": i["reservation"], "invoice_id": i["invoice"],
                "plan_id": i["plan"], "defrag_plan_id": "dfg_none", "voucher_id": i["voucher"], "tenant": TENANT, "period": "2026-10",
                "supplier": SUPPLIER, "product": PRODUCT, "token_id": i["token"], "member": MEMBER,
                "name": TENANT if path.startswith("/v1/accounts") else NODE}

    def query_values(self) -> dict[str, str]:
        return {"tenant": TENANT, "period": "2026-10", "supplier": SUPPLIER, "lease_id": self.ids["lease"],
                "model": "H800", "site": "sh-east-1", "issuer": "city-of-acme", "format": "json"}


DEPLOYMENT = {"name": "fuzz-model", "model": "tiny-gpt", "shapes": [{"form": "slice", "model": "L20", "share": "0.25"}],
              "min_replicas": 0, "max_replicas": 1}
"""A tenant's model deployment (no replica: min 0, and no background pass runs here)."""


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code < 300, r.text
    out: dict[str, Any] = r.json()
    return out


def build(base: Path, database_url: str | None = None) -> World:
    """A platform with the demo fleet, a tenant, a supplier's account and real objects, made through the
    API, on SQLite in ``base`` or on ``database_url``. Rate limits are off: a fuzzer sends far more than
    a client may, and a 429 would hide what it is looking for."""
    clock = FakeClock(START)
    no_rate_limits = {"rate_limit_per_token": "0", "rate_limit_per_address": "0", "auth_failure_limit": "0"}
    platform = Platform(Settings(data_dir=base, database_url=database_url, driver="none", **no_rate_limits),
                        clock=clock, driver=FakeDriver(clock=clock))
    op_token = accounts.bootstrap_operator(platform)
    assert op_token
    app = create_app(platform)
    tokens = {"operator": op_token}
    ids: dict[str, str] = {}
    with TestClient(app) as c:
        op = {"Authorization": f"Bearer {op_token}"}
        _ok(c.post("/v1/fleet/import", json=demo_fleet(), headers=op))
        tokens["tenant"] = _ok(c.post("/v1/accounts", json={"name": TENANT, "role": "tenant"}, headers=op))["token"]
        tokens["supplier"] = _ok(c.post("/v1/accounts", json={"name": "huadong-ops", "role": "supplier",
                                                              "supplier": SUPPLIER}, headers=op))["token"]
        t = {"Authorization": f"Bearer {tokens['tenant']}"}
        _ok(c.post("/v1/package-products", json={"name": PRODUCT, "meter": "device_seconds", "model": "H800",
                                                 "quantity": "10", "price": "90", "valid_days": 60}, headers=op))
        contract = _ok(c.post("/v1/plans", json={"tenant": TENANT, "kind": "payg", "paid": True,
                                                 "effective_from": "2026-10-01T00:00:00Z",
                                                 "effective_to": "2027-01-01T00:00:00Z"}, headers=op))["id"]
        _ok(c.post("/v1/vouchers/contracts", json={"plan": contract, "signed_on": "2026-09-20", "value": "100000"},
                   headers=op))
        order = _ok(c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["H800"],
                                               "end": "2026-12-31T00:00:00Z"}, headers=t))
        reservation = _ok(c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": ["L20"],
                                                     "start": "2026-12-01T00:00:00Z", "hours": 24}, headers=t))
        _ok(c.post("/v1/packages", json={"product": PRODUCT}, headers=t))
        plan = _ok(c.post("/v1/plans", json={"tenant": TENANT, "order": order["id"], "kind": "payg",
                                             "discount": "0.1", "effective_from": "2027-01-01T00:00:00Z"}, headers=op))
        _ok(c.post("/v1/vouchers/approved-suppliers", json={"scheme": "beijing", "supplier": SUPPLIER}, headers=op))
        voucher = _ok(c.post("/v1/vouchers", json={"tenant": TENANT, "issuer": "city-of-acme", "scheme": "beijing",
                                                   "percent": "0.2", "cap": "100", "valid_from": "2026-10-01T00:00:00Z",
                                                   "valid_to": "2027-01-01T00:00:00Z"}, headers=op))
        _ok(c.post(f"/v1/vouchers/{voucher['id']}/claims", json={"contract": contract}, headers=op))
        clock.set(NOW)
        invoice = _ok(c.post("/v1/billing/invoices", json={"tenant": TENANT, "period": "2026-10"}, headers=op))
        job = _ok(c.post(f"/v1/leases/{order['lease_id']}/jobs", json={"command": ["echo", "hi"]}, headers=t))
        own_tokens = {str(x["id"]) for x in c.get("/v1/tokens", params={"all": "true"}, headers=op).json()}
        spare = _ok(c.post("/v1/tokens", json={"label": "spare", "scope": "read"}, headers=t))
        _ok(c.post("/v1/members", json={"name": MEMBER, "role": "developer", "spend_limit": "1000"}, headers=t))
        deployment = _ok(c.post("/v1/deployments", json=DEPLOYMENT, headers=t))
        ids |= {"lease": order["lease_id"], "order": order["id"], "reservation": reservation["id"],
                "plan": plan["id"], "contract": contract, "voucher": voucher["id"], "invoice": invoice["id"],
                "job": job["id"], "token": str(spare["id"]), "deployment": deployment["id"]}
    return World(app, platform, tokens, ids, {"token_id": own_tokens, "member": {TENANT}})


def valid_bodies(world: World) -> dict[tuple[str, str], Any]:
    """A body the API accepts (from someone allowed) for each operation with one: :func:`hostile` spoils
    one field of it, so that the spoiled field is the one that reaches the service."""
    i = world.ids
    event = {"id": "ev-fuzz", "source": "gw", "type": "inference_input_tokens", "subject": TENANT,
             "time": "2026-11-02T09:00:00Z", "data": {"quantity": "1000", "model": "H800"}}
    return {
        ("POST", "/v1/accounts"): {"name": "newcomer", "role": "tenant"},
        ("POST", "/v1/deployments"): {**DEPLOYMENT, "name": "fuzz-model-2"},
        ("PATCH", "/v1/deployments/{deployment_id}"): {"max_replicas": 2, "desired_replicas": 1},
        ("POST", "/v1/fleet/import"): {"sites": [{"name": "site-2", "region": "cn-west", "tier": "hub", "pue": "1.2",
                                                  "power_price_kwh": "0.4"}]},
        ("POST", "/v1/fleet/import-engine"): {"site": "sh-east-1", "supplier": SUPPLIER},
        ("POST", "/v1/nodes/{name}/state"): {"state": "maintenance", "reason": "fan swap"},
        ("POST", "/v1/nodes/{name}/transfer"): {"supplier": "xibu-compute", "reason": "sold",
                                                "effective_from": "2026-12-01T00:00:00Z"},
        ("PUT", "/v1/suppliers/{supplier}/floors"): {"model": "H800", "device_hour": "8"},
        ("POST", "/v1/prices"): {"model": "H800", "amount": "11", "unit": "device_hour",
                                 "effective_from": "2026-12-01T00:00:00Z"},
        ("POST", "/v1/prices/corrections"): {"model": "H800", "amount": "11", "from": "2026-10-01T00:00:00Z",
                                             "to": "2026-10-02T00:00:00Z", "reason": "fuzz"},
        ("POST", "/v1/resource-prices"): {"resource": "cpu_core_hour", "amount": "0.12",
                                          "effective_from": "2026-12-01T00:00:00Z"},
        ("POST", "/v1/oversub"): {"site": "sh-east-1", "model": "H800", "factor": "2", "discount_pct": "20"},
        ("PUT", "/v1/defrag/settings"): {"notice_s": 300, "discount_pct": "10", "auto": False},
        ("POST", "/v1/defrag/plans"): {"targets": [{"form": "gpu", "quantity": 2, "models": ["H800"]}]},
        ("POST", "/v1/orders"): {"form": "gpu", "quantity": 1, "models": ["L20"], "hours": 1},
        ("POST", "/v1/quotes"): {"form": "gpu", "quantity": 1, "models": ["L20"], "hours": 1},
        ("POST", "/v1/orders/when"): {"form": "gpu", "quantity": 1, "models": ["L20"], "hours": 1, "priority": "low"},
        ("PUT", "/v1/queue/weights"): {"tenant": TENANT, "weight": "2", "allow_high": False},
        ("POST", "/v1/leases/{lease_id}/extend"): {"hours": 1},
        ("POST", "/v1/leases/{lease_id}/jobs"): {"command": ["echo", "hello"], "name": "j", "env": {"A": "1"},
                                                 "time_limit_s": 60},
        ("POST", "/v1/usage/events"): event,
        ("POST", "/v1/usage/batch"): {"events": [event]},
        ("POST", "/v1/wallet/top-ups"): {"tenant": TENANT, "amount": "5", "reference": "bank-1"},
        ("POST", "/v1/wallet/credits"): {"tenant": TENANT, "amount": "5", "reason": "goodwill"},
        ("PUT", "/v1/wallet/policy"): {"tenant": TENANT, "warn_hours": "2", "suspend_hours": "1"},
        ("POST", "/v1/plans"): {"tenant": TENANT, "kind": "payg", "discount": "0.1",
                                "effective_from": "2027-01-01T00:00:00Z"},
        ("POST", "/v1/plans/{plan_id}/end"): {"at": "2027-02-01T00:00:00Z"},
        ("POST", "/v1/package-products"): {"name": "h800-8h", "meter": "device_seconds", "model": "H800",
                                           "quantity": "8", "price": "70", "valid_days": 30,
                                           "tiers": [{"min_count": 10, "price": "65"}]},
        ("PUT", "/v1/package-products/{product}/price"): {"price": "0.9"},
        ("POST", "/v1/packages"): {"product": PRODUCT, "count": 2},
        ("POST", "/v1/packages/sales"): {"tenant": TENANT, "product": PRODUCT, "price": "0.5", "count": 1,
                                         "reason": "launch discount"},
        ("POST", "/v1/vouchers"): {"tenant": TENANT, "issuer": "city-x", "percent": "0.2", "cap": "1",
                                   "valid_from": "2026-11-01T00:00:00Z", "valid_to": "2027-01-01T00:00:00Z"},
        ("POST", "/v1/vouchers/contracts"): {"plan": i["plan"], "signed_on": "2026-09-21", "value": "90000",
                                             "other_subsidy": "0"},
        ("POST", "/v1/vouchers/approved-suppliers"): {"scheme": "shenzhen", "supplier": SUPPLIER},
        ("PUT", "/v1/vouchers/firms/{tenant}"): {"startup": True, "note": "founded 2025"},
        ("POST", "/v1/vouchers/{voucher_id}/claims"): {"contract": i["contract"]},
        ("POST", "/v1/vouchers/{voucher_id}/redemptions"): {"invoice": i["invoice"], "evidence": "acceptance"},
        ("POST", "/v1/related-parties"): {"tenant": TENANT, "supplier": SUPPLIER, "note": "same owner"},
        ("POST", "/v1/billing/invoices"): {"tenant": TENANT, "period": "2026-09"},
        ("POST", "/v1/billing/invoices/{invoice_id}/void"): {"reason": "typo"},
        ("POST", "/v1/billing/invoices/{invoice_id}/credit-notes"): {"amount": "1", "reason": "outage"},
        ("POST", "/v1/billing/invoices/{invoice_id}/debit-notes"): {"amount": "1", "reason": "late fee"},
        ("POST", "/v1/payouts"): {"supplier": SUPPLIER, "amount": "0.01"},
        ("POST", "/v1/whatif"): {"days": 1, "price_change_pct": "5", "growth": "1.5", "price_models": ["H800"],
                                 "add_nodes": [{"model": "H800", "count": 1, "site": "sh-east-1"}]},
        ("POST", "/v1/tokens"): {"label": "ci", "scope": "lease", "lease": i["lease"], "expires_in_s": 3600},
        ("POST", "/v1/accounts/{name}/tokens"): {"label": "ci", "scope": "read", "expires_in_s": 3600},
        ("POST", "/v1/members"): {"name": "acme-fin", "role": "finance", "spend_limit": "10"},
        ("PATCH", "/v1/members/{member}"): {"role": "viewer", "spend_limit": "5"},
    }

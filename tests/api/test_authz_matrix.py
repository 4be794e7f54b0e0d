"""Every route of the app × every kind of caller: the status each one gets, and that nobody's data leaks.

The routes come from the app's own route table, so a new route without a row in ``EXPECTED``
fails this test, and so does a row for a route that no longer exists. Columns (``ACTORS``):

    op     the operator
    A      tenant A, who owns every object named in a path (lease, job, order, invoice)
    B      tenant B, another tenant (it has its own lease and job, on supplier 2's node)
    S1     supplier 1, whose node holds tenant A's lease
    S2     supplier 2, another supplier (its node holds tenant B's lease)
    none   no token
    bad    an unknown token

Public routes (no token needed): ``/health``, the API description ``/openapi.json`` (no ``/docs``:
its page would load Swagger UI from the internet), the redirects ``/`` and ``/console`` and the console's
static files under ``/console/`` (the console holds no data; it calls the API with the user's
token). Everything else answers 401 without a valid token, including ``/metrics``
(operator only).

Each request is real: one platform on real SQLite (a small fleet: a node of each supplier, and a
fabric their second nodes share, so that one of tenant A's leases spans both suppliers; a
FakeDriver engine), the objects made through the API, then one HTTP request per cell. A cell
checks the status and that the body holds no other party's data (``secrets_hidden_from``):
ids, job commands and log text of the other tenant (and, for a supplier, of every tenant's work
on its node), and the other supplier's node names. A request that writes and is refused (or
fails) must leave every table as it was and must not reach the engine; a request that writes
and succeeds runs on its own copy of the database, so cells do not see each other's writes.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from suanli.api.app import create_app
from suanli.service import accounts, whatif
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.testing.clock import FakeClock
from suanli.testing.fake_driver import DEFAULT, DriverCall, FakeDriver

ACTORS = ("op", "A", "B", "S1", "S2", "none", "bad")
DEPLOYMENT = {"model": "tiny-gpt", "shapes": [{"form": "slice", "model": "L20", "share": "0.25"}],
              "min_replicas": 0, "max_replicas": 1}
PUBLIC = "200 200 200 200 200 200 200"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}

# (method, path) -> the status for each actor, in the order of ACTORS.
EXPECTED: dict[tuple[str, str], str] = {
    # public
    ("GET", "/health"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/"): "307 307 307 307 307 307 307",
    ("GET", "/console"): "307 307 307 307 307 307 307",
    ("MOUNT", "/console"): PUBLIC,
    # accounts
    ("GET", "/v1/me"): "200 200 200 200 200 401 401",
    ("GET", "/v1/accounts"): "200 403 403 403 403 401 401",
    ("POST", "/v1/accounts"): "201 403 403 403 403 401 401",
    ("POST", "/v1/accounts/{name}/tokens"): "201 403 403 403 403 401 401",
    # API tokens: each account its own (the path names tenant A's token); the operator any
    ("GET", "/v1/tokens"): "200 200 200 200 200 401 401",
    ("POST", "/v1/tokens"): "201 201 201 201 201 401 401",
    ("POST", "/v1/tokens/{token_id}/revoke"): "200 200 404 404 404 401 401",
    # fleet, prices, offers
    ("GET", "/v1/catalog"): "200 200 200 200 200 401 401",
    ("POST", "/v1/fleet/import"): "200 403 403 403 403 401 401",
    ("GET", "/v1/fleet/export"): "200 403 403 403 403 401 401",
    ("POST", "/v1/fleet/import-engine"): "422 403 403 403 403 401 401",  # 422: the fake engine lists no nodes
    ("GET", "/v1/nodes"): "200 403 403 200 200 401 401",
    ("POST", "/v1/nodes/{name}/state"): "200 403 403 200 404 401 401",
    ("POST", "/v1/nodes/{name}/transfer"): "200 403 403 403 403 401 401",
    ("GET", "/v1/nodes/{name}/owners"): "200 403 403 200 404 401 401",
    ("GET", "/v1/suppliers/{supplier}/floors"): "200 403 403 200 404 401 401",
    ("PUT", "/v1/suppliers/{supplier}/floors"): "200 403 403 200 404 401 401",
    ("GET", "/v1/prices"): "200 200 200 200 200 401 401",
    ("POST", "/v1/prices"): "201 403 403 403 403 401 401",
    ("GET", "/v1/resource-prices"): "200 200 200 200 200 401 401",
    ("POST", "/v1/resource-prices"): "201 403 403 403 403 401 401",
    ("GET", "/v1/prices/corrections"): "200 200 200 403 403 401 401",
    ("POST", "/v1/prices/corrections"): "201 403 403 403 403 401 401",
    ("GET", "/v1/offers"): "200 200 200 200 200 401 401",
    ("GET", "/v1/slices/profiles"): "200 200 200 200 200 401 401",
    ("GET", "/v1/oversub"): "200 403 403 403 403 401 401",
    ("POST", "/v1/oversub"): "201 403 403 403 403 401 401",
    ("GET", "/v1/oversub/offers"): "200 200 200 200 200 401 401",
    ("GET", "/v1/defrag/settings"): "200 403 403 403 403 401 401",
    ("PUT", "/v1/defrag/settings"): "200 403 403 403 403 401 401",
    ("GET", "/v1/defrag/plans"): "200 403 403 403 403 401 401",
    ("POST", "/v1/defrag/plans"): "201 403 403 403 403 401 401",
    ("GET", "/v1/defrag/plans/{defrag_plan_id}"): "404 403 403 403 403 401 401",  # no such plan: the operator's 404
    ("POST", "/v1/defrag/plans/{defrag_plan_id}/approve"): "404 403 403 403 403 401 401",
    ("POST", "/v1/defrag/plans/{defrag_plan_id}/cancel"): "404 403 403 403 403 401 401",
    # orders, leases, jobs
    ("POST", "/v1/orders"): "403 201 201 403 403 401 401",
    ("POST", "/v1/quotes"): "403 200 200 403 403 401 401",  # a would-be order's price: who may order
    ("GET", "/v1/orders"): "200 200 200 403 403 401 401",
    ("POST", "/v1/orders/{order_id}/cancel"): "200 200 404 403 403 401 401",
    ("POST", "/v1/orders/when"): "403 200 200 403 403 401 401",  # "when?": who may order
    ("GET", "/v1/queue"): "200 200 200 403 403 401 401",  # a tenant its own queued orders
    ("GET", "/v1/queue/weights"): "200 403 403 403 403 401 401",
    ("PUT", "/v1/queue/weights"): "200 403 403 403 403 401 401",
    ("GET", "/v1/leases"): "200 200 200 200 200 401 401",
    ("GET", "/v1/leases/{lease_id}"): "200 200 404 200 404 401 401",
    ("POST", "/v1/leases/{lease_id}/end"): "200 200 404 403 403 401 401",
    ("POST", "/v1/leases/{lease_id}/extend"): "200 200 404 403 403 401 401",
    ("POST", "/v1/leases/{lease_id}/jobs"): "403 201 404 403 403 401 401",
    ("GET", "/v1/jobs"): "200 200 404 403 403 401 401",
    ("GET", "/v1/jobs/{job_id}"): "200 200 404 403 403 401 401",
    ("GET", "/v1/jobs/{job_id}/logs"): "200 200 404 403 403 401 401",
    ("POST", "/v1/jobs/{job_id}/cancel"): "200 200 404 403 403 401 401",
    ("GET", "/v1/leases/{lease_id}/usage"): "200 200 404 403 403 401 401",
    # engine
    ("POST", "/v1/engine/reconcile"): "200 403 403 403 403 401 401",
    ("GET", "/metrics"): "200 403 403 403 403 401 401",
    # usage, wallets, packages, plans, vouchers
    ("POST", "/v1/usage/events"): "202 403 403 403 403 401 401",
    ("POST", "/v1/usage/batch"): "202 403 403 403 403 401 401",
    ("GET", "/v1/usage"): "200 200 404 403 403 401 401",
    ("GET", "/v1/inference/usage"): "200 200 404 403 403 401 401",
    ("POST", "/v1/prices/tokens"): "201 403 403 403 403 401 401",
    # model deployments: the operator's are public, a tenant's private (the path names tenant A's)
    ("POST", "/v1/deployments"): "201 201 201 403 403 401 401",
    ("GET", "/v1/deployments"): "200 200 200 403 403 401 401",
    ("GET", "/v1/deployments/{deployment_id}"): "200 200 404 403 403 401 401",
    ("PATCH", "/v1/deployments/{deployment_id}"): "200 200 404 403 403 401 401",
    ("DELETE", "/v1/deployments/{deployment_id}"): "200 200 404 403 403 401 401",
    ("GET", "/v1/deployments/{deployment_id}/replicas"): "200 200 404 403 403 401 401",
    # the model gateway (OpenAI-compatible): tenants and the operator; no deployment is named "nope"
    ("GET", "/v1/models"): "200 200 200 403 403 401 401",
    ("POST", "/v1/chat/completions"): "404 404 404 403 403 401 401",
    ("POST", "/v1/completions"): "404 404 404 403 403 401 401",
    ("POST", "/v1/embeddings"): "404 404 404 403 403 401 401",
    ("GET", "/v1/wallet"): "200 200 404 403 403 401 401",
    ("POST", "/v1/wallet/top-ups"): "201 403 403 403 403 401 401",
    ("POST", "/v1/wallet/credits"): "201 403 403 403 403 401 401",
    ("PUT", "/v1/wallet/policy"): "200 403 403 403 403 401 401",
    ("POST", "/v1/wallet/check"): "200 403 403 403 403 401 401",
    ("GET", "/v1/package-products"): "200 200 200 200 200 401 401",
    ("POST", "/v1/package-products"): "201 403 403 403 403 401 401",
    ("PUT", "/v1/package-products/{product}/price"): "200 403 403 403 403 401 401",
    ("POST", "/v1/package-products/{product}/retire"): "200 403 403 403 403 401 401",
    ("POST", "/v1/packages"): "403 201 201 403 403 401 401",  # a tenant buys for itself, at the listed price
    ("POST", "/v1/packages/sales"): "201 403 403 403 403 401 401",  # another price: the operator's, with a reason
    ("GET", "/v1/packages"): "200 200 404 403 403 401 401",
    ("POST", "/v1/plans"): "201 403 403 403 403 401 401",
    ("GET", "/v1/plans"): "200 200 404 403 403 401 401",
    ("POST", "/v1/plans/{plan_id}/end"): "200 403 403 403 403 401 401",
    ("POST", "/v1/vouchers"): "201 403 403 403 403 401 401",
    ("GET", "/v1/vouchers"): "200 200 404 403 403 401 401",
    ("GET", "/v1/vouchers/audit"): "200 200 404 403 403 401 401",
    ("GET", "/v1/vouchers/schemes"): "200 200 200 403 403 401 401",
    ("POST", "/v1/vouchers/contracts"): "201 403 403 403 403 401 401",
    ("GET", "/v1/vouchers/contracts"): "200 200 404 403 403 401 401",
    ("POST", "/v1/vouchers/approved-suppliers"): "201 403 403 403 403 401 401",
    ("GET", "/v1/vouchers/approved-suppliers"): "200 200 200 403 403 401 401",
    ("PUT", "/v1/vouchers/firms/{tenant}"): "200 403 403 403 403 401 401",
    ("POST", "/v1/vouchers/{voucher_id}/claims"): "201 403 403 403 403 401 401",  # claiming: the operator
    ("POST", "/v1/vouchers/{voucher_id}/redemptions"): "201 403 403 403 403 401 401",
    ("POST", "/v1/related-parties"): "201 403 403 403 403 401 401",
    # invoices and statements
    ("GET", "/v1/invoices/{period}"): "200 200 404 403 403 401 401",
    ("GET", "/v1/billing/preview/{period}"): "200 200 404 403 403 401 401",
    ("GET", "/v1/billing/invoices"): "200 200 404 403 403 401 401",
    ("POST", "/v1/billing/invoices"): "201 403 403 403 403 401 401",
    ("GET", "/v1/billing/invoices/{invoice_id}"): "200 200 404 403 403 401 401",
    ("POST", "/v1/billing/invoices/{invoice_id}/pay"): "200 403 403 403 403 401 401",
    ("POST", "/v1/billing/invoices/{invoice_id}/void"): "200 403 403 403 403 401 401",
    ("POST", "/v1/billing/invoices/{invoice_id}/credit-notes"): "201 403 403 403 403 401 401",
    ("POST", "/v1/billing/invoices/{invoice_id}/debit-notes"): "201 403 403 403 403 401 401",
    # paying from the wallet: A's wallet is empty (409: short, nothing written); tests/api/test_tenant_money_api.py pays
    ("POST", "/v1/billing/invoices/{invoice_id}/wallet-payment"): "409 409 404 403 403 401 401",
    ("GET", "/v1/lease-costs"): "200 200 404 403 403 401 401",
    ("GET", "/v1/revenue/{period}"): "200 403 403 200 404 401 401",
    ("GET", "/v1/statements/supplier"): "200 403 403 200 404 401 401",
    ("GET", "/v1/statements/revenue"): "200 403 403 403 403 401 401",
    ("GET", "/v1/reports/overview"): "200 403 403 403 403 401 401",
    # capacity and energy: the operator everything, a supplier its own nodes (no tenants), tenants refused
    ("GET", "/v1/reports/capacity"): "200 403 403 200 200 401 401",
    ("GET", "/v1/reports/capacity/now"): "200 403 403 200 200 401 401",
    ("GET", "/v1/reports/energy"): "200 403 403 200 200 401 401",
    ("GET", "/v1/fleet/heatmap"): "200 403 403 200 200 401 401",
    # what-if runs: the operator's only; the world's run is done, so cancelling it is 409 (nothing written)
    ("POST", "/v1/whatif"): "202 403 403 403 403 401 401",
    ("GET", "/v1/whatif"): "200 403 403 403 403 401 401",
    ("GET", "/v1/whatif/{run_id}"): "200 403 403 403 403 401 401",
    ("POST", "/v1/whatif/{run_id}/cancel"): "409 403 403 403 403 401 401",
    # operator economics: investment inputs (the operator sets them), the economics and revenue reports
    ("GET", "/v1/economics/inputs"): "200 403 403 403 403 401 401",
    ("PUT", "/v1/economics/inputs"): "200 403 403 403 403 401 401",
    ("GET", "/v1/reports/economics"): "200 403 403 403 403 401 401",
    ("GET", "/v1/reports/revenue"): "200 403 403 403 403 401 401",
    ("POST", "/v1/payouts"): "201 403 403 403 403 401 401",
    ("GET", "/v1/payouts"): "200 403 403 200 404 401 401",  # a supplier its own payouts (the path names S1)
    ("GET", "/v1/statements/supplier/earnings"): "200 403 403 200 404 401 401",
    # invoices for China: the seller's profile is the operator's, a buyer's its tenant's; tax rates the operator's
    ("GET", "/v1/legal/seller"): "200 200 200 200 200 401 401",
    ("PUT", "/v1/legal/seller"): "200 403 403 403 403 401 401",
    ("GET", "/v1/legal/buyers/{tenant}"): "200 200 404 403 403 401 401",
    ("PUT", "/v1/legal/buyers/{tenant}"): "200 200 404 403 403 401 401",
    ("GET", "/v1/tax-rates"): "200 200 200 200 200 401 401",
    ("POST", "/v1/tax-rates"): "201 403 403 403 403 401 401",
    ("GET", "/v1/ledger/check"): "200 403 403 403 403 401 401",
    # organisation members: a tenant organisation's admin its own (A names its member), the operator any
    ("GET", "/v1/members"): "200 200 404 403 403 401 401",
    ("POST", "/v1/members"): "201 201 404 403 403 401 401",
    ("PATCH", "/v1/members/{member}"): "200 200 404 403 403 401 401",
    ("DELETE", "/v1/members/{member}"): "200 200 404 403 403 401 401",
    # audit trail: the operator all, a tenant its own organisation's entries, suppliers none
    ("GET", "/v1/audit"): "200 200 200 403 403 401 401",
    ("GET", "/v1/audit/export"): "200 200 200 403 403 401 401",
    # node agents: joining takes a join token in the body (no account: the same answer to every caller);
    # the agent's own routes take the node credential, never an account token (401 to every account)
    ("POST", "/v1/agents/join"): "201 201 201 201 201 201 201",
    ("POST", "/v1/agents/{node}/heartbeat"): "401 401 401 401 401 401 401",
    ("GET", "/v1/agents/{node}/work"): "401 401 401 401 401 401 401",
    ("POST", "/v1/agents/{node}/reports"): "401 401 401 401 401 401 401",
    # the operator's side: join tokens (a supplier for its own node; the path names S1's), list, approve, revoke
    ("POST", "/v1/agents/join-tokens"): "201 403 403 201 404 401 401",
    ("GET", "/v1/agents"): "200 403 403 200 200 401 401",
    ("GET", "/v1/agents/{node}"): "200 403 403 200 404 401 401",
    ("POST", "/v1/agents/{node}/approve"): "200 403 403 403 403 401 401",
    ("POST", "/v1/agents/{node}/revoke"): "200 403 403 403 403 401 401",
}
NODE_CREDENTIAL_ROUTES = {("POST", "/v1/agents/join"), ("POST", "/v1/agents/{node}/heartbeat"),
                          ("GET", "/v1/agents/{node}/work"), ("POST", "/v1/agents/{node}/reports")}
"""Routes of the agents themselves: a join token or the node credential, never an account token
(so an account token's scope does not apply to them; tests/api/test_agents_api.py covers them)."""
AGENT_NODE = "s1-node-3"
"""Supplier 1's node with an agent (pending): it holds no lease (a node whose agent is not approved is down)."""
AGENT_DEVICES = [{"index": i, "name": "A100", "uuid": f"GPU-matrix-{i}", "memory_total_mib": 81920} for i in range(4)]

SELLER = {"legal_name": "算力运营有限公司", "tax_id": "91350100M000100Y43", "address": "北京市海淀区",
          "phone": "010-12345678", "bank_name": "工商银行北京分行", "bank_account": "0200001234567890"}
BUYER_A = {"legal_name": "甲科技有限公司", "tax_id": "9144030071526726XG", "address": "深圳市南山区",
           "phone": "0755-1234567", "bank_name": "招商银行深圳分行", "bank_account": "755900001234", "invoice_type": "special"}

START = datetime(2026, 10, 20, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
FLEET = {
    "sites": [{"name": "site-1", "region": "cn-east", "tier": "cloud", "pue": "1.3", "power_price_kwh": "0.8"}],
    "suppliers": [{"name": "sup-one"}, {"name": "sup-two"}],
    "nodes": [
        {"name": "s1-node-1", "site": "site-1", "supplier": "sup-one", "cpu_cores": 64, "memory_gib": 512,
         "fabric": "site-1/ib-1", "devices": {"model": "H800", "count": 8}},
        {"name": "s2-node-1", "site": "site-1", "supplier": "sup-two", "cpu_cores": 64, "memory_gib": 512,
         "fabric": "site-1/ib-2", "devices": {"model": "L20", "count": 8}},
        {"name": "s1-node-2", "site": "site-1", "supplier": "sup-one", "cpu_cores": 64, "memory_gib": 512,
         "fabric": "site-1/ib-shared", "devices": {"model": "A800", "count": 8}},
        {"name": "s2-node-2", "site": "site-1", "supplier": "sup-two", "cpu_cores": 64, "memory_gib": 512,
         "fabric": "site-1/ib-shared", "devices": {"model": "A800", "count": 8}},
        {"name": "s1-node-3", "site": "site-1", "supplier": "sup-one", "cpu_cores": 32, "memory_gib": 256,
         "fabric": "site-1/edge-3", "devices": {"model": "A100-80GB", "count": 4}},  # its agent's (AGENT_NODE)
    ],
    "prices": [{"model": "H800", "unit": "device_hour", "amount": "10"},
               {"model": "A800", "unit": "device_hour", "amount": "6"},
               {"model": "L20", "unit": "device_hour", "amount": "2.5"}],
    "floors": [{"supplier": "sup-one", "model": "H800", "device_hour": "7"}],
}


@dataclass
class Party:
    """What one tenant or supplier owns: ids, names and text no one else may see."""

    token: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    occupancy: dict[str, set[str]] = field(default_factory=dict)
    """Supplier -> which of a tenant's ``ids`` the supplier of a node it uses may see (the leases
    on that node, their orders, the tenant's account id)."""


@dataclass
class World:
    base_dir: Path
    parties: dict[str, Party]
    log_text: dict[str, str]
    driver: FakeDriver
    token_ids: dict[str, int] = field(default_factory=dict)
    """Each party's API token id (not a secret: ids are small integers)."""
    node_credential: str = ""
    """The node credential of the (pending) agent of supplier 1's node :data:`AGENT_NODE`."""
    join_token: str = ""
    """An unused join token for :data:`AGENT_NODE` (the join route's request)."""

    def headers(self, actor: str) -> dict[str, str]:
        if actor == "none":
            return {}
        if actor == "bad":
            return {"Authorization": "Bearer sl_not-a-token"}
        return {"Authorization": f"Bearer {self.parties[actor].token}"}

    def secrets_hidden_from(self, actor: str) -> set[str]:
        """Strings that must not appear in any response to ``actor``: nothing for the operator; for a
        tenant, the other tenant's ids, commands and logs; for a supplier, the other supplier's node
        names and every tenant's data but the occupancy of its own nodes; for no or a bad token, all."""
        p = self.parties
        if actor == "op":
            return set()
        if actor in ("A", "B"):
            return set(p["B" if actor == "A" else "A"].ids.values())
        if actor in ("S1", "S2"):
            supplier = {"S1": "sup-one", "S2": "sup-two"}[actor]
            hidden = set(p["S2" if actor == "S1" else "S1"].ids.values())
            for t in ("A", "B"):
                visible = p[t].occupancy.get(supplier, set())
                hidden |= {v for k, v in p[t].ids.items() if k not in visible}
            return hidden
        return {v for x in p.values() for v in x.ids.values()}


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code < 300, r.text
    out: dict[str, Any] = r.json()
    return out


def _build(base: Path, database_url: str | None = None) -> World:
    clock = FakeClock(START)
    log_text: dict[str, str] = {}

    def handler(call: DriverCall) -> Any:
        if call.method == "logs":
            return log_text[call.args["job_id"]]
        return DEFAULT

    driver = FakeDriver(handler, clock=clock)
    p = Platform(Settings(data_dir=base, database_url=database_url, driver="none"), clock=clock, driver=driver)
    op_token = accounts.bootstrap_operator(p)
    assert op_token
    parties = {k: Party() for k in ("op", "A", "B", "S1", "S2")}
    parties["op"].token = op_token
    with TestClient(create_app(p)) as c:
        op = {"Authorization": f"Bearer {op_token}"}
        _ok(c.post("/v1/fleet/import", json=FLEET, headers=op))
        for key, name, role, supplier in (("A", "tenant-a", "tenant", None), ("B", "tenant-b", "tenant", None),
                                          ("S1", "sup-one-ops", "supplier", "sup-one"),
                                          ("S2", "sup-two-ops", "supplier", "sup-two")):
            made = _ok(c.post("/v1/accounts", json={"name": name, "role": role, "supplier": supplier}, headers=op))
            parties[key].token = made["token"]
            if role == "tenant":
                parties[key].ids |= {"account": made["id"], "name": name}
        parties["S1"].ids |= {"node": "s1-node-1", "shared_fabric_node": "s1-node-2", "agent_node": AGENT_NODE}
        _ok(c.put("/v1/legal/seller", json=SELLER, headers=op))  # the invoices issued below keep both profiles
        _ok(c.put("/v1/legal/buyers/tenant-a", json=BUYER_A, headers={"Authorization": f"Bearer {parties['A'].token}"}))
        parties["S2"].ids |= {"node": "s2-node-1", "shared_fabric_node": "s2-node-2"}
        for model in ("H800", "L20"):
            _ok(c.post("/v1/package-products", json={"name": f"{model.lower()}-1h", "meter": "device_seconds",
                                                     "model": model, "quantity": "1", "price": "1",
                                                     "valid_days": 60}, headers=op))
        contracts = [_ok(c.post("/v1/plans", json={"tenant": "tenant-a", "kind": "payg", "paid": True,
                                                   "effective_from": "2026-10-01T00:00:00Z",
                                                   "effective_to": "2027-01-01T00:00:00Z"}, headers=op))["id"]]
        _ok(c.post("/v1/vouchers/contracts", json={"plan": contracts[0], "signed_on": "2026-09-20",
                                                   "value": "100000"}, headers=op))
        for key, model, supplier, node in (("A", "H800", "sup-one", "s1-node-1"), ("B", "L20", "sup-two", "s2-node-1")):
            t = {"Authorization": f"Bearer {parties[key].token}"}
            ids = parties[key].ids
            order = _ok(c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": [model],
                                                   "end": "2026-12-31T00:00:00Z"}, headers=t))
            ids |= {"lease": order["lease_id"], "order": order["id"]}
            reservation = _ok(c.post("/v1/orders", json={"form": "gpu", "quantity": 1, "models": [model],
                                                         "start": "2026-12-01T00:00:00Z", "hours": 24}, headers=t))
            ids |= {"reservation": reservation["id"], "reserved_lease": reservation["lease_id"]}
            parties[key].occupancy[supplier] = {"account", "lease", "order", "reservation", "reserved_lease"}
            lease = _ok(c.get(f"/v1/leases/{ids['lease']}", headers=t))
            assert {x["node"] for x in lease["allocations"]} == {node}
            pkg = _ok(c.post("/v1/packages", json={"product": f"{model.lower()}-1h"}, headers=t))
            voucher = _ok(c.post("/v1/vouchers", json={
                "tenant": ids["name"], "issuer": f"city-of-{key}", "percent": "0.5", "cap": "3",
                "valid_from": "2026-10-01T00:00:00Z", "valid_to": "2027-01-01T00:00:00Z"}, headers=op))
            ids |= {"package": pkg["id"], "voucher": voucher["id"], "issuer": f"city-of-{key}"}
            member = _ok(c.post("/v1/members", json={"name": f"{ids['name']}-dev", "role": "developer"}, headers=t))
            ids |= {"member": member["name"], "member_id": member["id"]}
            dep = _ok(c.post("/v1/deployments", json={**DEPLOYMENT, "name": f"model-of-{key}"}, headers=t))
            ids |= {"deployment": dep["id"]}
        # tenant A's order has its own price plan (from 2027)
        plan = _ok(c.post("/v1/plans", json={"tenant": "tenant-a", "order": parties["A"].ids["order"], "kind": "payg",
                                             "discount": "0.1", "effective_from": "2027-01-01T00:00:00Z"}, headers=op))
        parties["A"].ids |= {"plan": plan["id"]}
        # tenant A also holds a cluster on the fabric that both suppliers' second nodes share
        a = parties["A"]
        t = {"Authorization": f"Bearer {a.token}"}
        cluster = _ok(c.post("/v1/orders", json={"form": "cluster", "quantity": 2, "models": ["A800"],
                                                 "end": "2026-12-31T00:00:00Z"}, headers=t))
        a.ids |= {"cluster_lease": cluster["lease_id"], "cluster_order": cluster["id"]}
        lease = _ok(c.get(f"/v1/leases/{cluster['lease_id']}", headers=t))
        assert {x["node"] for x in lease["allocations"]} == {"s1-node-2", "s2-node-2"}
        a.occupancy["sup-one"] |= {"cluster_lease", "cluster_order"}
        a.occupancy["sup-two"] = {"account", "cluster_lease", "cluster_order"}
        # tenant A's paid contracts (tenant-wide, before its orders, so their quotes are under it; its
        # cluster order's) with their facts, and a Beijing voucher claimed against the tenant-wide one;
        # both suppliers on Beijing's approved list
        made = _ok(c.post("/v1/plans", json={"tenant": "tenant-a", "order": a.ids["cluster_order"], "kind": "payg",
                                             "paid": True, "effective_from": "2026-10-01T00:00:00Z",
                                             "effective_to": "2027-09-30T00:00:00Z"}, headers=op))
        _ok(c.post("/v1/vouchers/contracts", json={"plan": made["id"], "signed_on": "2026-09-20", "value": "100000"},
                   headers=op))
        contracts.append(made["id"])
        for supplier in ("sup-one", "sup-two"):
            _ok(c.post("/v1/vouchers/approved-suppliers", json={"scheme": "beijing", "supplier": supplier},
                       headers=op))
        bj = _ok(c.post("/v1/vouchers", json={"tenant": "tenant-a", "issuer": "beijing-city", "scheme": "beijing",
                                              "percent": "0.2", "cap": "100", "valid_from": "2026-10-01T00:00:00Z",
                                              "valid_to": "2027-01-01T00:00:00Z"}, headers=op))
        _ok(c.post(f"/v1/vouchers/{bj['id']}/claims", json={"contract": contracts[0]}, headers=op))
        a.ids |= {"contract": contracts[0], "cluster_contract": contracts[1], "bj_voucher": bj["id"]}
        clock.set(NOW)
        for key in ("A", "B"):
            t = {"Authorization": f"Bearer {parties[key].token}"}
            ids = parties[key].ids
            inv = _ok(c.post("/v1/billing/invoices", json={"tenant": ids["name"], "period": "2026-10"}, headers=op))
            cmd = f"cmd-secret-of-{ids['name']}"
            job = _ok(c.post(f"/v1/leases/{ids['lease']}/jobs", json={"command": ["echo", cmd], "name": f"job-of-{key}"},
                             headers=t))
            log_text[job["driver_job_id"]] = f"log-secret-of-{ids['name']}"
            ids |= {"invoice": inv["id"], "job": job["id"], "command": cmd, "log": log_text[job["driver_job_id"]]}
        token_ids = {k: _ok(c.get("/v1/tokens", headers={"Authorization": f"Bearer {v.token}"}))[0]["id"]
                     for k, v in parties.items()}
        run = _ok(c.post("/v1/whatif", json={"days": 2}, headers=op))
        whatif.runner(p).join(run["id"])  # the worker thread ends with the run
        assert _ok(c.get(f"/v1/whatif/{run['id']}", headers=op))["state"] == "done"
        parties["op"].ids["whatif_run"] = run["id"]
        # an agent joined supplier 1's node (pending), and an unused join token for the join route
        first, second = (_ok(c.post("/v1/agents/join-tokens", json={"node": AGENT_NODE}, headers=op))["token"]
                         for _ in range(2))
        joined = _ok(c.post("/v1/agents/join", json={"token": first, "node": AGENT_NODE, "agent_id": "agent-matrix",
                                                     "boot_id": "boot-1", "backend": "none",
                                                     "devices": AGENT_DEVICES}))
    p.close()
    return World(base, parties, log_text, driver, token_ids, joined["credential"], second)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return _build(tmp_path_factory.mktemp("authz") / "base")


class Cell:
    """A platform and a client on a copy of the world's database (or on the shared one)."""

    def __init__(self, w: World, data_dir: Path) -> None:
        self.clock = FakeClock(NOW)
        self.driver = FakeDriver(w.driver.handler, clock=self.clock, grants=dict(w.driver.grants),
                                 jobs=dict(w.driver.jobs), _seq=w.driver._seq)
        # one client plays every actor from one address: the bad-token column would trip the
        # failed-authentication limit (tested in tests/api/test_edge.py), so it is off here
        self.platform = Platform(Settings(data_dir=data_dir, database_url=None, driver="none",
                                          auth_failure_limit="0"), clock=self.clock,
                                 driver=self.driver, migrate=False)
        self.client = TestClient(create_app(self.platform), follow_redirects=False)

    def fingerprint(self) -> str:
        """A hash of every row of every table."""
        h = hashlib.sha256()
        with self.platform.engine.connect() as conn:
            tables = [r[0] for r in conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"))]
            for t in tables:
                rows = sorted(repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{t}"')))
                h.update(f"{t}:{len(rows)}:{rows}".encode())
        return h.hexdigest()

    def close(self) -> None:
        self.client.close()
        self.platform.close()


def request_for(w: World, method: str, path: str) -> tuple[str, dict[str, str], Any]:
    """The URL, query and JSON body of a route's request; path parameters name tenant A's objects
    (its lease, job, reservation, invoice), supplier 1 and its node, the month A was invoiced for."""
    a = w.parties["A"].ids
    values = {"deployment_id": a["deployment"], "lease_id": a["lease"], "job_id": a["job"], "order_id": a["reservation"], "invoice_id": a["invoice"],
              "plan_id": a["plan"], "defrag_plan_id": "dfg_none", "voucher_id": a["bj_voucher"], "tenant": a["name"], "token_id": w.token_ids["A"],
              "period": "2026-10", "supplier": "sup-one", "product": "h800-1h", "member": a["member"],
              "run_id": w.parties["op"].ids.get("whatif_run", "wif_none"), "node": AGENT_NODE,
              "name": a["name"] if path.startswith("/v1/accounts") else "s1-node-1"}
    url = "/console/" if method == "MOUNT" else path.format(**values)
    of_a = {"tenant": a["name"]}
    of_s1 = {"supplier": "sup-one"}
    query: dict[tuple[str, str], dict[str, str]] = {
        ("GET", "/v1/jobs"): {"lease_id": a["lease"]},
        ("GET", "/v1/usage"): of_a, ("GET", "/v1/wallet"): of_a, ("GET", "/v1/packages"): of_a,
        ("GET", "/v1/inference/usage"): of_a,
        ("GET", "/v1/plans"): of_a, ("GET", "/v1/vouchers"): of_a, ("GET", "/v1/vouchers/audit"): of_a,
        ("GET", "/v1/vouchers/contracts"): of_a,
        ("GET", "/v1/invoices/{period}"): of_a, ("GET", "/v1/billing/preview/{period}"): of_a,
        ("GET", "/v1/billing/invoices"): of_a, ("GET", "/v1/lease-costs"): of_a,
        ("GET", "/v1/members"): of_a, ("DELETE", "/v1/members/{member}"): of_a,
        ("GET", "/v1/revenue/{period}"): of_s1, ("GET", "/v1/statements/supplier"): of_s1,
        ("GET", "/v1/payouts"): of_s1, ("GET", "/v1/statements/supplier/earnings"): of_s1,
    }
    event = {"id": "ev-matrix", "source": "gw", "type": "inference_input_tokens", "subject": a["name"],
             "time": "2026-11-02T09:00:00Z", "data": {"quantity": "1000"}}
    body: dict[tuple[str, str], Any] = {
        ("POST", "/v1/accounts"): {"name": "newcomer", "role": "tenant"},
        ("POST", "/v1/fleet/import"): {"sites": [{"name": "site-2", "region": "cn-west", "tier": "hub", "pue": "1.2",
                                                  "power_price_kwh": "0.4"}]},
        ("POST", "/v1/fleet/import-engine"): {"site": "site-1", "supplier": "sup-one"},
        ("POST", "/v1/nodes/{name}/state"): {"state": "maintenance", "reason": "fan swap"},
        ("POST", "/v1/nodes/{name}/transfer"): {"supplier": "sup-two", "reason": "sold to supplier 2"},
        ("PUT", "/v1/suppliers/{supplier}/floors"): {"model": "H800", "device_hour": "8"},
        ("POST", "/v1/prices"): {"model": "H800", "amount": "11", "unit": "device_hour"},
        ("POST", "/v1/resource-prices"): {"resource": "cpu_core_hour", "amount": "0.12"},
        ("POST", "/v1/prices/tokens"): {"model": "tiny-gpt", "input": {"price": "2"}},
        ("POST", "/v1/prices/corrections"): {"model": "H800", "amount": "11", "from": "2026-10-01T00:00:00Z",
                                             "to": "2026-10-02T00:00:00Z", "reason": "matrix"},
        ("POST", "/v1/oversub"): {"site": "site-1", "model": "L20", "factor": "2", "discount_pct": "20"},
        ("PUT", "/v1/defrag/settings"): {"notice_s": 300, "discount_pct": "10"},
        ("POST", "/v1/defrag/plans"): {"targets": [{"form": "gpu", "quantity": 2}]},
        ("POST", "/v1/orders"): {"form": "gpu", "quantity": 1, "models": ["L20"], "hours": 1},
        ("POST", "/v1/quotes"): {"form": "gpu", "quantity": 1, "models": ["L20"], "hours": 1},
        ("POST", "/v1/orders/when"): {"form": "gpu", "quantity": 1, "models": ["L20"], "hours": 1},
        ("PUT", "/v1/queue/weights"): {"tenant": a["name"], "weight": "2", "allow_high": True},
        ("POST", "/v1/leases/{lease_id}/extend"): {"hours": 1},
        ("POST", "/v1/leases/{lease_id}/jobs"): {"command": ["echo", "hello"]},
        ("POST", "/v1/usage/events"): event,
        ("POST", "/v1/usage/batch"): {"events": [event]},
        ("POST", "/v1/wallet/top-ups"): {"tenant": a["name"], "amount": "5"},
        ("POST", "/v1/wallet/credits"): {"tenant": a["name"], "amount": "5", "reason": "goodwill"},
        ("PUT", "/v1/wallet/policy"): {"tenant": a["name"], "warn_hours": "2", "suspend_hours": "1"},
        ("POST", "/v1/package-products"): {"name": "h800-8h", "meter": "device_seconds", "model": "H800",
                                           "quantity": "8", "price": "70", "valid_days": 30,
                                           "tiers": [{"min_count": 10, "price": "65"}]},
        ("PUT", "/v1/package-products/{product}/price"): {"price": "0.9"},
        ("POST", "/v1/packages"): {"product": "h800-1h", "count": 2},
        ("POST", "/v1/packages/sales"): {"tenant": a["name"], "product": "h800-1h", "price": "0.5",
                                         "reason": "launch discount"},
        ("POST", "/v1/plans"): {"tenant": a["name"], "kind": "payg", "effective_from": "2027-01-01T00:00:00Z"},
        ("POST", "/v1/plans/{plan_id}/end"): {},
        ("POST", "/v1/vouchers"): {"tenant": a["name"], "issuer": "city-x", "percent": "0.2", "cap": "1",
                                   "valid_from": "2026-11-01T00:00:00Z", "valid_to": "2027-01-01T00:00:00Z"},
        ("POST", "/v1/related-parties"): {"tenant": a["name"], "supplier": "sup-one"},
        ("POST", "/v1/vouchers/contracts"): {"plan": a["contract"], "signed_on": "2026-09-21", "value": "90000"},
        ("POST", "/v1/vouchers/approved-suppliers"): {"scheme": "shenzhen", "supplier": "sup-one"},
        ("PUT", "/v1/vouchers/firms/{tenant}"): {"startup": True, "note": "founded 2025"},
        ("POST", "/v1/vouchers/{voucher_id}/claims"): {"contract": a["cluster_contract"]},
        ("POST", "/v1/vouchers/{voucher_id}/redemptions"): {"invoice": a["invoice"], "evidence": "acceptance 11-01"},
        ("POST", "/v1/billing/invoices"): {"tenant": a["name"], "period": "2026-09"},
        ("POST", "/v1/billing/invoices/{invoice_id}/void"): {"reason": "typo"},
        ("POST", "/v1/billing/invoices/{invoice_id}/credit-notes"): {"amount": "1", "reason": "outage"},
        ("POST", "/v1/billing/invoices/{invoice_id}/debit-notes"): {"amount": "1", "reason": "late fee"},
        ("POST", "/v1/payouts"): {"supplier": "sup-one", "amount": "0.01", "reference": "TX-1", "periods": ["2026-10"]},
        ("PUT", "/v1/legal/seller"): SELLER,
        ("PUT", "/v1/legal/buyers/{tenant}"): BUYER_A | {"invoice_type": "normal"},
        ("POST", "/v1/tax-rates"): {"product_type": "compute", "rate": "0.06"},
        ("POST", "/v1/whatif"): {"days": 1, "growth": "1.5"},
        ("PUT", "/v1/economics/inputs"): {"settings": {"life_years": 6},
                                          "nodes": [{"node": "s1-node-1", "capex": "100000", "purchased_on": "2026-01-01"}]},
        ("POST", "/v1/members"): {"name": "member-x", "role": "viewer", "tenant": a["name"]},
        ("PATCH", "/v1/members/{member}"): {"role": "finance", "tenant": a["name"]},
        ("POST", "/v1/agents/join"): {"token": w.join_token, "node": AGENT_NODE, "agent_id": "agent-matrix",
                                      "boot_id": "boot-2", "version": "0.1", "backend": "none",
                                      "devices": AGENT_DEVICES},
        ("POST", "/v1/agents/{node}/heartbeat"): {"boot_id": "boot-1", "rtt_ms": "1.5", "devices": []},
        ("POST", "/v1/agents/{node}/reports"): {"jobs": [], "usage": [], "logs": []},
        ("POST", "/v1/agents/join-tokens"): {"node": AGENT_NODE},
        ("POST", "/v1/deployments"): {**DEPLOYMENT, "name": "matrix-model"},
        ("PATCH", "/v1/deployments/{deployment_id}"): {"desired_replicas": 1},
        ("POST", "/v1/chat/completions"): {"model": "nope", "messages": [{"role": "user", "content": "hi"}]},
        ("POST", "/v1/completions"): {"model": "nope", "prompt": "hi"},
        ("POST", "/v1/embeddings"): {"model": "nope", "input": "hi"},
    }
    return url, query.get((method, path), {}), body.get((method, path))


def app_routes() -> set[tuple[str, str]]:
    """(method, path) of every route of the app, read from its route table; a mount is ("MOUNT", path).
    HEAD is left out: it is GET without a body, answered by the same endpoint."""
    from fastapi import routing

    app = create_app(None)  # type: ignore[arg-type]  # the route table does not touch the platform
    flat = getattr(routing, "iter_route_contexts", None)  # FastAPI >= 0.165 includes routers lazily
    routes = list(flat(app.routes)) if flat else app.routes
    out: set[tuple[str, str]] = set()
    for r in routes:
        methods = getattr(r, "methods", None)
        if methods is None:
            out.add(("MOUNT", r.path))
        else:
            out |= {(m, r.path) for m in methods if m != "HEAD"}
    return out


def test_every_route_has_a_row_and_every_row_a_route() -> None:
    routes = app_routes()
    assert len(routes) > 60
    missing = sorted(routes - set(EXPECTED))
    assert not missing, f"routes without a rule in EXPECTED (add a row: who may call it?): {missing}"
    stale = sorted(set(EXPECTED) - routes)
    assert not stale, f"rows in EXPECTED for routes the app does not have: {stale}"
    for key, row in EXPECTED.items():
        assert len(row.split()) == len(ACTORS), key


@pytest.fixture(scope="module")
def shared(world: World) -> Iterator[Cell]:
    """One copy of the world for the cells that do not (or must not) change anything."""
    d = world.base_dir.parent / "shared"
    shutil.copytree(world.base_dir, d)
    cell = Cell(world, d)
    yield cell
    cell.close()


def _check_no_leak(w: World, actor: str, url: str, query: dict[str, str], body: Any, response_text: str) -> None:
    asked = url + repr(query) + repr(body)
    leaked = sorted(x for x in w.secrets_hidden_from(actor) if x in response_text and x not in asked)
    assert not leaked, f"response to {actor} shows {leaked}: {response_text[:800]}"


ENGINE_WRITES = {"provision", "release", "submit", "cancel"}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("route", sorted(EXPECTED), ids=lambda k: f"{k[0]} {k[1]}")
def test_route_by_actor(route: tuple[str, str], actor: str, world: World, shared: Cell, tmp_path: Path) -> None:
    method, path = route
    expected = int(EXPECTED[route].split()[ACTORS.index(actor)])
    url, query, body = request_for(world, method, path)
    writes = method in MUTATING
    if writes and expected < 300:  # a write that succeeds gets its own copy of the world
        shutil.copytree(world.base_dir, tmp_path / "data")
        cell = Cell(world, tmp_path / "data")
    else:
        cell = shared
    try:
        before = cell.fingerprint() if writes else ""
        calls = len(cell.driver.calls)
        r = cell.client.request("GET" if method == "MOUNT" else method, url, params=query, json=body,
                                headers=world.headers(actor))
        assert r.status_code == expected, f"{method} {url} as {actor}: {r.status_code} {r.text[:500]}"
        _check_no_leak(world, actor, url, query, body, r.text)
        if writes and expected >= 300:
            assert cell.fingerprint() == before, f"{method} {url} as {actor} answered {r.status_code} but wrote"
            engine = [c.method for c in cell.driver.calls[calls:] if c.method in ENGINE_WRITES]
            assert not engine, f"{method} {url} as {actor} answered {r.status_code} but asked the engine to {engine}"
    finally:
        if cell is not shared:
            cell.close()


def test_the_secrets_are_there_to_find(world: World, shared: Cell) -> None:
    """The leak check looks for data that the owner and the operator do get (it is not vacuous)."""
    a, c = world.parties["A"].ids, shared.client
    for actor in ("op", "A"):
        h = world.headers(actor)
        assert a["command"] in c.get(f"/v1/jobs/{a['job']}", headers=h).text
        assert a["log"] in c.get(f"/v1/jobs/{a['job']}/logs", headers=h).text
        assert a["invoice"] in c.get("/v1/billing/invoices", params={"tenant": a["name"]}, headers=h).text
        assert a["package"] in c.get("/v1/packages", params={"tenant": a["name"]}, headers=h).text
        assert a["voucher"] in c.get("/v1/vouchers", params={"tenant": a["name"]}, headers=h).text
    s1 = world.headers("S1")
    assert a["lease"] in c.get("/v1/leases", headers=s1).text
    assert "s1-node-1" in c.get("/v1/nodes", headers=s1).text
    assert "s1-node-1" in c.get("/v1/statements/supplier", headers=s1).text


def test_the_node_credential_is_no_account_token(world: World, shared: Cell) -> None:
    """The node credential opens the agent's own routes only: every other non-public route answers 401
    to it, exactly as to an unknown token, and writes nothing."""
    node = {"Authorization": f"Bearer {world.node_credential}"}
    before = shared.fingerprint()
    for route in sorted(EXPECTED):
        method, path = route
        if route in NODE_CREDENTIAL_ROUTES or len(set(EXPECTED[route].split())) == 1:
            continue  # the agents' own routes, and public ones (the same answer to every caller)
        url, query, body = request_for(world, method, path)
        r = shared.client.request("GET" if method == "MOUNT" else method, url, params=query, json=body, headers=node)
        assert r.status_code == 401, f"{method} {url} with a node credential: {r.status_code} {r.text[:300]}"
    assert shared.fingerprint() == before
    r = shared.client.post(f"/v1/agents/{AGENT_NODE}/heartbeat", json={"boot_id": "boot-1", "devices": []},
                           headers=node)  # ... and it is a real credential (pending: it heartbeats, gets no work)
    assert r.status_code == 200 and r.json()["state"] == "pending" and r.json()["work"] == 0, r.text

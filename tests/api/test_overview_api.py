"""The operator's overview over HTTP (``GET /v1/reports/overview``): each figure recomputed by hand
from what the test did through the API, on SQLite and PostgreSQL; operator only; nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.accounts import Principal
from suanli.service import accounts, capacity
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock

Http = tuple[TestClient, dict[str, str]]
URL = "/v1/reports/overview"


@pytest.fixture
def http(demo: Platform, operator: Principal) -> Iterator[Http]:
    token = accounts.issue_token(demo, operator, operator.name)
    with TestClient(create_app(demo)) as c:
        yield c, {"Authorization": f"Bearer {token}"}


def account(c: TestClient, op: dict[str, str], name: str, role: str = "tenant", supplier: str | None = None
            ) -> dict[str, str]:
    r = c.post("/v1/accounts", json={"name": name, "role": role, "supplier": supplier}, headers=op)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def order(c: TestClient, who: dict[str, str], body: dict[str, object]) -> dict[str, object]:
    r = c.post("/v1/orders", json=body, headers=who)
    assert r.status_code == 201, r.text
    lease = c.get(f"/v1/leases/{r.json()['lease_id']}", headers=who)
    assert lease.status_code == 200, lease.text
    out: dict[str, object] = lease.json()
    return out


def available_devices(c: TestClient, op: dict[str, str]) -> int:
    return sum(n["devices"] for n in c.get("/v1/nodes", headers=op).json() if n["state"] == "available")


def list_rate(c: TestClient, op: dict[str, str], model: str, site: str) -> Decimal:
    """The device-hour list price of a model at a site, from the price list (a site's price wins)."""
    rows = [x for x in c.get("/v1/prices", headers=op).json() if x["model"] == model and x.get("in_force", True)]
    site_rows = [x for x in rows if x.get("site") == site] or [x for x in rows if not x.get("site")]
    assert site_rows, rows
    return Decimal(site_rows[-1]["device_hour"])


def test_the_figures_are_those_of_the_leases_recomputed_by_hand(http: Http, clock: FakeClock) -> None:
    c, op = http
    a = account(c, op, "a")
    n = available_devices(c, op)
    empty = c.get(URL, headers=op).json()
    assert empty["allocation"] == {"now": "0", "before": "0", "delta": "0"}
    assert empty["counts"]["idle_whole_gpus"] == n and empty["counts"]["fragmented_gpus"] == 0
    assert empty["revenue_mtd"]["now"] == "0.00" and empty["run_rate"]["now"] == "0.00"

    whole = order(c, a, {"form": "gpu", "quantity": 2, "models": ["L20"]})
    part = order(c, a, {"form": "slice", "share_pct": 25, "memory_mib": 1024, "models": ["L20"]})
    clock.advance(hours=2)
    o = c.get(URL, headers=op).json()
    held = Decimal(2) + Decimal("0.25")
    assert Decimal(o["allocation"]["now"]) == (held / n).quantize(Decimal("0.0001"))
    assert o["allocation"]["before"] == "0"  # 24 h ago nothing was held
    # the last 24 h: 2.25 device-equivalents for 2 hours out of n devices x 24 hours
    assert Decimal(o["lease_rate"]["now"]) == (held * 2 / (n * 24)).quantize(Decimal("0.0001"))
    al = whole["allocations"][0]  # type: ignore[index]
    rate = list_rate(c, op, "L20", al["site"])
    assert Decimal(o["run_rate"]["now"]) == (held * rate).quantize(Decimal("0.01"))
    # the month's draft: one line per lease (2 devices, a quarter of one) for 2 hours, each split into the
    # supplier share (85 %: the default commission is 15 %, rounded half up per line) and the commission
    cent = Decimal("0.01")
    lines = [(share * rate * 2).quantize(cent, ROUND_HALF_UP) for share in (Decimal(2), Decimal("0.25"))]
    assert Decimal(o["revenue_mtd"]["now"]) == sum(lines)
    assert o["revenue_mtd"]["before"] == "0.00"  # nothing in October
    assert Decimal(o["commission_mtd"]["now"]) == sum(x - (x * Decimal("0.85")).quantize(cent, ROUND_HALF_UP)
                                                      for x in lines)
    assert o["counts"]["idle_whole_gpus"] == n - 3 and o["counts"]["fragmented_gpus"] == 1
    assert part["form"] == "slice"

    # a day later the comparison is with the figures above
    clock.advance(hours=24)
    later = c.get(URL, headers=op).json()
    assert later["allocation"]["before"] == o["allocation"]["now"]
    assert Decimal(later["allocation"]["delta"]) == 0


def test_counts_down_nodes_unpaid_invoices_and_low_runway_tenants(http: Http, clock: FakeClock) -> None:
    c, op = http
    a, b = account(c, op, "a"), account(c, op, "b")
    node = c.get("/v1/nodes", headers=op).json()[0]["name"]
    r = c.post(f"/v1/nodes/{node}/state", json={"state": "down", "reason": "psu"}, headers=op)
    assert r.status_code == 200, r.text
    order(c, a, {"form": "gpu", "quantity": 1, "models": ["L20"]})
    # b is prepaid with nothing in its wallet and a running lease: its runway is below the warning
    assert c.put("/v1/wallet/policy", json={"tenant": "b", "warn_hours": "24", "suspend_hours": "0"},
                 headers=op).status_code == 200
    order(c, b, {"form": "gpu", "quantity": 1, "models": ["L20"]})
    clock.advance(hours=1)
    o = c.get(URL, headers=op).json()
    assert o["counts"]["down_nodes"] == 1
    assert o["counts"]["low_runway_tenants"] == 1 and o["low_runway"] == ["b"]
    assert o["counts"]["unpaid_invoices"] == 0
    clock.set(datetime(2026, 12, 1, 0, 0, 5, tzinfo=UTC))
    r = c.post("/v1/billing/invoices", json={"tenant": "a", "period": "2026-11"}, headers=op)
    assert r.status_code == 201, r.text
    o = c.get(URL, headers=op).json()
    assert o["counts"]["unpaid_invoices"] == 1


def test_only_the_operator_reads_the_overview(http: Http) -> None:
    c, op = http
    a = account(c, op, "a")
    s = account(c, op, "east", "supplier", "huadong-idc")
    for who in (a, s):
        r = c.get(URL, headers=who)
        assert r.status_code == 403, r.text
        assert "overview" in r.json()["error"]["message"]
    assert c.get(URL).status_code == 401


def test_energy_cost_and_margin_come_from_the_capacity_series(http: Http, demo: Platform, clock: FakeClock) -> None:
    c, op = http
    a = account(c, op, "a")
    order(c, a, {"form": "gpu", "quantity": 4, "models": ["L20"]})
    before = c.get(URL, headers=op).json()
    assert before["energy_cost_mtd"] is None and before["energy_cost_today"] is None  # nothing sampled yet
    assert before["margin_mtd"]["now"] == before["commission_mtd"]["now"]
    for _ in range(3):  # the background pass samples every minute
        clock.advance(seconds=demo.settings.capacity_sample_seconds)
        capacity.sample(demo)
    o = c.get(URL, headers=op).json()
    month = c.get("/v1/reports/capacity", params={"start": "2026-11-01T00:00:00Z", "end": o["as_of"]},
                  headers=op).json()
    assert o["energy_cost_mtd"] == month["total"]["power_cost"] and Decimal(o["energy_cost_mtd"]) > 0
    # today starts at midnight in Asia/Shanghai (16:00 UTC the day before): the samples are all today's
    assert o["energy_cost_today"] == o["energy_cost_mtd"]
    assert Decimal(o["margin_mtd"]["now"]) == Decimal(o["commission_mtd"]["now"]) - Decimal(o["energy_cost_mtd"])
    now = c.get("/v1/reports/capacity/now", headers=op).json()
    assert o["power_cost_per_hour"] == now["power_cost_per_hour"]
    assert o["idle"] == {k: now["total"][k] for k in ("fragmented", "unrented", "down")}
    assert o["utilisation"]["now"] is None  # no telemetry on this machine's fake fleet


def test_an_empty_fleet_answers_with_no_figures_rather_than_an_error(platform: Platform, operator: Principal,
                                                                    clock: FakeClock) -> None:
    token = accounts.issue_token(platform, operator, operator.name)
    with TestClient(create_app(platform)) as c:
        r = c.get(URL, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        o = r.json()
        assert o["devices"] == 0 and o["allocation"]["now"] is None and o["lease_rate"]["now"] is None
        assert o["revenue_mtd"]["now"] == "0.00" and o["counts"]["idle_whole_gpus"] == 0
        clock.set(datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC))  # the first instant of a month: an empty month so far
        r = c.get(URL, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        assert r.json()["revenue_mtd"] == {"now": "0.00", "before": "0.00", "delta": "0.00"}

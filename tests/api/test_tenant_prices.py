"""A tenant tries to set a price, a discount, a rate, a commission or a floor on every route it may call.

Every route open to a tenant that takes a body gets the body it accepts plus one money field; each
answer must be a 422 that says tenants cannot set prices and names the fields allowed, and nothing
may be written (every table as it was). The routes come from the app's route table and the
authorization matrix (``test_authz_matrix.EXPECTED``), so a new tenant route is attacked too.
Then the attack that was found: ``suanli package buy --model L20 --quantity 1000 --price 0.01``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from test_authz_matrix import ACTORS, EXPECTED, MUTATING, Cell, World, _build, request_for

from suanli.api.app import create_app

MONEY_FIELDS = ("price", "discount", "rate", "rates", "commission", "floor", "unit_price", "amount", "percent")


def _tenant_body_routes() -> list[tuple[str, str]]:
    """(method, path) of the writing routes tenant A may call (< 300 in the matrix) that take a JSON body."""
    from fastapi import routing

    app = create_app(None)  # type: ignore[arg-type]  # the route table does not touch the platform
    flat = getattr(routing, "iter_route_contexts", None)
    routes = list(flat(app.routes)) if flat else app.routes
    out = []
    for r in routes:
        for m in getattr(r, "methods", None) or ():
            key = (m, r.path)
            if m in MUTATING and key in EXPECTED and int(EXPECTED[key].split()[ACTORS.index("A")]) < 300 \
                    and getattr(r, "body_field", None) is not None:
                out.append(key)
    return sorted(out)


TENANT_ROUTES = _tenant_body_routes()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return _build(tmp_path_factory.mktemp("prices") / "base")


@pytest.fixture(scope="module")
def shared(world: World) -> Iterator[Cell]:
    """A copy of the world that no attack may change."""
    d = world.base_dir.parent / "shared"
    shutil.copytree(world.base_dir, d)
    cell = Cell(world, d)
    yield cell
    cell.close()


def test_the_attack_covers_the_tenant_routes_that_take_a_body() -> None:
    assert {("POST", "/v1/packages"), ("POST", "/v1/orders"), ("POST", "/v1/leases/{lease_id}/extend"),
            ("POST", "/v1/leases/{lease_id}/jobs")} <= set(TENANT_ROUTES)


@pytest.mark.parametrize("field", MONEY_FIELDS)
@pytest.mark.parametrize("route", TENANT_ROUTES, ids=lambda k: f"{k[0]} {k[1]}")
def test_a_tenant_cannot_send_a_price_anywhere(route: tuple[str, str], field: str, world: World,
                                               shared: Cell) -> None:
    method, path = route
    url, query, body = request_for(world, method, path)
    sent: dict[str, Any] = {**(body or {}), field: "0.01"}
    before = shared.fingerprint()
    r = shared.client.request(method, url, params=query, json=sent, headers=world.headers("A"))
    assert r.status_code == 422, f"{method} {url} with {field}: {r.status_code} {r.text[:300]}"
    message = r.json()["error"]["message"]
    assert "tenants cannot set prices" in message and "allowed fields:" in message, message
    assert shared.fingerprint() == before, f"{method} {url} with {field} answered 422 but wrote"


def test_the_found_attack_buying_l20_at_a_price_of_ones_own(world: World, shared: Cell) -> None:
    """The body of ``package buy --model L20 --quantity 1000 --price 0.01`` as it was sent before products."""
    before = shared.fingerprint()
    r = shared.client.post("/v1/packages", json={"meter": "device_seconds", "model": "L20", "quantity": "1000",
                                                 "price": "0.01", "expires_at": "2027-01-01T00:00:00Z"},
                           headers=world.headers("A"))
    assert r.status_code == 422
    message = r.json()["error"]["message"]
    assert "price" in message and "tenants cannot set prices" in message and "allowed fields: product, count" in message
    assert shared.fingerprint() == before
    # the buy the tenant may make: a product at its listed price
    mine = shared.client.get("/v1/packages", headers=world.headers("A")).json()
    assert all(x["sold_by"] == "" and x["list_price"] is None and x["price"] == "1" for x in mine)


def test_the_wire_check_knows_aliases_and_names_what_is_allowed() -> None:
    from datetime import datetime

    from pydantic import ConfigDict, Field, ValidationError

    from suanli.api.schemas.common import Wire

    class Window(Wire):
        start: datetime = Field(alias="from")
        note: str = ""

    class Named(Window):
        model_config = ConfigDict(extra="forbid", populate_by_name=True)

    assert Window.model_validate({"from": "2026-12-01T00:00:00Z"}).start.year == 2026
    with pytest.raises(ValidationError, match=r"unknown field\(s\) start; allowed fields: from, note"):
        Window.model_validate({"start": "2026-12-01T00:00:00Z"})
    assert Named.model_validate({"start": "2026-12-01T00:00:00Z"}).start.year == 2026
    with pytest.raises(ValidationError, match=r"tenants cannot set prices.*allowed fields: from, start, note"):
        Named.model_validate({"from": "2026-12-01T00:00:00Z", "discount": "0.5"})

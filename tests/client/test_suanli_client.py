"""SuanliClient against the real app and a real database (no mocks): typed answers, exact money,
errors mapped to the same classes as in-process, pagination, idempotency."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

import pytest

from suanli.api.schemas.orders import OrderRequest
from suanli.client import (
    ApiAuthenticationError,
    ApiConflictError,
    ApiError,
    ApiNotFoundError,
    ApiPermissionDeniedError,
    ApiValidationError,
    ServerUnreachableError,
    SuanliClient,
)
from suanli.domain.invoices import stored
from suanli.errors import NotFoundError, ValidationError
from suanli.testing.clock import FakeClock


def test_health_and_me(op: SuanliClient, tenant: SuanliClient) -> None:
    assert op.health()["status"] == "ok"
    me = tenant.me()
    assert (me.name, me.role) == ("acme", "tenant")
    assert {a.name for a in op.accounts()} == {"operator", "acme"}


def test_offers_are_typed_and_exact(tenant: SuanliClient) -> None:
    offers = tenant.offers()
    assert len({o.site for o in offers}) >= 3
    assert len({o.model for o in offers}) >= 5
    priced = [o for o in offers if o.price_device_hour is not None]
    assert priced and all(isinstance(o.price_device_hour, Decimal) and isinstance(o.price_p_year, Decimal)
                          for o in priced)
    h800 = tenant.offers(model="H800")
    assert {o.model for o in h800} == {"H800"}
    assert all(o.memory_gib >= 80 for o in tenant.offers(min_memory_gib=80))


def test_price_in_p_year_converts_exactly(op: SuanliClient) -> None:
    p = next(m.p for m in op.catalog() if m.name == "H800")
    price = op.set_price("H800", "180000", "p_year", site="sh-east-1")
    assert price.p_year == Decimal("180000")
    assert price.device_hour == Decimal("180000") * p / Decimal(8760)
    assert price.device_hour.quantize(Decimal("0.01")) == Decimal("20.33")
    with pytest.raises(TypeError):
        op.set_price("H800", 1.5)  # type: ignore[arg-type]  # floats are refused before sending


def test_order_lease_end_invoice(tenant: SuanliClient, clock: FakeClock) -> None:
    order = tenant.create_order(form="gpu", quantity=2, models=["H800"])
    assert order.status == "fulfilled" and order.lease_id
    lease = tenant.lease(order.lease_id)
    assert lease.state == "active"
    assert len(lease.allocations) == 2 and {a.model for a in lease.allocations} == {"H800"}
    assert len({a.node for a in lease.allocations}) == 1
    assert [e.to_state for e in lease.events or []] == ["active"]

    clock.advance(5431)
    ended = tenant.end_lease(order.lease_id, reason="done")
    assert ended.state == "ended"
    inv = tenant.invoice(clock.now().strftime("%Y-%m"))
    (line,) = inv.lines
    assert line.lease == order.lease_id and line.quantity == stored(Decimal(2 * 5431) / 3600)  # device-hours, 12 places as stored
    hourly = 2 * line.unit_price  # two devices at the per-device-hour price
    assert line.amount == (5431 * hourly / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert line.amount == Decimal("30.67")  # 2 x H800 at 90,000 元/P/年 for 5,431 s
    assert inv.total == inv.amount_due == line.amount and isinstance(inv.total, Decimal)
    with pytest.raises(ApiPermissionDeniedError):
        tenant.revenue(clock.now().strftime("%Y-%m"))  # supplier revenue is not a tenant's to see


def test_idempotency_key_replays(tenant: SuanliClient) -> None:
    req = OrderRequest(form="gpu", quantity=1, models=["A800"])
    first = tenant.create_order(req, idempotency_key="k-1")
    again = tenant.create_order(req, idempotency_key="k-1")
    assert again.id == first.id and again.replayed and not first.replayed
    with pytest.raises(ApiConflictError):
        tenant.create_order(form="gpu", quantity=2, models=["A800"], idempotency_key="k-1")


def test_errors_map_to_codes_and_classes(op: SuanliClient, tenant: SuanliClient,
                                         connect: Callable[[str | None], SuanliClient]) -> None:
    with pytest.raises(ApiValidationError) as bad:
        tenant.create_order(form="gpu", quantity=1, models=["NOPE-9000"])
    assert bad.value.status == 422 and bad.value.code == "invalid" and "unknown model" in bad.value.message
    assert isinstance(bad.value, ValidationError)  # the same class an in-process caller catches

    order = tenant.create_order(form="gpu", quantity=1, models=["L20"])
    other = connect(op.create_account("globex", "tenant").token)
    with pytest.raises(NotFoundError) as nf:
        other.lease(order.lease_id or "")
    assert isinstance(nf.value, ApiNotFoundError) and nf.value.status == 404
    assert not other.leases().items

    with pytest.raises(ApiAuthenticationError):
        connect("not-a-token").offers()
    with pytest.raises(ApiPermissionDeniedError):
        tenant.set_price("H800", "1", "device_hour")


def test_unknown_route_is_an_api_error(tenant: SuanliClient) -> None:
    with pytest.raises(ApiError) as e:
        tenant.request("GET", "/v1/no-such-thing")
    assert e.value.status == 404 and e.value.code == "not_found"
    assert isinstance(e.value, NotFoundError) and "no such endpoint" in e.value.message


def test_pages_are_followed(tenant: SuanliClient) -> None:
    ids = {tenant.create_order(form="gpu", quantity=1, models=["RTX-4090"]).lease_id for _ in range(3)}
    page = tenant.leases(limit=2)
    assert len(page.items) == 2 and page.next_offset == 2
    assert {x.id for x in tenant.iter_leases(page_size=1)} == ids
    assert len(list(tenant.iter_orders(page_size=2))) == 3
    assert {x.id for x in tenant.iter_leases(state="active")} == ids


def test_unreachable_server() -> None:
    with socket.socket() as s:  # a port with nobody listening: bind, read it, close
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with SuanliClient(f"http://127.0.0.1:{port}", "t", timeout=5) as c, pytest.raises(ServerUnreachableError) as e:
        c.health()
    assert f"cannot reach suanli server at http://127.0.0.1:{port}" in str(e.value)


def test_client_does_not_import_the_server() -> None:
    code = ("import sys, suanli.client; bad = [m for m in ('fastapi', 'sqlalchemy', 'suanli.service') "
            "if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

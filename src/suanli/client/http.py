"""A typed HTTP client for the suanli API: one method per endpoint, answers as the wire schemas.

Example (a user's script)::

    from suanli.client import SuanliClient, ApiError

    with SuanliClient("http://127.0.0.1:8000", token="sk_...") as api:
        for offer in api.offers(model="H800"):
            print(offer.site, offer.free_devices, offer.price_device_hour)
        order = api.create_order(form="gpu", quantity=2, models=["H800"], hours="4",
                                 idempotency_key="train-run-42")
        lease = api.lease(order.lease_id)
        print([(a.node, a.device) for a in lease.allocations])
        try:
            api.lease("ls_not_mine")
        except ApiError as e:          # also a suanli.errors.NotFoundError
            print(e.status, e.code, e.message)

Amounts go out and come back as :class:`~decimal.Decimal` (strings on the wire, never floats);
instants are ISO-8601 UTC. Errors from the server raise :class:`~suanli.client.errors.ApiError`
(subclassed per error code); no answer at all raises
:class:`~suanli.client.errors.ServerUnreachableError`.

Any ``httpx.Client`` can be injected with ``http=`` (e.g. FastAPI's ``TestClient``, which is an
``httpx.Client`` over the ASGI app): the client then sends relative paths to it and never closes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from suanli.api.schemas.accounts import (
    AccountCreatedResponse,
    AccountCreateRequest,
    AccountResponse,
    TokenResponse,
)
from suanli.api.schemas.common import Page
from suanli.api.schemas.fleet import (
    AcceleratorResponse,
    FleetImportResponse,
    FloorRequest,
    FloorResponse,
    NodeOwnershipResponse,
    NodeResponse,
    NodeStateRequest,
    NodeStateResponse,
    NodeTransferRequest,
)
from suanli.api.schemas.jobs import (
    EngineImportRequest,
    JobLogsResponse,
    JobResponse,
    JobSubmitRequest,
    LeaseUsageResponse,
)
from suanli.api.schemas.money import PreviewResponse, StatementResponse
from suanli.api.schemas.orders import (
    EndRequest,
    ExtendRequest,
    LeaseResponse,
    OrderRequest,
    OrderResponse,
    QuoteResponse,
)
from suanli.api.schemas.prices import (
    OfferResponse,
    PriceCorrectionRequest,
    PriceCorrectionResponse,
    PriceResponse,
    PriceSetRequest,
)
from suanli.client.errors import ServerUnreachableError, error_of

DEFAULT_SERVER = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 30.0

M = TypeVar("M", bound=BaseModel)
Amount = Decimal | str | int
"""An exact amount: a Decimal, a decimal string or an int (floats are refused)."""


def _amount(value: Amount, name: str) -> Decimal:
    if isinstance(value, float | bool):
        raise TypeError(f"{name} must be a Decimal, a decimal string or an int, not {type(value).__name__}")
    return Decimal(str(value))


def _body(model: BaseModel) -> Any:
    return model.model_dump(mode="json", exclude_none=True)


UNIX_PREFIX = "unix:"
"""``unix:/path/to/api.sock``: the server's Unix socket (what a job of the local engine gets in
``SUANLI_SERVER``: ``unix:/run/suanli/api.sock``); requests go to ``http://suanli`` over it."""


def open_http(server: str, timeout: float) -> httpx.Client:
    """An ``httpx.Client`` for ``server``: a URL, or ``unix:PATH`` for a Unix socket."""
    if server.startswith(UNIX_PREFIX):
        return httpx.Client(base_url="http://suanli", timeout=timeout,
                            transport=httpx.HTTPTransport(uds=server[len(UNIX_PREFIX):]))
    return httpx.Client(base_url=server, timeout=timeout)


class SuanliClient:
    """Talk to one suanli server as one account (its API token).

    ``server``: base URL (default ``http://127.0.0.1:8000``); ``token``: the API token sent as
    ``Authorization: Bearer``; ``timeout``: seconds per request; ``http``: an ``httpx.Client`` to use
    instead of opening one (not closed by :meth:`close`).
    """

    def __init__(self, server: str = DEFAULT_SERVER, token: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 *, http: httpx.Client | None = None) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self._owned = http is None
        self._http = http if http is not None else open_http(self.server, timeout)
        self._timeout = timeout

    # -- plumbing ---------------------------------------------------------------------------------

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __enter__(self) -> SuanliClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                headers: dict[str, str] | None = None, decode: bool = True) -> Any:
        """Send one request; return the decoded JSON answer (the text with ``decode=False``) or raise
        :class:`ApiError`."""
        h = dict(headers or {})
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            r = self._http.request(method, path, params=clean or None, json=json, headers=h)
        except httpx.TransportError as e:
            raise ServerUnreachableError(self.server, str(e) or type(e).__name__) from e
        if r.status_code >= 400:
            raise error_of(r)
        if not decode:
            return r.text
        if not r.content:
            return None
        return r.json()

    def _get(self, path: str, schema: type[M], /, **params: Any) -> M:
        return schema.model_validate(self.request("GET", path, params=params))

    def _list(self, path: str, schema: type[M], /, **params: Any) -> list[M]:
        return TypeAdapter(list[schema]).validate_python(self.request("GET", path, params=params))  # type: ignore[valid-type]

    # -- health and accounts ----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``GET /health`` (no token needed): status, version, database dialect."""
        out: dict[str, Any] = self.request("GET", "/health")
        return out

    def me(self) -> AccountResponse:
        """The account this client's token belongs to."""
        return self._get("/v1/me", AccountResponse)

    def accounts(self) -> list[AccountResponse]:
        """All accounts (operator only)."""
        return self._list("/v1/accounts", AccountResponse)

    def create_account(self, name: str, role: str, supplier: str | None = None) -> AccountCreatedResponse:
        """Create an account (operator only); the answer carries its first token."""
        body = AccountCreateRequest(name=name, role=role, supplier=supplier)
        return AccountCreatedResponse.model_validate(self.request("POST", "/v1/accounts", json=_body(body)))

    def issue_token(self, name: str) -> TokenResponse:
        """A new API token for account ``name`` (operator only)."""
        return TokenResponse.model_validate(self.request("POST", f"/v1/accounts/{name}/tokens"))

    # -- fleet ------------------------------------------------------------------------------------

    def catalog(self) -> list[AcceleratorResponse]:
        """The accelerator catalog: per model P, memory, TDP, source."""
        return self._list("/v1/catalog", AcceleratorResponse)

    def import_fleet(self, document: dict[str, Any]) -> FleetImportResponse:
        """Import a fleet document (the YAML fleet file as a dict); all or nothing (operator only)."""
        return FleetImportResponse.model_validate(self.request("POST", "/v1/fleet/import", json=document))

    def export_fleet(self) -> dict[str, Any]:
        """The whole fleet as a document that :meth:`import_fleet` accepts (operator only)."""
        out: dict[str, Any] = self.request("GET", "/v1/fleet/export")
        return out

    def nodes(self) -> list[NodeResponse]:
        """Nodes visible to this account (a supplier sees its own)."""
        return self._list("/v1/nodes", NodeResponse)

    def set_node_state(self, name: str, state: str, reason: str = "") -> NodeStateResponse:
        """Set a node ``available``, ``maintenance`` or ``down``."""
        body = NodeStateRequest(state=state, reason=reason)
        return NodeStateResponse.model_validate(self.request("POST", f"/v1/nodes/{name}/state", json=_body(body)))

    def transfer_node(self, name: str, supplier: str, reason: str, effective_from: datetime | None = None
                      ) -> NodeOwnershipResponse:
        """Give a node to another supplier from ``effective_from`` (default now) on (operator)."""
        body = NodeTransferRequest(supplier=supplier, reason=reason, effective_from=effective_from)
        return NodeOwnershipResponse.model_validate(self.request("POST", f"/v1/nodes/{name}/transfer",
                                                                 json=_body(body)))

    def node_owners(self, name: str) -> NodeOwnershipResponse:
        """A node's ownership history."""
        return NodeOwnershipResponse.model_validate(self.request("GET", f"/v1/nodes/{name}/owners"))

    def floors(self, supplier: str) -> list[FloorResponse]:
        """A supplier's floor prices in force, by model."""
        return [FloorResponse.model_validate(x) for x in self.request("GET", f"/v1/suppliers/{supplier}/floors")]

    def set_floor(self, supplier: str, model: str, device_hour: Amount) -> FloorResponse:
        """A supplier's floor price per device-hour for a model."""
        body = FloorRequest(model=model, device_hour=_amount(device_hour, "device_hour"))
        return FloorResponse.model_validate(self.request("PUT", f"/v1/suppliers/{supplier}/floors", json=_body(body)))

    # -- prices and offers ------------------------------------------------------------------------

    def prices(self) -> list[PriceResponse]:
        """Every list price entry, with both units (device-hour and P-year)."""
        return self._list("/v1/prices", PriceResponse)

    def set_price(self, model: str, amount: Amount, unit: str = "device_hour", *, site: str | None = None,
                  effective_from: datetime | None = None, currency: str | None = None) -> PriceResponse:
        """Set a list price (operator only); ``unit`` is ``device_hour`` or ``p_year``."""
        body = PriceSetRequest(model=model, amount=_amount(amount, "amount"), unit=unit, site=site,
                               effective_from=effective_from, currency=currency)
        return PriceResponse.model_validate(self.request("POST", "/v1/prices", json=_body(body)))

    def correct_price(self, model: str, amount: Amount, start: datetime, end: datetime, reason: str, *,
                      unit: str = "device_hour", site: str | None = None) -> PriceCorrectionResponse:
        """Correct what a price was over the past window [start, end) (operator only): issues credit or
        debit notes for issued invoices; months not issued yet are rated with the corrected price."""
        body = PriceCorrectionRequest.model_validate({"model": model, "amount": _amount(amount, "amount"), "unit": unit,
                                                      "site": site, "from": start, "to": end, "reason": reason})
        return PriceCorrectionResponse.model_validate(self.request(
            "POST", "/v1/prices/corrections", json=body.model_dump(mode="json", by_alias=True, exclude_none=True)))

    def price_corrections(self, model: str | None = None) -> list[PriceCorrectionResponse]:
        """Every price correction with who made it, why, and the notes it issued (operator only)."""
        return self._list("/v1/prices/corrections", PriceCorrectionResponse, model=model)

    def offers(self, *, model: str | None = None, site: str | None = None,
               min_memory_gib: int | None = None) -> list[OfferResponse]:
        """What can be rented now, per model and site, with free devices and prices in both units."""
        return self._list("/v1/offers", OfferResponse, model=model, site=site, min_memory_gib=min_memory_gib)

    # -- orders -----------------------------------------------------------------------------------

    def create_order(self, request: OrderRequest | None = None, *, idempotency_key: str | None = None,
                     **fields: Any) -> OrderResponse:
        """Order a product form: pass an :class:`OrderRequest` or its fields as keywords.

        A rejected order raises :class:`ApiCapacityError` (409 ``no_capacity``) naming the reason.
        Pass ``idempotency_key`` to make a retry return the first result instead of ordering twice.
        """
        if request is None:
            for k in ("p", "hours"):
                if fields.get(k) is not None:
                    fields[k] = _amount(fields[k], k)
            request = OrderRequest(**fields)
        elif fields:
            raise TypeError("give an OrderRequest or keyword fields, not both")
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return OrderResponse.model_validate(self.request("POST", "/v1/orders", json=_body(request), headers=headers))

    def quote_order(self, request: OrderRequest) -> QuoteResponse:
        """The price quote of a would-be order (``POST /v1/quotes``): nothing is ordered or written."""
        return QuoteResponse.model_validate(self.request("POST", "/v1/quotes", json=_body(request)))

    def orders(self, *, offset: int = 0, limit: int = 50) -> Page[OrderResponse]:
        """One page of orders (a tenant sees its own)."""
        return self._get("/v1/orders", Page[OrderResponse], offset=offset, limit=limit)

    def iter_orders(self, *, page_size: int = 100) -> Iterator[OrderResponse]:
        """Every order, following ``next_offset`` page by page."""
        offset: int | None = 0
        while offset is not None:
            page = self.orders(offset=offset, limit=page_size)
            yield from page.items
            offset = page.next_offset

    def cancel_order(self, order_id: str) -> OrderResponse:
        """Cancel an order whose lease has not started (a reservation)."""
        return OrderResponse.model_validate(self.request("POST", f"/v1/orders/{order_id}/cancel"))

    # -- leases -----------------------------------------------------------------------------------

    def leases(self, *, state: str | None = None, offset: int = 0, limit: int = 50) -> Page[LeaseResponse]:
        """One page of leases, optionally in one state (a tenant sees its own)."""
        return self._get("/v1/leases", Page[LeaseResponse], state=state, offset=offset, limit=limit)

    def iter_leases(self, *, state: str | None = None, page_size: int = 100) -> Iterator[LeaseResponse]:
        """Every lease (optionally in one state), following ``next_offset``."""
        offset: int | None = 0
        while offset is not None:
            page = self.leases(state=state, offset=offset, limit=page_size)
            yield from page.items
            offset = page.next_offset

    def lease(self, lease_id: str) -> LeaseResponse:
        """One lease with its devices and its events."""
        return self._get(f"/v1/leases/{lease_id}", LeaseResponse)

    def end_lease(self, lease_id: str, reason: str = "") -> LeaseResponse:
        """End an active lease now; metering stops at this second."""
        body = EndRequest(reason=reason)
        return LeaseResponse.model_validate(self.request("POST", f"/v1/leases/{lease_id}/end", json=_body(body)))

    def extend_lease(self, lease_id: str, *, hours: Amount | None = None, end: datetime | None = None) -> LeaseResponse:
        """Move a fixed-term lease's end later: by ``hours`` or to ``end`` (exactly one)."""
        body = ExtendRequest(hours=None if hours is None else _amount(hours, "hours"), end=end)
        return LeaseResponse.model_validate(self.request("POST", f"/v1/leases/{lease_id}/extend", json=_body(body)))

    # -- money ------------------------------------------------------------------------------------

    def invoice(self, period: str, *, tenant: str | None = None) -> PreviewResponse:
        """The draft of a tenant's invoice for a month ``YYYY-MM`` (to date for the current month), as
        the ledger rates it: the same as ``MoneyClient.preview``."""
        return self._get(f"/v1/invoices/{period}", PreviewResponse, tenant=tenant)

    def revenue(self, period: str, *, supplier: str | None = None) -> StatementResponse:
        """A supplier's share and the operator's commission on a month's issued invoices: the same as
        ``MoneyClient.supplier_statement(period=...)``."""
        return self._get(f"/v1/revenue/{period}", StatementResponse, supplier=supplier)

    # ---- work on leases (the execution engine)
    def submit_job(self, lease_id: str, command: list[str], *, devices: int | None = None, node: str | None = None,
                   env: dict[str, str] | None = None, name: str | None = None,
                   time_limit_s: int | None = None) -> JobResponse:
        """Run ``command`` (argv) on the lease's devices."""
        body = JobSubmitRequest(command=command, devices=devices, node=node, env=env or {}, name=name,
                                time_limit_s=time_limit_s)
        return JobResponse.model_validate(self.request("POST", f"/v1/leases/{lease_id}/jobs", json=_body(body)))

    def jobs(self, *, lease_id: str | None = None, offset: int = 0, limit: int = 50) -> Page[JobResponse]:
        return self._get("/v1/jobs", Page[JobResponse], lease_id=lease_id, offset=offset, limit=limit)

    def job(self, job_id: str) -> JobResponse:
        return self._get(f"/v1/jobs/{job_id}", JobResponse)

    def job_logs(self, job_id: str) -> JobLogsResponse:
        return self._get(f"/v1/jobs/{job_id}/logs", JobLogsResponse)

    def cancel_job(self, job_id: str) -> JobResponse:
        return JobResponse.model_validate(self.request("POST", f"/v1/jobs/{job_id}/cancel"))

    def lease_usage(self, lease_id: str) -> LeaseUsageResponse:
        """Device-seconds allocated (billed) and used by jobs, and SLA credits of the lease."""
        return self._get(f"/v1/leases/{lease_id}/usage", LeaseUsageResponse)

    def import_engine_fleet(self, site: str, supplier: str, fabric: str | None = None) -> FleetImportResponse:
        """Import the running engine's nodes (e.g. Slurm) into a site (operator)."""
        body = EngineImportRequest(site=site, supplier=supplier, fabric=fabric)
        return FleetImportResponse.model_validate(self.request("POST", "/v1/fleet/import-engine", json=_body(body)))

    def reconcile(self) -> dict[str, Any]:
        """Run one pass of the server's background reconcilers now (operator)."""
        data: dict[str, Any] = self.request("POST", "/v1/engine/reconcile")
        return data

    def metrics(self) -> str:
        """Prometheus metrics text (operator)."""
        text: str = self.request("GET", "/metrics", decode=False)
        return text


def amount_text(value: Amount) -> str:
    """An amount as the decimal string the wire carries (floats and bools are refused)."""
    if isinstance(value, float | bool):
        raise TypeError(f"amounts must be Decimal, str or int, not {type(value).__name__}")
    return str(value)


class Endpoints:
    """A group of endpoints over one :class:`SuanliClient` (money, vouchers ...)."""

    def __init__(self, api: SuanliClient) -> None:
        self.api = api

    def _one(self, schema: type[M], method: str, path: str, **kw: Any) -> M:
        return schema.model_validate(self.api.request(method, path, **kw))

    def _many(self, schema: type[M], path: str, params: dict[str, Any] | None = None) -> list[M]:
        return TypeAdapter(list[schema]).validate_python(self.api.request("GET", path, params=params))  # type: ignore[valid-type]

"""The gateway's HTTP side towards the replicas: one keep-alive ``httpcore`` connection pool per
replica endpoint, a whole answer, a relayed stream (docs/inference.md, "Gateway").

The pools are httpcore's own (the transport under httpx), used directly: no client object, URL
merging or header model per request (measured: ~0.3–0.5 ms of CPU less per call than
``httpx.AsyncClient.post``). HTTP clients stay at the edge (the import-linter contract "Web frameworks
stay at the edge"): what an answer or a stream bills is decided by :mod:`suanli.service.gateway`
(:func:`whole_answer`, :class:`StreamMeter`), which never sees the HTTP client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpcore

from suanli.domain.inference import Replica
from suanli.errors import EngineError
from suanli.service import gateway_load, uds
from suanli.service.gateway import Answer, Call, Event, StreamMeter, upstream_failed, whole_answer
from suanli.service.inference_metering import MeteredRequest
from suanli.service.platform import Platform

UPSTREAM_TIMEOUT: dict[str, Any] = {"timeout": {"connect": 5.0, "read": 600.0, "write": 60.0, "pool": 60.0}}
"""Connecting to a replica's socket is quick or broken; a generation may take minutes between bytes."""
MAX_CONNECTIONS, MAX_KEEPALIVE, KEEPALIVE_EXPIRY_S = 256, 64, 4.0
"""Idle connections are dropped before the runtime's own keep-alive timeout (uvicorn's 5 s) closes them."""
ERRORS = (httpcore.NetworkError, httpcore.TimeoutException, httpcore.ProtocolError, httpcore.UnsupportedProtocol,
          OSError)
"""What a replica that does not answer (properly) raises."""


class Upstreams:
    """One keep-alive pool per replica endpoint (``unix:<path>`` or ``http://host:port``), kept with the
    platform (:meth:`Platform.attached`); made again when the socket's short path changed (its directory
    descriptor was released: :func:`suanli.service.uds.release`) or on another event loop."""

    def __init__(self, _p: Platform) -> None:
        self._pools: dict[str, tuple[str, asyncio.AbstractEventLoop, httpcore.AsyncConnectionPool, bytes, bytes]] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def pool(self, endpoint: str) -> tuple[httpcore.AsyncConnectionPool, bytes, bytes]:
        """The pool for ``endpoint``, the URL prefix and the ``Host`` its requests use."""
        loop = asyncio.get_running_loop()
        where = uds.connect_path(endpoint) if endpoint.startswith("unix:") else endpoint
        held = self._pools.get(endpoint)
        if held is not None and held[0] == where and held[1] is loop:
            return held[2], held[3], held[4]
        if held is not None and held[1] is loop:  # (a pool of another, finished loop is only dropped)
            task = loop.create_task(held[2].aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        unix = endpoint.startswith("unix:")
        pool = httpcore.AsyncConnectionPool(uds=where if unix else None, max_connections=MAX_CONNECTIONS,
                                            max_keepalive_connections=MAX_KEEPALIVE, keepalive_expiry=KEEPALIVE_EXPIRY_S)
        base = b"http://runtime" if unix else endpoint.rstrip("/").encode()
        host = base.split(b"://", 1)[-1].split(b"/", 1)[0]
        self._pools[endpoint] = (where, loop, pool, base, host)
        return pool, base, host


def _pool(p: Platform, replica: Replica) -> tuple[httpcore.AsyncConnectionPool, bytes, bytes]:
    if not replica.endpoint:
        raise EngineError(f"replica {replica.id} has no endpoint yet", replica=replica.id)
    return p.attached(Upstreams).pool(replica.endpoint)


def _request(p: Platform, call: Call, replica: Replica) -> tuple[httpcore.AsyncConnectionPool, httpcore.Request]:
    """The request, with its id and the runtime's prompt-cache partition: the caller's tenant (one
    tenant's prompts never warm another's cache; the cached part is billed at the cached rate)."""
    pool, base, host = _pool(p, replica)
    headers = [(b"host", host), (b"content-type", b"application/json"),
               (b"content-length", str(len(call.body)).encode()), (b"x-request-id", call.id.encode()),
               (b"x-suanli-cache-scope", call.who.tenant_id.encode())]
    return pool, httpcore.Request(b"POST", base + call.path.encode(), headers=headers, content=call.body,
                                  extensions=UPSTREAM_TIMEOUT)


def _media_type(resp: httpcore.Response) -> str:
    for k, v in resp.headers:
        if k.lower() == b"content-type":
            return v.decode("latin-1")
    return "application/json"


async def call_once(p: Platform, call: Call, replica: Replica) -> Answer:
    """Send a non-streamed request and read the whole answer (the runtime's errors come back as they are)."""
    pool, req = _request(p, call, replica)
    try:
        resp = await pool.handle_async_request(req)
        try:
            content = await resp.aread()
        finally:
            await resp.aclose()
    except ERRORS as e:
        raise upstream_failed(call, replica, e) from e
    return whole_answer(p, call, replica, resp.status, content, _media_type(resp))


class Relay:
    """A runtime stream being relayed: :meth:`events` yields what to send (the caller reports each one it
    sent to ``meter.sent``) and :meth:`close` ends it, saying what it bills."""

    def __init__(self, p: Platform, call: Call, replica: Replica, resp: httpcore.Response) -> None:
        self.p, self.call, self.replica, self.resp = p, call, replica, resp
        self.meter = StreamMeter(p, call, replica)

    async def events(self) -> AsyncIterator[Event]:
        m = self.meter
        try:
            async for piece in self.resp.aiter_stream():
                for ev in m.feed(piece):
                    yield ev
                if m.over:
                    return
        except ERRORS:
            pass
        if not m.over:  # the runtime went away mid-stream
            yield m.broke()

    async def close(self, *, abandoned: bool) -> MeteredRequest:
        """Close the upstream (stopping generation if it still runs) and say what the request bills."""
        try:
            await self.resp.aclose()
        finally:
            gateway_load.end(self.p, self.call.deployment.id, self.replica.id)
        return self.meter.record(abandoned=abandoned)


async def open_stream(p: Platform, call: Call, replica: Replica) -> Relay | Answer:
    """Start the runtime's stream: a :class:`Relay` once it answered 200, else its error as an :class:`Answer`."""
    pool, req = _request(p, call, replica)
    try:
        resp = await pool.handle_async_request(req)
    except ERRORS as e:
        raise upstream_failed(call, replica, e) from e
    if resp.status != 200:
        try:
            content = await resp.aread()
        except ERRORS as e:
            raise upstream_failed(call, replica, e) from e
        finally:
            await resp.aclose()
        return whole_answer(p, call, replica, resp.status, content, _media_type(resp))
    return Relay(p, call, replica, resp)

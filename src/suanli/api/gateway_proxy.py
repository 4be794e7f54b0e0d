"""The gateway's HTTP side towards the replicas: one keep-alive ``httpx.AsyncClient`` per replica
endpoint, a whole answer, a relayed stream (docs/inference.md, "Gateway").

HTTP clients stay at the edge (the import-linter contract "Web frameworks stay at the edge"): what an
answer or a stream bills is decided by :mod:`suanli.service.gateway` (:func:`whole_answer`,
:class:`StreamMeter`), which never sees httpx.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from suanli.domain.inference import Replica
from suanli.errors import EngineError
from suanli.service import gateway_load, uds
from suanli.service.gateway import Answer, Call, Event, StreamMeter, upstream_failed, whole_answer
from suanli.service.inference_metering import MeteredRequest
from suanli.service.platform import Platform

UPSTREAM_TIMEOUT = httpx.Timeout(connect=5.0, read=600.0, write=60.0, pool=60.0)
"""Connecting to a replica's socket is quick or broken; a generation may take minutes between bytes."""
LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=4.0)
"""Idle connections are dropped before the runtime's own keep-alive timeout (uvicorn's 5 s) closes them."""


class Upstreams:
    """One keep-alive client per replica endpoint (``unix:<path>`` or ``http://host:port``), kept with the
    platform (:meth:`Platform.attached`); made again when the socket's short path changed (its directory
    descriptor was released: :func:`suanli.service.uds.release`) or on another event loop."""

    def __init__(self, _p: Platform) -> None:
        self._clients: dict[str, tuple[str, asyncio.AbstractEventLoop, httpx.AsyncClient]] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def client(self, endpoint: str) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        where = uds.connect_path(endpoint) if endpoint.startswith("unix:") else endpoint
        held = self._clients.get(endpoint)
        if held is not None and held[0] == where and held[1] is loop:
            return held[2]
        if held is not None and held[1] is loop:  # (a client of another, finished loop is only dropped)
            task = loop.create_task(held[2].aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        if endpoint.startswith("unix:"):
            c = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=where, limits=LIMITS),
                                  base_url="http://runtime", timeout=UPSTREAM_TIMEOUT)
        else:
            c = httpx.AsyncClient(base_url=endpoint, timeout=UPSTREAM_TIMEOUT, limits=LIMITS)
        self._clients[endpoint] = (where, loop, c)
        return c


def _client(p: Platform, replica: Replica) -> httpx.AsyncClient:
    if not replica.endpoint:
        raise EngineError(f"replica {replica.id} has no endpoint yet", replica=replica.id)
    return p.attached(Upstreams).client(replica.endpoint)


def _headers(call: Call) -> dict[str, str]:
    """The request id, and the runtime's prompt-cache partition: the caller's tenant (one tenant's
    prompts never warm another's cache; the cached part is billed at the cached rate)."""
    return {"content-type": "application/json", "x-request-id": call.id, "x-suanli-cache-scope": call.who.tenant_id}


async def call_once(p: Platform, call: Call, replica: Replica) -> Answer:
    """Send a non-streamed request and read the whole answer (the runtime's errors come back as they are)."""
    try:
        resp = await _client(p, replica).post(call.path, content=call.body, headers=_headers(call))
    except httpx.HTTPError as e:
        raise upstream_failed(call, replica, e) from e
    return whole_answer(p, call, replica, resp.status_code, resp.content,
                        resp.headers.get("content-type", "application/json"))


class Relay:
    """A runtime stream being relayed: :meth:`events` yields what to send (the caller reports each one it
    sent to ``meter.sent``) and :meth:`close` ends it, saying what it bills."""

    def __init__(self, p: Platform, call: Call, replica: Replica, resp: httpx.Response) -> None:
        self.p, self.call, self.replica, self.resp = p, call, replica, resp
        self.meter = StreamMeter(p, call, replica)

    async def events(self) -> AsyncIterator[Event]:
        m = self.meter
        try:
            async for piece in self.resp.aiter_raw():
                for ev in m.feed(piece):
                    yield ev
                if m.over:
                    return
        except httpx.HTTPError:
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
    client = _client(p, replica)
    try:
        resp = await client.send(client.build_request("POST", call.path, content=call.body, headers=_headers(call)),
                                 stream=True)
    except httpx.HTTPError as e:
        raise upstream_failed(call, replica, e) from e
    if resp.status_code != 200:
        try:
            content = await resp.aread()
        except httpx.HTTPError as e:
            raise upstream_failed(call, replica, e) from e
        finally:
            await resp.aclose()
        return whole_answer(p, call, replica, resp.status_code, content,
                            resp.headers.get("content-type", "application/json"))
    return Relay(p, call, replica, resp)

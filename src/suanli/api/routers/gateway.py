"""The OpenAI-compatible gateway routes: ``GET /v1/models``, ``POST /v1/chat/completions``,
``POST /v1/completions``, ``POST /v1/embeddings`` (docs/inference.md, "Gateway").

The API key is the platform token (``Authorization: Bearer``; scope ``inference`` or ``full``). Every
error on these paths is in the OpenAI format (:mod:`suanli.api.openai_errors`). Each answer carries
``x-request-id`` (``req_<hex>``, the id the request is metered under). A request is handed to metering
after its last byte was sent (a background task for a whole answer, the end of
:class:`RelayResponse` for a stream); :class:`suanli.service.inference_metering.MeterQueue` writes it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Receive, Scope, Send

from suanli.api import deps
from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.gateway_proxy import Relay, call_once, open_stream
from suanli.service import gateway, gateway_load, inference_metering
from suanli.service.gateway import Answer, Call
from suanli.service.inference_metering import MeteredRequest
from suanli.service.platform import Platform

router = APIRouter(tags=["inference"])

_CHAT_BODY = {"type": "object", "required": ["model", "messages"], "properties": {
    "model": {"type": "string"}, "messages": {"type": "array", "items": {"type": "object"}},
    "max_tokens": {"type": "integer"}, "stream": {"type": "boolean"}}}
_COMPLETION_BODY = {"type": "object", "required": ["model", "prompt"], "properties": {
    "model": {"type": "string"}, "prompt": {"type": "string"}, "max_tokens": {"type": "integer"},
    "stream": {"type": "boolean"}}}
_EMBEDDING_BODY = {"type": "object", "required": ["model", "input"], "properties": {
    "model": {"type": "string"}, "input": {"type": "string"}}}


def _body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _meter_task(p: Platform, record: MeteredRequest) -> BackgroundTask:
    async def hand_over() -> None:  # after the answer was sent; the metering worker writes it
        inference_metering.submit(p, record)
    return BackgroundTask(hand_over)


class RelayResponse(Response):
    """A runtime stream relayed event by event. A chunk counts as sent once written while the client's
    connection was still open (checked after the write: the server's disconnect notice comes within
    the next loop turns). The client going away cancels the relay at once (the upstream request is
    closed, which stops generation); then the request is metered."""

    media_type = "text/event-stream"

    def __init__(self, p: Platform, relay: Relay) -> None:
        super().__init__(status_code=200, media_type=self.media_type,
                         headers={"x-request-id": relay.call.id, "cache-control": "no-cache",
                                  "x-accel-buffering": "no"})
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]  # streamed
        self.p = p
        self.relay = relay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        relay = self.relay
        me = asyncio.current_task()
        gone = False
        finished = False

        async def listen() -> None:
            nonlocal gone
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    if not finished:
                        gone = True
                        if me is not None:
                            me.cancel()
                    return

        listener = asyncio.create_task(listen())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for ev in relay.events():
                await send({"type": "http.response.body", "body": ev.data, "more_body": True})
                await asyncio.sleep(0)  # let a disconnect noticed meanwhile reach the listener
                await asyncio.sleep(0)
                if gone:
                    break
                relay.meter.sent(ev)
            finished = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not gone or me is None:
                raise
            me.uncancel()
        except OSError:
            gone = True
        finally:
            finished = True
            listener.cancel()
            record = await relay.close(abandoned=gone)
            inference_metering.submit(self.p, record)


async def _admit(request: Request, p: Platform, authorization: str | None, endpoint: str) -> Call:
    raw = await request.body()

    def work() -> Call:
        who = deps.principal(request, authorization)
        return gateway.admit(p, who, endpoint, gateway.parse_body(raw))

    return await run_in_threadpool(work)


def _answer(p: Platform, call: Call, ans: Answer) -> Response:
    return Response(ans.content, status_code=ans.status, media_type=ans.media_type,
                    headers={"x-request-id": call.id}, background=_meter_task(p, ans.record))


async def _serve(request: Request, authorization: str | None, endpoint: str) -> Response:
    p = deps.platform(request)  # (not a dependency: a sync one would cost a worker-thread hop)
    call = await _admit(request, p, authorization, endpoint)
    replica = await gateway.pick_replica(p, call, run_in_threadpool)
    if not call.stream:
        try:
            ans = await call_once(p, call, replica)
        except BaseException:  # (a 502, or cancelled): the replica was tried, nothing is billed
            inference_metering.submit(p, call.record(replica.id, "failed", p.clock.now()))
            raise
        finally:
            gateway_load.end(p, call.deployment.id, replica.id)
        return _answer(p, call, ans)
    try:
        opened = await open_stream(p, call, replica)
    except BaseException:
        gateway_load.end(p, call.deployment.id, replica.id)
        inference_metering.submit(p, call.record(replica.id, "failed", p.clock.now()))
        raise
    if isinstance(opened, Answer):
        gateway_load.end(p, call.deployment.id, replica.id)
        return _answer(p, call, opened)
    return RelayResponse(p, opened)


Authorization = Annotated[str | None, Header(description="Bearer <platform token> (scope inference or full)")]
UPSTREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    502: {"description": "The replica did not answer (`upstream_error`); nothing was billed."},
    503: {"description": "No ready replica within the cold-start wait (`service_unavailable`); retry after "
                         "`Retry-After` seconds."}}


@router.get("/v1/models")
def list_models(p: PlatformDep, who: PrincipalDep) -> JSONResponse:
    """The models this key may call (its tenant's own deployments and the public ones), OpenAI's list."""
    return JSONResponse(gateway.model_list(gateway.list_models(p, who), who))


@router.post("/v1/chat/completions", responses=UPSTREAM_RESPONSES, openapi_extra=_body_doc(_CHAT_BODY))
async def chat_completions(request: Request, authorization: Authorization = None) -> Response:
    """OpenAI chat completions (``"stream": true``: server-sent events), proxied to a ready replica."""
    return await _serve(request, authorization, "chat")


@router.post("/v1/completions", responses=UPSTREAM_RESPONSES, openapi_extra=_body_doc(_COMPLETION_BODY))
async def completions(request: Request, authorization: Authorization = None) -> Response:
    """OpenAI text completions (``"stream": true``: server-sent events), proxied to a ready replica."""
    return await _serve(request, authorization, "completion")


@router.post("/v1/embeddings", responses=UPSTREAM_RESPONSES, openapi_extra=_body_doc(_EMBEDDING_BODY))
async def embeddings(request: Request, authorization: Authorization = None) -> Response:
    """OpenAI embeddings, proxied to a ready replica of an embedding deployment."""
    return await _serve(request, authorization, "embedding")

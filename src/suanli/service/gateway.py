"""The OpenAI-compatible gateway: admit a call, route it to a replica, relay the runtime's answer,
and hand what the client was sent to metering (docs/inference.md, "Gateway" and "Metering").

A call goes through, in order:

1. :func:`admit` (one worker-thread hop, reads only): the caller may call models (``CALL_MODELS``:
   a tenant's or the operator's ``inference`` or ``full`` token), the body is a JSON object with a
   ``model`` the key may call (its tenant's own deployments, then public ones; else 404
   ``model_not_found`` listing the ones it may call) of the endpoint's kind, ``max_tokens`` is a
   whole number in 1..the deployment's ``max_output_tokens`` (the runtime checks the prompt against
   the context and answers 400 ``context_length_exceeded``, passed through unchanged), and the key's
   own rate limit and monthly quota admit it (:func:`suanli.service.inference_keys.admit`, with the
   request's ``max_tokens`` as the tokens it may use; the prompt is counted only by the runtime).
2. :func:`pick_replica`: the least outstanding ready replica (ties: the lowest id;
   :mod:`suanli.service.gateway_load`); none → :func:`suanli.service.replicas.wake` and a bounded wait
   (``SUANLI_INFERENCE_COLD_START_WAIT_SECONDS``), then 503 ``service_unavailable`` with Retry-After.
3. The proxy (:mod:`suanli.api.gateway_proxy`: HTTP clients stay at the edge), over one keep-alive
   connection pool per replica endpoint (Unix sockets through :func:`suanli.service.uds.connect_path`): a
   plain answer is passed through as it is (:func:`whole_answer`: its ``usage``, by token ids, is
   what is metered); a stream asks the runtime for ``stream_options.include_usage`` and is relayed
   event by event as it arrives, :class:`StreamMeter` counting the completion token ids
   (``token_ids``) of the events the client was sent. The usage-only last chunk is passed on only
   if the client asked for it.
4. Metering (:func:`suanli.service.inference_metering.meter`) after the last byte was sent.

Outcomes: ``ok``; ``failed`` (the runtime refused or broke: before any token the client gets the
runtime's own error, or 502/503, and nothing is billed; mid-stream it gets an SSE ``error`` event and
is billed what it was sent); ``abandoned`` (the client went away mid-stream: the upstream request is
closed, which stops generation, and what was sent is billed). "Sent" means written to the client's
connection before the server saw it close.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from suanli.domain.accounts import Principal, Role
from suanli.domain.authz import Action, authorize
from suanli.domain.gateway import ModelRoute
from suanli.domain.inference import Deployment, DeploymentKind, Replica
from suanli.domain.text import control_char
from suanli.errors import BusyError, EngineError, NotFoundError, ValidationError
from suanli.service import gateway_load, inference_keys, replicas
from suanli.service.inference_metering import MeteredRequest
from suanli.service.platform import Platform
from suanli.store import inference as store
from suanli.store import inference_routes as routes

ENDPOINTS: dict[str, tuple[str, DeploymentKind]] = {
    "chat": ("/v1/chat/completions", DeploymentKind.GENERATE),
    "completion": ("/v1/completions", DeploymentKind.GENERATE),
    "embedding": ("/v1/embeddings", DeploymentKind.EMBED),
}
"""Gateway endpoint -> (the runtime's path, the deployment kind it serves)."""
MAX_MODEL_NAME = 200
WAIT_POLL_S = 0.2
"""How often a request waiting for a cold start reads the ready replicas again."""


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def _bad(message: str, param: str | None) -> ValidationError:
    return ValidationError(message, field=param or "body", param=param)


@dataclass
class Call:
    """An admitted request, ready to route."""

    id: str
    who: Principal
    endpoint: str
    deployment: ModelRoute
    ready: list[Replica]
    body: bytes
    """What is sent to the runtime (for a stream: with ``stream_options.include_usage``)."""
    stream: bool
    client_usage: bool
    """The client asked for the usage chunk of a stream."""
    started_at: datetime
    started_mono: float = field(default_factory=time.monotonic)

    @property
    def path(self) -> str:
        return ENDPOINTS[self.endpoint][0]

    def record(self, replica_id: str, status: str, ended_at: datetime, *, prompt: int = 0, completion: int = 0,
               cached: int = 0, first_token_at: datetime | None = None) -> MeteredRequest:
        return MeteredRequest(id=self.id, token_id=self.who.token_id, tenant_id=self.who.tenant_id,
                              deployment_id=self.deployment.id, replica_id=replica_id, model=self.deployment.name,
                              endpoint=self.endpoint, status=status, stream=self.stream, started_at=self.started_at,
                              ended_at=ended_at, first_token_at=first_token_at, prompt_tokens=prompt,
                              completion_tokens=completion, cached_tokens=min(cached, prompt))


def _caller_tenant(who: Principal) -> str | None:
    """Whose models the key reaches: the operator reaches every deployment (None), a tenant its own + public."""
    return None if who.role is Role.OPERATOR else who.tenant_id


def list_models(p: Platform, who: Principal) -> list[Deployment]:
    """The deployments the caller may call, one per name (OpenAI ``GET /v1/models``)."""
    authorize(who, Action.CALL_MODELS)
    with p.read() as s:
        return store.visible_models(s, _caller_tenant(who))


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _bad("the body is not valid JSON; send a JSON object such as "
                   '{"model": "...", "messages": [{"role": "user", "content": "..."}]}', None) from None
    if not isinstance(body, dict):
        raise _bad(f"the body must be a JSON object, not {type(body).__name__}", None)
    return body


def admit(p: Platform, who: Principal, endpoint: str, body: dict[str, Any]) -> Call:
    """Check everything that does not need a replica (see the module docstring); reads only."""
    authorize(who, Action.CALL_MODELS)
    path, kind = ENDPOINTS[endpoint]
    model = body.get("model")
    if not isinstance(model, str) or not model or len(model) > MAX_MODEL_NAME:
        raise _bad(f"'model' must be the name of a model you may call (a string of 1 to {MAX_MODEL_NAME} "
                   "characters; GET /v1/models lists them)", "model")
    bad = control_char(model)
    if bad is not None:  # no model has one; a NUL would not even reach PostgreSQL's query
        raise _bad(f"'model' holds the control character {bad}; a model's name has none (GET /v1/models "
                   "lists the models you may call)", "model")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _bad("'stream' must be true or false", "stream")
    tenant = _caller_tenant(who)
    with p.read() as s:  # one read: the route, and the key's limits and month (inference keys)
        dep = routes.route(s, tenant, model)
        budget = inference_keys.read_budget(s, p, who) if dep is not None else None
        if dep is None:
            names = [d.name for d in store.visible_models(s, tenant)]
            raise NotFoundError(f"The model '{model}' does not exist or you do not have access to it; the models "
                                f"you may call: {', '.join(names) or '(none)'}", param="model",
                                openai_code="model_not_found", models=names)
    if dep.kind is not kind:
        other = "/v1/embeddings" if dep.kind is DeploymentKind.EMBED else "/v1/chat/completions or /v1/completions"
        raise _bad(f"model '{model}' is a {dep.kind.value} model: call it at {other}, not {path}", "model")
    needed = 1
    if kind is DeploymentKind.GENERATE:
        key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
        mt = body.get(key)
        if mt is not None and (isinstance(mt, bool) or not isinstance(mt, int)
                               or not 1 <= mt <= dep.max_output_tokens):
            raise ValidationError(f"'{key}' must be an integer in [1, {dep.max_output_tokens}] for model '{model}'; "
                                  f"got {str(mt)[:40]}", field=key, param=key)
        needed = int(mt) if mt is not None else dep.max_output_tokens
    inference_keys.admit(p, who, needed, budget)
    stream = bool(stream) and kind is DeploymentKind.GENERATE
    so = body.get("stream_options")
    client_usage = isinstance(so, dict) and bool(so.get("include_usage"))
    if stream:
        out = dict(body)
        out["stream_options"] = {**(so if isinstance(so, dict) else {}), "include_usage": True}
        raw = orjson.dumps(out)
    else:
        raw = orjson.dumps(body)
    return Call(id=new_request_id(), who=who, endpoint=endpoint, deployment=dep, ready=list(dep.ready), body=raw,
                stream=stream, client_usage=client_usage, started_at=p.clock.now())


def _ready(p: Platform, deployment_id: str) -> list[Replica]:
    with p.read() as s:
        return store.ready_replicas(s, deployment_id)


async def pick_replica(p: Platform, call: Call, run: Callable[..., Any]) -> Replica:
    """The replica to send ``call`` to, counted as in flight on it (:func:`gateway_load.end` when done).
    ``run(fn, *args)`` runs blocking work off the event loop (the API's thread pool)."""
    dep = call.deployment
    by_id = {r.id: r for r in call.ready}
    rid = gateway_load.acquire(p, dep.id, by_id)
    if rid is not None:
        return by_id[rid]
    wait_s = float(p.settings.inference_cold_start_wait_seconds)
    gateway_load.begin_wait(p, dep.id)
    try:
        await run(replicas.wake, p, dep.id)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            await asyncio.sleep(min(WAIT_POLL_S, max(0.0, deadline - time.monotonic())))
            by_id = {r.id: r for r in await run(_ready, p, dep.id)}
            rid = gateway_load.acquire(p, dep.id, by_id)
            if rid is not None:
                return by_id[rid]
    finally:
        gateway_load.end_wait(p, dep.id)
    retry = max(1, round(min(wait_s, 30.0)) or 1)
    raise BusyError(f"model '{dep.name}' has no ready replica yet (one is starting; waited {wait_s:g} s): "
                    f"retry after {retry} s", retry_after_s=retry, openai_code="service_unavailable",
                    model=dep.name)


# -- what an answer bills ----------------------------------------------------------------------------------


def upstream_failed(call: Call, replica: Replica, e: Exception) -> EngineError:
    """The 502 for a replica that did not answer (nothing was billed)."""
    return EngineError(f"the replica serving model '{call.deployment.name}' did not answer ({type(e).__name__}); "
                       "nothing was billed: send the request again", replica=replica.id,
                       openai_code="upstream_error")


@dataclass
class Answer:
    """A whole (non-streamed) answer to pass on, and what it bills."""

    status: int
    content: bytes
    media_type: str
    record: MeteredRequest


def _completion_ids(choices: Any) -> int:
    if not isinstance(choices, list):
        return 0
    return sum(len(c.get("token_ids") or ()) for c in choices if isinstance(c, dict))


def usage_counts(doc: dict[str, Any]) -> tuple[int, int, int]:
    """(prompt, completion, cached) of a runtime answer: completion from the choices' token ids, prompt
    from ``prompt_token_ids`` where given, else the runtime's ``usage``."""
    usage = doc.get("usage") if isinstance(doc.get("usage"), dict) else {}
    assert isinstance(usage, dict)
    ids = doc.get("prompt_token_ids")
    prompt = len(ids) if isinstance(ids, list) else int(usage.get("prompt_tokens") or 0)
    choices = doc.get("choices")
    completion = _completion_ids(choices) if choices is not None else 0
    if choices is not None and completion == 0 and not any(isinstance(c, dict) and "token_ids" in c
                                                           for c in (choices or [])):
        completion = int(usage.get("completion_tokens") or 0)  # a runtime without the token_ids extension
    details = usage.get("prompt_tokens_details")
    cached = int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
    return prompt, completion, cached


def whole_answer(p: Platform, call: Call, replica: Replica, status: int, content: bytes, media_type: str) -> Answer:
    """A runtime's whole answer and what it bills: a 200 its usage (by token ids), anything else nothing."""
    now = p.clock.now()
    if status != 200:
        return Answer(status, content, media_type, call.record(replica.id, "failed", now))
    try:
        doc = orjson.loads(content)
        prompt, completion, cached = usage_counts(doc if isinstance(doc, dict) else {})
    except (orjson.JSONDecodeError, TypeError, ValueError) as e:
        raise upstream_failed(call, replica, e) from e
    return Answer(200, content, media_type, call.record(replica.id, "ok", now, prompt=prompt, completion=completion,
                                                        cached=cached, first_token_at=now))


@dataclass
class Event:
    """One server-sent event to pass on, and what the client is billed once it was sent."""

    data: bytes
    completion_tokens: int = 0
    prompt_tokens: int | None = None
    """The prompt's tokens, on the event that first carries ``prompt_token_ids``."""


class StreamMeter:
    """The accounting of one relayed stream: :meth:`feed` cuts the runtime's bytes into events to pass
    on; the relay reports each event it sent with :meth:`sent`; :meth:`record` says what it bills."""

    def __init__(self, p: Platform, call: Call, replica: Replica) -> None:
        self.p, self.call, self.replica = p, call, replica
        self.prompt = 0
        self.completion = 0
        self.cached = 0
        self.first_token_at: datetime | None = None
        self.done = False
        """``data: [DONE]`` came: the runtime finished."""
        self.failed = False
        """The runtime sent an error event or stopped without finishing."""
        self._buf = b""

    @property
    def over(self) -> bool:
        return self.done or self.failed

    def feed(self, piece: bytes) -> list[Event]:
        """The complete events in what arrived so far (``data: …\n\n``); none after the stream is over."""
        self._buf += piece
        out = []
        while not self.over:
            cut = self._buf.find(b"\n\n")
            if cut < 0:
                break
            raw, self._buf = self._buf[:cut + 2], self._buf[cut + 2:]
            ev = self._event(raw)
            if ev is not None:
                out.append(ev)
        return out

    def broke(self) -> Event:
        """The runtime went away mid-stream: the error event to send the client."""
        self.failed = True
        err = {"error": {"message": f"the replica serving model '{self.call.deployment.name}' stopped in the "
                                    "middle of the answer; you are billed only the tokens you were sent",
                         "type": "server_error", "param": None, "code": "upstream_error"}}
        return Event(b"data: " + orjson.dumps(err) + b"\n\n")

    def _event(self, raw: bytes) -> Event | None:
        if not raw.startswith(b"data:"):
            return Event(raw)
        payload = raw[5:].strip()
        if payload == b"[DONE]":
            self.done = True
            return Event(raw)
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return Event(raw)
        if not isinstance(doc, dict):
            return Event(raw)
        if "error" in doc:
            self.failed = True
            return Event(raw)
        choices = doc.get("choices")
        usage = doc.get("usage")
        if isinstance(usage, dict):
            details = usage.get("prompt_tokens_details")
            self.cached = int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
            if not choices and not self.call.client_usage:
                return None  # the usage chunk the gateway asked for, not the client
        ids = doc.get("prompt_token_ids")
        return Event(raw, _completion_ids(choices), len(ids) if isinstance(ids, list) else None)

    def sent(self, ev: Event) -> None:
        """``ev`` was written to the client's connection."""
        if ev.prompt_tokens is not None:
            self.prompt = ev.prompt_tokens
        if ev.completion_tokens:
            self.completion += ev.completion_tokens
            if self.first_token_at is None:
                self.first_token_at = self.p.clock.now()

    def record(self, *, abandoned: bool) -> MeteredRequest:
        """What the request bills: ``ok`` (finished), ``abandoned`` (the client went away first) or ``failed``;
        the prompt only once a token was sent (or the answer finished), and the completion tokens sent."""
        status = "ok" if self.done and not self.failed else "abandoned" if abandoned and not self.failed else "failed"
        prompt = self.prompt if (self.completion or status == "ok") else 0
        return self.call.record(self.replica.id, status, self.p.clock.now(), prompt=prompt,
                                completion=self.completion, cached=self.cached if prompt else 0,
                                first_token_at=self.first_token_at)


def model_list(deps: Sequence[Deployment], who: Principal) -> dict[str, Any]:
    """OpenAI's list of models."""
    return {"object": "list", "data": [
        {"id": d.name, "object": "model", "created": int(d.created_at.timestamp()),
         "owned_by": "suanli" if d.public and d.owner_id != who.tenant_id else d.owner_id}
        for d in deps]}



"""The runtime's OpenAI-compatible HTTP server (Starlette, run by uvicorn on a Unix socket or 127.0.0.1).

Routes (the design's "runtime wire protocol"): ``GET /health``, ``GET /metrics-json``, ``GET /v1/models``,
``POST /v1/completions``, ``POST /v1/chat/completions`` (``"stream": true`` → server-sent events, one chunk
per generated token, ``data: [DONE]`` last), ``POST /v1/embeddings``.

Extensions to OpenAI's format (additive; the openai client ignores them): every completion choice and every
stream chunk carries ``token_ids`` — the ids of the completion tokens it holds (the end-of-text / end-of-turn
token included when the model produced it: it was generated, so it is counted, as vLLM does); the response
and the first stream chunk carry ``prompt_token_ids``. ``usage`` (in the response, and in a last chunk with
empty ``choices`` when ``stream_options.include_usage``) is computed from those ids: ``prompt_tokens`` =
len(prompt ids), ``completion_tokens`` = len(completion ids), ``prompt_tokens_details.cached_tokens`` =
the prompt positions whose keys and values were reused from an earlier request of the same cache scope
(header ``X-Suanli-Cache-Scope``, which the gateway sets to the caller's tenant; no header, no reuse; see
:class:`~suanli.runtime.tinygpt.PrefixCache`). Embedding usage counts every id fed to the model, [CLS] and [SEP]
included.

Errors: OpenAI's ``{"error": {"message", "type", "param", "code"}}``: 400 ``invalid_request_error`` for bad
JSON or a bad field (the message says what is allowed), 400 ``context_length_exceeded`` (prompt +
max_tokens over the context), 400 ``invalid_value`` (max_tokens outside 1..max_output_tokens), 404
``model_not_found`` (a model name other than the one served; the message names it). Requests run one at a
time on the worker (:mod:`suanli.runtime.engine`); a stream whose client goes away stops generating at the
next token.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from suanli.runtime.engine import TextStream, Worker
from suanli.runtime.minilm import MiniLM
from suanli.runtime.tinygpt import PrefixCache, TinyGPT, generate
from suanli.runtime.tokenizer import ROLE_TOKEN, Tokenizer

MAX_EMBEDDING_INPUTS = 256
CACHE_SCOPE_HEADER = "x-suanli-cache-scope"
"""Prompt-cache partition of a request (the gateway sends the caller's tenant id); absent: no reuse."""
MAX_STOP = 4


class OpenAIError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type_: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type_

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass
class Served:
    """What this process serves: one model under one name."""

    name: str
    model_id: str
    kind: str
    context_length: int
    max_output_tokens: int
    tokenizer: Tokenizer | None = None
    gpt: TinyGPT | None = None
    embedder: MiniLM | None = None
    prefix_cache: PrefixCache | None = None
    """Reuse of recent prompts' keys and values per cache scope (the ``X-Suanli-Cache-Scope`` header)."""
    tokens_per_second: float = 0.0
    """Cap on the generation rate of one request (0: none) — to emulate a slower device in load tests."""
    created: int = field(default_factory=lambda: int(time.time()))


@dataclass
class GenRequest:
    prompt_ids: list[int]
    max_tokens: int
    temperature: float
    top_p: float
    seed: int | None
    stop: list[str]
    stop_ids: frozenset[int]
    banned_ids: frozenset[int]
    """Special tokens the model may not write (turn markers; ``<|end|>`` outside chat)."""
    stream: bool
    include_usage: bool
    cache_scope: str = ""
    """Prompt-cache partition from the ``X-Suanli-Cache-Scope`` header ("" = no reuse)."""


# ---------------------------------------------------------------------------------------------- validation

def _bad(message: str, param: str | None, code: str | None = "invalid_value") -> OpenAIError:
    return OpenAIError(400, message, param=param, code=code)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(body: dict[str, Any], key: str, default: float, lo: float, hi: float, *, lo_open: bool = False) -> float:
    v = body.get(key)
    if v is None:
        return default
    if (not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v) or v > hi or v < lo
            or (lo_open and v == lo)):
        raise _bad(f"'{key}' must be a number in {'(' if lo_open else '['}{lo}, {hi}]; got {v!r}", key)
    return float(v)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise _bad(f"the request body is not valid JSON ({e}); send a JSON object", None, "invalid_json") from None
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object", None, "invalid_json")
    return body


def _check_model(served: Served, body: dict[str, Any], kind: str, path: str) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad(f"'model' is required: a string; this runtime serves {served.name!r}", "model", "missing_required_parameter")
    if model != served.name:
        raise OpenAIError(404, f"The model {model!r} does not exist here; this runtime serves {served.name!r}",
                          param="model", code="model_not_found")
    if served.kind != kind:
        raise _bad(f"{path} needs a {kind} model; {served.name!r} is a {served.kind} model", "model", "model_not_supported")


def _check_ids(ids: list[Any], vocab: int, param: str) -> list[int]:
    if not all(_is_int(i) and 0 <= i < vocab for i in ids):
        raise _bad(f"'{param}' token ids must be integers in [0, {vocab})", param)
    return [int(i) for i in ids]


def _prompt_ids(served: Served, body: dict[str, Any]) -> list[int]:
    assert served.tokenizer is not None
    p = body.get("prompt")
    allowed = "a string, a list of one string, or a list of token ids"
    if isinstance(p, list) and len(p) == 1 and isinstance(p[0], str | list):
        p = p[0]
    if isinstance(p, str):
        ids = served.tokenizer.encode(p)
    elif isinstance(p, list) and p:
        if not all(_is_int(i) for i in p):
            raise _bad(f"'prompt' must be {allowed} (one prompt per request)", "prompt")
        ids = _check_ids(p, served.tokenizer.vocab_size, "prompt")
    else:
        raise _bad(f"'prompt' is required: {allowed}", "prompt")
    if not ids:
        ids = [served.tokenizer.eot_id]  # an empty prompt starts from end-of-text, as GPT-2 does
    return ids


def _chat_ids(served: Served, body: dict[str, Any]) -> list[int]:
    assert served.tokenizer is not None
    msgs = body.get("messages")
    roles = ", ".join(sorted(ROLE_TOKEN))
    if not isinstance(msgs, list) or not msgs:
        raise _bad("'messages' is required: a non-empty list of {role, content}", "messages")
    turns: list[tuple[str, str]] = []
    for i, m in enumerate(msgs):
        param = f"messages[{i}]"
        if not isinstance(m, dict) or m.get("role") not in ROLE_TOKEN:
            raise _bad(f"'{param}.role' must be one of: {roles}", f"{param}.role")
        c = m.get("content")
        if c is None:
            c = ""
        elif isinstance(c, list):
            if not all(isinstance(x, dict) and x.get("type") == "text" and isinstance(x.get("text"), str) for x in c):
                raise _bad(f"'{param}.content' parts must be text parts {{\"type\": \"text\", \"text\": …}}",
                           f"{param}.content")
            c = "".join(x["text"] for x in c)
        elif not isinstance(c, str):
            raise _bad(f"'{param}.content' must be a string or a list of text parts", f"{param}.content")
        turns.append((m["role"], c))
    return served.tokenizer.chat_ids(turns)


def _gen_request(served: Served, body: dict[str, Any], chat: bool) -> GenRequest:
    assert served.tokenizer is not None
    prompt_ids = _chat_ids(served, body) if chat else _prompt_ids(served, body)
    n = body.get("n")
    if n is not None and n != 1:
        raise _bad("'n' must be 1: this runtime returns one choice per request", "n")
    key = "max_completion_tokens" if chat and body.get("max_completion_tokens") is not None else "max_tokens"
    mt = body.get(key)
    room = served.context_length - len(prompt_ids)
    if mt is None:
        if room < 1:
            raise _context_error(served, len(prompt_ids), 1)
        max_tokens = min(served.max_output_tokens, room, 16 if not chat else room)
    else:
        if not _is_int(mt) or not 1 <= mt <= served.max_output_tokens:
            raise _bad(f"'{key}' must be an integer in [1, {served.max_output_tokens}]; got {mt!r}", key)
        if mt > room:
            raise _context_error(served, len(prompt_ids), mt)
        max_tokens = int(mt)
    temperature = _number(body, "temperature", 1.0, 0.0, 2.0)
    top_p = _number(body, "top_p", 1.0, 0.0, 1.0, lo_open=True)
    seed = body.get("seed")
    if seed is not None and not (_is_int(seed) and -(2**63) <= seed < 2**64):
        raise _bad(f"'seed' must be an integer in [-2^63, 2^64); got {seed!r}", "seed")
    stop = body.get("stop")
    if stop is None:
        stops: list[str] = []
    elif isinstance(stop, str):
        stops = [stop]
    elif isinstance(stop, list) and len(stop) <= MAX_STOP and all(isinstance(s, str) for s in stop):
        stops = list(stop)
    else:
        raise _bad(f"'stop' must be a string or a list of at most {MAX_STOP} strings", "stop")
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise _bad("'stream' must be true or false", "stream")
    so = body.get("stream_options")
    if so is not None and not isinstance(so, dict):
        raise _bad("'stream_options' must be an object such as {\"include_usage\": true}", "stream_options")
    include_usage = bool(so and so.get("include_usage"))
    tk = served.tokenizer
    stop_ids = frozenset({tk.eot_id, tk.end_id} if chat else {tk.eot_id})
    banned = frozenset(tk.special_ids.values()) - stop_ids
    return GenRequest(prompt_ids, max_tokens, temperature, top_p, int(seed) % 2**64 if seed is not None else None,
                      stops, stop_ids, banned, stream, include_usage)


def _context_error(served: Served, prompt: int, completion: int) -> OpenAIError:
    return OpenAIError(
        400, f"This model's maximum context length is {served.context_length} tokens. However, you requested "
             f"{prompt + completion} tokens ({prompt} in the prompt, {completion} for the completion). Please "
             f"reduce the prompt or max_tokens.", param="max_tokens",
        code="context_length_exceeded")


def _usage(prompt: int, completion: int, cached: int = 0) -> dict[str, Any]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached}}


# ---------------------------------------------------------------------------------------------- the app

def create_app(served: Served, on_shutdown: Callable[[], None] | None = None, *, orphan_seconds: float = 0.0,
               on_orphan: Callable[[float], None] | None = None) -> Starlette:
    """The app serving ``served``; ``on_shutdown`` runs when the server stops (the CLI removes its socket).
    With ``orphan_seconds`` > 0, ``on_orphan(idle seconds)`` is called once when no ``GET /health``
    arrived for that long (the CLI then shuts the server down: the control plane is gone)."""
    worker = Worker()
    last_health = [time.monotonic()]

    def error_response(e: OpenAIError) -> JSONResponse:
        return JSONResponse(e.body(), status_code=e.status)

    async def health(request: Request) -> Response:
        last_health[0] = time.monotonic()
        m = worker.snapshot()
        return JSONResponse({"status": "ok", "model": served.name, "kind": served.kind,
                             "inflight": m.inflight, "queued": m.queued})

    async def metrics(request: Request) -> Response:
        return JSONResponse(worker.snapshot().as_json())

    async def list_models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": served.name, "object": "model", "created": served.created, "owned_by": "suanli",
             "root": served.model_id, "max_model_len": served.context_length}]})

    def run_generation(req: GenRequest, on_token: Any, cancelled: Any) -> tuple[list[int], str, TextStream, int]:
        """(completion ids, finish reason, text, cached prompt tokens) of one request, on the worker."""
        assert served.gpt is not None and served.tokenizer is not None
        text = TextStream(served.tokenizer.decode, req.stop)
        ids: list[int] = []
        pc = served.prefix_cache if req.cache_scope else None
        cache, cached = pc.take(req.cache_scope, req.prompt_ids) if pc else (served.gpt.new_cache(), 0)
        worker.count(prompt_tokens=len(req.prompt_ids))
        finish = "length"
        t0 = time.monotonic()
        for tok in generate(served.gpt, req.prompt_ids, req.max_tokens, temperature=req.temperature,
                            top_p=req.top_p, seed=req.seed, stop_ids=req.stop_ids, banned_ids=req.banned_ids,
                            cancelled=lambda: cancelled() or text.stopped, cache=cache):
            if served.tokens_per_second > 0:  # pace: token k is not produced before k / rate seconds
                wait = t0 + len(ids) / served.tokens_per_second - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            ids.append(tok)
            worker.count(completion_tokens=1)
            delta = "" if tok in req.stop_ids else text.push(tok)
            if on_token is not None:
                on_token(tok, delta)
            if tok in req.stop_ids or text.stopped:
                finish = "stop"
                break
        if pc:
            pc.put(req.cache_scope, req.prompt_ids + ids, cache)
        return ids, finish, text, cached

    async def completions(request: Request, chat: bool) -> Response:
        path = "/v1/chat/completions" if chat else "/v1/completions"
        try:
            body = await _body(request)
            _check_model(served, body, "generate", path)
            req = _gen_request(served, body, chat)
            req.cache_scope = request.headers.get(CACHE_SCOPE_HEADER, "")
        except OpenAIError as e:
            return error_response(e)
        rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex
        created = int(time.time())
        if req.stream:
            return StreamingResponse(_stream(req, rid, created, chat), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        ids, finish, text, cached = await worker.run(lambda: run_generation(req, None, lambda: False))
        out = text.emitted + text.finish()
        choice: dict[str, Any] = {"index": 0, "finish_reason": finish, "logprobs": None, "token_ids": ids}
        if chat:
            choice["message"] = {"role": "assistant", "content": out}
        else:
            choice["text"] = out
        return JSONResponse({"id": rid, "object": "chat.completion" if chat else "text_completion",
                             "created": created, "model": served.name, "choices": [choice],
                             "usage": _usage(len(req.prompt_ids), len(ids), cached),
                             "prompt_token_ids": req.prompt_ids})

    async def _stream(req: GenRequest, rid: str, created: int, chat: bool) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[tuple[str, Any, Any]] = asyncio.Queue()
        cancel = False
        obj = "chat.completion.chunk" if chat else "text_completion"

        def on_token(tok: int, delta: str) -> None:
            loop.call_soon_threadsafe(q.put_nowait, ("token", tok, delta))

        def job() -> None:
            try:
                ids, finish, text, cached = run_generation(req, on_token, lambda: cancel)
                loop.call_soon_threadsafe(q.put_nowait, ("done", finish, (len(ids), text.finish(), cached)))
            except Exception as e:  # reported to the client as an error event
                loop.call_soon_threadsafe(q.put_nowait, ("error", str(e), None))

        def chunk(text: str, token_ids: list[int], finish: str | None, first: bool) -> str:
            c: dict[str, Any] = {"index": 0, "finish_reason": finish, "logprobs": None, "token_ids": token_ids}
            if chat:
                c["delta"] = {"role": "assistant", "content": text} if first else {"content": text}
            else:
                c["text"] = text
            d: dict[str, Any] = {"id": rid, "object": obj, "created": created, "model": served.name, "choices": [c]}
            if first:
                d["prompt_token_ids"] = req.prompt_ids
            return f"data: {json.dumps(d, ensure_ascii=False, separators=(',', ':'))}\n\n"

        task = asyncio.ensure_future(worker.run(job))
        first = True
        try:
            while True:
                kind, a, b = await q.get()
                if kind == "token":
                    yield chunk(b, [a], None, first)
                    first = False
                elif kind == "done":
                    n_completion, tail, cached = b
                    yield chunk(tail, [], a, first)
                    if req.include_usage:
                        u = {"id": rid, "object": obj, "created": created, "model": served.name, "choices": [],
                             "usage": _usage(len(req.prompt_ids), n_completion, cached)}
                        yield f"data: {json.dumps(u, separators=(',', ':'))}\n\n"
                    yield "data: [DONE]\n\n"
                    return
                else:
                    err = OpenAIError(500, f"generation failed: {a}", type_="server_error", code="runtime_error")
                    yield f"data: {json.dumps(err.body())}\n\n"
                    return
        finally:
            cancel = True  # the client went away (or we are done): the worker stops at the next token
            if not task.done():
                task.cancel()  # still queued: leave the queue

    async def chat_completions(request: Request) -> Response:
        return await completions(request, True)

    async def text_completions(request: Request) -> Response:
        return await completions(request, False)

    async def embeddings(request: Request) -> Response:
        try:
            body = await _body(request)
            _check_model(served, body, "embed", "/v1/embeddings")
            assert served.embedder is not None
            inputs = _embedding_inputs(served, body)
            fmt = body.get("encoding_format") or "float"
            if fmt not in ("float", "base64"):
                raise _bad("'encoding_format' must be 'float' or 'base64'", "encoding_format")
            dims = body.get("dimensions")
            if dims is not None and dims != served.embedder.dimensions:
                raise _bad(f"'dimensions' must be {served.embedder.dimensions} for this model (or left out)",
                           "dimensions")
        except OpenAIError as e:
            return error_response(e)
        embedder = served.embedder

        def job() -> np.ndarray[Any, np.dtype[np.float32]]:
            worker.count(prompt_tokens=sum(len(x) for x in inputs))
            return embedder.embed(inputs)

        vecs = await worker.run(job)
        data = []
        for i, v in enumerate(vecs):
            emb: Any = (base64.b64encode(v.astype("<f4").tobytes()).decode() if fmt == "base64"
                        else [float(x) for x in v])
            data.append({"object": "embedding", "index": i, "embedding": emb})
        n = sum(len(x) for x in inputs)
        return JSONResponse({"object": "list", "data": data, "model": served.name,
                             "usage": {"prompt_tokens": n, "total_tokens": n}})

    async def internal_error(request: Request, exc: Exception) -> Response:
        # a defect, not bad input: still answered in OpenAI's format (the gateway bills nothing for it)
        return JSONResponse(OpenAIError(500, f"the runtime failed: {type(exc).__name__}", type_="server_error",
                                        code="runtime_error").body(), status_code=500)

    async def orphan_watch() -> None:
        """Call ``on_orphan`` once no ``GET /health`` came for ``orphan_seconds``."""
        every = min(1.0, orphan_seconds / 4)
        while True:
            await asyncio.sleep(every)
            idle = time.monotonic() - last_health[0]
            if idle >= orphan_seconds:
                if on_orphan is not None:
                    on_orphan(idle)
                return

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        last_health[0] = time.monotonic()  # counted from when it starts serving
        watch = asyncio.ensure_future(orphan_watch()) if orphan_seconds > 0 else None
        yield
        if watch is not None:
            watch.cancel()
        worker.shutdown()
        if on_shutdown is not None:
            on_shutdown()

    app = Starlette(routes=[
        Route("/health", health), Route("/metrics-json", metrics), Route("/v1/models", list_models),
        Route("/v1/completions", text_completions, methods=["POST"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
    ], lifespan=lifespan, exception_handlers={Exception: internal_error})
    app.state.worker = worker
    return app


def _is_id_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(_is_int(j) for j in v)


def _embedding_inputs(served: Served, body: dict[str, Any]) -> list[list[int]]:
    assert served.embedder is not None
    emb = served.embedder
    x = body.get("input")
    allowed = "a string, a list of strings, a list of token ids or a list of lists of token ids"
    if isinstance(x, str):
        items: list[Any] = [x]
    elif isinstance(x, list) and x and all(_is_int(i) for i in x):
        items = [x]
    elif isinstance(x, list) and x and all(isinstance(i, str) or _is_id_list(i) for i in x):
        items = x
    else:
        raise _bad(f"'input' is required: {allowed} (non-empty)", "input")
    if len(items) > MAX_EMBEDDING_INPUTS:
        raise _bad(f"'input' holds {len(items)} items; at most {MAX_EMBEDDING_INPUTS} per request", "input")
    out: list[list[int]] = []
    for i, it in enumerate(items):
        ids = emb.encode(it) if isinstance(it, str) else _check_ids(it, emb.vocab_size, "input")
        if len(ids) > served.context_length:
            raise OpenAIError(
                400, f"This model's maximum context length is {served.context_length} tokens. However, input "
                     f"{i} has {len(ids)} tokens. Please shorten it.", param="input", code="context_length_exceeded")
        out.append(ids)
    return out

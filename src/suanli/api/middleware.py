"""The HTTP edge: what every request passes before a router sees it, and every answer after.

Pure ASGI middleware (no ``BaseHTTPMiddleware``: a body is counted as it streams, never read whole
first). From the outside in::

    SecurityHeaders   every answer: nosniff, no referrer, no framing, a CSP; no-store unless set
    RateLimit         429 + Retry-After: per token, per client address, and failed authentications
    BodyLimit         413 past the body limit (Content-Length or counted chunks); 422 for JSON
                      nested deeper than the depth limit, before any parser recurses into it
    the app           its error handlers shorten every message they return (:func:`clip_error`)

Rate limits use the ``limits`` library (moving window, in process memory): each server process
counts for itself, so with N replicas behind one address the effective limit is N times the
setting. Client addresses are the TCP peer's (``X-Forwarded-For`` is not trusted).

Failed authentication: a request that presents a token and is answered 401 counts against its
client address. Once an address has used up ``auth_failure_limit``, every request from it that
presents a token not seen to authenticate in this process gets 429 (with ``Retry-After``) without
reaching the app, so guessing stops; tokens that authenticated before (the address's, or anyone's
behind the same NAT) keep working. Requests with no token at all are answered 401 as usual and
are not counted: they guess nothing.

Requests over the server's Unix socket (jobs of the local engine, docs/sandbox.md) have no client
address: they all count as the address ``unix`` (one per-address limit for every job together) and
are exempt from the failed-authentication lockout, which would otherwise let one tenant's job that
sends bad tokens lock every other tenant's new job out (guessing a 256-bit token is hopeless anyway;
each token keeps its own per-token limit).
"""

from __future__ import annotations

import array
import base64
import hashlib
import itertools
import json
import math
import re
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from suanli.api import openai_errors
from suanli.errors import ValidationError
from suanli.settings import Settings

# -- shortening what an error echoes -------------------------------------------------------------

WORD_KEEP = 64
"""A run of non-space characters longer than this is shown as its first 64 characters."""
MESSAGE_KEEP = 512
"""An error message or detail string longer than this (after shortening words) is cut here."""
LIST_KEEP = 50
"""A list in an error's details shows at most this many items."""

_LONG_WORD = re.compile(r"\S{" + str(WORD_KEEP + 1) + ",}")


def _more(n: int) -> str:
    return f"… ({n:,} characters)"


def clip(text: str) -> str:
    """``text`` with each over-long word shown as its first 64 characters and ``… (N characters)``,
    and the whole cut at 512 characters the same way: an error never echoes a huge input."""
    if len(text) <= WORD_KEEP:
        return text
    short = _LONG_WORD.sub(lambda m: m.group(0)[:WORD_KEEP] + _more(len(m.group(0))), text)
    if len(short) > MESSAGE_KEEP:
        short = short[:MESSAGE_KEEP] + _more(len(text))
    return short


def clip_value(value: Any) -> Any:
    """A JSON-able value with every string :func:`clip`-ped and every list cut to 50 items."""
    if isinstance(value, str):
        return clip(value)
    if isinstance(value, dict):
        return {clip(str(k)): clip_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [clip_value(v) for v in value[:LIST_KEEP]]
        if len(value) > LIST_KEEP:
            items.append(f"… and {len(value) - LIST_KEEP:,} more")
        return items
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return clip(str(value))


def clip_error(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The API's error body ``{"error": {"code", "message", "details"}}``, shortened."""
    return {"error": {"code": code, "message": clip(message), "details": clip_value(details or {})}}


async def send_error(send: Send, status: int, code: str, message: str, details: dict[str, Any] | None = None,
                     headers: Iterable[tuple[str, str]] = (), path: str = "") -> None:
    """Answer with the API's JSON error body straight from middleware (on the OpenAI-compatible
    ``path``s in the OpenAI format: :mod:`suanli.api.openai_errors`)."""
    doc = clip_error(code, message, details)
    if openai_errors.applies(path):
        status = openai_errors.status_of(status, code)
        doc = openai_errors.openai_error(status, code, doc["error"]["message"], doc["error"]["details"])
    body = json.dumps(doc, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


# -- the limits, from settings -------------------------------------------------------------------

UNIX_ADDRESS = "unix"
"""The address of a request over the server's Unix socket (jobs of the local engine): they share its limits."""
BATCH_PATHS = frozenset({"/v1/usage/batch", "/v1/fleet/import"})
"""Routes that take bulk bodies and get ``max_batch_body_bytes`` instead of ``max_body_bytes``."""


def _rate(setting: str, name: str) -> list[RateLimitItem]:
    """``"600/minute"``, ``"10/second;1000/hour"``; ``"0"`` or ``""``: no limit."""
    if setting.strip() in ("", "0"):
        return []
    try:
        items = parse_many(setting)
    except ValueError:
        items = []
    if not items or any(i.amount < 1 for i in items):
        raise ValidationError(f"{name} (SUANLI_{name.upper()}) {setting!r} is not a rate; write e.g. '600/minute' or "
                              f"'10/second;1000/hour' (count per second, minute, hour or day), or '0' for no limit",
                              field=name)
    return list(items)


@dataclass(frozen=True)
class EdgeLimits:
    max_body_bytes: int
    max_batch_body_bytes: int
    max_json_depth: int
    per_token: list[RateLimitItem]
    per_address: list[RateLimitItem]
    auth_failures: list[RateLimitItem]

    @classmethod
    def from_settings(cls, s: Settings) -> EdgeLimits:
        for name in ("max_body_bytes", "max_batch_body_bytes", "max_json_depth"):
            if getattr(s, name) < 1:
                raise ValidationError(f"{name} must be at least 1 (got {getattr(s, name)})", field=name)
        return cls(max_body_bytes=s.max_body_bytes, max_batch_body_bytes=s.max_batch_body_bytes,
                   max_json_depth=s.max_json_depth,
                   per_token=_rate(s.rate_limit_per_token, "rate_limit_per_token"),
                   per_address=_rate(s.rate_limit_per_address, "rate_limit_per_address"),
                   auth_failures=_rate(s.auth_failure_limit, "auth_failure_limit"))


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k.lower() == name:
            return bytes(v).decode("latin-1")
    return None


# -- body size and JSON depth --------------------------------------------------------------------

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.S)
"""A JSON string, or an unterminated one to the end of the body: a match never backtracks (linear)."""
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SIGNS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def json_depth(body: bytes) -> int:
    """How deeply ``body`` nests ``[``/``{`` outside JSON strings (an unclosed bracket counts as open).
    Linear and at C speed (strings cut by one regex pass, brackets summed as signed bytes); no
    recursion; does not validate the JSON (the parser does that next)."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(0, max(itertools.accumulate(array.array("b", brackets.translate(_SIGNS))), default=0))


async def _depth(body: bytes) -> int:
    """:func:`json_depth`, in a worker thread for a large body (up to a second for 16 MiB of brackets
    or strings) so the event loop keeps serving."""
    if len(body) < 256 * 1024:
        return json_depth(body)
    return await run_in_threadpool(json_depth, body)


class BodyLimit:
    """413 for a body over the route's limit, counted as it arrives (a lying or absent
    ``Content-Length`` does not help); 422 for JSON nested deeper than the depth limit. The body,
    at most the limit, is then handed to the app as one message."""

    def __init__(self, app: ASGIApp, limits: EdgeLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        batch = scope["path"] in BATCH_PATHS
        limit = self.limits.max_batch_body_bytes if batch else self.limits.max_body_bytes
        where = f"{scope['method']} {scope['path']}"

        async def too_large(size: str) -> None:
            other = "" if batch else (f"; bulk routes ({', '.join(sorted(BATCH_PATHS))}) take up to "
                                      f"{self.limits.max_batch_body_bytes:,} bytes")
            await send_error(send, 413, "too_large",
                             f"request body of {size} is over the limit of {limit:,} bytes for {where}{other}",
                             {"limit_bytes": limit}, [("Connection", "close")], path=scope["path"])

        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await send_error(send, 400, "invalid", "Content-Length must be a whole number of bytes",
                                 path=scope["path"])
                return
            if int(declared) > limit:
                await too_large(f"{int(declared):,} bytes")
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await too_large(f"more than {limit:,} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        most = self.limits.max_json_depth
        if body.count(b"[") + body.count(b"{") > most and await _depth(body) > most:
            await send_error(send, 422, "invalid",
                             f"JSON nested more than {self.limits.max_json_depth} levels deep; at most "
                             f"{self.limits.max_json_depth} levels of arrays and objects are allowed",
                             {"max_depth": self.limits.max_json_depth}, path=scope["path"])
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# -- rate limits ---------------------------------------------------------------------------------

AUTHENTICATED = "suanli_authenticated"
"""Key in the request's state that :func:`suanli.api.deps.principal` sets once a token authenticated."""


def mark_authenticated(state: Any) -> None:
    """Called by the authentication dependency: this request's token is a real one."""
    setattr(state, AUTHENTICATED, True)


def _describe(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return f"{item.amount} per {unit}" if item.multiples == 1 else f"{item.amount} per {item.multiples} {unit}s"


class RateLimit:
    """429 with ``Retry-After`` past a limit; see the module docstring for failed authentication."""

    KNOWN_TOKENS = 10_000
    """How many recently authenticated tokens (their digests) are remembered per process."""

    def __init__(self, app: ASGIApp, limits: EdgeLimits) -> None:
        self.app = app
        self.limits = limits
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.known: OrderedDict[str, None] = OrderedDict()

    def _exhausted(self, items: list[RateLimitItem], key: str, *, consume: bool) -> tuple[RateLimitItem, int] | None:
        """The first of ``items`` that ``key`` has used up (with the seconds until it frees), else
        ``None``; with ``consume`` each limit is charged one request."""
        for item in items:
            ok = self.limiter.hit(item, key) if consume else self.limiter.test(item, key)
            if not ok:
                reset = self.limiter.get_window_stats(item, key).reset_time
                return item, max(1, math.ceil(reset - time.time()))
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or (UNIX_ADDRESS,))[0]  # no client address: the server's Unix socket
        auth = _header(scope, b"authorization")
        digest = hashlib.sha256(auth.encode("utf-8", "replace")).hexdigest()[:32] if auth else None
        lim = self.limits
        if digest is not None and digest not in self.known and address != UNIX_ADDRESS:
            hit = self._exhausted(lim.auth_failures, f"fail:{address}", consume=False)
            if hit:
                await self._refuse(send, hit, f"too many failed authentications from {address}", "auth_failures", scope["path"])
                return
        hit = self._exhausted(lim.per_address, f"addr:{address}", consume=True)
        if hit:
            await self._refuse(send, hit, f"too many requests from {address}", "per_address", scope["path"])
            return
        if digest is not None:
            hit = self._exhausted(lim.per_token, f"token:{digest}", consume=True)
            if hit:
                await self._refuse(send, hit, "too many requests with this token", "per_token", scope["path"])
                return
        scope.setdefault("state", {})
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if digest is None:
            return
        if scope["state"].get(AUTHENTICATED):
            self.known[digest] = None
            self.known.move_to_end(digest)
            while len(self.known) > self.KNOWN_TOKENS:
                self.known.popitem(last=False)
        elif status == 401:
            self.known.pop(digest, None)
            for item in lim.auth_failures if address != UNIX_ADDRESS else ():
                self.limiter.hit(item, f"fail:{address}")

    @staticmethod
    async def _refuse(send: Send, hit: tuple[RateLimitItem, int], what: str, which: str, path: str = "") -> None:
        item, retry = hit
        await send_error(send, 429, "rate_limited",
                         f"{what}: at most {_describe(item)} are allowed; retry after {retry} s",
                         {"limit": _describe(item), "which": which, "retry_after_s": retry},
                         [("Retry-After", str(retry))], path)


# -- security headers ----------------------------------------------------------------------------

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
"""JSON and text answers: nothing may load, nothing may frame them."""
HTML_CSP = ("default-src 'none'; style-src {styles}; img-src data:; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'none'")
"""HTML documents (invoices): exactly their own inline ``<style>`` blocks (by hash) and data: images;
no script, nothing fetched."""
_STYLE = re.compile(rb"<style[^>]*>(.*?)</style>", re.S | re.I)


def html_csp(body: bytes) -> str:
    """The CSP of an HTML document: :data:`HTML_CSP` allowing the hashes of its own ``<style>`` blocks."""
    hashes = sorted({"'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
                     for m in _STYLE.finditer(body)})
    return HTML_CSP.format(styles=" ".join(hashes) or "'none'")


_ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
           (b"x-frame-options", b"DENY"))


class SecurityHeaders:
    """Adds the security headers to every answer, errors and 404s included; a header the route
    set itself (the console's own CSP and ``Cache-Control``) is kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        start: Message | None = None
        html: list[bytes] = []

        def complete(message: Message, csp: str) -> Message:
            headers = list(message.get("headers", []))
            have = {bytes(k).lower() for k, _ in headers}
            add = [*_ALWAYS, (b"content-security-policy", csp.encode()), (b"cache-control", b"no-store")]
            return {**message, "headers": headers + [(k, v) for k, v in add if k not in have]}

        async def with_headers(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                ctype = next((bytes(v) for k, v in headers if bytes(k).lower() == b"content-type"), b"")
                has_csp = any(bytes(k).lower() == b"content-security-policy" for k, _ in headers)
                if ctype.startswith(b"text/html") and not has_csp:
                    start = message  # the CSP names the document's own styles: hold the start for the body
                    return
                await send(complete(message, API_CSP))
                return
            if start is not None and message["type"] == "http.response.body":
                html.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(html)
                await send(complete(start, html_csp(body)))
                start = None
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: Any, settings: Settings) -> None:
    """Wrap ``app`` (a Starlette/FastAPI app) in the edge middleware, configured from ``settings``."""
    limits = EdgeLimits.from_settings(settings)
    app.add_middleware(BodyLimit, limits=limits)
    app.add_middleware(RateLimit, limits=limits)
    app.add_middleware(SecurityHeaders)

"""Exact metering of gateway requests (docs/inference.md, "Metering").

One request is metered once, after its response was sent (never before the first byte), by
:func:`meter`, in ONE transaction:

- its ``inference_requests`` row (id = the request id ``req_<hex>``; a second call with the same id
  changes nothing and returns False);
- up to three usage events (source ``gateway``, ids ``<request id>:prompt``, ``:completion``,
  ``:cached``, only the non-zero ones), meters ``inference_input_tokens`` (the prompt tokens NOT
  served from the runtime's cache), ``inference_output_tokens`` and ``inference_cached_input_tokens``,
  subject = the key's tenant, model = the deployment name, time = the end of the request;
- the key's month in ``inference_key_usage`` (+ prompt + completion tokens), which the key's quota
  reads (:mod:`suanli.service.inference_keys`).

The gateway hands requests to :func:`submit`: a worker thread meters them in batches
(:class:`MeterQueue`, one transaction per batch, at most 0.1 s after the answer was sent).

The counts come from the runtime's own token ids (the gateway never re-tokenizes text): prompt tokens
from ``prompt_token_ids`` (or the runtime's ``usage``), completion tokens = the ids of the chunks the
client was sent (:mod:`suanli.service.gateway`). A failed request bills nothing; an abandoned stream
bills what was sent. Prompts and completions are never stored, only their counts.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from suanli.domain.meters import Meter
from suanli.domain.usage import UsageRecord
from suanli.errors import ValidationError
from suanli.ledger.meters import payload_hash
from suanli.service import usage
from suanli.service.platform import Platform
from suanli.store import inference_metering as store

log = logging.getLogger("suanli.metering")

SOURCE = "gateway"
"""The ``source`` of the gateway's usage events (``(source, id)`` is unique)."""
STATUSES = ("ok", "failed", "abandoned")
ENDPOINTS = ("chat", "completion", "embedding")


@dataclass(frozen=True)
class MeteredRequest:
    """What one gateway request used, as the client was sent it."""

    id: str
    token_id: int | None
    tenant_id: str
    deployment_id: str
    replica_id: str
    model: str
    endpoint: str
    """chat | completion | embedding"""
    status: str
    """ok | failed | abandoned"""
    stream: bool
    started_at: datetime
    ended_at: datetime
    first_token_at: datetime | None = None
    prompt_tokens: int = 0
    """All prompt tokens (cached ones included)."""
    completion_tokens: int = 0
    cached_tokens: int = 0
    """The part of ``prompt_tokens`` the runtime served from its cache."""

    def check(self) -> None:
        if self.status not in STATUSES:
            raise ValidationError(f"status {self.status!r}; allowed: {', '.join(STATUSES)}", field="status")
        if self.endpoint not in ENDPOINTS:
            raise ValidationError(f"endpoint {self.endpoint!r}; allowed: {', '.join(ENDPOINTS)}", field="endpoint")
        if min(self.prompt_tokens, self.completion_tokens, self.cached_tokens) < 0 \
                or self.cached_tokens > self.prompt_tokens:
            raise ValidationError("token counts must be >= 0 with cached_tokens <= prompt_tokens", field="tokens")


def usage_records(r: MeteredRequest) -> list[UsageRecord]:
    """The request's usage events (only the non-zero ones)."""
    meters = [(f"{r.id}:prompt", Meter.INFERENCE_INPUT_TOKENS, r.prompt_tokens - r.cached_tokens),
              (f"{r.id}:completion", Meter.INFERENCE_OUTPUT_TOKENS, r.completion_tokens)]
    if r.cached_tokens:
        meters.append((f"{r.id}:cached", Meter.INFERENCE_CACHED_INPUT_TOKENS, r.cached_tokens))
    out = []
    for ident, meter, n in meters:
        if n <= 0:
            continue
        data = {"quantity": str(n), "model": r.model}
        out.append(UsageRecord(source=SOURCE, id=ident, meter=meter, subject=r.tenant_id, time=r.ended_at,
                               quantity=Decimal(n), model=r.model,
                               payload_hash=payload_hash(meter, r.tenant_id, r.ended_at, data)))
    return out


def meter(p: Platform, r: MeteredRequest) -> bool:
    """Record the request, its usage events and its key's monthly tokens in one transaction; False
    (and nothing written) if this request id was metered before."""
    return meter_many(p, [r]) == 1


def meter_many(p: Platform, requests: Sequence[MeteredRequest]) -> int:
    """:func:`meter` for several requests in one transaction (all or nothing); returns how many were new."""
    for r in requests:
        r.check()
    with p.tx() as s:
        unique = list({r.id: r for r in reversed(requests)}.values())[::-1]  # one row per id (the first)
        inserted = store.insert_requests(s, [dict(
            id=r.id, token_id=r.token_id, tenant_id=r.tenant_id, deployment_id=r.deployment_id,
            replica_id=r.replica_id, model=r.model, endpoint=r.endpoint, prompt_tokens=r.prompt_tokens,
            completion_tokens=r.completion_tokens, cached_tokens=r.cached_tokens, status=r.status,
            stream=r.stream, started_at=r.started_at, first_token_at=r.first_token_at, ended_at=r.ended_at)
            for r in unique])
        new = [r for r in unique if r.id in inserted]
        records = [x for r in new for x in usage_records(r)]
        if records:
            usage.store_records(s, records, p.clock.now())
        keys: dict[tuple[int, str], int] = {}
        for r in new:
            billed = r.prompt_tokens + r.completion_tokens
            if r.token_id is not None and billed:
                k = (r.token_id, r.ended_at.strftime("%Y-%m"))
                keys[k] = keys.get(k, 0) + billed
        # one order: concurrent batches never deadlock
        store.add_key_tokens(s, [(token_id, period, n) for (token_id, period), n in sorted(keys.items())])
    return len(new)


class MeterQueue:
    """Requests waiting to be metered, written together by one worker thread of this process
    (:meth:`Platform.attached`): at most :data:`BATCH_WINDOW_S` after the first of them, or at once
    when :data:`BATCH_MAX` wait. The gateway hands a request over after its answer was sent; one
    transaction for many requests keeps metering off the next requests' latency. A batch that fails
    is retried request by request (one bad record loses nothing else; its failure is logged). What
    is still queued when the process exits normally is written then (``atexit``); a killed process
    loses at most the window's requests (their answers were sent; documented in docs/inference.md)."""

    def __init__(self, p: Platform) -> None:
        self.p = p
        self._lock = threading.Lock()
        self._items: list[MeteredRequest] = []
        self._wake = threading.Event()
        self._worker: threading.Thread | None = None
        atexit.register(self.flush)

    def submit(self, r: MeteredRequest) -> None:
        with self._lock:
            self._items.append(r)
            if len(self._items) >= BATCH_MAX:
                self._wake.set()
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="suanli-metering", daemon=True)
                self._worker.start()

    def pending(self) -> int:
        with self._lock:
            return len(self._items)

    def _run(self) -> None:
        while True:
            self._wake.wait(BATCH_WINDOW_S)
            self._wake.clear()
            with self._lock:
                if not self._items:
                    self._worker = None  # idle: the next submit starts a worker again
                    return
            self.flush()

    def flush(self) -> None:
        """Write what is queued now (the worker's step; also at exit)."""
        with self._lock:
            batch, self._items = self._items, []
        if not batch:
            return
        try:
            meter_many(self.p, batch)
        except Exception:
            for r in batch:
                try:
                    meter(self.p, r)
                except Exception:
                    log.exception("metering of %s failed (prompt %d, completion %d tokens)", r.id, r.prompt_tokens,
                                  r.completion_tokens)


BATCH_WINDOW_S = 0.1
"""How long the first queued request waits for others to share its transaction."""
BATCH_MAX = 256
"""A batch this large is written at once."""


def submit(p: Platform, r: MeteredRequest) -> None:
    """Meter ``r`` soon, in a batch (:class:`MeterQueue`); never blocks on the database."""
    p.attached(MeterQueue).submit(r)

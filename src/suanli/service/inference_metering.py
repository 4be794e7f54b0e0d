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

The counts come from the runtime's own token ids (the gateway never re-tokenizes text): prompt tokens
from ``prompt_token_ids`` (or the runtime's ``usage``), completion tokens = the ids of the chunks the
client was sent (:mod:`suanli.service.gateway`). A failed request bills nothing; an abandoned stream
bills what was sent. Prompts and completions are never stored, only their counts.
"""

from __future__ import annotations

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
    r.check()
    with p.tx() as s:
        if not store.insert_request(
                s, id=r.id, token_id=r.token_id, tenant_id=r.tenant_id, deployment_id=r.deployment_id,
                replica_id=r.replica_id, model=r.model, endpoint=r.endpoint, prompt_tokens=r.prompt_tokens,
                completion_tokens=r.completion_tokens, cached_tokens=r.cached_tokens, status=r.status,
                stream=r.stream, started_at=r.started_at, first_token_at=r.first_token_at, ended_at=r.ended_at):
            return False
        records = usage_records(r)
        if records:
            usage.store_records(s, records, p.clock.now())
        billed = r.prompt_tokens + r.completion_tokens
        if r.token_id is not None and billed:
            store.add_key_tokens(s, r.token_id, r.ended_at.strftime("%Y-%m"), billed)
    return True

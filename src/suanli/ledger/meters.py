"""Meters and usage events.

A usage event is CloudEvents-shaped: ``id``, ``source``, ``type``, ``subject``, ``time``, ``data``.
``(source, id)`` identifies it; the same pair sent again with the same payload is a duplicate
(ignored), with a different payload a conflict. :func:`parse_event` validates one event and
returns a :class:`UsageRecord` with a payload hash that the store compares on conflict.

``type`` is the meter name (``device_seconds``) or ``suanli.usage.<meter>``. ``subject`` is the
tenant account (name or id). ``data.quantity`` is a decimal string or an integer (never a float),
``>= 0``, in the meter's unit:

====================  ===============  ==========================  ============================
meter                 quantity unit    priced per                   divisor (quantity -> price unit)
====================  ===============  ==========================  ============================
device_seconds        device-second    device-hour (or 元/P/年)     3,600  (x ``data.share``)
node_seconds          node-second      node-hour                    3,600
storage_gb_hours      GB-hour          GB-month                     730
egress_gb             GB               GB                           1
data_processed_gb     GB               GB                           1
inference_input_tokens   token         million tokens               1,000,000
inference_output_tokens  token         million tokens               1,000,000
inference_cached_input_tokens  token   million tokens               1,000,000
training_tokens       token            million tokens               1,000,000
job_device_seconds    device-second    (not priced: informational)  3,600
====================  ===============  ==========================  ============================

``inference_cached_input_tokens`` are the prompt tokens a model's runtime served from its cache:
the gateway meters them at the cached rate instead of the input rate (its ``inference_input_tokens``
event then carries only the other prompt tokens; docs/inference.md).

``job_device_seconds`` are the device-seconds that tenants' jobs actually used, read from the
execution engine's accounting (source ``engine:<driver>``, id = the engine's job id). They sit
next to the lease time that is billed and are never rated (:data:`INFORMATIONAL`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from suanli.domain.clock import EARLIEST, LATEST
from suanli.domain.meters import Meter as Meter  # re-exported: the enum lives in the domain
from suanli.domain.money import to_decimal
from suanli.domain.text import control_char
from suanli.domain.usage import UsageRecord as UsageRecord  # re-exported: the store returns it
from suanli.errors import ValidationError

PRICE_UNIT: dict[Meter, tuple[str, Decimal]] = {
    Meter.DEVICE_SECONDS: ("device-hour", Decimal(3600)),
    Meter.NODE_SECONDS: ("node-hour", Decimal(3600)),
    Meter.STORAGE_GB_HOURS: ("GB-month", Decimal(730)),
    Meter.EGRESS_GB: ("GB", Decimal(1)),
    Meter.DATA_PROCESSED_GB: ("GB", Decimal(1)),
    Meter.INFERENCE_INPUT_TOKENS: ("million tokens", Decimal(1_000_000)),
    Meter.INFERENCE_OUTPUT_TOKENS: ("million tokens", Decimal(1_000_000)),
    Meter.INFERENCE_CACHED_INPUT_TOKENS: ("million tokens", Decimal(1_000_000)),
    Meter.TRAINING_TOKENS: ("million tokens", Decimal(1_000_000)),
    Meter.JOB_DEVICE_SECONDS: ("device-hour", Decimal(3600)),
}
"""For each meter: the unit its price is quoted in, and how many quantity units make one."""

DEVICE_METERS = frozenset({Meter.DEVICE_SECONDS, Meter.NODE_SECONDS})
INFORMATIONAL = frozenset({Meter.JOB_DEVICE_SECONDS})
"""Meters that are recorded (and summed) but never charged."""
DIMENSIONS = ("model", "site", "supplier", "node", "lease", "order", "share")
"""Keys allowed in ``data`` besides ``quantity``."""
MAX_FUTURE = timedelta(minutes=5)
"""An event may be stamped at most this far after the server's clock (clock skew)."""
MAX_ID = 200
DIMENSION_MAX = {"model": 64, "site": 64, "supplier": 64, "node": 120, "lease": 32, "order": 32, "share": 0}
"""The longest value of each ``data`` dimension (what the store holds)."""
MAX_QUANTITY = Decimal(10) ** 15
"""The largest quantity of one event, in meter units (far inside the store's NUMERIC(38, 12))."""
QUANTITY_PLACES = 12
"""The most decimal places of a quantity (the store's precision)."""


def parse_meter(value: str) -> Meter:
    name = value.removeprefix("suanli.usage.")
    try:
        return Meter(name)
    except ValueError:
        allowed = ", ".join(m.value for m in Meter)
        raise ValidationError(f"unknown meter {value!r}; allowed: {allowed} (optionally prefixed suanli.usage.)",
                              field="type", allowed=[m.value for m in Meter]) from None


def _aware(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        t = value
    elif isinstance(value, str):
        try:
            t = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(f"{field} {value!r} is not an ISO-8601 date-time, e.g. 2026-11-23T08:00:00Z",
                                  field=field) from None
    else:
        raise ValidationError(f"{field} must be an ISO-8601 date-time string", field=field)
    if t.tzinfo is None:
        raise ValidationError(f"{field} {value!r} has no time zone; add Z or +08:00", field=field)
    if not EARLIEST <= t < LATEST:
        raise ValidationError(f"{field} {value!r} is out of range; allowed: {EARLIEST.date()} to {LATEST.date()}",
                              field=field)
    return t.astimezone(UTC)


def payload_hash(meter: Meter, subject: str, time: datetime, data: Mapping[str, str]) -> str:
    """SHA-256 of the canonical payload: what must match for a resend to count as a duplicate."""
    doc = {"type": meter.value, "subject": subject, "time": time.isoformat(), "data": dict(sorted(data.items()))}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def parse_event(raw: Mapping[str, Any], *, now: datetime, index: int | None = None) -> UsageRecord:
    """Validate one event; errors name the field (and the event's position in a batch)."""
    where = "" if index is None else f"event {index}: "

    def bad(msg: str, field: str, **kw: Any) -> ValidationError:
        return ValidationError(where + msg, field=field, index=index, **kw)

    known = {"id", "source", "type", "subject", "time", "data", "specversion", "datacontenttype"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise bad(f"unknown fields {unknown}; allowed: {sorted(known)}", "event", unknown=unknown)
    ident, source, subject = raw.get("id"), raw.get("source"), raw.get("subject")
    for name, v in (("id", ident), ("source", source), ("subject", subject)):
        if not isinstance(v, str) or not v.strip() or len(v) > MAX_ID or control_char(v):
            raise bad(f"{name} must be a non-empty string of at most {MAX_ID} characters without control "
                      "characters", name)
    assert isinstance(ident, str) and isinstance(source, str) and isinstance(subject, str)
    try:
        meter = parse_meter(str(raw.get("type", "")))
    except ValidationError as e:
        raise bad(e.message, "type", allowed=[m.value for m in Meter]) from None
    try:
        time = _aware(raw.get("time"), "time")
    except ValidationError as e:
        raise bad(e.message, "time") from None
    if time > now + MAX_FUTURE:
        raise bad(f"time {time.isoformat()} is in the future (server time {now.isoformat()}); events may be at "
                  f"most {int(MAX_FUTURE.total_seconds())} s ahead", "time")
    data = raw.get("data")
    if not isinstance(data, Mapping):
        raise bad("data must be an object with at least quantity", "data")
    extra = sorted(set(data) - {"quantity", *DIMENSIONS})
    if extra:
        raise bad(f"unknown data fields {extra}; allowed: quantity, {', '.join(DIMENSIONS)}", "data", unknown=extra)
    try:
        quantity = to_decimal(data.get("quantity"), field="data.quantity")
    except ValidationError as e:
        raise bad(e.message, "data.quantity") from None
    if quantity < 0 or quantity > MAX_QUANTITY or quantity != quantity.quantize(Decimal(1).scaleb(-QUANTITY_PLACES)):
        raise bad(f"data.quantity must be >= 0 and <= {MAX_QUANTITY:f} with at most {QUANTITY_PLACES} decimal places, "
                  f"got {quantity}", "data.quantity")
    dims: dict[str, str] = {}
    for k in DIMENSIONS:
        if data.get(k) is not None:
            if k == "share":
                continue
            if not isinstance(data[k], str) or len(data[k]) > DIMENSION_MAX[k] or control_char(data[k]):
                raise bad(f"data.{k} must be a string of at most {DIMENSION_MAX[k]} characters without control "
                          "characters", f"data.{k}")
            dims[k] = data[k]
    canon = {k: v for k, v in dims.items()}
    canon["quantity"] = format(quantity, "f")
    if data.get("share") is not None:
        if meter is not Meter.DEVICE_SECONDS:
            raise bad("data.share applies only to device_seconds", "data.share")
        try:
            share = to_decimal(data["share"], field="data.share")
        except ValidationError as e:
            raise bad(e.message, "data.share") from None
        if not Decimal(0) < share <= 1:
            raise bad(f"data.share must be > 0 and <= 1 (a fraction of one device), got {share}", "data.share")
        canon["share"] = format(share, "f")
        quantity = quantity * share
    if meter in DEVICE_METERS and not dims.get("model"):
        raise bad(f"{meter.value} needs data.model (the accelerator model)", "data.model")
    return UsageRecord(source=source, id=ident, meter=meter, subject=subject, time=time, quantity=quantity,
                       model=dims.get("model", ""), site=dims.get("site", ""), supplier=dims.get("supplier", ""),
                       node=dims.get("node", ""), lease=dims.get("lease", ""), order=dims.get("order", ""),
                       payload_hash=payload_hash(meter, subject, time, canon))

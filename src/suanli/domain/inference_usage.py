"""Inference usage per key and model, and how a model's token charges are split across keys.

A row is one (tenant, key, model) of a month: requests, prompt tokens (all of them), the cached part
of those, completion tokens, and its cost. The cost comes from the tenant's invoice (draft) for the
month: for each token meter and model, the amount of its rated lines (tiers, the tenant's plan and
the default plan's list prices already applied, each line rounded once) is split across the rows of
that model in proportion to the row's tokens of that meter::

    inference_input_tokens          prompt_tokens - cached_tokens
    inference_cached_input_tokens   cached_tokens
    inference_output_tokens         completion_tokens

Each share is rounded down to the minor unit; what rounding leaves over (less than a fen per row)
goes to the row with the most tokens of that meter (the first of them in row order), so the
rows of a model add up to its lines exactly and the totals equal the invoice's token lines.
Token lines no request row accounts for (usage events reported through the usage API, or a line
of a model without requests in the month) form a row without a key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal

from suanli.domain.meters import Meter
from suanli.domain.money import MINOR_UNIT, check_currency
from suanli.errors import ValidationError

TOKEN_METERS = (Meter.INFERENCE_INPUT_TOKENS, Meter.INFERENCE_CACHED_INPUT_TOKENS, Meter.INFERENCE_OUTPUT_TOKENS)
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class KeyModelUsage:
    tenant_id: str
    token_id: int | None
    """The key (``None``: requests of no key, or token lines no request accounts for)."""
    prefix: str
    label: str
    model: str
    requests: int
    prompt_tokens: int
    """All prompt tokens, the cached ones included."""
    cached_tokens: int
    completion_tokens: int
    cost: Decimal = Decimal(0)

    def tokens_of(self, meter: Meter) -> int:
        if meter is Meter.INFERENCE_CACHED_INPUT_TOKENS:
            return self.cached_tokens
        if meter is Meter.INFERENCE_OUTPUT_TOKENS:
            return self.completion_tokens
        return self.prompt_tokens - self.cached_tokens


def parse_period(value: str | None, now: datetime) -> tuple[str, datetime, datetime]:
    """``YYYY-MM`` (default: the month of ``now``, UTC) -> (period, first instant, first instant of the next)."""
    period = value if value else now.astimezone(UTC).strftime("%Y-%m")
    m = _PERIOD.match(period)
    if not m:
        raise ValidationError(f"period {period!r} is not a month; use YYYY-MM (e.g. 2026-11)", field="period")
    year, month = int(m.group(1)), int(m.group(2))
    if year < 2000:
        raise ValidationError(f"period {period!r}: the year must be 2000 or later", field="period")
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return period, start, end


def split(amount: Decimal, weights: Sequence[int], currency: str) -> list[Decimal]:
    """``amount`` split in proportion to ``weights`` (at least one positive), each share rounded down
    (toward zero) to the minor unit, the remainder (less than a fen per row, of the amount's sign, so no
    share changes sign) added to the largest weight (the first of equals)."""
    total = sum(weights)
    if total <= 0:
        raise ValueError("split needs a positive weight")
    unit = MINOR_UNIT[check_currency(currency)]
    shares = [(amount * w / total).quantize(unit, rounding=ROUND_DOWN) for w in weights]
    big = max(range(len(weights)), key=lambda i: (weights[i], -i))
    shares[big] += amount - sum(shares, Decimal(0))
    return shares


def with_costs(rows: Sequence[KeyModelUsage], charges: dict[tuple[Meter, str], Decimal], tenant_id: str,
               currency: str) -> list[KeyModelUsage]:
    """The tenant's rows with their cost: ``charges`` are its token lines summed by (meter, model)."""
    cost = [Decimal(0)] * len(rows)
    extra: dict[str, Decimal] = {}
    for (meter, model), amount in sorted(charges.items()):
        idx = [i for i, r in enumerate(rows) if r.model == model and r.tokens_of(meter) > 0]
        if not idx:
            extra[model] = extra.get(model, Decimal(0)) + amount
            continue
        for i, share in zip(idx, split(amount, [rows[i].tokens_of(meter) for i in idx], currency), strict=True):
            cost[i] += share
    out = [replace(r, cost=c) for r, c in zip(rows, cost, strict=True)]
    out += [KeyModelUsage(tenant_id, None, "", "", model, 0, 0, 0, 0, amount) for model, amount in sorted(extra.items())]
    return out


@dataclass(frozen=True)
class InferenceUsage:
    """The answer of ``GET /v1/inference/usage``: rows per (tenant, key, model) with their cost."""

    period: str
    currency: str
    as_of: datetime
    """The instant the costs were rated at (the current month: to date)."""
    tenants: dict[str, str]
    """Tenant id -> name, for every tenant of a row."""
    rows: list[KeyModelUsage]

    @property
    def totals(self) -> KeyModelUsage:
        """Every row added up (tenant, key and model empty)."""
        return KeyModelUsage("", None, "", "", "", sum(r.requests for r in self.rows),
                             sum(r.prompt_tokens for r in self.rows), sum(r.cached_tokens for r in self.rows),
                             sum(r.completion_tokens for r in self.rows), sum((r.cost for r in self.rows), Decimal(0)))

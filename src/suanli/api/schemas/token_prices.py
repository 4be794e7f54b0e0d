"""Wire schema of ``POST /v1/prices/tokens``: a model's per-token list prices in one call (operator)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from suanli.api.schemas.common import Exact, Name, Wire


class TokenTier(Wire):
    up_to: Exact | None = None
    """Million tokens of the month up to which this tier's price applies; null: the open last tier."""
    price: Exact


class TokenRate(Wire):
    """A flat ``price`` per million tokens, or graduated ``tiers`` (the first tier's price is the price)."""

    price: Exact | None = None
    tiers: Annotated[list[TokenTier] | None, Field(max_length=20)] = None


class TokenPricesRequest(Wire):
    model: Name
    """The deployment's name (what callers give as ``model``)."""
    input: TokenRate | None = None
    """Prompt tokens not served from the runtime's cache (meter inference_input_tokens)."""
    output: TokenRate | None = None
    """Completion tokens (meter inference_output_tokens)."""
    cached: TokenRate | None = None
    """Prompt tokens served from the runtime's cache (meter inference_cached_input_tokens)."""

"""A model's per-token list prices (operator): ``POST /v1/prices/tokens``.

::

    with SuanliClient(server, token) as api:
        TokenPricesClient(api).set("tiny-gpt", input={"price": "2"}, output={"tiers": [
            {"up_to": "1", "price": "8"}, {"up_to": None, "price": "6"}]}, cached={"price": "0.5"})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from suanli.api.schemas.money import PlanResponse
from suanli.client.http import Endpoints


class TokenPricesClient(Endpoints):

    def set(self, model: str, *, input: Mapping[str, Any] | None = None, output: Mapping[str, Any] | None = None,
            cached: Mapping[str, Any] | None = None) -> PlanResponse:
        """Set the model's price per million tokens (each ``{"price": P}`` or ``{"tiers": [...]}``); the
        new default plan."""
        body: dict[str, Any] = {"model": model}
        for key, value in (("input", input), ("output", output), ("cached", cached)):
            if value is not None:
                body[key] = dict(value)
        return self._one(PlanResponse, "POST", "/v1/prices/tokens", json=body)

"""Usage and cost of the model gateway per inference key and model (``GET /v1/inference/usage``).

::

    with SuanliClient(server, token) as api:
        u = InferenceUsageClient(api).usage(period="2026-11")
        for r in u.rows:
            print(r.label, r.model, r.prompt_tokens, r.completion_tokens, r.cost)
"""

from __future__ import annotations

from suanli.api.schemas.inference_usage import InferenceUsageResponse
from suanli.client.http import Endpoints


class InferenceUsageClient(Endpoints):

    def usage(self, *, period: str | None = None, tenant: str | None = None) -> InferenceUsageResponse:
        """Rows per (tenant, key, model) of the month (default: this month, UTC) and their totals; the
        operator names a ``tenant`` or sees every tenant's."""
        return self._one(InferenceUsageResponse, "GET", "/v1/inference/usage",
                         params={"period": period, "tenant": tenant})

"""What-if endpoints (operator): start a run on the live fleet, follow it, cancel it.

::

    with SuanliClient(server, token) as api:
        wi = WhatIfClient(api)
        run = wi.start(days=7, price_change_pct="-10", growth="1.2")
        while run.state in ("queued", "running"):
            time.sleep(1)
            run = wi.get(run.id)
        print(run.result["changed"]["revenue"])
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import quote

from suanli.api.schemas.whatif import WhatIfRequest, WhatIfRunResponse
from suanli.client.http import Endpoints


class WhatIfClient(Endpoints):

    def start(self, request: WhatIfRequest | None = None, **fields: Any) -> WhatIfRunResponse:
        """Start a run (``request``, or its fields as keywords; decimals as strings or ``Decimal``)."""
        body = request or WhatIfRequest.model_validate(
            {k: (str(v) if isinstance(v, Decimal) else v) for k, v in fields.items()})
        return self._one(WhatIfRunResponse, "POST", "/v1/whatif", json=body.model_dump(mode="json"))

    def get(self, run_id: str) -> WhatIfRunResponse:
        return self._one(WhatIfRunResponse, "GET", f"/v1/whatif/{quote(run_id, safe='')}")

    def runs(self, limit: int = 50) -> list[WhatIfRunResponse]:
        return self._many(WhatIfRunResponse, "/v1/whatif", {"limit": limit})

    def cancel(self, run_id: str) -> WhatIfRunResponse:
        return self._one(WhatIfRunResponse, "POST", f"/v1/whatif/{quote(run_id, safe='')}/cancel")

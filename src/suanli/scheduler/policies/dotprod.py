"""DotProd (Tetris alignment, Grandl et al., SIGCOMM '14) as configured in the FGD artifact
(``dot_product_score.go`` with ``dimExtMethod=merge``, ``normMethod=max``): free vector
``[cpu_free/128 000, gpu_free/8 000]`` (GPU summed over the node), request vector normalised the
same way; score ``int64(100·(1 − (free·req)/2))``, so the node least aligned with the request
(the fullest one) wins. A share goes to the fullest device that fits."""

from __future__ import annotations

import numpy as np

from suanli.scheduler.base import NodeScorePolicy
from suanli.scheduler.policies.simple import max_specs, request_gpu_milli, trunc_score
from suanli.scheduler.types import FleetState, PlacementRequest


class DotProdPolicy(NodeScorePolicy):
    name: str = "dotprod"

    def scores(
        self, state: FleetState, req: PlacementRequest, cand: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        cpu_max, gpu_max = max_specs(state)
        n0 = state.cpu_free_milli[cand] / cpu_max
        n1 = state.idle_milli[cand] / gpu_max
        dot = n0 * (req.cpu_milli / cpu_max) + n1 * (request_gpu_milli(req) / gpu_max)
        return trunc_score(100.0 * (1.0 - dot / 2.0)), None

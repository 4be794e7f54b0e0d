"""BestFit: the node with the least CPU and GPU left after placement.

Artifact (``best_fit_score.go``): ``s = 0.5·(cpu_free − cpu_req)/128 000 + 0.5·(gpu_free −
gpu_req)/8 000`` with GPU summed over the node's devices in milli, score ``int64(100·(1 − s))``;
the framework's min–max normalisation that follows keeps order and ties, so it is left out. The
integer truncation matters: nodes whose leftovers differ by less than one point tie, and the
policy's ``tie_break`` decides among them. A share goes to the fullest device that fits.
"""

from __future__ import annotations

import numpy as np

from suanli.scheduler.base import NodeScorePolicy
from suanli.scheduler.policies.simple import max_specs, request_gpu_milli, trunc_score
from suanli.scheduler.types import FleetState, PlacementRequest


class BestFitPolicy(NodeScorePolicy):
    name: str = "bestfit"

    def scores(
        self, state: FleetState, req: PlacementRequest, cand: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        cpu_max, gpu_max = max_specs(state)
        cpu_left = (state.cpu_free_milli[cand] - req.cpu_milli).astype(np.float64)
        gpu_left = (state.idle_milli[cand] - request_gpu_milli(req)).astype(np.float64)
        s = cpu_left / cpu_max * 0.5 + gpu_left / gpu_max * 0.5
        return trunc_score((1.0 - s) * 100.0), None

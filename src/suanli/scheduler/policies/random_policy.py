"""Random: every feasible node is equally likely (the artifact's RandomScore draws one of the
filtered nodes in PreScore and gives it the maximum score). A share goes to a device drawn
uniformly among those that fit: the artifact runs Random with ``gpuSelMethod=random``
(``experiments/run_scripts/generate_run_scripts.py``), not the "best" default of the others."""

from __future__ import annotations

import numpy as np

from suanli.scheduler.base import NodeScorePolicy, usable_devices
from suanli.scheduler.types import FleetState, PlacementRequest


class RandomPolicy(NodeScorePolicy):
    name: str = "random"

    def node_local(self, req: PlacementRequest) -> bool:
        return False  # draws from rng on every call

    def scores(
        self, state: FleetState, req: PlacementRequest, cand: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        if not req.is_share:
            return np.zeros(cand.size), None
        fits = usable_devices(state, req)[cand] & (state.dev_free_milli[cand] >= req.device_milli)
        # a uniform draw among the fitting devices of each candidate: argmax of random keys
        keys = np.where(fits, rng.random(fits.shape), -1.0)
        return np.zeros(cand.size), np.argmax(keys, axis=1)

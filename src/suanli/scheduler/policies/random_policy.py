"""Random: every feasible node is equally likely (the artifact's RandomScore draws one of the
filtered nodes in PreScore and gives it the maximum score). A share goes to the fullest device
that fits ("best" GPU selection, the artifact default)."""

from __future__ import annotations

import numpy as np

from suanli.scheduler.base import NodeScorePolicy
from suanli.scheduler.types import FleetState, PlacementRequest


class RandomPolicy(NodeScorePolicy):
    name: str = "random"

    def scores(
        self, state: FleetState, req: PlacementRequest, cand: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        return np.zeros(cand.size), None

"""GpuClustering: keep pods of one GPU class together (``gpu_clustering_score.go``).

Classes: share of a GPU, or k whole GPUs. With ``g = 25·(8 000 − gpu_free) // 8 000`` (integer
division, GPU summed over the node): a node holding only pods of the request's class scores
``g + 75``, holding that class among others ``g + 50``, an idle node ``g + 25``, a node with
other classes only ``g``. CPU-only requests score 0 everywhere (the tie-break alone decides). A share
goes to the fullest device that fits.
"""

from __future__ import annotations

import numpy as np

from suanli.scheduler.base import NodeScorePolicy
from suanli.scheduler.policies.simple import max_specs
from suanli.scheduler.types import FleetState, PlacementRequest, device_class


class GpuClusteringPolicy(NodeScorePolicy):
    name: str = "gpuclustering"

    def node_local(self, req: PlacementRequest) -> bool:
        # a whole node of unstated size takes the class of the largest candidate node
        return bool(req.num_devices) or not req.whole_node

    def scores(
        self, state: FleetState, req: PlacementRequest, cand: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        if req.num_devices == 0 and not req.whole_node:
            return np.zeros(cand.size), None
        _, gpu_max = max_specs(state)
        gmax = int(gpu_max)
        base = (25 * (gmax - state.idle_milli[cand])) // gmax
        cls = device_class(req.num_devices or int(state.n_devices[cand].max(initial=1)), req.device_milli)
        counts = state.class_count[cand]
        present = counts > 0
        n_cls = present.sum(axis=1)
        mine = present[:, cls]
        off = np.where(mine, np.where(n_cls == 1, 75, 50), np.where(n_cls == 0, 25, 0))
        return (base + off).astype(np.float64), None

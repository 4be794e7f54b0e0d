"""GpuPacking (``gpu_packing_score.go``): prefer a GPU already shared, then idle GPUs on a node
already in use, then an idle node.

Scores (integers): a node whose GPUs are all idle ``max(33 − n_gpus, n_gpus)``; a request that
must use ``u`` idle GPUs of a used node ``max(50 − u, 33)``; a share that fits on a used GPU with
``f`` free milli (the fullest that fits) ``max(100 − (f·100//1000)//10, 50)``. CPU-only requests
score 0 everywhere. A share goes to the fullest device that fits.
"""

from __future__ import annotations

import numpy as np

from suanli.scheduler.base import NodeScorePolicy, usable_devices
from suanli.scheduler.types import MILLI, FleetState, PlacementRequest


class GpuPackingPolicy(NodeScorePolicy):
    name: str = "gpupacking"

    def scores(
        self, state: FleetState, req: PlacementRequest, cand: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        if req.num_devices == 0 and not req.whole_node:
            return np.zeros(cand.size), None
        nd = state.n_devices[cand].astype(np.int64)
        full = state.full_free[cand].astype(np.int64)
        idle_node = full == nd
        case3 = np.maximum(33 - full, full)
        if req.is_share:
            usable = usable_devices(state, req)[cand]
            free = state.dev_free_milli[cand].astype(np.int64)
            fit = np.where(usable & (free >= req.device_milli), free, MILLI + 1).min(axis=1)
            shared = np.maximum(100 - ((fit * 100) // MILLI) // 10, 50)
            other = np.where(fit >= MILLI, np.maximum(50 - 1, 33), shared)
        else:
            other = np.full(cand.size, max(50 - max(req.num_devices, 1), 33), np.int64)
        return np.where(idle_node, case3, other).astype(np.float64), None

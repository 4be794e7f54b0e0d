"""FGD — Fragmentation Gradient Descent (Weng et al., USENIX ATC '23; artifact ``fgd_score.go``).

Place the request where the fleet fragmentation ``F`` (see :mod:`suanli.scheduler.frag`) grows
least. Score of node ``n``: ``int64(100 · sigmoid((F_n − F_n') / 1000))`` with ``F_n'`` the node's
fragmentation after the placement (milli). A share of one device tries every device with enough
free milli and keeps the *first* (lowest index) that reaches the best integer score — the same
function picks the device at reserve time. Whole devices are the first idle ones by index.

The integer score is the artifact's: fragmentation changes of less than about 40 milli do not
separate nodes, so the tie order is part of the published numbers (the FGD protocol takes the
tied node of lowest rank in a random node priority drawn once per seed, as the artifact does).

Speed: the score of a node depends only on the node's own state and the request's shape, so
scores are cached per request shape and recomputed only for nodes whose ``node_version``
changed since (usually a handful per request).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from suanli.scheduler.base import NodeScorePolicy, usable_devices
from suanli.scheduler.frag import FragModel, TypicalPod, TypicalPods
from suanli.scheduler.types import MILLI, FleetState, PlacementRequest

#: used when no workload is known (the service): a plausible mix of whole devices and shares
DEFAULT_TYPICAL = TypicalPods(
    (
        TypicalPod(8000, 1, 1000, None, 40),
        TypicalPod(4000, 1, 500, None, 15),
        TypicalPod(2000, 1, 250, None, 10),
        TypicalPod(16000, 2, 1000, None, 8),
        TypicalPod(32000, 4, 1000, None, 7),
        TypicalPod(64000, 8, 1000, None, 10),
        TypicalPod(4000, 0, 0, None, 10),
    )
)

ShapeKey = tuple[int, int, int, frozenset[int] | None, bool]


class _ShapeCache:
    __slots__ = ("dev", "score", "ver")

    def __init__(self, n: int) -> None:
        self.ver = np.full(n, -1, np.int64)
        self.score = np.zeros(n, np.float64)
        self.dev = np.full(n, -1, np.int16)


class FGDPolicy(NodeScorePolicy):
    name: str = "fgd"

    def __init__(self, typical: TypicalPods | None = None, **_: Any) -> None:
        self.typical = typical if typical is not None else DEFAULT_TYPICAL
        self._state_ref: weakref.ref[FleetState] | None = None
        self._model: FragModel | None = None
        self._shapes: dict[ShapeKey, _ShapeCache] = {}
        self._fb = np.zeros(0)
        self._fb_ver = np.zeros(0, np.int64)

    # ------------------------------------------------------------------ caches
    def set_typical(self, typical: TypicalPods) -> None:
        """Change the workload the fragmentation is measured against (drops every cache)."""
        self.typical = typical
        self._state_ref = None

    def _bind(self, state: FleetState) -> FragModel:
        if self._state_ref is None or self._state_ref() is not state or self._model is None:
            self._state_ref = weakref.ref(state)
            self._model = FragModel(self.typical, state)
            self._shapes = {}
            self._fb = np.zeros(state.num_nodes)
            self._fb_ver = np.full(state.num_nodes, -1, np.int64)
        return self._model

    def frag_before(self, state: FleetState) -> np.ndarray:
        """Weighted fragmentation of every node now (cached by node version)."""
        model = self._bind(state)
        stale = np.flatnonzero(self._fb_ver != state.node_version)
        if stale.size:
            self._fb[stale] = model.node_frag(state, stale)
            self._fb_ver[stale] = state.node_version[stale]
        return self._fb

    # ------------------------------------------------------------------ scoring
    def delta_scores(self, state: FleetState, req: PlacementRequest, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fragmentation increase ``F_n' − F_n`` (weighted, per node in ``rows``) and, for a share,
        per device: returns (delta (R,) or (R, D), valid mask of the same shape)."""
        model = self._bind(state)
        fb = self.frag_before(state)[rows]
        free = state.dev_free_milli[rows]
        cnt, slt, idle = model.stats(free)
        cpu = state.cpu_free_milli[rows] - req.cpu_milli
        acc = model.access[rows]
        if req.whole_node:
            return -fb, np.ones(rows.size, bool)
        if not req.is_share:
            k = req.num_devices
            fa = model.frag(cnt - k, slt, idle - k * MILLI, cpu, acc)
            return fa - fb, np.ones(rows.size, bool)
        s = req.device_milli
        r, d = free.shape
        f = free.astype(np.int64)
        valid = usable_devices(state, req)[rows] & (f >= s)
        th = model.thresholds[None, None, :]
        ge0 = f[:, :, None] >= th
        f2 = f - s
        ge1 = f2[:, :, None] >= th
        cnt2 = (cnt[:, None, :] + (ge1.astype(np.int64) - ge0)).reshape(r * d, -1)
        slt2 = (slt[:, None, :] + np.where(ge1, 0, f2[:, :, None]) - np.where(ge0, 0, f[:, :, None])).reshape(r * d, -1)
        idle2 = np.repeat(idle - s, d)
        cpu2 = np.repeat(cpu, d)
        acc2 = np.repeat(acc, d, axis=0)
        fa = model.frag(cnt2, slt2, idle2, cpu2, acc2).reshape(r, d)
        return fa - fb[:, None], valid

    def _int_score(self, delta: np.ndarray) -> np.ndarray:
        cov = self._model.covered if self._model is not None else 1.0
        x = -delta / (cov * 1000.0) if cov > 0 else np.zeros_like(delta)
        return np.trunc(100.0 / (1.0 + np.exp(-x)))

    def _shape_scores(self, state: FleetState, req: PlacementRequest, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        delta, valid = self.delta_scores(state, req, rows)
        sc = self._int_score(delta)
        if sc.ndim == 1:
            return sc, np.full(rows.size, -1, np.int16)
        sc = np.where(valid, sc, -np.inf)
        best = sc.max(axis=1)
        dev = np.argmax(sc == best[:, None], axis=1).astype(np.int16)
        return best, dev

    def scores(
        self, state: FleetState, req: PlacementRequest, cand: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        self._bind(state)
        key: ShapeKey = (req.cpu_milli, req.num_devices, req.device_milli, req.allowed_models, req.whole_node)
        cache = self._shapes.get(key)
        if cache is None:
            cache = self._shapes[key] = _ShapeCache(state.num_nodes)
        stale = np.flatnonzero(cache.ver != state.node_version)
        if stale.size:
            sc, dev = self._shape_scores(state, req, stale)
            cache.score[stale] = sc
            cache.dev[stale] = dev
            cache.ver[stale] = state.node_version[stale]
        return cache.score[cand], (cache.dev[cand] if req.is_share else None)

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
the engine caches it per shape and re-scores only the nodes whose ``node_version`` changed
(:meth:`NodeScorePolicy._shape_cache`), usually one or two per request. Those nodes are scored
through per-device tables (:meth:`FragModel.frag_tables`): one table lookup gives every typical
pod's counts for a node, one more the change for each device a share could take. The plain
computation (:meth:`FGDPolicy.delta_reference`) is kept as ``engine="reference"``; both give the
same decisions (``tests/scheduler/test_engine_equivalence.py``).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from suanli.scheduler.base import NodeScorePolicy, feasible_nodes, usable_devices
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


#: at most this many missed rows of a shape of whole devices (or none) are scored one by one in
#: Python numbers (:meth:`FGDPolicy.score_one`) where the policy can
SCALAR_ROWS = 2
#: batches of at least this many nodes are scored once per distinct node state
DEDUPE_MIN_ROWS = 64
#: smaller batches are looked up in a memory of scores per (shape, node state) while at least
#: half the lookups of the first MEMO_TRIAL hit; the memory starts again past MEMO_MAX_STATES node keys
MEMO_TRIAL = 4000
MEMO_MAX_STATES = 200_000


def _per_unit(delta: np.ndarray, model: FragModel) -> np.ndarray:
    """A change of scaled fragmentation in weighted milli (one rounding, after the difference)."""
    return delta / model.unit if model.unit != 1.0 else delta


class _Memo:
    """Remembered score (NaN: unknown) and device of one request shape, by node key id."""

    __slots__ = ("dev", "score")

    def __init__(self, size: int) -> None:
        self.score = np.full(max(size, 1024), np.nan)
        self.dev = np.full(self.score.size, -1, np.int64)

    def grow(self, size: int) -> None:
        more = max(size, 2 * self.score.size) - self.score.size
        self.score = np.concatenate([self.score, np.full(more, np.nan)])
        self.dev = np.concatenate([self.dev, np.full(more, -1, np.int64)])


class FGDPolicy(NodeScorePolicy):
    name: str = "fgd"

    def __init__(self, typical: TypicalPods | None = None, **_: Any) -> None:
        self.typical = typical if typical is not None else DEFAULT_TYPICAL
        self._state_ref: weakref.ref[FleetState] | None = None
        self._model: FragModel | None = None
        self._kind_ref: weakref.ref[FleetState] | None = None
        self._kind = np.zeros(0, np.int64)
        self._reset_memo()
        #: the bound model's tables and weights as Python lists (:meth:`_frag_pair_one`), and that model
        self._lists_of: FragModel | None = None
        self._tab_list: list[list[float]] = []
        self._wi_list: list[float] = []
        self._cpu_list: list[int] = []
        self._milli_row: list[float] = []
        self._share_lists: dict[int, list[list[float]]] = {}

    def _reset_memo(self) -> None:
        self._memo: dict[tuple[object, ...], _Memo] = {}
        self._memo_on = True
        self._memo_tries = 0
        self._memo_misses = 0
        #: distinct node keys numbered (in device order, and with the free milli sorted), the id
        #: of every node's key (:meth:`_node_ids`), and the fleet and log position they match
        self._ids: tuple[dict[tuple[int, ...], int], dict[tuple[int, ...], int]] = ({}, {})
        self._kid: list[np.ndarray] = [np.zeros(0, np.int64), np.zeros(0, np.int64)]
        self._ordered_on = False
        self._kind_list: list[int] = []
        self._keys_ref: weakref.ref[FleetState] | None = None
        self._keys_seen = -1

    # ------------------------------------------------------------------ caches
    def set_typical(self, typical: TypicalPods) -> None:
        """Change the workload the fragmentation is measured against (drops every cache)."""
        self.typical = typical
        self._state_ref = None
        self._kind_ref = None
        self._reset_memo()
        self.reset_cache()

    #: measure fragmentation against the typical pods' host memory and NIC too (fgd+md)
    resources: bool = False

    def _bind(self, state: FleetState) -> FragModel:
        if self._state_ref is None or self._state_ref() is not state or self._model is None:
            self._state_ref = weakref.ref(state)
            self._model = FragModel(self.typical, state, resources=self.resources)
        return self._model

    # ------------------------------------------------------------------ scoring
    def delta_scores(self, state: FleetState, req: PlacementRequest, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fragmentation increase ``F_n' − F_n`` (weighted, per node in ``rows``) and, for a share,
        per device: returns (delta (R,) or (R, D), valid mask of the same shape)."""
        model = self._bind(state)
        if self.engine == "reference":
            return self.delta_reference(state, req, rows)
        free = state.dev_free_milli[rows]
        st = model.table_stats(free)
        idle = state.idle_milli[rows]
        cpu = state.cpu_free_milli[rows]
        need = model.need[rows]
        mem = state.mem_free_mib[rows] if model.uses_mem else None
        nic = state.nic_free_mbps[rows] if model.uses_nic and state.nic_free_mbps is not None else None
        fb = model.frag_tables(st, idle, cpu, need, mem, nic)
        if req.whole_node:
            return _per_unit(-fb, model), np.ones(rows.size, bool)
        cpu2 = cpu - req.cpu_milli
        mem2 = None if mem is None else mem - req.mem_mib
        nic2 = None if nic is None else nic - req.nic_mbps
        if not req.is_share:
            k = req.num_devices
            st2 = st - k * model.tab[MILLI] if k else st
            fa = model.frag_tables(st2, idle - k * MILLI, cpu2, need, mem2, nic2)
            return _per_unit(fa - fb, model), np.ones(rows.size, bool)
        s = req.device_milli
        st2 = st[:, None, :] + model.share_table(s)[free]
        fa = model.frag_tables(st2, (idle - s)[:, None], cpu2[:, None], need[:, None, :],
                               None if mem2 is None else mem2[:, None], None if nic2 is None else nic2[:, None])
        valid = usable_devices(state, req)[rows] & (free >= s)
        return _per_unit(fa - fb[:, None], model), valid

    def delta_reference(self, state: FleetState, req: PlacementRequest, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`delta_scores` computed plainly from the device rows (FragModel.stats / frag)."""
        model = self._bind(state)
        free = state.dev_free_milli[rows]
        cnt, slt, idle = model.stats(free)
        acc = model.access[rows]
        mem = state.mem_free_mib[rows] if model.uses_mem else None
        nic = state.nic_free_mbps[rows] if model.uses_nic and state.nic_free_mbps is not None else None
        fb = model.frag_scaled(cnt, slt, idle, state.cpu_free_milli[rows], acc, mem, nic)
        cpu = state.cpu_free_milli[rows] - req.cpu_milli
        mem = None if mem is None else mem - req.mem_mib
        nic = None if nic is None else nic - req.nic_mbps
        if req.whole_node:
            return _per_unit(-fb, model), np.ones(rows.size, bool)
        if not req.is_share:
            k = req.num_devices
            fa = model.frag_scaled(cnt - k, slt, idle - k * MILLI, cpu, acc, mem, nic)
            return _per_unit(fa - fb, model), np.ones(rows.size, bool)
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
        mem2 = None if mem is None else np.repeat(mem, d)
        nic2 = None if nic is None else np.repeat(nic, d)
        fa = model.frag_scaled(cnt2, slt2, idle2, cpu2, acc2, mem2, nic2).reshape(r, d)
        return _per_unit(fa - fb[:, None], model), valid

    def _int_score(self, delta: np.ndarray) -> np.ndarray:
        """``trunc(100·sigmoid(−ΔF/1000))`` with ΔF per covered pod; computed in place as
        ``100 / (1 + exp(Δ/(cov·1000)))``, which is bitwise ``sigmoid(x)`` of ``x = −Δ/(cov·1000)``
        (IEEE division and negation are symmetric)."""
        cov = self._model.covered if self._model is not None else 1.0
        y = delta / (cov * 1000.0) if cov > 0 else np.zeros_like(delta, dtype=np.float64)
        np.exp(y, out=y)
        y += 1.0
        np.divide(100.0, y, out=y)
        out: np.ndarray = np.trunc(y, out=y)
        return out

    def _shape_scores(
        self, state: FleetState, req: PlacementRequest, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        delta, valid = self.delta_scores(state, req, rows)
        sc = self._int_score(delta)
        if sc.ndim == 1:
            return sc, None
        sc = np.where(valid, sc, -np.inf)
        best = sc.max(axis=1)
        dev = np.argmax(sc == best[:, None], axis=1)
        return best, dev

    def scores(
        self, state: FleetState, req: PlacementRequest, cand: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        if self.engine != "reference" and cand.size >= DEDUPE_MIN_ROWS:
            # many nodes at once (the first request of a shape): score each distinct node state once
            keys = self._state_keys(state, cand)
            rows = keys.view(np.dtype((np.void, keys.shape[1] * keys.itemsize))).reshape(-1)  # one bytes key per row
            _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
            inverse = inverse.reshape(-1)
            if first.size < cand.size:
                sc, dev = self._shape_scores(state, req, cand[first])
                return sc[inverse], (dev[inverse] if dev is not None and req.is_share else None)
        sc, dev = self._shape_scores(state, req, cand)
        return sc, (dev if req.is_share else None)

    def refresh_scores(
        self, state: FleetState, req: PlacementRequest, rows: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Scores (and fit) remembered per (request shape, node state): a fleet whose nodes keep
        going through the same states (churn of a few request shapes) is scored from memory.
        Turned off for the rest of the run when fewer than half the lookups of a trial hit."""
        if self.engine == "reference" or not self._memo_on or rows.size >= max(DEDUPE_MIN_ROWS, state.num_nodes // 4):
            # (a shape's first request, or a log past N/4 changes, re-scores every node: by distinct states)
            return super().refresh_scores(state, req, rows, rng)
        space = 0 if req.allowed_models is not None else 1
        by_value = req.is_share and space == 1
        kid = self._node_ids(state, space)
        shape = (req.cpu_milli, req.mem_mib, req.num_devices, req.device_milli, req.allowed_models,
                 req.allowed_sites, req.whole_node, req.nic_mbps, req.disk_gib)
        memo = self._memo.get(shape)
        size = len(self._ids[space])
        if memo is None:
            memo = self._memo[shape] = _Memo(size)
        elif memo.score.size < size:
            memo.grow(size)
        kids = kid[rows]
        sc = memo.score[kids]
        miss = np.isnan(sc)
        n_miss = int(np.count_nonzero(miss))
        self._memo_tries += rows.size
        self._memo_misses += n_miss
        if self._memo_tries >= MEMO_TRIAL and self._memo_misses * 2 > self._memo_tries:
            self._memo_on = False
        if n_miss:
            dev: np.ndarray | None
            got, dev = None, None
            if by_value:
                if n_miss <= SCALAR_ROWS:
                    pairs = [self.share_value_one(state, req, r) for r in rows[miss].tolist()]
                    if None not in pairs:
                        got = np.array([p[0] for p in pairs if p is not None], np.float64)
                        dev = np.array([p[1] for p in pairs if p is not None], np.int64)
                if got is None:
                    got, dev = self._share_values(state, req, rows[miss])
            else:
                if n_miss <= SCALAR_ROWS:
                    one = [self.score_one(state, req, r) for r in rows[miss].tolist()]
                    if None not in one:
                        got = np.array(one, np.float64)
                if got is None:
                    got, dev = super().refresh_scores(state, req, rows[miss], rng)
            memo.score[kids[miss]] = got
            sc[miss] = got
            if dev is not None:
                memo.dev[kids[miss]] = dev
        return sc, (memo.dev[kids] if req.is_share else None)

    def score_one(self, state: FleetState, req: PlacementRequest, n: int) -> float | None:
        """The score :meth:`refresh_scores` gives node ``n`` (-inf where it does not fit), worked out
        in Python numbers for a few missed rows — None where the policy has no such path (FGD's own
        integer score goes through ``np.exp``, whose last bit Python's ``math.exp`` need not share)."""
        return None

    def share_value_one(self, state: FleetState, req: PlacementRequest, n: int) -> tuple[float, int] | None:
        """:meth:`_share_values` of node ``n`` (score, code) in Python numbers; None where the policy
        has no such path."""
        return None

    def _bind_lists(self, model: FragModel) -> None:
        """The Python lists of :meth:`_frag_pair_one` (and the share tables' as asked for), for ``model``."""
        if self._lists_of is not model:
            self._tab_list = model.tab.tolist()
            self._wi_list = model.wi.tolist()
            self._cpu_list = model.cpu.tolist()
            self._milli_row = model.tab[MILLI].tolist()
            self._share_lists = {}
            self._lists_of = model

    def _share_list(self, model: FragModel, s: int) -> list[list[float]]:
        """:meth:`FragModel.share_table` of ``s`` as lists (after :meth:`_bind_lists`)."""
        got = self._share_lists.get(s)
        if got is None:
            got = self._share_lists[s] = model.share_table(s).tolist()
        return got

    def _frag_one(self, model: FragModel, st: list[float], idle: int, cpu: int, need: list[float]) -> float:
        """:meth:`FragModel.frag_tables` of one node in Python numbers: every term an integer below
        2**52 in float64 (exact weights), so the sums are exact whatever their order, as the matmul's."""
        g = len(need)
        base = model.total_wi * idle
        if g == 0:
            return float(base)
        wi, pod_cpu = self._wi_list, self._cpu_list
        return base - sum([wi[j] * st[g + j] for j in range(g) if st[j] >= need[j] and cpu >= pod_cpu[j]])

    def _frag_pair_one(self, state: FleetState, model: FragModel, req: PlacementRequest, n: int) -> float | None:
        """``F_n' − F_n`` of :meth:`delta_scores` for a request of ``k`` whole devices (or none) on one
        node, in weighted milli (None: a case this path does not cover: shares, whole nodes, memory
        or NIC in the model)."""
        if req.is_share or req.whole_node or model.uses_mem or model.uses_nic:
            return None
        self._bind_lists(model)
        tab = self._tab_list
        st = [sum(col) for col in zip(*[tab[f] for f in state.dev_free_milli[n].tolist()], strict=True)]
        idle = state.idle_milli.item(n)
        cpu = state.cpu_free_milli.item(n)
        need = model.need[n].tolist()
        fb = self._frag_one(model, st, idle, cpu, need)
        k = req.num_devices
        if k:
            st = [a - k * b for a, b in zip(st, self._milli_row, strict=True)]
        fa = self._frag_one(model, st, idle - k * MILLI, cpu - req.cpu_milli, need)
        delta = fa - fb
        return delta / model.unit if model.unit != 1.0 else delta

    def _share_values(self, state: FleetState, req: PlacementRequest, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best score of a share of any model on each node of ``rows`` (-inf where it does not fit)
        and, in place of the device, ``-2 − mask``: bit ``j`` of ``mask`` set when the ``j``-th
        smallest free milli of the node is that of a device reaching the best score.

        A device's score depends on its free milli and the node's multiset of free milli only, so
        the devices reaching the best are those whose free milli is one of these values; the first
        of them (the device :meth:`_shape_scores` picks) is found when the node is chosen
        (:meth:`cached_device`), and nodes whose devices are a permutation of each other share
        one remembered answer."""
        sc = np.full(rows.size, -np.inf)
        code = np.full(rows.size, -1, np.int64)
        ok = feasible_nodes(state, req, rows)
        if not ok.any():
            return sc, code
        fit = rows[ok]
        delta, valid = self.delta_scores(state, req, fit)
        per_dev = np.where(valid, self._int_score(delta), -np.inf)
        best = per_dev.max(axis=1)
        free = state.dev_free_milli[fit]
        hit_values = (np.sort(free, axis=1)[:, :, None] == free[:, None, :]) & (per_dev == best[:, None])[:, None, :]
        mask = hit_values.any(axis=2) @ (1 << np.arange(free.shape[1], dtype=np.int64))
        sc[ok] = best
        code[ok] = -2 - mask
        return sc, code

    def cached_device(self, state: FleetState, req: PlacementRequest, node: int, stored: int) -> int:
        if stored > -2:
            return stored
        mask = -2 - stored
        free = state.dev_free_milli[node].tolist()
        order = sorted(free)  # equal values have equal bits: the first position of a value is enough
        present = state.present[node].tolist()
        for d, f in enumerate(free):  # (a loop: cheaper than next() over a generator)
            if mask >> order.index(f) & 1 and present[d]:
                return d
        raise AssertionError("a remembered share fits no device of its node")

    def _node_ids(self, state: FleetState, space: int) -> np.ndarray:
        """(N,) int64: the id of each node's key in ``space`` — 0: its :meth:`_state_keys`, 1: the
        same with the devices' free milli sorted — kept up to date from the fleet's log of changed
        rows: a node that changed is keyed once, whichever shapes then look it up. Ids number the
        distinct keys (:attr:`_ids`), so the memory of a shape is an array indexed by id. Space 0
        is kept only once a request has asked for it.

        The sorted key serves requests of any model: the score of whole devices (or none)
        depends on the devices' free milli only as a multiset (sums of per-device table rows,
        counts of idle devices), and a share's on the free milli of the device it takes besides
        (:meth:`_share_values`), so nodes whose devices are a permutation of each other share it.
        Requests restricted to some models use the key in device order (slots of mixed models)."""
        n = state.num_nodes
        changed = None
        if self._keys_ref is not None and self._keys_ref() is state and (space == 1 or self._ordered_on):
            if max(len(self._ids[0]), len(self._ids[1])) > MEMO_MAX_STATES:
                self._reset_memo()
            else:
                changed = state.rows_changed_since(self._keys_seen)
                if changed is not None and len(changed) > n // 4:
                    changed = None
        d = state.dev_free_milli.shape[1]
        if changed is None:
            rows = self._state_keys(state, np.arange(n)).tolist()  # (may start a new memory)
            ordered, by_free = self._ids
            self._ordered_on = self._ordered_on or space == 0
            if self._ordered_on:
                self._kid[0] = np.array([ordered.setdefault(tuple(r), len(ordered)) for r in rows], dtype=np.int64)
            self._kid[1] = np.array([by_free.setdefault((*r[:3], *r[3 + d:], *sorted(r[3 : 3 + d])), len(by_free))
                                     for r in rows], dtype=np.int64)
            self._kind_list = [r[0] for r in rows]
            self._keys_ref = weakref.ref(state)
        elif changed:
            ordered, by_free = self._ids
            kind, cpu, mem, free = self._kind_list, state.cpu_free_milli, state.mem_free_mib, state.dev_free_milli
            extra = [a for a in (state.nic_free_mbps, state.disk_free_gib) if a is not None]
            kid0, kid1 = self._kid
            both = self._ordered_on
            if not both and not extra:  # the common case, one tuple per changed node
                for r in set(changed):
                    devs = free[r].tolist()
                    devs.sort()
                    kid1[r] = by_free.setdefault((kind[r], cpu.item(r), mem.item(r), *devs), len(by_free))
                self._keys_seen = state.change_count
                return self._kid[space]
            for r in set(changed):
                head = (kind[r], cpu.item(r), mem.item(r))
                devs = free[r].tolist()
                tail = tuple(a.item(r) for a in extra) if extra else ()
                if both:
                    kid0[r] = ordered.setdefault((*head, *devs, *tail), len(ordered))
                kid1[r] = by_free.setdefault((*head, *tail, *sorted(devs)), len(by_free))
        self._keys_seen = state.change_count
        return self._kid[space]

    def _state_keys(self, state: FleetState, rows: np.ndarray) -> np.ndarray:
        """(R, K) int64: everything a node's score may depend on — its kind (device models, typical
        pods it can hold, CPU total, site), free CPU, free memory and free milli of each device,
        then free NIC and local disk where the fleet tracks them."""
        if self._kind_ref is None or self._kind_ref() is not state:
            model = self._bind(state)
            static = np.column_stack([state.dev_model.astype(np.int64), model.access.astype(np.int64),
                                      state.cpu_total_milli, state.site.astype(np.int64)])
            self._kind = np.unique(static, axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)
            self._kind_ref = weakref.ref(state)
            self._reset_memo()
        extra = [a for a in (state.nic_free_mbps, state.disk_free_gib) if a is not None]
        d = state.dev_free_milli.shape[1]
        out = np.empty((rows.size, 3 + d + len(extra)), np.int64)
        out[:, 0] = self._kind[rows]
        out[:, 1] = state.cpu_free_milli[rows]
        out[:, 2] = state.mem_free_mib[rows]
        out[:, 3 : 3 + d] = state.dev_free_milli[rows]
        for j, a in enumerate(extra):
            out[:, 3 + d + j] = a[rows]
        return out

"""The policy protocol and the machinery every policy shares.

A policy only has to score feasible nodes (:meth:`NodeScorePolicy.scores`, higher is better)
and may pick the device on the chosen node for a share of one device. Everything else lives
here: feasibility (CPU, memory, sites, allowed models, free devices), tie-breaking (uniform at
random among the best nodes, after preferring lower ``dev_cost`` when costs are known), device
choice (the FGD artifact's Open-Gpu-Share defaults), gangs of whole nodes and spread requests
in one fabric domain, and the words of every decision and every refusal.
"""

from __future__ import annotations

import copy
import weakref
from typing import Protocol, runtime_checkable

import numpy as np

from suanli.scheduler.types import MILLI, FleetState, NoFit, Placement, PlacementRequest


@runtime_checkable
class Policy(Protocol):
    name: str

    def place(self, state: FleetState, req: PlacementRequest, rng: np.random.Generator) -> Placement | NoFit: ...


# ---------------------------------------------------------------------------- feasibility
def usable_devices(state: FleetState, req: PlacementRequest) -> np.ndarray:
    """(N, D) bool: device slots of an allowed model."""
    return state.model_mask(req.allowed_models)


def feasible_nodes(state: FleetState, req: PlacementRequest, rows: np.ndarray | None = None) -> np.ndarray:
    """(N,) bool: nodes that can hold a single-node request right now; with ``rows`` (node
    indices) the same test for those nodes only, (R,) bool."""

    def col(a: np.ndarray) -> np.ndarray:
        return a if rows is None else a[rows]

    ok = (col(state.cpu_free_milli) >= req.cpu_milli) & (col(state.mem_free_mib) >= req.mem_mib)
    if req.nic_mbps and state.nic_free_mbps is not None:
        ok &= col(state.nic_free_mbps) >= req.nic_mbps
    if req.disk_gib and state.disk_free_gib is not None:
        ok &= col(state.disk_free_gib) >= req.disk_gib
    if req.allowed_sites is not None:
        ok &= np.isin(col(state.site), np.fromiter(req.allowed_sites, np.int32, len(req.allowed_sites)))
    if req.whole_node:
        ok &= whole_node_free(state, req, rows)
        if req.num_devices:
            ok &= col(state.n_devices) >= req.num_devices
        return ok
    if req.num_devices == 0:
        return ok
    if req.allowed_models is None:
        if req.is_share:
            return ok & (col(state.max_free) >= req.device_milli)
        return ok & (col(state.full_free) >= req.num_devices)
    usable = col(usable_devices(state, req))
    free = col(state.dev_free_milli)
    if req.is_share:
        out: np.ndarray = ok & np.any(usable & (free >= req.device_milli), axis=1)
        return out
    out = ok & ((usable & (free == MILLI)).sum(axis=1) >= req.num_devices)
    return out


def whole_node_free(state: FleetState, req: PlacementRequest, rows: np.ndarray | None = None) -> np.ndarray:
    """(N,) bool (or (R,) for ``rows``): node entirely idle and, with allowed models, every
    device of an allowed model."""

    def col(a: np.ndarray) -> np.ndarray:
        return a if rows is None else a[rows]

    n_dev = col(state.n_devices)
    ok = (col(state.cpu_free_milli) == col(state.cpu_total_milli)) & (col(state.full_free) == n_dev)
    if req.allowed_models is not None:
        usable = col(usable_devices(state, req))
        ok = ok & (usable.sum(axis=1) == n_dev) & (n_dev > 0)
    out: np.ndarray = ok
    return out


def default_devices(state: FleetState, req: PlacementRequest, node: int) -> tuple[int, ...]:
    """Open-Gpu-Share defaults: a share goes to the fullest device that still fits (lowest index
    on ties, "best" GPU selection); whole devices are the first idle ones by index."""
    if req.num_devices == 0 and not req.whole_node:
        return ()
    usable = usable_devices(state, req)[node]
    free = state.dev_free_milli[node]
    if req.whole_node:
        return tuple(int(d) for d in np.flatnonzero(state.present[node]))
    if req.is_share:
        fits = (usable & (free >= req.device_milli)).nonzero()[0]
        return (int(fits[np.argmin(free[fits])]),)
    k = req.num_devices
    idle: list[int] = []
    for d, (f, u) in enumerate(zip(free.tolist(), usable.tolist(), strict=True)):
        if f == MILLI and u:
            idle.append(d)
            if len(idle) == k:
                break
    return tuple(idle)


def explain_nofit(state: FleetState, req: PlacementRequest) -> str:
    """Why a single-node request fits nowhere, narrowing down one constraint at a time."""
    n = state.num_nodes
    if n == 0:
        return "the fleet has no nodes"
    ok = np.ones(n, bool)
    if req.allowed_sites is not None:
        ok &= np.isin(state.site, list(req.allowed_sites))
        if not ok.any():
            return f"no node in sites {sorted(req.allowed_sites)}"
    names = _model_list(state, req.allowed_models)
    if req.num_devices or req.whole_node:
        usable = usable_devices(state, req)
        has = usable.any(axis=1) & ok
        if not has.any():
            return f"no node with devices of models {names}"
        ok = has
    cpu_ok = ok & (state.cpu_free_milli >= req.cpu_milli)
    if not cpu_ok.any():
        return f"no node with {req.cpu_milli} free CPU milli; most free: {int(state.cpu_free_milli[ok].max())}"
    mem_ok = cpu_ok & (state.mem_free_mib >= req.mem_mib)
    if not mem_ok.any():
        return f"no node with {req.mem_mib} MiB free memory beside the CPU; most free: {int(state.mem_free_mib[cpu_ok].max())}"
    if req.nic_mbps and state.nic_free_mbps is not None:
        nic_ok = mem_ok & (state.nic_free_mbps >= req.nic_mbps)
        if not nic_ok.any():
            return (f"no node with {req.nic_mbps} Mbps free NIC bandwidth beside the CPU and memory; "
                    f"most free: {int(state.nic_free_mbps[mem_ok].max())}")
        mem_ok = nic_ok
    if req.disk_gib and state.disk_free_gib is not None:
        disk_ok = mem_ok & (state.disk_free_gib >= req.disk_gib)
        if not disk_ok.any():
            return (f"no node with {req.disk_gib} GiB free local disk beside the CPU, memory and NIC; "
                    f"most free: {int(state.disk_free_gib[mem_ok].max())}")
        mem_ok = disk_ok
    if req.whole_node:
        return f"no entirely idle node with devices of models {names}"
    usable = usable_devices(state, req)
    if req.is_share:
        best = int(np.where(usable, state.dev_free_milli, 0)[mem_ok].max())
        return f"no device of models {names} with {req.device_milli} free milli on a node with the CPU; largest free share: {best}"
    block = int((usable & (state.dev_free_milli == MILLI))[mem_ok].sum(axis=1).max())
    return f"no node with {req.num_devices} free devices of models {names}; largest free block: {block}"


def _model_list(state: FleetState, allowed: frozenset[int] | None) -> str:
    if allowed is None:
        return "[any]"
    return "[" + ", ".join(state.model_names[m] if 0 <= m < len(state.model_names) else str(m) for m in sorted(allowed)) + "]"


def refusal(state: FleetState, req: PlacementRequest) -> NoFit:
    """A NoFit whose words are worked out when read, against a copy of the free capacity now."""
    frozen = copy.copy(state)
    frozen.cpu_free_milli = state.cpu_free_milli.copy()
    frozen.mem_free_mib = state.mem_free_mib.copy()
    if state.nic_free_mbps is not None:
        frozen.nic_free_mbps = state.nic_free_mbps.copy()
    if state.disk_free_gib is not None:
        frozen.disk_free_gib = state.disk_free_gib.copy()
    frozen.dev_free_milli = state.dev_free_milli.copy()
    return NoFit(explain=lambda: explain_nofit(frozen, req))


# ---------------------------------------------------------------------------- policies
#: what a request's feasibility and node scores depend on, besides the node
ShapeKey = tuple[int, int, int, int, "frozenset[int] | None", "frozenset[int] | None", bool, int, int]


_NO_FIT = float("-inf")


class _ShapeCache:
    """Per request shape: score of every node (-inf: infeasible), chosen device, the fleet's
    change count seen."""

    __slots__ = ("best", "best_node", "dev", "has_dev", "n_best", "n_feasible", "score", "seen", "tie", "tie_stale")

    def __init__(self, n: int) -> None:
        self.score = np.full(n, -np.inf)
        self.dev = np.full(n, -1, np.int64)
        self.has_dev = False
        #: nodes with a finite score
        self.n_feasible = 0
        #: the fleet's change_count when last brought up to date (-1: never)
        self.seen = -1
        #: the largest score and how many nodes hold it (None: not known, work it out)
        self.best: float | None = None
        self.n_best = 0
        #: while ``n_best`` is 1: the node at ``best`` when known (-1: not known, find it by a scan)
        self.best_node = -1
        #: the policy's tie-break value of every node (:meth:`NodeScorePolicy.tie_values`), None
        #: until a pick asks for them; ``tie_stale``: nodes changed since theirs was worked out
        self.tie: np.ndarray | None = None
        self.tie_stale: np.ndarray | None = None


class NodeScorePolicy:
    """Base for every policy: score the feasible nodes, take the best, break ties at random.

    Subclasses implement :meth:`scores`. ``tie_tolerance`` widens the set of best nodes
    (0 for the artifact policies, whose scores are integers as in the Kubernetes framework).
    When the fleet has ``dev_cost``, the cheapest of the best nodes wins before the random draw.
    """

    name: str = "base"
    tie_tolerance: float = 0.0
    #: "random": uniform among the best nodes; "first": the lowest node index among them;
    #: "rank": the lowest ``tie_rank`` among them (a fixed priority per node, e.g. a random
    #: permutation drawn once per run — what the FGD artifact's renamed nodes amount to)
    tie_break: str = "random"
    tie_rank: np.ndarray | None = None
    #: "fast": scores cached per request shape and node version, feasibility kept with them
    #: (-inf = infeasible), refusals explained when read; "reference": the plain computation
    #: (filter every node, score every candidate) — same decisions, kept for tests and benchmarks
    engine: str = "fast"

    def node_local(self, req: PlacementRequest) -> bool:
        """True when the score (and device choice) of a node for ``req`` depends only on that
        node's state, the request's shape and constants of the fleet (never on the candidate
        set or on ``rng``): then the fast engine caches it until the node changes."""
        return True

    def reset_cache(self) -> None:
        """Forget every cached score (call after changing what the scores depend on)."""
        self._cache_ref: weakref.ref[FleetState] | None = None
        self._cache: dict[ShapeKey, _ShapeCache] = {}

    def _shape_cache(self, state: FleetState, req: PlacementRequest, rng: np.random.Generator) -> _ShapeCache:
        """Scores of every node for the shape of ``req`` (-inf where it does not fit), brought up
        to date for the nodes changed since the last request of that shape (from the fleet's log
        of changed rows; every node when the log does not reach back that far: rare, the same
        scores, and no per-node versions to keep up to date on every refresh)."""
        ref = getattr(self, "_cache_ref", None)
        if ref is None or ref() is not state:
            self.reset_cache()
            self._cache_ref = weakref.ref(state)
        key: ShapeKey = (req.cpu_milli, req.mem_mib, req.num_devices, req.device_milli, req.allowed_models,
                         req.allowed_sites, req.whole_node, req.nic_mbps, req.disk_gib)
        c = self._cache.get(key)
        if c is None:
            c = self._cache[key] = _ShapeCache(state.num_nodes)
        changed = state.changed_since(c.seen, state.num_nodes // 4)
        c.seen = state.change_count
        stale = np.arange(state.num_nodes) if changed is None else changed
        if stale.size:
            sc, dev = self.refresh_scores(state, req, stale, rng)
            if stale.size <= 256:  # a few rows: counted in Python, cheaper than numpy calls
                # (a score is a number or -inf: a NaN would already break the pick's max)
                old, new = c.score[stale].tolist(), sc.tolist()
                c.n_feasible += old.count(_NO_FIT) - new.count(_NO_FIT)
                if c.best is not None:
                    # the rows left alone all lie at or below best, n_best of them (or of the stale) at it
                    top = max(new)
                    if top > c.best:
                        c.best, c.n_best = top, new.count(top)
                        c.best_node = int(stale[new.index(top)]) if c.n_best == 1 else -1
                    else:
                        c.n_best += new.count(c.best) - old.count(c.best)
                        if c.n_best <= 0:
                            c.best = None
                        elif c.n_best != 1:
                            c.best_node = -1
                        elif c.best in new:  # the lone node at the best is one of these rows
                            c.best_node = int(stale[new.index(c.best)])
                        # else: it was not refreshed, and best_node (or -1) still holds
            else:
                c.n_feasible += int(np.count_nonzero(sc > -np.inf)) - int(np.count_nonzero(c.score[stale] > -np.inf))
                c.best = None
            c.score[stale] = sc
            if dev is not None:
                c.dev[stale] = dev
                c.has_dev = True
            if c.tie_stale is not None:
                c.tie_stale[stale] = True
        return c

    def _fresh_ties(self, state: FleetState, req: PlacementRequest, c: _ShapeCache, cand: np.ndarray) -> np.ndarray | None:
        """The cache's :meth:`tie_values` (indexed by node), up to date at least for ``cand``'s nodes:
        worked out only for those of them that changed since (None: the policy has none)."""
        if type(self).tie_values is NodeScorePolicy.tie_values:
            return None
        if c.tie is None or c.tie_stale is None:
            c.tie = np.zeros(state.num_nodes)
            c.tie_stale = np.ones(state.num_nodes, bool)
        need = cand[c.tie_stale[cand]]
        if need.size:
            got = self.tie_values(state, req, need)
            if got is None:
                return None
            c.tie[need] = got
            c.tie_stale[need] = False
        return c.tie

    def tie_values(self, state: FleetState, req: PlacementRequest, rows: np.ndarray) -> np.ndarray | None:
        """Per node of ``rows``: a value :meth:`_pick` breaks ties by that, like the score, depends
        only on that node's state and the request's shape (None: the policy has none). The fast
        engine keeps it with the scores, works it out again only for the nodes of a pick's window
        that changed since, and hands the array (indexed by node) to :meth:`_pick`, so its
        tie-break reads it instead of working it out for every tied node of every request."""
        return None

    def refresh_scores(
        self, state: FleetState, req: PlacementRequest, rows: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Score of each node of ``rows`` for ``req`` (-inf where it does not fit) and, when
        :meth:`scores` picks devices, the device (-1 where it does not fit)."""
        ok = feasible_nodes(state, req, rows)
        if ok.all():
            got, dev = self.scores(state, req, rows, rng)
            return np.asarray(got, dtype=np.float64), (None if dev is None else np.asarray(dev, dtype=np.int64))
        sc = np.full(rows.size, -np.inf)
        if not ok.any():
            return sc, None
        got, dev = self.scores(state, req, rows[ok], rng)
        sc[ok] = got
        if dev is None:
            return sc, None
        full = np.full(rows.size, -1, np.int64)
        full[ok] = dev
        return sc, full

    def scores(
        self, state: FleetState, req: PlacementRequest, cand: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Scores (float, higher better) of the candidate nodes ``cand``, and optionally for a
        share request the device slot chosen on each candidate (else the default choice)."""
        raise NotImplementedError

    # -------------------------------------------------------------------- entry point
    def place(self, state: FleetState, req: PlacementRequest, rng: np.random.Generator) -> Placement | NoFit:
        req.validate()
        if req.gang_nodes:
            return self._place_gang(state, req, rng)
        if req.spread_devices:
            return self._place_spread(state, req, rng)
        dev_choice: np.ndarray | None
        if self.engine == "reference":
            cand = np.flatnonzero(feasible_nodes(state, req))
            if cand.size == 0:
                return NoFit(explain_nofit(state, req))
            sc, dev_choice = self.scores(state, req, cand, rng)
        elif self.node_local(req):
            c = self._shape_cache(state, req, rng)
            if c.n_feasible == 0:
                return refusal(state, req)
            slack = self.pick_window(state, req)
            if slack is not None:
                # only the nodes within ``slack`` of the best score matter to this pick
                best = c.best
                fresh = best is None
                if best is None:
                    best = c.best = float(c.score.max())
                    c.best_node = -1
                if slack == 0.0 and not fresh and c.n_best == 1 and c.best_node >= 0:
                    # the window is the lone node at the best, known from the rows refreshed
                    cand = np.array((c.best_node,), np.int64)
                else:
                    cand = (c.score >= best - slack).nonzero()[0]
                    if slack == 0.0:  # the window is the nodes at the best
                        c.n_best = cand.size
                        c.best_node = int(cand[0]) if cand.size == 1 else -1
                    elif fresh:
                        c.n_best = int(np.count_nonzero(c.score == best))
            else:
                cand = (c.score > -np.inf).nonzero()[0]
            dev_all = c.dev if c.has_dev else None
            if slack is not None and (cand.size == 1 or type(self)._pick is NodeScorePolicy._pick):
                # every node of cand is tied (a lone node is every _pick's choice, without a note):
                # the score and device are read for the chosen node only
                return self._decide(state, req, cand, c.score, dev_all, rng, c.n_feasible, all_tied=True)
            tie = self._fresh_ties(state, req, c, cand)
            if slack is not None:
                picked = self._pick_tied(state, req, cand, slack, tie)
                if picked is not None:  # (the scores of the window are not gathered)
                    return self._decide(state, req, cand, c.score, dev_all, rng, c.n_feasible, all_tied=True,
                                        picked=picked)
            sc = c.score[cand]
            return self._decide(state, req, cand, sc, None if dev_all is None else dev_all[cand], rng, c.n_feasible,
                                tie=tie)
        else:
            cand = np.flatnonzero(feasible_nodes(state, req))
            if cand.size == 0:
                return refusal(state, req)
            sc, dev_choice = self.scores(state, req, cand, rng)
        return self._decide(state, req, cand, sc, dev_choice, rng, cand.size)

    def cached_device(self, state: FleetState, req: PlacementRequest, node: int, stored: int) -> int:
        """The device slot a share takes on ``node``, from the value the shape cache holds for it
        (the slot itself here; a policy may store something it resolves when the node is chosen)."""
        return stored

    def pick_window(self, state: FleetState, req: PlacementRequest) -> float | None:
        """How far below the best cached score a node may lie and still matter to :meth:`_pick`
        (None: every feasible node may). The fast engine hands :meth:`_pick` only the nodes within
        it, in node order; a policy whose ``_pick`` adds terms to the scores (as fgd+'s price)
        widens it by their largest effect, so that the pick is the same as over every node."""
        if type(self)._pick is NodeScorePolicy._pick:
            return self.tie_tolerance
        return None

    def _pick_tied(
        self, state: FleetState, req: PlacementRequest, cand: np.ndarray, slack: float, tie: np.ndarray | None,
    ) -> tuple[int, str] | None:
        """:meth:`_pick`'s choice (position in ``cand``, note) when the policy can tell, without the
        scores, that every node of ``cand`` ties for it: ``cand`` holds, in node order, the nodes
        within ``slack`` of the best cached score (:meth:`pick_window`). None: it cannot; then
        :meth:`_pick` decides from the window's scores. ``tie`` as for :meth:`_pick`."""
        return None

    def _decide(
        self, state: FleetState, req: PlacementRequest, cand: np.ndarray, sc: np.ndarray,
        dev_choice: np.ndarray | None, rng: np.random.Generator, n_feasible: int, all_tied: bool = False,
        tie: np.ndarray | None = None, picked: tuple[int, str] | None = None,
    ) -> Placement:
        """``sc`` and ``dev_choice`` hold the values of ``cand``'s nodes in order; with ``all_tied``
        (``cand`` holds exactly the nodes within the tolerance of the best score) they are
        indexed by node instead. ``tie``: the cached :meth:`tie_values` of every node, for :meth:`_pick`;
        ``picked``: the choice already made (:meth:`_pick_tied`)."""
        if picked is not None:
            pos, note = picked
        elif all_tied and cand.size == 1:
            pos, note = 0, ""
        elif (all_tied and (state.dev_cost is None or not (req.num_devices or req.whole_node))
              and type(self)._pick_among is NodeScorePolicy._pick_among):
            # _pick_among over every position of cand (no cost to compare), without its copies
            if self.tie_break == "first":
                pos, note = 0, ""
            elif self.tie_break == "rank" and self.tie_rank is not None:
                pos, note = int(np.argmin(self.tie_rank[cand])), ""
            else:
                pos, note = int(rng.integers(cand.size)), f", drawn among {cand.size} tied"
        elif all_tied:
            pos, note = self._pick_among(state, req, cand, np.arange(cand.size), rng)
        else:
            pos, note = self._pick(state, req, cand, sc, rng, tie)
        node = int(cand[pos])
        at = node if all_tied else pos
        if dev_choice is not None and req.is_share:
            devs: tuple[int, ...] = (self.cached_device(state, req, node, int(dev_choice[at])),)
        else:
            devs = default_devices(state, req, node)
        if req.whole_node:
            milli = (MILLI,) * len(devs)
            cpu = int(state.cpu_total_milli[node])
            mem = max(req.mem_mib, int(state.mem_free_mib[node]))
        else:
            milli = (req.device_milli,) * len(devs)
            cpu, mem = req.cpu_milli, req.mem_mib
        score = float(sc.item(at))
        reason = f"{self.name}: node {state.node_ids[node]} score {score:.4g}{note} among {n_feasible} feasible"
        if req.nic_mbps or req.disk_gib or req.whole_node or req.gang_nodes:
            nic, disk = _host_extras(state, req, (node,))
        else:  # (what _host_extras gives a request of neither on a part of a node)
            nic, disk = (), ()
        return Placement((node,), (devs,), (milli,), (cpu,), (mem,), score, reason, nic, disk)

    def _pick(
        self, state: FleetState, req: PlacementRequest, cand: np.ndarray, sc: np.ndarray, rng: np.random.Generator,
        tie: np.ndarray | None = None,
    ) -> tuple[int, str]:
        """The position in ``cand`` of the chosen node and a note for the reason. ``tie``: the
        :meth:`tie_values` of every node (indexed by node), when the fast engine keeps them. A
        policy that overrides it keeps this rule: a lone candidate is chosen, with no note."""
        best = sc.max()
        return self._pick_among(state, req, cand, (sc >= best - self.tie_tolerance).nonzero()[0], rng)

    def _pick_among(
        self, state: FleetState, req: PlacementRequest, cand: np.ndarray, ties: np.ndarray, rng: np.random.Generator
    ) -> tuple[int, str]:
        """The tie-break among the positions ``ties`` of ``cand`` (all within the tolerance of the best)."""
        note = ""
        if ties.size > 1 and state.dev_cost is not None and (req.num_devices or req.whole_node):
            cost = node_unit_cost(state, req, cand[ties])
            cheapest = ties[cost <= cost.min() + 1e-12]
            if cheapest.size < ties.size:
                note = f", cheapest ({cost.min():.4g}/unit) of {ties.size} tied"
            ties = cheapest
        if ties.size == 1 or self.tie_break == "first":
            return int(ties[0]), note
        if self.tie_break == "rank" and self.tie_rank is not None:
            return int(ties[np.argmin(self.tie_rank[cand[ties]])]), note
        return int(ties[rng.integers(ties.size)]), note or f", drawn among {ties.size} tied"

    # -------------------------------------------------------------------- gangs and spread
    def _domain_nodes(self, state: FleetState, req: PlacementRequest) -> np.ndarray:
        ok = whole_node_free(state, req) & (state.n_devices > 0)
        if req.nic_mbps and state.nic_free_mbps is not None:
            ok &= state.nic_free_mbps >= req.nic_mbps
        if req.disk_gib and state.disk_free_gib is not None:
            ok &= state.disk_free_gib >= req.disk_gib
        if req.allowed_sites is not None:
            ok &= np.isin(state.site, list(req.allowed_sites))
        return ok

    def _place_gang(self, state: FleetState, req: PlacementRequest, rng: np.random.Generator) -> Placement | NoFit:
        ok = self._domain_nodes(state, req)
        cand = np.flatnonzero(ok)
        if cand.size == 0:
            return NoFit(f"no entirely idle node with devices of models {_model_list(state, req.allowed_models)}")
        fabs, counts = np.unique(state.fabric[cand], return_counts=True)
        good = fabs[counts >= req.gang_nodes]
        if good.size == 0:
            return NoFit(
                f"no fabric domain with {req.gang_nodes} entirely idle nodes of models "
                f"{_model_list(state, req.allowed_models)}; most in one domain: {int(counts.max())}"
            )
        whole = PlacementRequest(allowed_models=req.allowed_models, whole_node=True)
        sc, _ = self.scores(state, whole, cand, rng)
        best_key: tuple[float, ...] | None = None
        chosen: np.ndarray | None = None
        for f in good:
            members = np.flatnonzero(state.fabric[cand] == f)
            order = members[np.lexsort((rng.random(members.size), -sc[members]))][: req.gang_nodes]
            cost = float(node_unit_cost(state, whole, cand[order]).mean()) if state.dev_cost is not None else 0.0
            # fewest spare idle nodes left in the domain first (keep big domains for big gangs)
            key = (members.size - req.gang_nodes, -float(sc[order].mean()), cost, float(rng.random()))
            if best_key is None or key < best_key:
                best_key, chosen = key, cand[order]
        assert chosen is not None
        nodes = tuple(int(n) for n in chosen)
        devs = tuple(tuple(int(d) for d in np.flatnonzero(state.present[n])) for n in nodes)
        milli = tuple(tuple(MILLI for _ in d) for d in devs)
        cpu = tuple(int(state.cpu_total_milli[n]) for n in nodes)
        mem = tuple(max(req.mem_mib, int(state.mem_free_mib[n])) for n in nodes)
        reason = (
            f"{self.name}: gang of {len(nodes)} whole nodes in fabric {int(state.fabric[nodes[0]])}"
            f" ({best_key[0] if best_key else 0:.0f} idle nodes left there)"
        )
        nic, disk = _host_extras(state, req, nodes)
        return Placement(nodes, devs, milli, cpu, mem, float(-best_key[1]) if best_key else 0.0, reason, nic, disk)

    def _place_spread(self, state: FleetState, req: PlacementRequest, rng: np.random.Generator) -> Placement | NoFit:
        k = req.spread_devices
        usable = usable_devices(state, req) & (state.dev_free_milli == MILLI)
        per_node = usable.sum(axis=1)
        ok = per_node > 0
        if req.allowed_sites is not None:
            ok &= np.isin(state.site, list(req.allowed_sites))
        # a node must also hold the CPU and memory of the devices it gets
        cpu_cap = per_node if req.cpu_milli == 0 else np.minimum(per_node, state.cpu_free_milli // max(req.cpu_milli, 1))
        mem_cap = cpu_cap if req.mem_mib == 0 else np.minimum(cpu_cap, state.mem_free_mib // max(req.mem_mib, 1))
        if req.nic_mbps and state.nic_free_mbps is not None:
            mem_cap = np.minimum(mem_cap, state.nic_free_mbps // req.nic_mbps)
        if req.disk_gib and state.disk_free_gib is not None:
            mem_cap = np.minimum(mem_cap, state.disk_free_gib // req.disk_gib)
        cap = np.where(ok, mem_cap, 0).astype(np.int64)
        cand = np.flatnonzero(cap > 0)
        if cand.size == 0:
            return NoFit(f"no free whole device of models {_model_list(state, req.allowed_models)}")
        one = PlacementRequest(
            cpu_milli=req.cpu_milli, mem_mib=req.mem_mib, num_devices=1, allowed_models=req.allowed_models
        )
        sc, _ = self.scores(state, one, cand, rng)
        score_of = dict(zip(cand.tolist(), sc.tolist(), strict=True))
        best_key: tuple[float, ...] | None = None
        best_take: list[tuple[int, int]] = []
        most = 0
        for f in np.unique(state.fabric[cand]):
            members = cand[state.fabric[cand] == f]
            total = int(cap[members].sum())
            most = max(most, total)
            if total < k:
                continue
            take = _fewest_nodes(members, cap[members], k, score_of)
            cost = 0.0
            if state.dev_cost is not None:
                cost = float(node_unit_cost(state, one, np.array([n for n, _ in take])).mean())
            key = (len(take), cost, -float(np.mean([score_of[n] for n, _ in take])), total - k, float(rng.random()))
            if best_key is None or key < best_key:
                best_key, best_take = key, take
        if best_key is None:
            return NoFit(
                f"no fabric domain with {k} free devices of models {_model_list(state, req.allowed_models)}; "
                f"most in one domain: {most}"
            )
        nodes, devs, milli, cpus, mems, nics, disks = [], [], [], [], [], [], []
        for n, c in best_take:
            d = tuple(int(x) for x in np.flatnonzero(usable[n])[:c])
            nodes.append(n)
            devs.append(d)
            milli.append(tuple(MILLI for _ in d))
            cpus.append(req.cpu_milli * c)
            mems.append(req.mem_mib * c)
            nics.append(req.nic_mbps * c)
            disks.append(req.disk_gib * c)
        reason = (
            f"{self.name}: {k} devices on {len(nodes)} nodes of fabric {int(state.fabric[nodes[0]])} "
            f"(fewest nodes, then cost {best_key[1]:.4g}, then score)"
        )
        return Placement(tuple(nodes), tuple(devs), tuple(milli), tuple(cpus), tuple(mems), -best_key[2], reason,
                         tuple(nics) if req.nic_mbps else (), tuple(disks) if req.disk_gib else ())


def _host_extras(
    state: FleetState, req: PlacementRequest, nodes: tuple[int, ...]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """NIC Mbps and local disk GiB a decision takes on each of ``nodes``: what the request asks
    (per node); a whole node (or a gang of them) takes all that is free on a fleet that tracks it,
    as it does memory. () where the request asks for none and the node's free amount is not taken."""
    whole = req.whole_node or req.gang_nodes > 0
    out: list[tuple[int, ...]] = []
    for want, free in ((req.nic_mbps, state.nic_free_mbps), (req.disk_gib, state.disk_free_gib)):
        if whole and free is not None:
            out.append(tuple(max(want, int(free[n])) for n in nodes))
        elif want:
            out.append(tuple(want for _ in nodes))
        else:
            out.append(())
    return out[0], out[1]


def _fewest_nodes(members: np.ndarray, cap: np.ndarray, k: int, score_of: dict[int, float]) -> list[tuple[int, int]]:
    """Cover ``k`` devices with the fewest nodes: biggest first, and for the last node the
    smallest one that still covers the remainder (best fit), higher policy score on ties."""
    order = sorted(range(members.size), key=lambda i: (-int(cap[i]), -score_of[int(members[i])]))
    take: list[tuple[int, int]] = []
    left = k
    used: set[int] = set()
    for i in order:
        if left <= 0:
            break
        if int(cap[i]) >= left:
            # best fit for the remainder among unused nodes
            fit = [j for j in order if j not in used and int(cap[j]) >= left]
            j = min(fit, key=lambda j: (int(cap[j]), -score_of[int(members[j])]))
            take.append((int(members[j]), left))
            left = 0
            break
        take.append((int(members[i]), int(cap[i])))
        used.add(i)
        left -= int(cap[i])
    return take


def node_unit_cost(state: FleetState, req: PlacementRequest, nodes: np.ndarray) -> np.ndarray:
    """Cheapest allowed device cost on each node (inf when none; 0 without cost data)."""
    if state.dev_cost is None:
        return np.zeros(len(nodes))
    usable = usable_devices(state, req)[nodes]
    out: np.ndarray = np.where(usable, state.dev_cost[nodes], np.inf).min(axis=1)
    return out

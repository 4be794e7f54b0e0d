"""The FGD static protocol (BENCHMARKS.md §1; Weng et al., USENIX ATC '23, §6).

1. Fleet: the node list (CPU milli, GPUs × 1000 milli, model); memory is not constrained.
2. For each seed: sort pods by name, shuffle with the seed, then append pods drawn uniformly
   with replacement from the original list until the requested GPU milli would exceed
   ``ratio`` (1.3) × capacity.
3. One attempt per pod in that order, no departures; a pod that fits nowhere is skipped. Ties
   of the best node score go to the node of lowest rank in a random permutation drawn once per
   seed (:func:`node_rank`): the artifact renames its nodes with a ``rand.Perm`` prefix and
   kube-scheduler keeps the lexicographically smallest best name.
4. After every pod record arrived and allocated GPU milli (and the fleet fragmentation).
5. Discretise as the artifact's analysis does: the bin of a pod is ``round(arrived %)`` (half to
   even), the value of a bin is the mean of ``round(allocated %, 2)`` over its pods (the
   neighbouring bins when it is empty).

Pure: takes parsed tables, returns :class:`FgdRun` objects; the CLI renders them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from suanli.scheduler import (
    MILLI,
    FleetState,
    FragModel,
    NodeScorePolicy,
    NoFit,
    Placement,
    PlacementRequest,
    TypicalPod,
    TypicalPods,
    get_policy,
)
from suanli.sim.traces import NodeTable, PodTable

BINS = np.arange(0, 131)
UNCONSTRAINED_MEM = 1 << 50


def build_fleet(nodes: NodeTable, respect_memory: bool = False) -> FleetState:
    """One FleetState row per node; every node is its own fabric domain, one site. Memory is
    unconstrained unless ``respect_memory``."""
    return FleetState.from_nodes(
        nodes.names,
        nodes.cpu_milli.tolist(),
        [[m] * int(g) for m, g in zip(nodes.model, nodes.gpus, strict=True)],
        mem_mib=nodes.memory_mib.tolist() if respect_memory else [UNCONSTRAINED_MEM] * len(nodes.names),
    )


def parse_spec(spec: str) -> frozenset[str] | None:
    names = frozenset(x.strip() for x in spec.split("|") if x.strip())
    return names or None


def pod_requests(pods: PodTable, state: FleetState, respect_memory: bool = False) -> list[PlacementRequest]:
    code = {m: i for i, m in enumerate(state.model_names)}
    cache: dict[tuple[int, int, int, str, int], PlacementRequest] = {}
    out = []
    mems = pods.memory_mib.tolist() if respect_memory else [0] * len(pods)
    for cpu, num, milli, spec, mem in zip(
        pods.cpu_milli.tolist(), pods.num_gpu.tolist(), pods.gpu_milli.tolist(), pods.gpu_spec, mems, strict=True
    ):
        key = (cpu, num, milli, spec, mem)
        req = cache.get(key)
        if req is None:
            names = parse_spec(spec) if num > 0 else None
            allowed = None if names is None else frozenset(code[n] for n in names if n in code)
            req = PlacementRequest(
                cpu_milli=cpu,
                mem_mib=mem,
                num_devices=num,
                device_milli=milli if num else MILLI,
                allowed_models=allowed,
            )
            cache[key] = req
        out.append(req)
    return out


def typical_pods(pods: PodTable, coverage: float = 0.95) -> TypicalPods:
    """The typical-pod set of the *original* pod list (CPU-only pods included); each spec carries
    the median memory of its pods (read only by a multi-resource policy, fgd+md)."""
    specs = (
        TypicalPod(int(c), int(n), int(m) if n else 0, parse_spec(s) if n else None, 1.0, s, int(mem))
        for c, n, m, s, mem in zip(pods.cpu_milli, pods.num_gpu, pods.gpu_milli, pods.gpu_spec, pods.memory_mib,
                                   strict=True)
    )
    return TypicalPods.from_specs(specs, coverage)


def pod_gpu_milli(pods: PodTable) -> np.ndarray:
    out: np.ndarray = pods.num_gpu * pods.gpu_milli
    return out


def inflate_order(pods: PodTable, seed: int, ratio: float, capacity_milli: int) -> np.ndarray:
    """Indices of the pods in arrival order for one seed (see the module docstring)."""
    rng = np.random.default_rng(seed)
    by_name = np.array(sorted(range(len(pods)), key=lambda i: pods.names[i]), dtype=np.int64)
    order = by_name[rng.permutation(len(pods))]
    gpu = pod_gpu_milli(pods)
    limit = ratio * capacity_milli
    total = int(gpu.sum())
    if ratio <= 0 or total > limit:
        return order
    extra: list[np.ndarray] = []
    while True:
        draw = rng.integers(0, len(pods), size=1024)
        cum = total + np.cumsum(gpu[draw])
        over = np.flatnonzero(cum > limit)
        if over.size:
            extra.append(draw[: over[0]])
            break
        extra.append(draw)
        total = int(cum[-1])
    return np.concatenate([order, *extra])


def node_rank(num_nodes: int, seed: int) -> np.ndarray:
    """Tie priority of every node for one seed (lower wins): a uniform random permutation, drawn
    from its own stream so that the pod order of the seed does not change."""
    out: np.ndarray = np.random.default_rng([seed, 104729]).permutation(num_nodes)
    return out


class FragTracker:
    """Fleet fragmentation (FGD's F, in milli) kept up to date by node version."""

    def __init__(self, model: FragModel, state: FleetState) -> None:
        self.model = model
        self.state = state
        self.per_node = model.node_frag(state, np.arange(state.num_nodes))
        self.ver = state.node_version.copy()

    def total_milli(self) -> float:
        stale = np.flatnonzero(self.ver != self.state.node_version)
        if stale.size:
            self.per_node[stale] = self.model.node_frag(self.state, stale)
            self.ver[stale] = self.state.node_version[stale]
        return float(self.per_node.sum() / self.model.covered) if self.model.covered else 0.0


@dataclass(frozen=True)
class FgdRun:
    """One seed of one policy on one workload."""

    workload: str
    policy: str
    seed: int
    capacity_milli: int
    arrived_milli: np.ndarray
    used_milli: np.ndarray
    frag_milli: np.ndarray
    placed: int
    failed: int
    seconds: float
    extra: dict[str, float] = field(default_factory=dict)
    #: after every pod: CPU milli and memory MiB allocated (all pods, CPU-only ones included), and
    #: the fleet's CPU and memory (memory 0 when it was not enforced)
    cpu_used_milli: np.ndarray | None = None
    mem_used_mib: np.ndarray | None = None
    cpu_capacity_milli: int = 0
    mem_capacity_mib: int = 0

    @property
    def pods(self) -> int:
        return len(self.arrived_milli)

    def discrete(self, values: np.ndarray | None = None) -> np.ndarray:
        """Per arrived-% bin 0..130: the artifact's discretisation of ``values`` (default: used)."""
        return discretise(self.arrived_milli, self.used_milli if values is None else values, self.capacity_milli)

    def alloc_at(self, pct: int) -> float:
        return float(self.discrete()[pct])

    def cpu_discrete(self) -> np.ndarray:
        """Per arrived-% bin (of GPU milli, as :meth:`discrete`): CPU allocated, % of the fleet's CPU."""
        if self.cpu_used_milli is None or self.cpu_capacity_milli <= 0:
            return np.full(BINS.size, np.nan)
        return self.discrete(self.cpu_used_milli * (self.capacity_milli / self.cpu_capacity_milli))

    def mem_discrete(self) -> np.ndarray:
        """Per arrived-% bin: memory allocated, % of the fleet's memory (NaN when not enforced)."""
        if self.mem_used_mib is None or self.mem_capacity_mib <= 0:
            return np.full(BINS.size, np.nan)
        return self.discrete(self.mem_used_mib * (self.capacity_milli / self.mem_capacity_mib))


def discretise(arrived: np.ndarray, values: np.ndarray, capacity_milli: int) -> np.ndarray:
    arr = np.round(arrived / capacity_milli * 100.0)
    val = np.round(values / capacity_milli * 100.0, 2)
    out = np.full(BINS.size, np.nan)
    idx = arr.astype(np.int64)
    ok = (idx >= 0) & (idx <= BINS[-1])
    sums = np.bincount(idx[ok], weights=val[ok], minlength=BINS.size)[: BINS.size]
    cnts = np.bincount(idx[ok], minlength=BINS.size)[: BINS.size]
    for b in range(BINS.size):
        if cnts[b]:
            out[b] = sums[b] / cnts[b]
        else:
            lo, hi = max(b - 1, 0), min(b + 1, BINS.size - 1)
            c = cnts[lo : hi + 1].sum()
            if c:
                out[b] = sums[lo : hi + 1].sum() / c
    return np.round(out, 2)


def run_fgd(
    nodes: NodeTable,
    pods: PodTable,
    policy: str,
    seed: int,
    *,
    ratio: float = 1.3,
    track_frag: bool = True,
    respect_memory: bool = False,
    tie_break: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    engine: str = "fast",
    observe: Callable[[FleetState, PlacementRequest, Placement | NoFit, int], None] | None = None,
) -> FgdRun:
    """Run the protocol for one policy and seed; ``progress(done, total)`` is called now and then.
    ``engine``: the policy's engine ("fast", or the plain "reference" computation; same decisions).
    ``extra["cpu_seconds"]``: CPU time of the placement loop (wall time is ``seconds``).
    ``observe(state, request, decision, arrived_milli)`` is called after every pod (after the
    placement is applied; :mod:`suanli.sim.anatomy`)."""
    state = build_fleet(nodes, respect_memory)
    capacity = int(state.dev_total.sum())
    typical = typical_pods(pods)
    # fgd+ also reads every spec of the list (its rare restricted ones, docs/placement.md); others ignore it
    pol = get_policy(policy, typical=typical, workload=typical_pods(pods, 1.0))
    if tie_break is None:
        # the artifact prefixes every node name with a random permutation index drawn once per
        # run and keeps the lexicographically smallest best node: a fixed random node priority
        # (see docs/placement.md); Random draws by definition
        tie_break = "random" if policy == "random" else "rank"
    if isinstance(pol, NodeScorePolicy):
        pol.engine = engine
    if isinstance(pol, NodeScorePolicy) and policy not in ("fgd+", "fgd+md"):  # own deterministic tie-break
        pol.tie_break = tie_break
        if tie_break == "rank":
            pol.tie_rank = node_rank(state.num_nodes, seed)
    reqs = pod_requests(pods, state, respect_memory)
    order = inflate_order(pods, seed, ratio, capacity)
    gpu = pod_gpu_milli(pods)
    rng = np.random.default_rng([seed, 7919])
    tracker = FragTracker(FragModel(typical, state), state) if track_frag else None
    n = order.size
    arrived = np.empty(n, np.int64)
    used = np.empty(n, np.int64)
    cpu_used = np.empty(n, np.int64)
    mem_used = np.empty(n, np.int64)
    frag = np.zeros(n)
    a = u = placed = cu = mu = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for i, p in enumerate(order.tolist()):
        a += int(gpu[p])
        d = pol.place(state, reqs[p], rng)
        if isinstance(d, Placement):
            state.apply(d)
            u += int(gpu[p])
            cu += sum(d.cpu_milli)
            mu += sum(d.mem_mib)
            placed += 1
        if observe is not None:
            observe(state, reqs[p], d, a)
        arrived[i] = a
        used[i] = u
        cpu_used[i] = cu
        mem_used[i] = mu
        if tracker is not None:
            frag[i] = tracker.total_milli()
        if progress is not None and (i & 511) == 0:
            progress(i, n)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    if progress is not None:
        progress(n, n)
    return FgdRun(pods.workload, policy, seed, capacity, arrived, used, frag, placed, n - placed, seconds,
                  {"cpu_seconds": cpu}, cpu_used, mem_used, int(state.cpu_total_milli.sum()),
                  int(nodes.memory_mib.sum()) if respect_memory else 0)

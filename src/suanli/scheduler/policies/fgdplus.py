"""FGD+ — our policy: FGD's fragmentation gradient, measured exactly, with a CPU-stranding term,
an LP-priced gap value for shares of a device, weights and a price that keep restricted and rare
pods' nodes for them, and packing tie-breaks.

Formulation (extends Weng et al., USENIX ATC '23):

* Score ``−ΔF_n`` where ``ΔF_n = F_n' − F_n`` is the exact change of the node's fragmentation
  against the typical-pod set (FGD truncates ``100·sigmoid(−ΔF/1000)`` to an integer, which
  makes changes below ~40 milli indistinguishable; ``exact=False`` restores that).
* Typical pods weighted by GPU demand as well as by count (``gpu_weight``): a pod asking for
  8 GPUs is rare by count but holds a large share of the GPUs.
* CPU stranding (``cpu_weight``): GPU milli a node can no longer use because its free CPU is
  short at the workload's CPU-per-GPU ratio, ``max(0, idle − cpu_free / r)``, is added to F.
* Gap value for a share of a device (``fill_mode="lp"``, default, weight ``fill_weight`` 16):
  the configuration LP of the workload's typical shares (Gilmore–Gomory, solved by column
  generation in :mod:`suanli.scheduler.policies.shareprices`) prices every share size in
  devices; a gap of ``f`` free milli is worth ``W(f) = f − 1000·P(f)``, the milli an optimal
  packing of the mix would still leave in it (``P``: the best total price that fits in ``f``).
  ``ΔW = W(f − s) − W(f)`` of the chosen device is added to ``ΔF``: a share goes where it is
  part of the gap's best completion (a 320 into the 350 left by a 650, not a 230 that would
  leave 120 that nothing of the mix fills).
* ``fill_mode="lookahead"`` (the previous term, weight 4): ``V(f) = (1 − q)·f + q·E[V(f − s)]``
  with ``q`` the (``fill_alpha``-scaled) probability that the next typical device request fits
  in ``f`` and ``s`` its size; it overvalues a gap any common share fits in, whatever it leaves.
* Restricted and rare specs (the model-blind terms above let unrestricted pods take the scarce
  models that restricted pods need: gpuspec20 88.3 % at 100 % arrived against FGD's 94.7 %):

  - *Scarcity weights* (``scarcity``, exponent 1): a typical GPU pod counts
    ``(C / C_m) ** scarcity`` times, ``C`` the fleet's devices and ``C_m`` those on nodes that
    could host it on an empty fleet (model allowed, enough devices and CPU). A pod that only
    the T4 nodes (13.5 % of the devices) can host weighs 7.4 times its count; FGD's own
    gradient (its idle devices are fragment on every other node) then keeps the others off T4.
  - *Exclusive specs* (``workload``: every spec of the pod list; ``exclusive`` 10,
    ``exclusive_alpha`` 0.5): specs FGD's 95 % cut drops but that at most a tenth of the fleet
    can host (the 120-core 8-GPU pods only G3 holds; a P100-only share) join the typical set
    with weight ``count · (C / C_m) ** 0.5``.
  - *Reservation price* (``reserve_weight`` 1): a restricted spec ``m`` of the workload (allowed
    models ``A_m``, a part ``share_m`` of the GPU demand) puts a price ``π_m = share_m · free /
    free(A_m)`` on each milli of its models: its demand share over its share of what is free
    now, so it rises as the restricted models fill faster than the rest. A request that could
    also go outside ``A_m`` pays ``Σ_m π_m`` per milli it takes on a node of ``A_m`` (added to
    the score, outside the per-node cache; :class:`Reservation`).
* *Large specs* (``large`` 0.01, ``large_weight`` 4; :class:`LargeSpecs`): specs of the workload
  FGD's cut drops that hold at least 1 % of its GPU demand (the 88-core 8-GPU pods of default and
  cpu300, 2.4 %). A CPU-only pod that takes the CPU an all-idle node needs to hold one adds the
  node's idle milli, times the spec's demand-weighted count and ``large_weight``, to ``ΔF`` — FGD's
  own count for a pod the node can no longer hold — times the spec's *pressure* ``p = I / I_H``
  (``large_pressure``, its exponent; 0: constant): the fleet's idle milli over the idle milli of
  the nodes that could hold the spec now, so the last hosts cost more than the first (cpu300 lost
  all its hosts between 60 and 75 % arrived). ``p`` depends on the whole fleet: the score cache
  keeps the constant part, the pick adds ``(p − 1)`` of it. GPU pods pay it only once the hosts
  are scarcer than the spec's demand (``large_gpu``, a weight; 0: never): when the spec's
  reservation price ``π = share · p`` (``share`` its part of the GPU demand; the restricted specs'
  price below with the hosts as its models) passes 1, a GPU pod that breaks a host adds
  ``(p − 1/share)`` times the same count (in the pick). As a full typical pod for every request it
  cost default 0.4 pp at 130 %; from the start of the pressure on, cpu300 −0.49 pp. The exclusive
  specs of two or more devices (``large_exclusive``: the 120-core 8-GPU pods only an idle G3
  holds) get the pressure too, without the constant part, which FGD's gradient already counts
  for a spec of the typical set.
* Ties: CPU-only pods avoid nodes whose devices are all idle (keeping whole nodes for the pods
  that need one: the 120-core 8-GPU pods of ``default`` only fit an idle G3 node), then go to
  the node whose CPU *surplus* (free CPU beyond what its idle GPUs need at the ratio ``r``)
  fits them most tightly (``cpu_only_fit="surplus_used"``; ``"surplus"`` without the first
  key), so that large surplus blocks stay whole for large CPU-only pods; ``"spread"`` (an
  older rule) prefers where GPUs are taken and the most CPU is left. GPU pods to the node that
  stays balanced between CPU and GPU and leaves the least (best fit); then the cheapest device
  when the fleet has costs; then the lowest index. A share goes to the device with the lowest
  combined increase, then the lowest index.

It looks only at the current fleet and the workload's shapes (the typical-pod set of the
original pod list, as FGD, and for the exclusive specs and the reservation price the list's
other specs with their counts), never at later requests or their order; every request that fits
is placed.
"""

from __future__ import annotations

import weakref
from dataclasses import replace
from functools import lru_cache
from typing import Any

import numpy as np

from suanli.errors import ValidationError
from suanli.scheduler.base import node_unit_cost
from suanli.scheduler.frag import FragModel, TypicalPods
from suanli.scheduler.policies.fgd import DEFAULT_TYPICAL, FGDPolicy
from suanli.scheduler.policies.shareprices import gap_potential, share_prices
from suanli.scheduler.policies.simple import max_specs, request_gpu_milli
from suanli.scheduler.types import MILLI, FleetState, PlacementRequest


def demand_weighted(typical: TypicalPods, gpu_weight: float) -> TypicalPods:
    """Re-weight each typical pod by ``count · (1 + gpu_weight · gpus)``."""
    if gpu_weight <= 0:
        return typical
    pods = tuple(
        replace(p, count=p.count * (1.0 + gpu_weight * (p.num_devices * p.device_milli / 1000.0)))
        for p in typical.pods
    )
    return TypicalPods(pods)


def fill_value(typical: TypicalPods, alpha: float = 4.0) -> np.ndarray:
    """``V[f]`` for ``f`` = 0..1000 free milli on one device: expected milli left unused after
    later typical device requests fill it (see the module docstring)."""
    sizes: list[int] = []
    weights: list[float] = []
    for p in typical.pods:
        if p.num_devices <= 0:
            continue
        sizes.append(p.device_milli if p.num_devices == 1 else MILLI)
        weights.append(p.count * max(p.num_devices, 1))
    v = np.arange(MILLI + 1, dtype=np.float64)
    if not sizes:
        return v
    s = np.array(sizes, dtype=np.int64)
    w = np.array(weights, dtype=np.float64)
    w /= w.sum()
    for f in range(MILLI + 1):
        fit = s <= f
        q = float(w[fit].sum())
        if q <= 0.0:
            continue
        ev = float((w[fit] * v[f - s[fit]]).sum()) / q
        q = min(1.0, alpha * q)
        v[f] = (1.0 - q) * f + q * ev
    return v


def scarcity(typical: TypicalPods, state: FleetState) -> np.ndarray:
    """``C / C_m`` for each typical pod: ``C`` the fleet's devices, ``C_m`` the devices on the nodes
    that could host the pod on an empty fleet (model allowed, enough devices, enough CPU); 1 for
    CPU-only pods and for pods no node can host."""
    ndev = state.n_devices.astype(np.int64)
    node_model = np.where(ndev > 0, state.dev_model[:, 0], -1)
    cpu = state.cpu_total_milli.astype(np.int64)
    total = float(ndev.sum())
    out = np.ones(len(typical.pods))
    for i, p in enumerate(typical.pods):
        if p.num_devices <= 0:
            continue
        if p.allowed_models is None:
            ok = node_model >= 0
        else:
            codes = [j for j, name in enumerate(state.model_names) if name in p.allowed_models]
            ok = np.isin(node_model, codes) & (node_model >= 0)
        ok &= (ndev >= p.num_devices) & (cpu >= p.cpu_milli)
        cap = float(ndev[ok].sum())
        if cap > 0:
            out[i] = total / cap
    return out


def scarcity_weighted(typical: TypicalPods, state: FleetState, alpha: float) -> TypicalPods:
    """Re-weight each typical GPU pod by ``scarcity ** alpha`` (see :func:`scarcity`): a pod any
    node can host keeps its weight; one that only a few nodes can host counts as often as its
    share of the fleet is small (see the module docstring)."""
    if alpha <= 0 or state.num_nodes == 0:
        return typical
    mult = scarcity(typical, state) ** alpha
    return TypicalPods(tuple(
        replace(p, count=p.count * float(m))
        for p, m in zip(typical.pods, mult, strict=True)
    ))


def exclusive_specs(typical: TypicalPods, workload: TypicalPods, state: FleetState, threshold: float) -> TypicalPods:
    """The specs of ``workload`` (every spec of the pod list) missing from ``typical`` that only a
    part of the fleet can host (scarcity ≥ ``threshold``): rare by count, so FGD's 95 % cut drops
    them, but a packing that does not know them takes the few nodes they need."""
    have = {(p.cpu_milli, p.num_devices, p.device_milli, p.allowed_models) for p in typical.pods}
    rest = TypicalPods(tuple(p for p in workload.pods if p.num_devices > 0 and
                             (p.cpu_milli, p.num_devices, p.device_milli, p.allowed_models) not in have))
    if not rest.pods or threshold <= 0:
        return TypicalPods(())
    mult = scarcity(rest, state)
    return TypicalPods(tuple(p for p, m in zip(rest.pods, mult, strict=True) if m >= threshold))


def large_specs(typical: TypicalPods, workload: TypicalPods, share: float) -> TypicalPods:
    """The specs of ``workload`` missing from ``typical`` whose part of the list's GPU demand
    (count × devices × milli) is at least ``share``: rare by count, so FGD's 95 % cut drops them,
    but many GPUs each (the 18 88-core 8-GPU pods of default and cpu300, 2.4 % of the GPU demand), and only a
    node with all its devices idle and that much CPU free holds one."""
    if share <= 0:
        return TypicalPods(())
    have = {(p.cpu_milli, p.num_devices, p.device_milli, p.allowed_models) for p in typical.pods}
    demand = sum(p.count * p.num_devices * p.device_milli for p in workload.pods)
    return TypicalPods(tuple(
        p for p in workload.pods
        if p.num_devices > 0 and demand > 0 and p.count * p.num_devices * p.device_milli >= share * demand
        and (p.cpu_milli, p.num_devices, p.device_milli, p.allowed_models) not in have
    ))


#: fill terms and their default weights: LP term 16 (start of the plateau 16–64 on default),
#: lookahead 4 (its best weight on default)
FILL_MODES = {"lp": 16.0, "lookahead": 4.0}
#: tie-break of CPU-only pods: not on an idle node, then best fit on CPU surplus (default); best
#: fit on CPU surplus alone; or "spread" (where GPUs are taken and the most CPU is left)
CPU_ONLY_FITS = ("surplus_used", "surplus", "spread")


class Reservation:
    """Demand of the restricted specs against the free devices of the models they allow.

    For each spec ``m`` of the workload whose allowed models are not all of the fleet's (by
    models: ``A_m``), ``share_m`` is its part of the workload's GPU demand (count × devices ×
    milli). Its *pressure* now is ``π_m = share_m · free / free(A_m)``: its demand share over
    the share of the free GPU milli it can use (0 when none is free). A request that could also
    go outside ``A_m`` pays ``Σ_m π_m`` per milli it takes on a node of a model in ``A_m``."""

    def __init__(self, workload: TypicalPods, state: FleetState) -> None:
        n_models = len(state.model_names)
        self.node_model = np.where(state.n_devices > 0, state.dev_model[:, 0], n_models).astype(np.int64)
        self.n_models = n_models
        demand = sum(p.count * p.num_devices * p.device_milli for p in workload.pods if p.num_devices > 0)
        masks: list[np.ndarray] = []
        shares: list[float] = []
        for p in workload.pods:
            if p.num_devices <= 0 or p.allowed_models is None or demand <= 0:
                continue
            mask = np.array([name in p.allowed_models for name in state.model_names] + [False])
            if mask[:n_models].all() or not mask.any():
                continue
            masks.append(mask)
            shares.append(p.count * p.num_devices * p.device_milli / demand)
        self.masks = np.array(masks, bool).reshape(len(masks), n_models + 1)
        self.shares = np.array(shares, np.float64)
        self.code_masks: dict[frozenset[int] | None, np.ndarray] = {}

    def price(self, state: FleetState, allowed: frozenset[int] | None) -> np.ndarray:
        """Price per milli on a node of each model (index: model code; last: no devices) for a
        request allowed on ``allowed`` model codes (None: any)."""
        out = np.zeros(self.n_models + 1)
        if self.shares.size == 0:
            return out
        free = np.bincount(self.node_model, weights=state.idle_milli, minlength=self.n_models + 1)
        total = float(free[: self.n_models].sum())
        if total <= 0:
            return out
        free_m = self.masks.astype(np.float64) @ free
        pi = np.where(free_m > 0, self.shares * total / np.maximum(free_m, 1e-9), 0.0)
        if allowed is not None:
            req = self.code_masks.get(allowed)
            if req is None:
                req = self.code_masks[allowed] = np.array([i in allowed for i in range(self.n_models)] + [False])
            # a request that can only go where the spec may go does not take it from the spec
            pi = np.where((req & ~self.masks).any(axis=1), pi, 0.0)
        out = pi @ self.masks.astype(np.float64)
        return out


class LargeSpecs:
    """The large specs of the workload (:func:`large_specs`) as a term for CPU-only requests.

    A CPU-only pod that takes the CPU a node needs to host a large spec it could host now (model
    allowed, enough devices with enough free milli, enough CPU) makes every idle GPU milli of
    that node fragment for the spec, as FGD counts it: ``Σ_p w_p · idle_n`` over the specs ``p``
    it breaks, ``w_p`` the spec's demand-weighted count times ``weight`` (in the units of
    ``ΔF``: count × milli). GPU requests pay only past the threshold of :meth:`gpu_factor`
    (keeping whole nodes for the large specs against GPU pods all along cost default 0.4 pp at
    130 %). ``shares``: each spec's part of the workload's GPU demand (for :meth:`gpu_factor`;
    None: GPU requests never pay)."""

    def __init__(self, specs: TypicalPods, state: FleetState, weight: float, pressure: float = 1.0,
                 shares: np.ndarray | None = None, const: np.ndarray | None = None) -> None:
        pods = [p for p in specs.pods if p.num_devices > 0] if weight > 0 else []
        #: exponent of :meth:`pressure` (0: the constant weight of the first version)
        self.exponent = pressure
        #: per spec: its part of the workload's GPU demand (0: GPU requests never pay for it)
        self.shares = (np.zeros(len(pods)) if shares is None or not pods
                       else np.asarray([x for x, p in zip(shares, specs.pods, strict=True) if p.num_devices > 0], np.float64))
        self.cpu = np.array([p.cpu_milli for p in pods], np.int64)
        self.ndev = np.array([p.num_devices for p in pods], np.int64)
        self.milli = np.array([p.device_milli for p in pods], np.int64)
        self.weight = np.array([p.count * weight for p in pods], np.float64)
        #: per spec: whether the per-node cache holds its constant part (:meth:`broken`); False for
        #: a spec already in the typical set (FGD's gradient counts it), which adds only the pressure
        self.const = (np.ones(len(pods), bool) if const is None or not pods
                      else np.asarray([c for c, p in zip(const, specs.pods, strict=True) if p.num_devices > 0], bool))
        node_model = np.where(state.n_devices > 0, state.dev_model[:, 0], -1)
        allowed = np.ones((len(pods), state.num_nodes), bool)
        for i, p in enumerate(pods):
            if p.allowed_models is not None:
                codes = [j for j, name in enumerate(state.model_names) if name in p.allowed_models]
                allowed[i] = np.isin(node_model, codes)
        self.allowed = allowed & (node_model >= 0)[None, :]
        self._memo: tuple[tuple[int, int], np.ndarray] | None = None
        self._host_memo: tuple[weakref.ref[FleetState], int, np.ndarray] | None = None

    def _holds(self, i: int, rows: np.ndarray, free: np.ndarray, cpu: np.ndarray) -> np.ndarray:
        """Per node of ``rows`` (``free``, ``cpu``: their free device milli and CPU): whether it could
        host spec ``i`` now (a model allowed, enough devices with the spec's milli free, enough CPU)."""
        held: np.ndarray = self.allowed[i, rows] & ((free >= self.milli[i]).sum(axis=1) >= self.ndev[i]) & (cpu >= self.cpu[i])
        return held

    def broken(self, state: FleetState, req: PlacementRequest, rows: np.ndarray) -> np.ndarray:
        """Per node of ``rows``: the weighted idle milli made fragment for the large specs."""
        out = np.zeros(rows.size)
        if self.weight.size == 0:
            return out
        free = state.dev_free_milli[rows]
        cpu = state.cpu_free_milli[rows].astype(np.int64)
        idle = state.idle_milli[rows].astype(np.float64)
        for i in np.flatnonzero(self.const).tolist():
            out += self.weight[i] * idle * (self._holds(i, rows, free, cpu) & (cpu - req.cpu_milli < self.cpu[i]))
        return out

    def pressure(self, state: FleetState) -> np.ndarray:
        """Per spec: ``p_i = idle / idle(H_i)``, the fleet's idle GPU milli over the idle milli of
        the nodes ``H_i`` that could host the spec now (≥ 1; 1 when none can: nothing left to
        keep). Worked out once per fleet change (the pick and its window both ask)."""
        key = (id(state), state.change_count)
        if self._memo is not None and self._memo[0] == key:
            return self._memo[1]
        out = np.ones(self.weight.size)
        if self.weight.size and self.exponent > 0:
            idle = state.idle_milli.astype(np.float64)
            total = float(idle.sum())
            # sums of integer milli: exact in any order
            held = self._hosts(state) @ idle
            for i in np.flatnonzero(held > 0).tolist():
                out[i] = max(1.0, total / float(held[i])) ** self.exponent
        self._memo = (key, out)
        return out

    def _hosts(self, state: FleetState) -> np.ndarray:
        """(specs, nodes), 1.0 where the node could host the spec now: kept up to date from the
        rows the fleet changed since the last call (all of them on another fleet or a long gap)."""
        got = self._host_memo
        rows = None
        if got is not None and got[0]() is state:
            rows = state.changed_since(got[1], max(state.num_nodes // 8, 64))
        if rows is None:
            rows = np.arange(state.num_nodes)
            host = np.zeros((self.weight.size, state.num_nodes), np.float64)
        else:
            host = got[2]  # type: ignore[index]
        if rows.size:
            free = state.dev_free_milli[rows]
            cpu = state.cpu_free_milli[rows]
            for i in range(self.weight.size):
                host[i, rows] = self._holds(i, rows, free, cpu)
        self._host_memo = (weakref.ref(state), state.change_count, host)
        return host

    def scarce(self, state: FleetState, req: PlacementRequest, rows: np.ndarray) -> np.ndarray:
        """Per node of ``rows``: :meth:`broken` with each spec's weight times ``p_i − 1``
        (:meth:`pressure`) — what the term adds as the nodes that hold a large spec run out. It
        depends on the whole fleet, so the pick adds it, outside the per-node score cache."""
        out = np.zeros(rows.size)
        if self.weight.size == 0:
            return out
        extra = self.pressure(state) - 1.0
        if not (extra > 0).any():
            return out
        free = state.dev_free_milli[rows]
        cpu = state.cpu_free_milli[rows].astype(np.int64)
        idle = state.idle_milli[rows].astype(np.float64)
        for i in np.flatnonzero(extra > 0).tolist():
            out += extra[i] * self.weight[i] * idle * (self._holds(i, rows, free, cpu) & (cpu - req.cpu_milli < self.cpu[i]))
        return out

    def widest(self, state: FleetState) -> float:
        """The most :meth:`scarce` can add on any node (the largest node's GPU milli)."""
        if self.weight.size == 0:
            return 0.0
        extra = self.pressure(state) - 1.0
        return float((extra * self.weight).sum()) * float(state.dev_total.max(initial=0))

    def gpu_factor(self, state: FleetState) -> np.ndarray:
        """Per spec: what a GPU request pays per weighted idle milli of a host it breaks,
        ``max(0, p_i − 1 / share_i)`` (:meth:`pressure`): nothing while the hosts hold at least the
        spec's part of the demand in idle GPU (its reservation price ``share_i · p_i`` ≤ 1), then
        the pressure beyond that point."""
        out = np.zeros(self.weight.size)
        ok = self.shares > 0
        if ok.any():
            out[ok] = np.maximum(0.0, self.pressure(state)[ok] - 1.0 / self.shares[ok])
        return out

    def gpu_broken(self, state: FleetState, req: PlacementRequest, rows: np.ndarray) -> np.ndarray:
        """Per node of ``rows``: what a GPU request pays there (:meth:`gpu_factor` times the spec's
        weight times the node's idle milli, for each spec the node holds now and would hold no
        more: too little CPU left, or fewer devices with the spec's milli free, counting the
        request's devices among them). Depends on the whole fleet: the pick adds it."""
        out = np.zeros(rows.size)
        if self.weight.size == 0:
            return out
        g = self.gpu_factor(state)
        if not (g > 0).any():
            return out
        free = state.dev_free_milli[rows]
        cpu = state.cpu_free_milli[rows].astype(np.int64)
        idle = state.idle_milli[rows].astype(np.float64)
        for i in np.flatnonzero(g > 0).tolist():
            cnt = (free >= self.milli[i]).sum(axis=1)
            holds = self.allowed[i, rows] & (cnt >= self.ndev[i]) & (cpu >= self.cpu[i])
            breaks = (cnt - req.num_devices < self.ndev[i]) | (cpu - req.cpu_milli < self.cpu[i])
            out += g[i] * self.weight[i] * idle * (holds & breaks)
        return out

    def gpu_widest(self, state: FleetState) -> float:
        """The most :meth:`gpu_broken` can add on any node (the largest node's GPU milli)."""
        if self.weight.size == 0:
            return 0.0
        return float((self.gpu_factor(state) * self.weight).sum()) * float(state.dev_total.max(initial=0))


@lru_cache(maxsize=64)
def lp_gap_waste(typical: TypicalPods) -> np.ndarray:
    """``W[f]`` for ``f`` = 0..1000: milli of a gap an optimal packing of the share mix leaves unused
    (see :mod:`suanli.scheduler.policies.shareprices`). Cached per mix (the server builds a policy
    per order against the same mix): the array is read-only."""
    mix: dict[int, float] = {}
    for p in typical.pods:
        if p.num_devices == 1 and 0 < p.device_milli < MILLI:
            mix[p.device_milli] = mix.get(p.device_milli, 0.0) + p.count
    f = np.arange(MILLI + 1, dtype=np.float64)
    if not mix:
        f.flags.writeable = False
        return f
    sizes = np.array(sorted(mix), np.int64)
    prices = share_prices(sizes, np.array([mix[int(x)] for x in sizes]))
    out: np.ndarray = f - MILLI * gap_potential(sizes, prices)
    out.flags.writeable = False
    return out


class FGDPlusPolicy(FGDPolicy):
    name: str = "fgd+"

    def __init__(
        self,
        typical: TypicalPods | None = None,
        *,
        tolerance: float = 0.0,
        gpu_weight: float = 0.5,
        cpu_weight: float = 0.5,
        fill_weight: float | None = None,
        fill_alpha: float = 4.0,
        exact: bool = True,
        fill_mode: str = "lp",
        cpu_only_fit: str = "surplus_used",
        scarcity: float = 1.0,
        workload: TypicalPods | None = None,
        exclusive: float = 10.0,
        exclusive_alpha: float = 0.5,
        reserve_weight: float = 1.0,
        large: float = 0.01,
        large_weight: float = 4.0,
        large_pressure: float = 1.0,
        large_gpu: float = 1.0,
        large_exclusive: bool = True,
        **_: Any,
    ) -> None:
        super().__init__(demand_weighted(typical, gpu_weight) if typical is not None else None)
        #: the typical set as given (counts), and the options, for :meth:`set_typical`
        self.raw_typical = typical if typical is not None else DEFAULT_TYPICAL
        self._options: dict[str, Any] = dict(
            tolerance=tolerance, gpu_weight=gpu_weight, cpu_weight=cpu_weight, fill_weight=fill_weight,
            fill_alpha=fill_alpha, exact=exact, fill_mode=fill_mode, cpu_only_fit=cpu_only_fit, scarcity=scarcity,
            exclusive=exclusive, exclusive_alpha=exclusive_alpha, reserve_weight=reserve_weight, large=large,
            large_weight=large_weight, large_pressure=large_pressure, large_gpu=large_gpu,
            large_exclusive=large_exclusive)
        self.scarcity = scarcity
        self.gpu_weight = gpu_weight
        #: the demand-weighted set before scarcity weighting (which depends on the fleet)
        self.base_typical = self.typical
        #: every spec of the workload (coverage 1), for the exclusive specs; None: the typical set only
        self.workload = workload
        self.exclusive = exclusive
        self.exclusive_alpha = exclusive_alpha
        self.large = large
        self.large_weight = large_weight
        self.large_pressure = large_pressure
        self.large_gpu = large_gpu
        self.large_exclusive = large_exclusive
        self._large: LargeSpecs | None = None
        self.reserve_weight = reserve_weight
        self._reserve: Reservation | None = None
        self.tolerance = tolerance
        self.exact = exact
        self.cpu_weight = cpu_weight
        if cpu_only_fit not in CPU_ONLY_FITS:
            raise ValidationError(
                f"fgd+ cpu_only_fit {cpu_only_fit!r} is unknown; allowed: {', '.join(CPU_ONLY_FITS)}", field="cpu_only_fit"
            )
        self.cpu_only_fit = cpu_only_fit
        if fill_mode not in FILL_MODES:
            raise ValidationError(f"fgd+ fill_mode {fill_mode!r} is unknown; allowed: {', '.join(FILL_MODES)}", field="fill_mode")
        self.fill_mode = fill_mode
        if fill_mode == "lp":
            # the LP prices the mix by frequency, so it takes the counts before demand weighting
            base = typical if typical is not None else self.typical
            self.fill = lp_gap_waste(base)
        else:
            self.fill = fill_value(self.typical, fill_alpha)
        self.fill_weight = FILL_MODES[fill_mode] if fill_weight is None else fill_weight
        #: ``fill`` as a Python list (:meth:`share_value_one`)
        self._fill_list: list[float] = self.fill.tolist()
        gpu_pods = [p for p in self.typical.pods if p.num_devices > 0]
        demand = sum(p.count * p.num_devices * p.device_milli for p in gpu_pods)
        self.cpu_per_gpu_milli = sum(p.count * p.cpu_milli for p in gpu_pods) / demand if demand else 0.0

    def _bind(self, state: FleetState) -> FragModel:
        if self._state_ref is None or self._state_ref() is not state or self._model is None:
            typical = scarcity_weighted(self.base_typical, state, self.scarcity)
            if self.workload is not None:
                excl = exclusive_specs(self.base_typical, self.workload, state, self.exclusive)
                extra = scarcity_weighted(demand_weighted(excl, self.gpu_weight), state, self.exclusive_alpha)
                typical = TypicalPods(typical.pods + extra.pods)
                big = large_specs(typical, self.workload, self.large)
                n_big = len(big.pods)
                if self.large_exclusive:
                    big = TypicalPods(big.pods + tuple(p for p in excl.pods if p.num_devices >= 2))
                demand = sum(p.count * p.num_devices * p.device_milli for p in self.workload.pods)
                shares = (np.array([p.count * p.num_devices * p.device_milli / demand for p in big.pods])
                          if self.large_gpu > 0 and demand > 0 else None)
                self._large = LargeSpecs(demand_weighted(big, self.gpu_weight), state, self.large_weight,
                                         self.large_pressure, shares, const=np.arange(len(big.pods)) < n_big)
            self.typical = typical
            self._reserve = Reservation(self.workload if self.workload is not None else self.raw_typical, state)
        return super()._bind(state)

    def set_typical(self, typical: TypicalPods, workload: TypicalPods | None = None) -> None:
        """Change the workload (the typical set and, optionally, every spec): rebuilds every term and
        drops every cache."""
        FGDPlusPolicy.__init__(self, typical, workload=workload, **self._options)
        self.reset_cache()

    def _stranded(self, idle: np.ndarray, cpu: np.ndarray) -> np.ndarray:
        """GPU milli a node cannot use for lack of CPU at the workload's CPU-per-GPU ratio."""
        if self.cpu_per_gpu_milli <= 0:
            return np.zeros(np.shape(idle))
        out: np.ndarray = np.maximum(0.0, idle - np.maximum(cpu, 0) / self.cpu_per_gpu_milli)
        return out

    def _strand_change(self, state: FleetState, req: PlacementRequest, rows: np.ndarray) -> np.ndarray:
        """Change of the stranded GPU milli (:meth:`_stranded`) of each node of ``rows`` if ``req`` goes there."""
        idle = state.idle_milli[rows].astype(np.float64)
        cpu = state.cpu_free_milli[rows].astype(np.float64)
        if req.whole_node:
            after = np.zeros(rows.size)
        else:
            after = self._stranded(idle - request_gpu_milli(req), cpu - req.cpu_milli)
        out: np.ndarray = after - self._stranded(idle, cpu)
        return out

    def delta_scores(self, state: FleetState, req: PlacementRequest, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        delta, valid = super().delta_scores(state, req, rows)
        if self._model is None:
            return delta, valid
        cov = self._model.covered
        if self.cpu_weight > 0:
            pen = self.cpu_weight * cov * self._strand_change(state, req, rows)
            delta = delta + (pen[:, None] if delta.ndim == 2 else pen)
        if self._large is not None and req.num_devices == 0 and not req.whole_node:
            delta = delta + self._large.broken(state, req, rows)
        if self.fill_weight > 0 and req.is_share and delta.ndim == 2:
            # (np.minimum/np.maximum: np.clip's Python wrapper costs more than the two ufuncs)
            f = state.dev_free_milli[rows].astype(np.int64)
            f2 = np.minimum(np.maximum(f - req.device_milli, 0), MILLI)
            f = np.minimum(np.maximum(f, 0), MILLI)
            delta = delta + self.fill_weight * cov * (self.fill[f2] - self.fill[f])
        return delta, valid

    def score_one(self, state: FleetState, req: PlacementRequest, n: int) -> float | None:
        """The exact score (:meth:`_int_score` of :meth:`delta_scores`) of node ``n`` for a request of
        whole devices or none, of any model and site, in Python numbers: the same IEEE operations
        in the same order as the arrays' (``tests/scheduler/test_fgdplus_tie_values.py`` compares
        them byte for byte); None for the cases it does not cover."""
        if (not self.exact or self.engine == "reference" or req.is_share or req.whole_node
                or req.allowed_models is not None or req.allowed_sites is not None
                or (req.nic_mbps and state.nic_free_mbps is not None) or (req.disk_gib and state.disk_free_gib is not None)):
            return None
        model = self._bind(state)
        cov = model.covered
        if cov <= 0 or (self._large is not None and req.num_devices == 0):
            return None
        if state.cpu_free_milli.item(n) < req.cpu_milli or state.mem_free_mib.item(n) < req.mem_mib:
            return float("-inf")
        if req.num_devices and state.full_free.item(n) < req.num_devices:
            return float("-inf")
        delta = self._frag_pair_one(state, model, req, n)
        if delta is None:
            return None
        if self.cpu_weight > 0:
            change = 0.0
            r = self.cpu_per_gpu_milli
            if r > 0:  # :meth:`_strand_change` of one node
                idle = float(state.idle_milli.item(n))
                cpu = float(state.cpu_free_milli.item(n))
                after = max(0.0, (idle - request_gpu_milli(req)) - max(cpu - req.cpu_milli, 0.0) / r)
                change = after - max(0.0, idle - max(cpu, 0.0) / r)
            delta = delta + self.cpu_weight * cov * change
        return -delta / cov

    def share_value_one(self, state: FleetState, req: PlacementRequest, n: int) -> tuple[float, int] | None:
        """:meth:`FGDPolicy._share_values` of node ``n`` for a share of any model and site, in Python
        numbers (the same IEEE operations in the same order as :meth:`delta_scores` and
        :meth:`_int_score`; compared byte for byte in ``tests/scheduler/test_fgdplus_tie_values.py``):
        the best score over the devices that can take it and the code of the free values reaching
        it; None for the cases it does not cover."""
        if (not self.exact or self.engine == "reference" or not req.is_share or req.allowed_models is not None
                or req.allowed_sites is not None or (req.nic_mbps and state.nic_free_mbps is not None)
                or (req.disk_gib and state.disk_free_gib is not None)):
            return None
        model = self._bind(state)
        cov = model.covered
        if cov <= 0 or self._large is not None or model.uses_mem or model.uses_nic or model.w.size == 0:
            return None
        s = req.device_milli
        if (state.cpu_free_milli.item(n) < req.cpu_milli or state.mem_free_mib.item(n) < req.mem_mib
                or state.max_free.item(n) < s):
            return float("-inf"), -1
        self._bind_lists(model)
        tab = self._tab_list
        free = state.dev_free_milli[n].tolist()
        present = state.present[n].tolist()
        st = [sum(col) for col in zip(*[tab[f] for f in free], strict=True)]
        idle = state.idle_milli.item(n)
        cpu = state.cpu_free_milli.item(n)
        need = model.need[n].tolist()
        fb = self._frag_one(model, st, idle, cpu, need)
        share = self._share_list(model, s)
        pen = 0.0
        if self.cpu_weight > 0:
            change = 0.0
            r = self.cpu_per_gpu_milli
            if r > 0:
                idle_f = float(idle)
                cpu_f = float(cpu)
                after = max(0.0, (idle_f - s) - max(cpu_f - req.cpu_milli, 0.0) / r)
                change = after - max(0.0, idle_f - max(cpu_f, 0.0) / r)
            pen = self.cpu_weight * cov * change
        fill = self._fill_list
        fw = self.fill_weight * cov
        unit = model.unit
        scores: list[float] = []
        for f, here in zip(free, present, strict=True):
            if not here or f < s:
                scores.append(float("-inf"))
                continue
            st2 = [a + b for a, b in zip(st, share[f], strict=True)]
            delta = self._frag_one(model, st2, idle - s, cpu - req.cpu_milli, need) - fb
            if unit != 1.0:
                delta = delta / unit
            if self.cpu_weight > 0:
                delta = delta + pen
            if self.fill_weight > 0:
                delta = delta + fw * (fill[min(max(f - s, 0), MILLI)] - fill[min(max(f, 0), MILLI)])
            scores.append(-delta / cov)
        best = max(scores)
        reach = {f for f, v in zip(free, scores, strict=True) if v == best}
        mask = 0
        for j, f in enumerate(sorted(free)):
            if f in reach:
                mask |= 1 << j
        return best, -2 - mask

    def _int_score(self, delta: np.ndarray) -> np.ndarray:
        if not self.exact:
            return super()._int_score(delta)
        cov = self._model.covered if self._model is not None else 1.0
        out: np.ndarray = -delta / cov if cov > 0 else np.zeros_like(delta)
        return out

    def pick_window(self, state: FleetState, req: PlacementRequest) -> float | None:
        """:meth:`_pick` looks at the nodes within ``tolerance`` of the best score after the
        reservation price and the large specs' terms (penalties, never negative), so a node more
        than ``tolerance`` plus their largest sum below the best cached score cannot matter (a
        margin of 1e-6 covers rounding)."""
        widest, widened = self.tolerance, False
        if (self.reserve_weight > 0 and self._reserve is not None and self._reserve.shares.size
                and (req.num_devices or req.whole_node)):
            most = float(self._reserve.price(state, req.allowed_models).max())
            if most > 0:
                milli = int(state.dev_total.max(initial=0)) if req.whole_node else request_gpu_milli(req)
                widest += self.reserve_weight * most * milli
                widened = True
        if self._large is not None and self.exact and not req.whole_node and self._model is not None:
            # the large specs' scarcity (:meth:`LargeSpecs.scarce`, :meth:`LargeSpecs.gpu_broken`)
            # widens it as far as it reaches
            cov = max(self._model.covered, 1e-12)
            if req.num_devices == 0:
                widest += self._large.widest(state) / cov
                widened = True
            elif self.large_gpu > 0:
                extra = self.large_gpu * self._large.gpu_widest(state) / cov
                widest += extra
                widened = widened or extra > 0
        if not widened:
            return self.tolerance
        return widest + 1e-6 * (1.0 + widest)

    def tie_values(self, state: FleetState, req: PlacementRequest, rows: np.ndarray) -> np.ndarray | None:
        """The best-fit value of :meth:`_pick` (:meth:`_fit_left`) of each node of ``rows``, kept by
        the fast engine with the scores; a few rows are worked out in Python floats (the same
        IEEE operations, so the same values as the arrays')."""
        if rows.size > 8:
            return self._fit_left(state, req, rows)
        return np.array([self._fit_left_one(state, req, r) for r in rows.tolist()], np.float64)

    def _fit_left(self, state: FleetState, req: PlacementRequest, nodes: np.ndarray) -> np.ndarray:
        """Per node of ``nodes``: what :meth:`_pick`'s best fit takes the smallest of (ties ascend)."""
        cpu_left = state.cpu_free_milli[nodes] - req.cpu_milli
        idle = state.idle_milli[nodes]
        gpu_left = idle - request_gpu_milli(req)
        left: np.ndarray
        if req.num_devices == 0 and not req.whole_node and self.cpu_only_fit != "spread" and self.cpu_per_gpu_milli > 0:
            # CPU-only: best fit on the CPU the node's idle GPUs do not need (surplus), so that
            # large surplus blocks stay whole for large CPU-only pods; then least short of it
            surplus = cpu_left - self.cpu_per_gpu_milli * gpu_left
            left = np.where(surplus >= 0, surplus, 1e12 - surplus)
            if self.cpu_only_fit == "surplus_used":
                left = left + 1e13 * (idle >= state.dev_total[nodes])
        else:
            tot_gpu = np.maximum(state.dev_total[nodes], 1)
            cpu_frac = cpu_left / state.cpu_total_milli[nodes]
            if req.num_devices == 0 and not req.whole_node:
                # CPU-only: where GPUs are already taken and CPU is left over
                left = gpu_left / tot_gpu - cpu_frac
            else:
                cpu_max, gpu_max = max_specs(state)
                left = np.abs(cpu_frac - gpu_left / tot_gpu) + 0.5 * (cpu_left / cpu_max + gpu_left / gpu_max)
        return left

    def _fit_left_one(self, state: FleetState, req: PlacementRequest, n: int) -> float:
        """:meth:`_fit_left` of one node in Python numbers: ints exact, each float operation the
        same IEEE double operation as numpy's (int / int is correctly rounded in both)."""
        cpu_left = int(state.cpu_free_milli.item(n)) - req.cpu_milli
        idle = int(state.idle_milli.item(n))
        gpu_left = idle - request_gpu_milli(req)
        total = int(state.dev_total.item(n))
        if req.num_devices == 0 and not req.whole_node and self.cpu_only_fit != "spread" and self.cpu_per_gpu_milli > 0:
            surplus = cpu_left - self.cpu_per_gpu_milli * gpu_left
            left = surplus if surplus >= 0 else 1e12 - surplus
            if self.cpu_only_fit == "surplus_used":
                left = left + (1e13 if idle >= total else 0.0)
            return left
        cpu_frac = cpu_left / int(state.cpu_total_milli.item(n))
        if req.num_devices == 0 and not req.whole_node:
            return gpu_left / max(total, 1) - cpu_frac
        cpu_max, gpu_max = self._specs(state)
        return abs(cpu_frac - gpu_left / max(total, 1)) + 0.5 * (cpu_left / cpu_max + gpu_left / gpu_max)

    def _specs(self, state: FleetState) -> tuple[float, float]:
        """:func:`max_specs` of ``state``, worked out once per fleet (its totals do not change, as
        the fragmentation model bound to it assumes)."""
        got = getattr(self, "_specs_of", None)
        if got is None or got[0]() is not state:
            got = self._specs_of = (weakref.ref(state), max_specs(state))
        return got[1]

    def _pick(
        self, state: FleetState, req: PlacementRequest, cand: np.ndarray, sc: np.ndarray, rng: np.random.Generator,
        tie: np.ndarray | None = None,
    ) -> tuple[int, str]:
        if (self.reserve_weight > 0 and self._reserve is not None and self._reserve.shares.size
                and (req.num_devices or req.whole_node)):
            price = self._reserve.price(state, req.allowed_models)
            milli = state.dev_total[cand] if req.whole_node else request_gpu_milli(req)
            sc = sc - self.reserve_weight * price[self._reserve.node_model[cand]] * milli
        if self._large is not None and self.exact and not req.whole_node and self._model is not None:
            if req.num_devices == 0:
                sc = sc - self._large.scarce(state, req, cand) / max(self._model.covered, 1e-12)
            elif self.large_gpu > 0:
                sc = sc - self.large_gpu * self._large.gpu_broken(state, req, cand) / max(self._model.covered, 1e-12)
        best = sc.max()
        if sc.min() >= best - self.tolerance:
            # every candidate is tied (the fast engine hands over just the window): no copies
            if sc.size == 1:
                return 0, ""
            ties = np.arange(sc.size)
            nodes = cand
        else:
            ties = np.flatnonzero(sc >= best - self.tolerance)
            if ties.size == 1:
                return int(ties[0]), ""
            nodes = cand[ties]
        # the fast engine keeps every node's value (tie_values); else worked out for the tied nodes
        left = self._fit_left(state, req, nodes) if tie is None else tie[nodes]
        note = f", best fit of {ties.size} within {self.tolerance:g}"
        if state.dev_cost is not None and (req.num_devices or req.whole_node):
            order = np.lexsort((ties, left, node_unit_cost(state, req, nodes)))
            return int(ties[order[0]]), note
        # the first smallest ``left`` (ties ascend), as lexsort((ties, left))[0]; argmin lands on
        # a NaN if there is one, where lexsort sorts NaN last: then lexsort decides
        at = int(left.argmin())
        if left[at] != left[at]:
            at = int(np.lexsort((ties, left))[0])
        return int(ties[at]), note

    def _pick_tied(
        self, state: FleetState, req: PlacementRequest, cand: np.ndarray, slack: float, tie: np.ndarray | None,
    ) -> tuple[int, str] | None:
        """When :meth:`_pick` adds neither the reservation price nor the large specs' scarcity to
        this request's scores and the window is its tolerance, every node of the window ties (its
        best is the window's best): the best fit among them, as :meth:`_pick` takes it, without
        gathering the window's scores for its max and min."""
        if slack != self.tolerance or cand.size < 2:
            return None
        if (self.reserve_weight > 0 and self._reserve is not None and self._reserve.shares.size
                and (req.num_devices or req.whole_node)):
            return None
        if self._large is not None and self.exact and req.num_devices == 0 and not req.whole_node and self._model is not None:
            return None
        left = self._fit_left(state, req, cand) if tie is None else tie[cand]
        note = f", best fit of {cand.size} within {self.tolerance:g}"
        if state.dev_cost is not None and (req.num_devices or req.whole_node):
            return int(np.lexsort((np.arange(cand.size), left, node_unit_cost(state, req, cand)))[0]), note
        at = int(left.argmin())
        if left[at] != left[at]:
            at = int(np.lexsort((np.arange(cand.size), left))[0])
        return at, note

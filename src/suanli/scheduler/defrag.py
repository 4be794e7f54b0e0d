"""Defragmentation planner: moves of migratable placements that free whole GPUs / whole nodes.

Pure (numpy + the scheduler's types); the server (:mod:`suanli.service.defrag`) and the
simulator (:mod:`suanli.sim.defrag`) call the same :func:`plan_defrag`.

Problem
-------
Given the free capacity of a fleet (:class:`FleetState`), the placements that accept a move
(:class:`Movable`: a key, its :class:`Placement` and the :class:`PlacementRequest` that states its
constraints) and the waiting requests that need whole devices (``k`` whole GPUs on one node, a
whole node, a gang of whole nodes in one fabric domain), choose moves *movable placement → new
devices* so that as many targets as possible fit, in the targets' order, with as few moves as
possible (then as little moved GPU-milli). Choosing the fewest moves is a set-cover-like
re-packing problem (NP-hard in general: bin packing is a special case), so the planner is greedy:

1. For a target, every candidate node is given its **cost to free**: the movable placements that
   occupy the cheapest devices which, once emptied, give the target its devices (and CPU/memory),
   or infinity when a non-movable placement is in the way. A whole node must be emptied entirely.
2. Candidates are tried cheapest first (number of moves, then moved GPU-milli, then node index);
   for each, the occupants are **re-placed** on other nodes, largest first, best fit (the node and
   device whose free capacity is the smallest that still holds them), on a working copy of the
   fleet in which the candidate (and the nodes already chosen for this plan) take nothing. The
   first candidate whose occupants all find room is taken, its moves and the target's own
   placement are applied to the working copy, and the next target is planned on that copy.
3. A gang of ``g`` whole nodes frees the ``g`` cheapest nodes of one fabric domain (idle nodes
   cost nothing); the domain with the fewest moves wins.

Invariants (each checked by the tests): a non-movable placement is never moved; a placement is
moved at most once per plan; a move keeps the placement's request (allowed models and sites, the
same number of devices and milli on ONE node, its CPU and memory); every move and every target
placement is applied with :meth:`FleetState.apply` on the working copy, so the plan is feasible
(no device or node over capacity at the end). The caller's ``state`` is not changed.

A plan states, per target, which node(s) it frees and which moves free them
(:attr:`DefragPlan.targets`); a target that already fits needs no move and is not listed
as freed by moves (``moves == ()``), a target that cannot be freed is reported with its reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suanli.scheduler.base import feasible_nodes, whole_node_free
from suanli.scheduler.types import MILLI, FleetState, Placement, PlacementRequest

INF = float("inf")


@dataclass(frozen=True)
class Movable:
    """A placement that accepts moves; ``request`` carries its constraints (single node only)."""

    key: str
    placement: Placement
    request: PlacementRequest


@dataclass(frozen=True)
class Move:
    """Move ``key`` from ``old`` to ``new`` (same request, other devices)."""

    key: str
    old: Placement
    new: Placement

    @property
    def gpu_milli(self) -> int:
        return self.old.gpu_milli


@dataclass(frozen=True)
class TargetResult:
    """What the plan does for one waiting request (by index in the targets given)."""

    index: int
    placement: Placement | None
    moves: tuple[str, ...]
    reason: str

    @property
    def freed(self) -> bool:
        return self.placement is not None


@dataclass(frozen=True)
class DefragPlan:
    moves: tuple[Move, ...]
    targets: tuple[TargetResult, ...]

    @property
    def moved_gpu_milli(self) -> int:
        return sum(m.gpu_milli for m in self.moves)

    @property
    def helps(self) -> bool:
        """At least one target gets room thanks to moves."""
        return any(t.freed and t.moves for t in self.targets)


def is_defrag_target(req: PlacementRequest) -> bool:
    """Requests the planner frees room for: k ≥ 2 whole devices on one node, a whole node, a gang."""
    return req.whole_node or req.gang_nodes > 0 or (req.num_devices >= 2 and req.spread_devices == 0)


def plan_defrag(
    state: FleetState, movables: Sequence[Movable], targets: Sequence[PlacementRequest], *,
    max_moves_per_target: int = 8, max_moves: int = 32, max_candidates: int = 64,
) -> DefragPlan:
    """Plan moves for ``targets`` (in order); see the module docstring for the formulation."""
    work = state.copy()
    live: dict[str, Movable] = {m.key: m for m in movables if m.request.gang_nodes == 0 and len(m.placement.nodes) == 1}
    moved: set[str] = set()
    moves: list[Move] = []
    results: list[TargetResult] = []
    for ti, req in enumerate(targets):
        budget = min(max_moves_per_target, max_moves - len(moves))
        if not is_defrag_target(req):
            results.append(TargetResult(ti, None, (), "not a whole-device, whole-node or gang request"))
            continue
        if req.gang_nodes:
            res = _plan_gang(work, live, moved, req, budget, max_candidates)
        else:
            res = _plan_node(work, live, moved, req, budget, max_candidates, exclude=frozenset())
        if isinstance(res, str):
            results.append(TargetResult(ti, None, (), res))
            continue
        target_p, mv = res
        for m in mv:  # already applied to ``work`` by the helper
            moved.add(m.key)
            live[m.key] = Movable(m.key, m.new, live[m.key].request)
        work.apply(target_p)
        moves.extend(mv)
        what = _describe(state, target_p)
        why = f"frees {what} with {len(mv)} move(s)" if mv else f"fits on {what} without moves"
        results.append(TargetResult(ti, target_p, tuple(m.key for m in mv), why))
    return DefragPlan(tuple(moves), tuple(results))


# ---------------------------------------------------------------------------- helpers
def _describe(state: FleetState, p: Placement) -> str:
    parts = []
    for n, devs in zip(p.nodes, p.devices, strict=True):
        parts.append(f"{len(devs)} GPU(s) of node {state.node_ids[n]}")
    return ", ".join(parts)


def _occupants(live: dict[str, Movable], moved: set[str]) -> dict[int, list[Movable]]:
    by_node: dict[int, list[Movable]] = {}
    for m in live.values():
        if m.key in moved:
            continue
        by_node.setdefault(m.placement.nodes[0], []).append(m)
    return by_node


def _node_cost(
    state: FleetState, node: int, req: PlacementRequest, occ: list[Movable],
) -> tuple[list[Movable], tuple[int, ...]] | None:
    """The movable placements to take off ``node`` so that ``req`` fits there, and the devices
    it then gets; None when a non-movable placement is in the way or the node is too small."""
    present = np.flatnonzero(state.present[node])
    usable = state.model_mask(req.allowed_models)[node]
    free = state.dev_free_milli[node]
    mov_milli: dict[int, int] = {}
    on_dev: dict[int, list[Movable]] = {}
    for m in occ:
        for d, mm in zip(m.placement.devices[0], m.placement.device_milli[0], strict=True):
            mov_milli[d] = mov_milli.get(d, 0) + mm
            on_dev.setdefault(d, []).append(m)
    mov_cpu = sum(m.placement.cpu_milli[0] for m in occ)
    if req.whole_node:
        if req.allowed_models is not None and not bool(usable[present].all()):
            return None
        if present.size == 0 or (req.num_devices and present.size < req.num_devices):
            return None
        for d in present.tolist():
            if int(free[d]) + mov_milli.get(d, 0) != MILLI:
                return None
        if int(state.cpu_free_milli[node]) + mov_cpu != int(state.cpu_total_milli[node]):
            return None
        return list(occ), tuple(int(d) for d in present)
    # k whole devices: the freeable devices, cheapest first (idle, then fewest occupants / milli)
    cand = []
    for d in present.tolist():
        if not usable[d] or int(free[d]) + mov_milli.get(d, 0) != MILLI:
            continue
        ms = on_dev.get(d, [])
        cand.append((len(ms), mov_milli.get(d, 0), d))
    if len(cand) < req.num_devices:
        return None
    cand.sort()
    chosen: list[int] = []
    take: dict[str, Movable] = {}
    for _, _, d in cand:
        if len(chosen) == req.num_devices:
            break
        chosen.append(d)
        for m in on_dev.get(d, []):
            take[m.key] = m
    # a multi-device occupant also frees its other devices: fine, they stay free for others
    cpu = int(state.cpu_free_milli[node]) + sum(m.placement.cpu_milli[0] for m in take.values())
    mem = int(state.mem_free_mib[node]) + sum(m.placement.mem_mib[0] for m in take.values())
    if cpu < req.cpu_milli or mem < req.mem_mib:
        rest = sorted((m for m in occ if m.key not in take), key=lambda m: -m.placement.cpu_milli[0])
        for m in rest:  # CPU-heavy occupants next
            if cpu >= req.cpu_milli and mem >= req.mem_mib:
                break
            take[m.key] = m
            cpu += m.placement.cpu_milli[0]
            mem += m.placement.mem_mib[0]
        if cpu < req.cpu_milli or mem < req.mem_mib:
            return None
    return list(take.values()), tuple(sorted(chosen))


def _blocked(state: FleetState, nodes: Sequence[int]) -> list[tuple[int, np.ndarray, int, int]]:
    """Make ``nodes`` take nothing (free capacity to 0) on the working copy; returns what to restore."""
    saved = []
    for n in nodes:
        saved.append((n, state.dev_free_milli[n].copy(), int(state.cpu_free_milli[n]), int(state.mem_free_mib[n])))
        state.dev_free_milli[n] = 0
        state.cpu_free_milli[n] = 0
        state.mem_free_mib[n] = 0
    state.touch(list(nodes))
    return saved


def _restore(state: FleetState, saved: list[tuple[int, np.ndarray, int, int]]) -> None:
    for n, dev, cpu, mem in saved:
        state.dev_free_milli[n] = dev
        state.cpu_free_milli[n] = cpu
        state.mem_free_mib[n] = mem
    state.touch([s[0] for s in saved])


def relocate(state: FleetState, m: Movable) -> Placement | None:
    """Best-fit destination for ``m`` on ``state`` (which must not hold ``m`` any more)."""
    req = m.request
    ok = feasible_nodes(state, dataclasses.replace(req, whole_node=False) if req.whole_node else req)
    if req.whole_node:
        ok &= whole_node_free(state, req)
    nodes = np.flatnonzero(ok)
    if nodes.size == 0:
        return None
    usable = state.model_mask(req.allowed_models)
    if req.whole_node:
        left = state.cpu_total_milli[nodes]
        n = int(nodes[np.lexsort((nodes, left))][0])
        devs = tuple(int(d) for d in np.flatnonzero(state.present[n]))
        milli = tuple(MILLI for _ in devs)
    elif req.num_devices == 0:
        left = state.cpu_free_milli[nodes] - req.cpu_milli
        n = int(nodes[np.lexsort((nodes, left))][0])
        devs, milli = (), ()
    elif req.is_share:
        free = np.where(usable[nodes] & (state.dev_free_milli[nodes] >= req.device_milli), state.dev_free_milli[nodes], MILLI + 1)
        best = free.min(axis=1)
        n = int(nodes[np.lexsort((nodes, best))][0])
        row = np.where(usable[n] & (state.dev_free_milli[n] >= req.device_milli), state.dev_free_milli[n], MILLI + 1)
        devs, milli = (int(np.argmin(row)),), (req.device_milli,)
    else:
        idle = (usable[nodes] & (state.dev_free_milli[nodes] == MILLI)).sum(axis=1)
        n = int(nodes[np.lexsort((nodes, idle))][0])  # the node with the fewest idle devices that suffice
        cand = np.flatnonzero(usable[n] & (state.dev_free_milli[n] == MILLI))[: req.num_devices]
        devs, milli = tuple(int(d) for d in cand), tuple(MILLI for _ in cand)
    old = m.placement
    return dataclasses.replace(
        old, nodes=(n,), devices=(devs,), device_milli=(milli,), cpu_milli=(old.cpu_milli[0],),
        mem_mib=(old.mem_mib[0],), score=0.0, reason=f"defrag: moved to node {state.node_ids[n]}",
    )


def _try_free(
    work: FleetState, node: int, take: list[Movable], exclude: frozenset[int],
) -> list[Move] | None:
    """Re-place ``take`` off ``node`` (largest first) with ``node`` and ``exclude`` blocked; on
    success the moves stay applied to ``work``; on failure ``work`` is unchanged."""
    for m in take:
        work.release(m.placement)
    saved = _blocked(work, sorted({node, *exclude}))
    done: list[Move] = []
    ok = True
    for m in sorted(take, key=lambda m: (-m.placement.gpu_milli, -m.placement.cpu_milli[0], m.key)):
        p = relocate(work, m)
        if p is None:
            ok = False
            break
        work.apply(p)
        done.append(Move(m.key, m.placement, p))
    for mv in reversed(done):
        work.release(mv.new)
    _restore(work, saved)
    if ok:
        for mv in done:
            work.apply(mv.new)
        return done
    for m in take:
        work.apply(m.placement)
    return None


def _target_placement(state: FleetState, node: int, req: PlacementRequest, devs: tuple[int, ...]) -> Placement:
    return Placement(
        nodes=(node,), devices=(devs,), device_milli=(tuple(MILLI for _ in devs),),
        cpu_milli=(int(state.cpu_total_milli[node]) if req.whole_node else req.cpu_milli,),
        mem_mib=(max(req.mem_mib, int(state.mem_free_mib[node])) if req.whole_node else req.mem_mib,), score=0.0, reason=f"defrag: room made on node {state.node_ids[node]}",
    )


def _candidates(
    work: FleetState, live: dict[str, Movable], moved: set[str], req: PlacementRequest, budget: int,
    exclude: frozenset[int], nodes: np.ndarray | None = None,
) -> list[tuple[int, int, int, list[Movable], tuple[int, ...]]]:
    occ = _occupants(live, moved)
    if nodes is None:
        nodes = np.arange(work.num_nodes)
    if req.allowed_sites is not None:
        nodes = nodes[np.isin(work.site[nodes], list(req.allowed_sites))]
    big = work.n_devices[nodes] >= max(req.num_devices, 1)
    big &= work.cpu_total_milli[nodes] >= req.cpu_milli
    nodes = nodes[big]
    out = []
    for n in nodes.tolist():
        if n in exclude:
            continue
        got = _node_cost(work, n, req, occ.get(n, []))
        if got is None or len(got[0]) > budget:
            continue
        take, devs = got
        out.append((len(take), sum(m.placement.gpu_milli for m in take), n, take, devs))
    out.sort(key=lambda c: c[:3])
    return out


def _plan_node(
    work: FleetState, live: dict[str, Movable], moved: set[str], req: PlacementRequest, budget: int,
    max_candidates: int, exclude: frozenset[int], nodes: np.ndarray | None = None,
) -> tuple[Placement, list[Move]] | str:
    cands = _candidates(work, live, moved, req, budget, exclude, nodes)
    if not cands:
        return "no node can be freed by moving migratable placements only"
    for _, _, n, take, devs in cands[:max_candidates]:
        if not take:
            return _target_placement(work, n, req, devs), []
        mv = _try_free(work, n, take, exclude)
        if mv is not None:
            return _target_placement(work, n, req, devs), mv
    return f"the migratable placements on the {min(len(cands), max_candidates)} cheapest nodes find no room elsewhere"


def _plan_gang(
    work: FleetState, live: dict[str, Movable], moved: set[str], req: PlacementRequest, budget: int,
    max_candidates: int,
) -> tuple[Placement, list[Move]] | str:
    whole = PlacementRequest(allowed_models=req.allowed_models, allowed_sites=req.allowed_sites, whole_node=True)
    best: tuple[int, int, int] | None = None
    best_fab = -1
    for fab in np.unique(work.fabric).tolist():
        members = np.flatnonzero((work.fabric == fab) & (work.n_devices > 0))
        if members.size < req.gang_nodes:
            continue
        cands = _candidates(work, live, moved, whole, budget, frozenset(), members)
        if len(cands) < req.gang_nodes:
            continue
        cost = (sum(c[0] for c in cands[: req.gang_nodes]), sum(c[1] for c in cands[: req.gang_nodes]), fab)
        if cost[0] <= budget and (best is None or cost < best):
            best, best_fab = cost, fab
    if best is None:
        return f"no fabric domain has {req.gang_nodes} nodes that moves of migratable placements can empty"
    members = np.flatnonzero((work.fabric == best_fab) & (work.n_devices > 0))
    parts: list[Placement] = []
    all_moves: list[Move] = []
    for _ in range(req.gang_nodes):
        res = _plan_node(work, live, moved | {m.key for m in all_moves}, whole, budget - len(all_moves), max_candidates,
                         exclude=frozenset(p.nodes[0] for p in parts), nodes=members)
        if isinstance(res, str):
            for p in reversed(parts):
                work.release(p)
            for mv in reversed(all_moves):
                work.release(mv.new)
                work.apply(mv.old)
                live[mv.key] = Movable(mv.key, mv.old, live[mv.key].request)
            return f"fabric {best_fab}: {res}"
        p, mv_list = res
        all_moves.extend(mv_list)
        work.apply(p)  # the node is taken while the next one is freed; given back below
        parts.append(p)
        for mv in mv_list:
            live[mv.key] = Movable(mv.key, mv.new, live[mv.key].request)
    for p in parts:
        work.release(p)
    gang = Placement(
        nodes=tuple(p.nodes[0] for p in parts), devices=tuple(p.devices[0] for p in parts),
        device_milli=tuple(p.device_milli[0] for p in parts), cpu_milli=tuple(p.cpu_milli[0] for p in parts),
        mem_mib=tuple(p.mem_mib[0] for p in parts), score=0.0,
        reason=f"defrag: gang of {len(parts)} whole nodes in fabric {best_fab}",
    )
    return gang, all_moves

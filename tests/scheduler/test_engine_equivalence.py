"""The fast engine makes the decisions of the straightforward one, pod by pod.

``policy.engine = "reference"`` runs the plain computation (filter every node, score the
candidates, FGD's fragmentation recomputed from the device rows); the default ``"fast"`` path
caches per request shape, keeps feasibility with the scores and evaluates fragmentation through
per-device tables. Both run in lockstep on two copies of a fleet with the same random streams,
with churn (earlier placements released), and must agree on every decision: nodes, devices,
milli, CPU, memory, score and reason — or the same refusal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from suanli.scheduler import (
    FleetState,
    NoFit,
    Placement,
    PlacementRequest,
    TypicalPod,
    TypicalPods,
    get_policy,
    policy_names,
)
from suanli.scheduler.policies import fgd
from suanli.sim.fgd import build_fleet, inflate_order, node_rank, pod_requests, typical_pods
from suanli.sim.traces import load_nodes, load_pods

TRACE = Path(__file__).resolve().parents[3] / "shared" / "traces" / "alibaba-gpu-v2023" / "csv"


def _fleet(seed: int, costs: bool = False) -> FleetState:
    rng = np.random.default_rng(seed)
    kinds = [("A100", 8, 96000), ("T4", 2, 32000), ("H800", 8, 128000), ("T4", 4, 64000), ("V100", 1, 8000), ("", 0, 16000)]
    ids, cpu, devs = [], [], []
    for i in range(40):
        m, g, c = kinds[int(rng.integers(len(kinds)))]
        ids.append(f"n{i:03d}")
        cpu.append(c)
        devs.append([m] * g)
    state = FleetState.from_nodes(ids, cpu, devs, fabric=[i // 6 for i in range(40)], site=[i % 2 for i in range(40)],
                                  mem_mib=[200_000] * 40)
    if costs:
        cost = np.where(state.present, rng.choice([1.0, 1.5, 2.0], size=state.dev_model.shape), 0.0)
        state = FleetState(node_ids=state.node_ids, cpu_total_milli=state.cpu_total_milli, cpu_free_milli=state.cpu_free_milli,
                           mem_free_mib=state.mem_free_mib, dev_model=state.dev_model, dev_free_milli=state.dev_free_milli,
                           model_names=state.model_names, fabric=state.fabric, site=state.site, dev_cost=cost)
    return state


def _requests(seed: int, n: int) -> list[PlacementRequest]:
    rng = np.random.default_rng(seed + 100)
    a100, t4, h800 = frozenset({0}), frozenset({1}), frozenset({2})
    shapes = [
        PlacementRequest(cpu_milli=4000),
        PlacementRequest(cpu_milli=0, mem_mib=1000),
        PlacementRequest(cpu_milli=4000, num_devices=1, device_milli=250),
        PlacementRequest(cpu_milli=6000, num_devices=1, device_milli=500),
        PlacementRequest(cpu_milli=3000, num_devices=1, device_milli=810, allowed_models=t4),
        PlacementRequest(cpu_milli=2000, num_devices=1, device_milli=320, allowed_models=a100 | h800),
        PlacementRequest(cpu_milli=12000, num_devices=1),
        PlacementRequest(cpu_milli=24000, num_devices=2, allowed_models=a100),
        PlacementRequest(cpu_milli=48000, num_devices=4),
        PlacementRequest(cpu_milli=80000, num_devices=8, allowed_models=h800),
        PlacementRequest(cpu_milli=1000, num_devices=1, device_milli=100, allowed_sites=frozenset({1})),
        PlacementRequest(whole_node=True, allowed_models=t4),
        PlacementRequest(gang_nodes=2),
        PlacementRequest(spread_devices=10, cpu_milli=1000),
    ]
    weights = np.array([8, 2, 10, 10, 6, 6, 20, 6, 4, 3, 3, 1, 1, 1], dtype=np.float64)
    return [shapes[i] for i in rng.choice(len(shapes), size=n, p=weights / weights.sum()).tolist()]


def _typical() -> TypicalPods:
    return TypicalPods((
        TypicalPod(4000, 1, 250, None, 10), TypicalPod(6000, 1, 500, None, 10), TypicalPod(3000, 1, 810, frozenset({"T4"}), 6),
        TypicalPod(12000, 1, 1000, None, 20), TypicalPod(48000, 4, 1000, None, 4), TypicalPod(4000, 0, 0, None, 8),
    ))


def _key(d: Placement | NoFit) -> tuple[object, ...]:
    if isinstance(d, NoFit):
        return ("nofit", d.reason)
    return (d.nodes, d.devices, d.device_milli, d.cpu_milli, d.mem_mib, d.score, d.reason)


def _lockstep(name: str, state: FleetState, reqs: list[PlacementRequest], seed: int, *, churn: bool,
              tie_rank: np.ndarray | None = None, every: int = 1, **options: object) -> int:
    """Place ``reqs`` with the fast engine, asking the reference engine too on every
    ``every``-th request (it keeps no state of its own, so it may skip requests)."""
    states = [state, state.copy()]
    pols = [get_policy(name, **options), get_policy(name, **options)]
    pols[0].engine = "reference"  # type: ignore[attr-defined]
    for p in pols:
        if tie_rank is not None:
            p.tie_break, p.tie_rank = "rank", tie_rank  # type: ignore[attr-defined]
    assert every == 1 or name != "random"  # skipping would put the random streams out of step
    rngs = [np.random.default_rng(seed), np.random.default_rng(seed)]
    churn_rng = np.random.default_rng(seed + 7)
    live: list[Placement] = []
    placed = 0
    for i, r in enumerate(reqs):
        if churn and live and churn_rng.random() < 0.3:
            gone = live.pop(int(churn_rng.integers(len(live))))
            for s in states:
                s.release(gone)
        fast = pols[1].place(states[1], r, rngs[1])  # type: ignore[attr-defined]
        if i % every == 0:
            ref = pols[0].place(states[0], r, rngs[0])  # type: ignore[attr-defined]
            assert _key(fast) == _key(ref), f"{name}, request {i} ({r}): fast {fast} != reference {ref}"
        if isinstance(fast, Placement):
            for s in states:
                s.apply(fast)
            live.append(fast)
            placed += 1
    assert (states[0].dev_free_milli == states[1].dev_free_milli).all()
    return placed


@pytest.mark.parametrize("name", policy_names())
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_engine_decides_as_reference_with_churn(name, seed, monkeypatch):
    if seed == 1:  # score each distinct node state once even in small batches
        monkeypatch.setattr(fgd, "DEDUPE_MIN_ROWS", 2)
    options = {"typical": _typical()} if name in ("fgd", "fgd+") else {}
    placed = _lockstep(name, _fleet(seed, costs=seed == 3), _requests(seed, 300), seed, churn=True,
                       tie_rank=np.random.default_rng(seed).permutation(40) if seed == 2 else None, **options)
    assert placed > 100


@pytest.mark.parametrize("name", ["fgd", "fgd+"])
def test_fast_engine_with_default_typical_pods(name):
    assert _lockstep(name, _fleet(4), _requests(4, 300), 4, churn=True) > 100


@pytest.mark.skipif(not TRACE.is_dir(), reason="shared traces not present")
@pytest.mark.parametrize("name", ["fgd", "fgd+", "bestfit", "gpupacking"])
@pytest.mark.parametrize("workload,seed,every", [("default", 42, 25), ("gpuspec20", 43, 60)])
def test_fast_engine_decides_as_reference_on_openb(name, workload, seed, every):
    """The FGD protocol on a whole openb pod list (inflated to 130 %, the seed's node priority):
    the reference engine checks every ``every``-th decision, from the empty fleet to saturation."""
    nodes = load_nodes(TRACE / "openb_node_list_gpu_node.csv")
    pods = load_pods(TRACE / f"openb_pod_list_{workload}.csv")
    state = build_fleet(nodes)
    order = inflate_order(pods, seed, 1.3, int(state.dev_total.sum()))
    reqs = pod_requests(pods, state)
    options = {"typical": typical_pods(pods)} if name in ("fgd", "fgd+") else {}
    rank = None if name == "fgd+" else node_rank(state.num_nodes, seed)
    placed = _lockstep(name, state, [reqs[i] for i in order.tolist()], seed, churn=False, tie_rank=rank, every=every,
                       **options)
    assert placed < order.size  # it ran into saturation


@pytest.mark.parametrize("name", policy_names())
def test_fast_engine_same_seed_same_decisions(name):
    def run() -> list[tuple[object, ...]]:
        s, p, rng = _fleet(5), get_policy(name), np.random.default_rng(9)
        out = []
        for r in _requests(5, 200):
            d = p.place(s, r, rng)
            out.append(_key(d))
            if isinstance(d, Placement):
                s.apply(d)
        return out

    assert run() == run()


def test_fast_engine_sees_changes_made_by_hand():
    """Arrays changed by hand and declared with ``touch`` are re-scored (no stale cache)."""
    s = _fleet(6)
    pol = get_policy("fgd")
    rng = np.random.default_rng(0)
    req = PlacementRequest(cpu_milli=1000, num_devices=1, device_milli=500)
    first = pol.place(s, req, rng)
    assert isinstance(first, Placement)
    n = first.nodes[0]
    s.dev_free_milli[n] = 0
    s.touch([n])
    again = pol.place(s, req, rng)
    assert isinstance(again, Placement) and again.nodes[0] != n
    s.dev_free_milli[:] = 0
    s.touch()
    assert isinstance(pol.place(s, req, rng), NoFit)


def test_refusal_words_are_those_of_the_decision_moment():
    """A NoFit explains itself when read, from the free capacity at the decision, not later."""
    s = FleetState.from_nodes(["a"], [8000], [["T4"]])
    pol = get_policy("fgd")
    rng = np.random.default_rng(0)
    first = pol.place(s, PlacementRequest(cpu_milli=1000, num_devices=1, device_milli=600), rng)
    assert isinstance(first, Placement)
    s.apply(first)
    refused = pol.place(s, PlacementRequest(cpu_milli=1000, num_devices=1, device_milli=500), rng)
    assert isinstance(refused, NoFit) and not refused
    s.release(first)  # the device is free again before anyone reads the words
    assert refused.reason.endswith("largest free share: 400")
    assert refused == NoFit(refused.reason)


def test_new_typical_pods_drop_every_cached_score():
    s, rng = _fleet(7), np.random.default_rng(1)
    reqs = _requests(7, 60)
    pol = get_policy("fgd", typical=_typical())
    for r in reqs[:30]:
        d = pol.place(s, r, rng)
        if isinstance(d, Placement):
            s.apply(d)
    other = TypicalPods((TypicalPod(2000, 1, 300, None, 5), TypicalPod(64000, 8, 1000, None, 3)))
    pol.set_typical(other)  # type: ignore[attr-defined]
    fresh = get_policy("fgd", typical=other)
    fresh.engine = "reference"  # type: ignore[attr-defined]
    for r in reqs[30:]:
        a, b = pol.place(s, r, np.random.default_rng(2)), fresh.place(s, r, np.random.default_rng(2))
        assert _key(a) == _key(b)
        if isinstance(a, Placement):
            s.apply(a)


def test_caches_survive_a_trimmed_change_log():
    """More changes than the fleet's log keeps between two requests of one shape: the cache
    falls back to comparing node versions and still decides as the reference."""
    s = _fleet(8)
    fast, ref = get_policy("fgd", typical=_typical()), get_policy("fgd", typical=_typical())
    ref.engine = "reference"  # type: ignore[attr-defined]
    rng = np.random.default_rng(3)
    share = PlacementRequest(cpu_milli=1000, num_devices=1, device_milli=250)
    whole = PlacementRequest(cpu_milli=1000, num_devices=1)
    assert isinstance(fast.place(s, share, rng), Placement)  # the share's cache now exists
    for i in range(8 * s.num_nodes + 1100):  # churn with another shape only; every 40th stays
        d = fast.place(s, whole, rng)
        if isinstance(d, Placement):
            s.apply(d)
            if i % 40:
                s.release(d)
    assert s.changed_since(0, 10**9) is None  # the log was trimmed
    for k in range(20):
        got, want = fast.place(s, share, np.random.default_rng(k)), ref.place(s, share, np.random.default_rng(k))
        assert _key(got) == _key(want)
        if isinstance(got, Placement):
            s.apply(got)


def test_a_refusal_pickles_with_its_words():
    import pickle

    s = FleetState.from_nodes(["a"], [8000], [["T4"]])
    refused = get_policy("fgd").place(s, PlacementRequest(cpu_milli=1000, num_devices=2), np.random.default_rng(0))
    assert isinstance(refused, NoFit)
    back = pickle.loads(pickle.dumps(refused))
    assert back == refused and "largest free block: 1" in back.reason

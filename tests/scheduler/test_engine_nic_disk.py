"""NIC bandwidth and local disk as placement dimensions (issue 15, ENGINE): every policy filters
nodes that lack them, apply/release keep them, and a fleet that does not track them decides as
before."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.errors import ConflictError, ValidationError
from suanli.scheduler import FleetState, NoFit, Placement, PlacementRequest, get_policy, policy_names


def fleet(track: bool = True) -> FleetState:
    return FleetState.from_nodes(
        ["a", "b", "c", "d"], [64000, 32000, 96000, 8000],
        [["A100"] * 8, ["T4"] * 2, ["A100"] * 4, []], fabric=[0, 0, 1, 1],
        nic_mbps=[100_000, 25_000, 10_000, 1_000] if track else None,
        disk_gib=[2000, 500, 4000, 100] if track else None,
    )


@pytest.mark.parametrize("name", policy_names())
def test_every_policy_filters_nodes_without_the_nic(name):
    state = fleet()
    pol = get_policy(name)
    rng = np.random.default_rng(0)
    # only node a has 50 Gbps free
    d = pol.place(state, PlacementRequest(cpu_milli=1000, num_devices=1, nic_mbps=50_000), rng)
    assert isinstance(d, Placement) and d.nodes == (0,) and d.nic_mbps == (50_000,)
    state.apply(d)
    assert int(state.nic_free_mbps[0]) == 50_000
    # a second one still fits on a; a third fits nowhere and says why
    state.apply(pol.place(state, PlacementRequest(cpu_milli=1000, num_devices=1, nic_mbps=50_000), rng))
    nofit = pol.place(state, PlacementRequest(cpu_milli=1000, num_devices=1, nic_mbps=50_000), rng)
    assert isinstance(nofit, NoFit) and "NIC" in nofit.reason and "25000" in nofit.reason


@pytest.mark.parametrize("name", policy_names())
def test_every_policy_filters_nodes_without_the_disk(name):
    state = fleet()
    pol = get_policy(name)
    rng = np.random.default_rng(1)
    d = pol.place(state, PlacementRequest(cpu_milli=1000, disk_gib=3000), rng)  # CPU-only: only c
    assert isinstance(d, Placement) and d.nodes == (2,) and d.disk_gib == (3000,) and d.nic_mbps == ()
    state.apply(d)
    nofit = pol.place(state, PlacementRequest(cpu_milli=1000, disk_gib=2500), rng)
    assert isinstance(nofit, NoFit) and "local disk" in nofit.reason and "2000" in nofit.reason
    state.release(d)
    assert int(state.disk_free_gib[2]) == 4000


def test_untracked_fleet_ignores_the_new_dimensions_and_decides_as_before():
    reqs = [PlacementRequest(cpu_milli=2000, num_devices=1, device_milli=300),
            PlacementRequest(cpu_milli=4000, num_devices=2), PlacementRequest(cpu_milli=1000)] * 5
    for name in policy_names():
        a, b = fleet(track=False), fleet(track=False)
        pa, pb = get_policy(name), get_policy(name)
        ra, rb = np.random.default_rng(4), np.random.default_rng(4)
        for r in reqs:
            da = pa.place(a, r, ra)
            db = pb.place(b, PlacementRequest(**{**r.__dict__, "nic_mbps": 10**9, "disk_gib": 10**9}), rb)
            assert isinstance(da, Placement) and isinstance(db, Placement)
            assert (da.nodes, da.devices) == (db.nodes, db.devices)
            assert da.nic_mbps == () and da.disk_gib == ()
            a.apply(da)
            b.apply(db)
        assert a.nic_free_mbps is None and b.disk_free_gib is None


def test_gang_and_whole_node_take_the_nodes_nic_and_spread_counts_it_per_device():
    state = fleet()
    pol = get_policy("fgd+")
    rng = np.random.default_rng(0)
    d = pol.place(state, PlacementRequest(whole_node=True, nic_mbps=20_000), rng)
    assert isinstance(d, Placement) and d.nodes[0] in (0, 1)
    assert d.nic_mbps == (int(state.nic_free_mbps[d.nodes[0]]),)
    state.apply(d)
    assert int(state.nic_free_mbps[d.nodes[0]]) == 0
    state.release(d)
    # spread: 10 Gbps per device; node c (10 Gbps) holds one device, a holds 8
    s2 = fleet()
    # fabric 0: a holds 8 (100 Gbps), b 2 (25 Gbps); fabric 1: c only 1 (10 Gbps)
    sp = pol.place(s2, PlacementRequest(spread_devices=11, nic_mbps=10_000), rng)
    assert isinstance(sp, NoFit)
    sp = pol.place(s2, PlacementRequest(spread_devices=10, nic_mbps=10_000), rng)
    assert isinstance(sp, Placement) and sum(sp.nic_mbps) == 100_000
    s2.apply(sp)
    assert int(s2.nic_free_mbps[0]) == 100_000 - 10_000 * len(sp.devices[sp.nodes.index(0)])


def test_spread_limited_by_nic():
    state = fleet()
    pol = get_policy("bestfit")
    rng = np.random.default_rng(0)
    # fabric 1: node c has 4 devices but 10 Gbps: at 5 Gbps per device only 2 fit
    r = PlacementRequest(spread_devices=3, nic_mbps=5_000, allowed_models=frozenset({0}))
    d = pol.place(state, r, rng)
    assert isinstance(d, Placement) and all(n in (0, 1) for n in d.nodes)


def test_apply_refuses_more_nic_than_free_and_changes_nothing():
    state = fleet()
    p = Placement((1,), ((0,),), ((1000,),), (1000,), (0,), 0.0, "t", nic_mbps=(30_000,))
    with pytest.raises(ConflictError, match="NIC"):
        state.apply(p)
    assert int(state.nic_free_mbps[1]) == 25_000 and int(state.dev_free_milli[1, 0]) == 1000
    bad = Placement((1,), ((0,),), ((1000,),), (1000,), (0,), 0.0, "t", disk_gib=(1, 2))
    with pytest.raises(ConflictError, match="disk_gib"):
        state.apply(bad)


def test_validation():
    with pytest.raises(ValidationError, match="nic_mbps"):
        PlacementRequest(nic_mbps=-1).validate()
    with pytest.raises(ValidationError, match="disk_gib"):
        PlacementRequest(disk_gib=-5).validate()
    with pytest.raises(ValidationError, match="nic_free_mbps"):
        FleetState.from_nodes(["a"], [1000], [["A100"]], nic_mbps=[1, 2])
    with pytest.raises(ValidationError, match="disk_free_gib"):
        FleetState.from_nodes(["a"], [1000], [["A100"]], disk_gib=[-1])
    c = fleet().copy()
    assert c.nic_free_mbps is not None and int(c.disk_free_gib[2]) == 4000


reqs = st.one_of(
    st.builds(PlacementRequest, cpu_milli=st.integers(0, 20000), nic_mbps=st.integers(0, 60_000),
              disk_gib=st.integers(0, 3000)),
    st.builds(PlacementRequest, cpu_milli=st.integers(0, 20000), num_devices=st.just(1),
              device_milli=st.integers(1, 999), nic_mbps=st.integers(0, 30_000)),
    st.builds(PlacementRequest, num_devices=st.integers(1, 4), disk_gib=st.integers(0, 2000)),
    st.builds(PlacementRequest, spread_devices=st.integers(1, 6), nic_mbps=st.integers(0, 20_000)),
)


@settings(max_examples=30, deadline=None)
@given(st.lists(reqs, min_size=1, max_size=20), st.sampled_from(policy_names()), st.integers(0, 3))
def test_never_over_allocates_nic_or_disk(rs, name, seed):
    state = fleet()
    pol = get_policy(name)
    rng = np.random.default_rng(seed)
    held = []
    for r in rs:
        d = pol.place(state, r, rng)
        if isinstance(d, NoFit):
            assert d.reason
            continue
        state.apply(d)
        held.append(d)
        assert (state.nic_free_mbps >= 0).all() and (state.disk_free_gib >= 0).all()
    for d in reversed(held):
        state.release(d)
    assert state.nic_free_mbps.tolist() == [100_000, 25_000, 10_000, 1_000]
    assert state.disk_free_gib.tolist() == [2000, 500, 4000, 100]


@pytest.mark.parametrize("name", ["fgd", "fgd+", "fgd+md"])
@pytest.mark.parametrize("seed", [1, 2])
def test_fast_engine_decides_as_reference_with_memory_and_nic(name, seed):
    """fgd+md's memory/NIC terms (and the other policies' NIC filter) in the fast engine (cached
    per shape and node state) decide as the plain computation, with churn."""
    from suanli.scheduler.frag import TypicalPod, TypicalPods

    rng = np.random.default_rng(seed)
    n = 30
    kinds = [(8, 96000, 400_000, 100_000), (4, 64000, 120_000, 25_000), (2, 32000, 64_000, 10_000)]
    pick = rng.integers(len(kinds), size=n)
    mk = lambda: FleetState.from_nodes(  # noqa: E731
        [f"n{i}" for i in range(n)], [kinds[k][1] for k in pick], [["G"] * kinds[k][0] for k in pick],
        mem_mib=[kinds[k][2] for k in pick], nic_mbps=[kinds[k][3] for k in pick])
    typical = TypicalPods((TypicalPod(8000, 1, 1000, None, 20, "", 30_000, 5_000),
                           TypicalPod(4000, 1, 500, None, 10, "", 16_000, 0),
                           TypicalPod(4000, 0, 0, None, 6, "", 60_000, 0),
                           TypicalPod(32000, 4, 1000, None, 4, "", 100_000, 20_000)))
    shapes = [PlacementRequest(cpu_milli=8000, mem_mib=30_000, num_devices=1, nic_mbps=5_000),
              PlacementRequest(cpu_milli=4000, mem_mib=16_000, num_devices=1, device_milli=500),
              PlacementRequest(cpu_milli=4000, mem_mib=60_000),
              PlacementRequest(cpu_milli=32000, mem_mib=100_000, num_devices=4, nic_mbps=20_000)]
    reqs = [shapes[i] for i in rng.choice(4, size=250, p=[0.5, 0.25, 0.15, 0.1]).tolist()]
    states = [mk(), mk()]
    pols = [get_policy(name, typical=typical), get_policy(name, typical=typical)]
    pols[0].engine = "reference"  # type: ignore[attr-defined]
    rngs = [np.random.default_rng(seed), np.random.default_rng(seed)]
    live: list[Placement] = []
    placed = 0
    for r in reqs:
        if live and rng.random() < 0.3:
            gone = live.pop(int(rng.integers(len(live))))
            for s in states:
                s.release(gone)
        fast = pols[1].place(states[1], r, rngs[1])
        ref = pols[0].place(states[0], r, rngs[0])
        if isinstance(fast, NoFit):
            assert isinstance(ref, NoFit) and fast.reason == ref.reason
            continue
        assert isinstance(ref, Placement)
        assert (fast.nodes, fast.devices, fast.score) == (ref.nodes, ref.devices, ref.score)
        for s in states:
            s.apply(fast)
        live.append(fast)
        placed += 1
    assert placed > 100
    assert (states[0].mem_free_mib == states[1].mem_free_mib).all()

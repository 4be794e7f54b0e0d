"""Engine properties: never over-allocates, respects constraints, deterministic per seed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.errors import ValidationError
from suanli.scheduler import FleetState, NoFit, Placement, PlacementRequest, get_policy, policy_names


def fleet() -> FleetState:
    return FleetState.from_nodes(
        ["a", "b", "c", "d"], [64000, 32000, 96000, 8000],
        [["A100"] * 8, ["T4"] * 2, ["A100"] * 4, []], fabric=[0, 0, 1, 1],
    )


reqs = st.one_of(
    st.builds(PlacementRequest, cpu_milli=st.integers(0, 40000)),
    st.builds(PlacementRequest, cpu_milli=st.integers(0, 20000), num_devices=st.just(1),
              device_milli=st.integers(1, 999)),
    st.builds(PlacementRequest, cpu_milli=st.integers(0, 20000), num_devices=st.integers(1, 8),
              allowed_models=st.sampled_from([None, frozenset({0}), frozenset({1})])),
    st.builds(PlacementRequest, gang_nodes=st.integers(1, 2)),
    st.builds(PlacementRequest, spread_devices=st.integers(1, 12)),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(reqs, min_size=1, max_size=25), st.sampled_from(policy_names()), st.integers(0, 5))
def test_never_over_allocates_and_respects_constraints(rs, name, seed):
    state = fleet()
    pol = get_policy(name)
    rng = np.random.default_rng(seed)
    for r in rs:
        d = pol.place(state, r, rng)
        if isinstance(d, NoFit):
            assert d.reason
            continue
        assert isinstance(d, Placement) and d.reason
        for n, devs, mm in zip(d.nodes, d.devices, d.device_milli, strict=True):
            for dev, m in zip(devs, mm, strict=True):
                assert state.dev_free_milli[n, dev] >= m
                if r.allowed_models is not None:
                    assert int(state.dev_model[n, dev]) in r.allowed_models
        if r.num_devices and not r.spread_devices:
            assert len(d.devices[0]) == r.num_devices
        if r.gang_nodes or r.spread_devices:
            assert len({int(state.fabric[n]) for n in d.nodes}) == 1
        state.apply(d)
        assert (state.dev_free_milli >= 0).all() and (state.cpu_free_milli >= 0).all()


@pytest.mark.parametrize("name", policy_names())
def test_same_seed_same_decisions(name):
    def run():
        s, p, rng = fleet(), get_policy(name), np.random.default_rng(3)
        out = []
        for r in [PlacementRequest(cpu_milli=1000, num_devices=1, device_milli=300)] * 6 + [PlacementRequest(num_devices=2)]:
            d = p.place(s, r, rng)
            if isinstance(d, Placement):
                s.apply(d)
                out.append((d.nodes, d.devices))
        return out

    assert run() == run()


def test_release_restores_state():
    s = fleet()
    before = s.dev_free_milli.copy()
    d = get_policy("fgd").place(s, PlacementRequest(cpu_milli=5000, num_devices=3), np.random.default_rng(0))
    assert isinstance(d, Placement)
    s.apply(d)
    s.release(d)
    assert (s.dev_free_milli == before).all()


def test_nofit_explains():
    d = get_policy("bestfit").place(fleet(), PlacementRequest(num_devices=9, allowed_models=frozenset({0})),
                                    np.random.default_rng(0))
    assert isinstance(d, NoFit)
    assert "9 free devices" in d.reason and "A100" in d.reason and "8" in d.reason


def test_unknown_policy_lists_allowed():
    with pytest.raises(ValidationError) as e:
        get_policy("nope")
    assert "fgd" in e.value.message


def test_cost_breaks_ties():
    s = FleetState.from_nodes(["x", "y"], [8000, 8000], [["A"], ["A"]])
    s.dev_cost = np.array([[2.0], [1.0]])
    for seed in range(5):
        d = get_policy("random").place(s, PlacementRequest(num_devices=1), np.random.default_rng(seed))
        assert isinstance(d, Placement) and d.nodes == (1,)

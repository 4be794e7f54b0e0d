"""fgd+'s best-fit values kept by the fast engine (``FGDPlusPolicy.tie_values``): worked out one
node at a time in Python numbers they are the same doubles as the array computation ``_pick``
uses without the cache, for every kind of request (CPU-only under each ``cpu_only_fit``, shares,
whole devices, whole nodes) on a fleet with partly used nodes."""

from __future__ import annotations

import numpy as np
import pytest

from suanli.scheduler import PlacementRequest, get_policy
from suanli.scheduler.policies.fgdplus import CPU_ONLY_FITS, FGDPlusPolicy
from suanli.sim.scale import mix_typical, synthetic_fleet

REQUESTS = [
    PlacementRequest(cpu_milli=4000),
    PlacementRequest(cpu_milli=250_000),  # more CPU than any node: negative surplus
    PlacementRequest(cpu_milli=3000, num_devices=1, device_milli=810),
    PlacementRequest(cpu_milli=24000, num_devices=2),
    PlacementRequest(whole_node=True),
]


@pytest.mark.parametrize("fit", CPU_ONLY_FITS)
def test_tie_values_of_a_few_rows_equal_the_array_computation(fit: str) -> None:
    state = synthetic_fleet(300, 8, seed=3)
    rng = np.random.default_rng(4)
    # partly used nodes: CPU and device milli taken at random
    state.cpu_free_milli[:] = (state.cpu_total_milli * rng.uniform(0.0, 1.0, state.num_nodes)).astype(np.int64)
    state.dev_free_milli[:] = rng.choice([0, 190, 500, 1000], size=state.dev_free_milli.shape)
    state.touch()
    pol = get_policy("fgd+", typical=mix_typical(), cpu_only_fit=fit)
    assert isinstance(pol, FGDPlusPolicy)
    rows = np.arange(state.num_nodes)
    for req in REQUESTS:
        whole = pol.tie_values(state, req, rows)  # more than a few rows: the arrays
        assert whole is not None
        few = np.concatenate([pol.tie_values(state, req, rows[i : i + 3]) for i in range(0, rows.size, 3)])
        assert few.tobytes() == whole.tobytes(), req
        assert whole.tobytes() == pol._fit_left(state, req, rows).tobytes()


SCORED = [
    PlacementRequest(cpu_milli=4000),
    PlacementRequest(cpu_milli=250_000),  # fits no node
    PlacementRequest(cpu_milli=12000, num_devices=1),
    PlacementRequest(cpu_milli=24000, num_devices=2),
    PlacementRequest(cpu_milli=80000, num_devices=8),
    PlacementRequest(cpu_milli=6000, mem_mib=10**9, num_devices=1),  # memory short everywhere
]


@pytest.mark.parametrize("cpu_weight", [0.5, 0.0])
def test_scores_of_one_node_equal_the_array_computation(cpu_weight: float) -> None:
    """``FGDPlusPolicy.score_one`` (a few missed rows of the memory, in Python numbers) gives the
    same doubles, -inf included, as the arrays of ``refresh_scores`` on partly used nodes."""
    state = synthetic_fleet(300, 8, seed=5)
    rng = np.random.default_rng(6)
    state.cpu_free_milli[:] = (state.cpu_total_milli * rng.uniform(0.0, 1.0, state.num_nodes)).astype(np.int64)
    state.dev_free_milli[:] = rng.choice([0, 190, 500, 810, 1000], size=state.dev_free_milli.shape)
    state.dev_free_milli[:20] = 1000  # a few idle nodes: the 8-device request fits somewhere
    state.cpu_free_milli[:20] = state.cpu_total_milli[:20]
    state.touch()
    pol = get_policy("fgd+", typical=mix_typical(), cpu_weight=cpu_weight)
    assert isinstance(pol, FGDPlusPolicy)
    rows = np.arange(state.num_nodes)
    for req in SCORED:
        arrays, _ = super(type(pol).__mro__[1], pol).refresh_scores(state, req, rows, rng)  # NodeScorePolicy's
        one = np.array([pol.score_one(state, req, n) for n in rows.tolist()], np.float64)
        assert one.tobytes() == arrays.tobytes(), req
        assert np.isfinite(arrays).any() or req.cpu_milli > 128_000 or req.mem_mib > 0


@pytest.mark.parametrize("cpu_weight", [0.5, 0.0])
def test_share_values_of_one_node_equal_the_array_computation(cpu_weight: float) -> None:
    """``FGDPlusPolicy.share_value_one`` gives the same score and code of free values, -inf and -1
    included, as ``FGDPolicy._share_values`` over the arrays, for shares of every size of the mix."""
    state = synthetic_fleet(300, 8, seed=7)
    rng = np.random.default_rng(8)
    state.cpu_free_milli[:] = (state.cpu_total_milli * rng.uniform(0.0, 1.0, state.num_nodes)).astype(np.int64)
    state.dev_free_milli[:] = rng.choice([0, 190, 250, 500, 750, 810, 1000], size=state.dev_free_milli.shape)
    state.touch()
    pol = get_policy("fgd+", typical=mix_typical(), cpu_weight=cpu_weight)
    assert isinstance(pol, FGDPlusPolicy)
    rows = np.arange(state.num_nodes)
    for milli in (250, 500, 810, 190, 999):
        req = PlacementRequest(cpu_milli=4000, num_devices=1, device_milli=milli)
        sc, code = pol._share_values(state, req, rows)
        pairs = [pol.share_value_one(state, req, n) for n in rows.tolist()]
        assert None not in pairs
        one_sc = np.array([p[0] for p in pairs if p is not None], np.float64)
        one_code = np.array([p[1] for p in pairs if p is not None], np.int64)
        assert one_sc.tobytes() == sc.tobytes(), milli
        assert one_code.tobytes() == code.tobytes(), milli
        assert np.isfinite(sc).any() and not np.isfinite(sc).all()

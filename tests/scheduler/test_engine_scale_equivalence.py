"""At the scale of the benchmark (5,000 nodes × 8 devices, the scale run's mix, with churn) the
fast engine makes the reference engine's decisions, one by one.

The fleet is first filled by the fast engine alone (the reference keeps no state of its own);
then, with earlier placements released at random whenever more than ``TARGET`` of the GPUs are
taken (the churn of :func:`suanli.sim.scale.run_scale`), every request is asked of both engines
on the same fleet with copies of the same random stream: nodes, devices, milli, CPU, memory,
score and reason must be equal, or the same refusal.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from suanli.scheduler import NodeScorePolicy, NoFit, Placement, get_policy
from suanli.scheduler.policies import fgd
from suanli.sim.fgd import node_rank
from suanli.sim.scale import MIX, mix_typical, synthetic_fleet

NODES = 5000
#: a lower fill than the benchmark's 0.85 so that the churn starts after a few thousand requests
TARGET = 0.12
FILL = 6000
COMPARED = 1000


def _key(d: Placement | NoFit) -> tuple[object, ...]:
    if isinstance(d, NoFit):
        return ("nofit", d.reason)
    return (d.nodes, d.devices, d.device_milli, d.cpu_milli, d.mem_mib, d.score, d.reason)


@pytest.mark.parametrize(("name", "rank"), [("fgd", True), ("fgd+", False)])
def test_fast_engine_decides_as_reference_at_5000_nodes_with_churn(name: str, rank: bool) -> None:
    assert _lockstep(name, rank, NODES, FILL, COMPARED) > COMPARED // 2


@pytest.mark.parametrize("name", ["fgd", "fgd+"])
def test_memory_of_scores_starting_again_keeps_the_decisions(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MEMO_MAX_STATES distinct node keys the memory starts again (here every few requests)."""
    monkeypatch.setattr(fgd, "MEMO_MAX_STATES", 60)
    assert _lockstep(name, False, 200, 700, 600, target=0.5) > 200


def _lockstep(name: str, rank: bool, nodes: int, fill: int, compared: int, target: float = TARGET) -> int:
    """Fill with the fast engine alone, then compare every request; returns the releases while compared."""
    state = synthetic_fleet(nodes, 8, seed=7)
    fast, ref = get_policy(name, typical=mix_typical()), get_policy(name, typical=mix_typical())
    assert isinstance(fast, NodeScorePolicy) and isinstance(ref, NodeScorePolicy)
    ref.engine = "reference"
    if rank:
        for p in (fast, ref):
            p.tie_break, p.tie_rank = "rank", node_rank(nodes, 7)
    rng = np.random.default_rng(8)
    probs = np.array([w for _, w in MIX])
    draws = rng.choice(len(MIX), size=fill + compared, p=probs / probs.sum()).tolist()
    cap = float(state.dev_total.sum())
    live: list[Placement] = []
    used = released = done = 0
    for i, shape in enumerate(draws):
        while live and used > target * cap:
            j = int(rng.integers(len(live)))
            gone = live[j]
            live[j] = live[-1]
            live.pop()
            state.release(gone)
            used -= gone.gpu_milli
            released += i >= fill
        req = MIX[shape][0]
        if i >= fill:
            twin = copy.deepcopy(rng)
            expected = ref.place(state, req, twin)
        d = fast.place(state, req, rng)
        if i >= fill:
            assert _key(d) == _key(expected), f"{name}, request {i} ({req}): fast {d} != reference {expected}"
            assert rng.bit_generator.state == twin.bit_generator.state  # same draws from the stream
            done += 1
        if isinstance(d, Placement):
            state.apply(d)
            live.append(d)
            used += d.gpu_milli
    assert done == compared
    return released

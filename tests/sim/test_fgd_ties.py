"""Tie-breaking of the artifact policies in the FGD protocol.

The artifact (``pkg/simulator/simulator.go``, ``syncClusterResourceList``) sorts the nodes by
name, draws ``rand.Perm`` once per run and renames node ``i`` to ``"%04d-" % perm[i] + name``;
kube-scheduler's ``selectHost`` then keeps the lexicographically smallest of the best nodes. So
among tied nodes the one with the lowest permutation index wins, consistently for the whole run.
"""

from __future__ import annotations

import numpy as np

from suanli.scheduler import FleetState, Placement, PlacementRequest, get_policy
from suanli.sim.fgd import node_rank, run_fgd
from suanli.sim.traces import load_nodes, load_pods


def _fleet(n: int) -> FleetState:
    return FleetState.from_nodes([f"n{i}" for i in range(n)], [32_000] * n, [["T4", "T4"]] * n)


def _place(pol: object, state: FleetState, req: PlacementRequest) -> int:
    d = pol.place(state, req, np.random.default_rng(0))  # type: ignore[attr-defined]
    assert isinstance(d, Placement)
    state.apply(d)
    return d.nodes[0]


def test_rank_tie_break_follows_priority_not_index():
    state = _fleet(4)
    pol = get_policy("gpupacking")
    pol.tie_break = "rank"  # type: ignore[attr-defined]
    pol.tie_rank = np.array([3, 1, 0, 2])  # type: ignore[attr-defined]
    share = PlacementRequest(cpu_milli=1000, num_devices=1, device_milli=500)
    # all four nodes are idle and score alike (max(33 − 2, 2) = 31): the lowest rank wins
    assert _place(pol, state, share) == 2
    # a used GPU with 500 free scores 95 > 31: packing keeps it there
    assert _place(pol, state, PlacementRequest(cpu_milli=1000, num_devices=1, device_milli=300)) == 2
    # CPU-only pods score 0 everywhere: the priority alone decides
    assert _place(pol, state, PlacementRequest(cpu_milli=1000)) == 2
    # a whole GPU: node 2 still has one idle GPU (used node, max(50 − 1, 33) = 49 > 31)
    assert _place(pol, state, PlacementRequest(cpu_milli=1000, num_devices=1)) == 2
    # node 2 is out of GPUs; among the idle nodes the next rank (node 1) wins, not node 0
    assert _place(pol, state, PlacementRequest(cpu_milli=1000, num_devices=1)) == 1


def test_first_tie_break_is_node_order():
    state = _fleet(4)
    pol = get_policy("bestfit")
    pol.tie_break = "first"  # type: ignore[attr-defined]
    assert _place(pol, state, PlacementRequest(cpu_milli=1000)) == 0


def test_node_rank_is_a_permutation_fixed_per_seed():
    a, b, c = node_rank(50, 42), node_rank(50, 42), node_rank(50, 43)
    assert sorted(a.tolist()) == list(range(50))
    assert (a == b).all() and not (a == c).all()


def test_protocol_breaks_ties_by_the_seeds_node_rank(tmp_path, monkeypatch):
    nodes = tmp_path / "nodes.csv"
    nodes.write_text("sn,cpu_milli,memory_mib,gpu,model\n" + "".join(f"node-{i:02d},32000,1000,2,T4\n" for i in range(12)))
    pods = tmp_path / "pods.csv"
    pods.write_text("name,cpu_milli,num_gpu,gpu_milli\np0,1000,1,500\n")
    seen: list[int] = []
    orig = FleetState.apply

    def spy(self: FleetState, d: Placement) -> None:
        seen.append(d.nodes[0])
        orig(self, d)

    monkeypatch.setattr(FleetState, "apply", spy)
    rank = node_rank(12, 44)
    assert int(np.argmin(rank)) != 0  # the case must separate "rank" from "first"
    for policy in ("bestfit", "gpupacking", "gpuclustering", "dotprod", "fgd"):
        seen.clear()
        run = run_fgd(load_nodes(nodes), load_pods(pods), policy, 44, ratio=0.0)
        # one pod on an idle fleet of identical nodes: every node ties, the rank-0 node takes it
        assert run.placed == 1 and seen == [int(np.argmin(rank))], policy
    seen.clear()
    run_fgd(load_nodes(nodes), load_pods(pods), "bestfit", 44, ratio=0.0, tie_break="first")
    assert seen == [0]

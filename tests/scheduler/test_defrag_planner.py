"""The pure defragmentation planner: frees whole GPUs / nodes with few moves, never moves what is not
migratable, keeps each moved placement's constraints, and leaves a feasible fleet."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.scheduler import FleetState, Placement, PlacementRequest
from suanli.scheduler.base import feasible_nodes
from suanli.scheduler.defrag import Movable, plan_defrag


def fleet(n: int = 3, gpus: int = 4, model: str = "A100") -> FleetState:
    return FleetState.from_nodes([f"n{i}" for i in range(n)], [64000] * n, [[model] * gpus] * n)


def put(state: FleetState, node: int, dev: int, milli: int, cpu: int = 1000) -> Placement:
    p = Placement((node,), ((dev,),), ((milli,),), (cpu,), (0,), 0.0, "test")
    state.apply(p)
    return p


def share(milli: int, cpu: int = 1000, models: frozenset[int] | None = None) -> PlacementRequest:
    return PlacementRequest(cpu_milli=cpu, num_devices=1, device_milli=milli, allowed_models=models)


def scattered() -> tuple[FleetState, list[Movable]]:
    """Three 4-GPU nodes, each with two half-GPU jobs on two devices: no node has 4 idle GPUs."""
    st_ = fleet()
    mv = []
    for n in range(3):
        for d in range(2):
            mv.append(Movable(f"j{n}{d}", put(st_, n, d, 500), share(500)))
    return st_, mv


def test_frees_a_node_for_a_four_gpu_request_with_fewest_moves() -> None:
    state, mv = scattered()
    target = PlacementRequest(cpu_milli=4000, num_devices=4)
    assert not feasible_nodes(state, target).any()
    before = state.dev_free_milli.copy()
    plan = plan_defrag(state, mv, [target])
    assert np.array_equal(state.dev_free_milli, before)  # the caller's state is untouched
    assert len(plan.moves) == 2 and plan.targets[0].freed
    work = state.copy()
    for m in plan.moves:
        work.release(m.old)
        work.apply(m.new)
        assert m.new.nodes[0] != plan.targets[0].placement.nodes[0]  # type: ignore[union-attr]
        assert m.new.device_milli == m.old.device_milli
    assert plan.targets[0].placement is not None
    work.apply(plan.targets[0].placement)  # feasible after the moves


def test_never_moves_what_is_not_migratable() -> None:
    state, mv = scattered()
    plan = plan_defrag(state, [], [PlacementRequest(num_devices=4)])
    assert plan.moves == () and not plan.targets[0].freed
    # only node 0's jobs are migratable: node 0 is the one freed, its jobs go to nodes 1/2
    plan = plan_defrag(state, mv[:2], [PlacementRequest(num_devices=4)])
    assert plan.targets[0].placement is not None and plan.targets[0].placement.nodes == (0,)
    assert {m.key for m in plan.moves} == {"j00", "j01"}


def test_moves_keep_allowed_models() -> None:
    state = FleetState.from_nodes(["a", "b", "c"], [64000] * 3, [["A100"] * 2, ["A100"] * 2, ["T4"] * 2])
    a100 = frozenset({0})
    m0 = Movable("x", put(state, 0, 0, 500), share(500, models=a100))
    put(state, 1, 0, 500)  # not migratable: node b can't be freed
    # x may only go to an A100: node b (the T4 node c is free but not allowed)
    plan = plan_defrag(state, [m0], [PlacementRequest(num_devices=2, allowed_models=a100)])
    assert plan.targets[0].freed
    assert plan.moves[0].new.nodes == (1,)
    # if b has no room, x can't move (node c is of the wrong model): nothing is freed
    state.apply(Placement((1,), ((1,),), ((1000,),), (0,), (0,), 0.0, "fill"))
    state.apply(Placement((1,), ((0,),), ((500,),), (0,), (0,), 0.0, "fill"))
    plan = plan_defrag(state, [m0], [PlacementRequest(num_devices=2, allowed_models=a100)])
    assert not plan.targets[0].freed and plan.moves == ()


def test_whole_node_and_gang() -> None:
    state, mv = scattered()
    plan = plan_defrag(state, mv, [PlacementRequest(whole_node=True)])
    assert plan.targets[0].freed and len(plan.moves) == 2
    state2, mv2 = scattered()
    state2.fabric[:] = 0
    plan = plan_defrag(state2, mv2, [PlacementRequest(gang_nodes=2)])
    assert plan.targets[0].freed and len(plan.targets[0].placement.nodes) == 2  # type: ignore[union-attr]
    assert len(plan.moves) == 4  # two jobs per node, each to the third node


def test_a_target_that_fits_needs_no_move() -> None:
    state = fleet()
    plan = plan_defrag(state, [], [PlacementRequest(num_devices=4)])
    assert plan.targets[0].freed and plan.moves == () and not plan.helps


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.sampled_from([250, 500, 1000]), st.booleans()),
                min_size=1, max_size=14),
       st.sampled_from([2, 4]), st.booleans())
def test_plans_are_feasible_and_move_only_migratable(jobs: list[tuple[int, int, int, bool]], k: int, whole: bool) -> None:
    state = fleet(4)
    movables = []
    fixed_keys = set()
    for i, (n, d, milli, mig) in enumerate(jobs):
        if state.dev_free_milli[n, d] < milli:
            continue
        p = put(state, n, d, milli)
        if mig:
            movables.append(Movable(f"k{i}", p, share(milli)))
        else:
            fixed_keys.add(f"k{i}")
    target = PlacementRequest(whole_node=True) if whole else PlacementRequest(cpu_milli=1000, num_devices=k)
    plan = plan_defrag(state, movables, [target])
    work = state.copy()
    keys = [m.key for m in plan.moves]
    assert len(keys) == len(set(keys)) and not set(keys) & fixed_keys
    for m in plan.moves:
        work.release(m.old)
    for m in plan.moves:
        work.apply(m.new)  # raises if the plan oversubscribes a device
        assert len(m.new.nodes) == 1 and m.new.device_milli == m.old.device_milli
    if plan.targets[0].placement is not None:
        work.apply(plan.targets[0].placement)
    assert (work.dev_free_milli >= 0).all()

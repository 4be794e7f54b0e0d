"""fgd+: the LP prices of device shares, the gap choice they lead to, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from suanli.errors import ValidationError
from suanli.scheduler import FleetState, Placement, PlacementRequest, TypicalPod, TypicalPods, get_policy
from suanli.scheduler.policies.fgdplus import (
    LargeSpecs,
    Reservation,
    exclusive_specs,
    large_specs,
    lp_gap_waste,
    scarcity,
    scarcity_weighted,
)
from suanli.scheduler.policies.shareprices import gap_potential, share_prices


def _dual_feasible(sizes: list[int], y: np.ndarray) -> float:
    """Largest total price of shares that fit on one device (≤ 1 for a feasible dual)."""
    return float(gap_potential(np.array(sizes), y)[1000])


def test_prices_of_a_share_that_only_fills_waste_is_zero():
    # ten 810s for every 160: every 810 needs its own device; the 160 only fills a 190 gap
    y = share_prices(np.array([160, 810]), np.array([1.0, 10.0]))
    assert y[1] == pytest.approx(1.0)
    assert y[0] == pytest.approx(0.0)
    # strong duality: the dual objective is the optimal fractional number of devices (10 of 11 items)
    assert float(np.dot(y, [1 / 11, 10 / 11])) == pytest.approx(10 / 11)


def test_prices_of_partners_add_up_to_one_device():
    sizes = [320, 470, 650]
    y = share_prices(np.array(sizes), np.array([1.0, 2.0, 1.0]))
    # optimum: one device for 650+320, one for 470+470 -> 2 devices for 4 items, i.e. 0.5 per item
    assert y[1] == pytest.approx(0.5)
    assert y[0] + y[2] == pytest.approx(1.0)
    assert float(np.dot(y, [0.25, 0.5, 0.25])) == pytest.approx(0.5)
    assert _dual_feasible(sizes, y) <= 1.0 + 1e-9


def test_gap_waste_values():
    typ = TypicalPods(
        (
            TypicalPod(4000, 1, 810, None, 10),
            TypicalPod(4000, 1, 160, None, 1),
            TypicalPod(4000, 1, 650, None, 3),
            TypicalPod(4000, 1, 320, None, 3),
            TypicalPod(8000, 1, 1000, None, 20),
        )
    )
    w = lp_gap_waste(typ)
    assert w[1000] == pytest.approx(0.0)  # an idle device is filled by the mix
    assert w[190] == pytest.approx(190.0)  # the 160s are worth nothing: a 190 gap stays empty
    assert w[350] == pytest.approx(350 - 1000 * share_prices(np.array([160, 320, 650, 810]), np.array([1, 3, 3, 10.0]))[1])
    assert w[350] < 50  # a 320 completes it
    assert w[0] == 0.0


#: the shares of the openb ``default`` typical-pod set (milli: count), with whole devices and CPU-only pods
DEFAULT_SHARES = {810: 1047, 470: 748, 650: 237, 320: 304, 230: 122, 460: 120, 590: 75, 550: 72, 160: 54, 370: 45, 220: 43}


def _mix() -> TypicalPods:
    pods = [TypicalPod(4000, 1, m, None, c) for m, c in DEFAULT_SHARES.items()]
    return TypicalPods((*pods, TypicalPod(11300, 1, 1000, None, 3000), TypicalPod(12500, 0, 0, None, 1000)))


def _half_used_node() -> FleetState:
    # one node, four devices: a 650 on device 0 (350 free), a 470 on device 1 (530 free), two idle
    s = FleetState.from_nodes(["n"], [64000], [["A"] * 4])
    for dev, milli in ((0, 650), (1, 470)):
        s.apply(Placement((0,), ((dev,),), ((milli,),), (4000,), (0,), 0.0, "setup"))
    return s


def test_default_mix_prices():
    sizes = np.array(sorted(DEFAULT_SHARES))
    y = dict(zip(sizes.tolist(), share_prices(sizes, np.array([DEFAULT_SHARES[int(x)] for x in sizes], float)).tolist(), strict=True))
    assert y[810] == pytest.approx(1.0) and y[160] == pytest.approx(0.0)  # 810s alone; 160s only fill their gaps
    assert y[470] == pytest.approx(0.5)  # 470 + 470
    assert y[650] + y[320] == pytest.approx(1.0)  # 650 + 320


def test_a_320_completes_the_650_and_a_230_leaves_it_alone():
    rng = np.random.default_rng(0)
    pol = get_policy("fgd+", typical=_mix())
    w = lp_gap_waste(_mix())
    s = _half_used_node()
    d = pol.place(s, PlacementRequest(cpu_milli=4000, num_devices=1, device_milli=320), rng)
    assert isinstance(d, Placement) and d.devices == ((0,),)  # 350 -> 30
    # a 230 in the 350 gap would leave 120 that no share of the mix fills, where a 320 would
    # have left 30; in the 530 gap (-> 300, a 230 or 220 completes it) or on an idle device it
    # costs less of the mix's potential
    assert w[120] - w[350] > max(w[300] - w[530], w[770] - w[1000]) + 50
    s = _half_used_node()
    d = pol.place(s, PlacementRequest(cpu_milli=4000, num_devices=1, device_milli=230), rng)
    assert isinstance(d, Placement) and d.devices != ((0,),)


def test_same_stream_same_decisions_twice():
    def run() -> list[tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]]:
        s = FleetState.from_nodes([f"n{i}" for i in range(12)], [32000] * 12, [["A"] * 4] * 12)
        pol = get_policy("fgd+", typical=_mix())
        draw = np.random.default_rng(5)
        rng = np.random.default_rng(11)
        shapes = [(4000, 1, 810), (4000, 1, 650), (4000, 1, 320), (4000, 1, 470), (4000, 1, 230), (8000, 1, 1000), (4000, 0, 0)]
        out = []
        for _ in range(150):
            cpu, num, milli = shapes[int(draw.integers(len(shapes)))]
            d = pol.place(s, PlacementRequest(cpu_milli=cpu, num_devices=num, device_milli=milli if num else 1000), rng)
            if isinstance(d, Placement):
                s.apply(d)
                out.append((d.nodes, d.devices))
        return out

    first = run()
    assert len(first) > 50
    assert first == run()


def test_unknown_fill_mode_is_refused():
    with pytest.raises(ValidationError) as e:
        get_policy("fgd+", fill_mode="magic")
    assert "lp" in e.value.message and "lookahead" in e.value.message


def _cpu_fleet() -> FleetState:
    # a: 8 idle GPUs, 90 cores (its GPUs need 80 at 10 cores per GPU: 10 cores of surplus);
    # b and c: GPUs all taken, 40 and 20 cores free
    s = FleetState.from_nodes(["a", "b", "c"], [90000, 40000, 20000], [["A"] * 8, ["A"] * 2, ["A"] * 2])
    for n in (1, 2):
        s.apply(Placement((n,), ((0, 1),), ((1000, 1000),), (0,), (0,), 0.0, "setup"))
    return s


@pytest.mark.parametrize("fit", ["surplus", "spread"])
def test_cpu_only_pods_keep_large_cpu_blocks(fit):
    typical = TypicalPods((TypicalPod(10000, 1, 1000, None, 100), TypicalPod(16000, 0, 0, None, 20)))
    pol = get_policy("fgd+", typical=typical, cpu_only_fit=fit)
    s = _cpu_fleet()
    rng = np.random.default_rng(0)
    first = pol.place(s, PlacementRequest(cpu_milli=16000), rng)
    assert isinstance(first, Placement)
    s.apply(first)
    second = pol.place(s, PlacementRequest(cpu_milli=32000), rng)
    assert isinstance(second, Placement)
    if fit == "surplus":
        # 16 cores fit c's 20 most tightly; b keeps 40 for the 32-core pod; a's GPUs keep their CPU
        assert first.nodes == (2,) and second.nodes == (1,)
    else:
        # spreading takes b (most CPU left); the 32-core pod then only fits a and strands GPUs
        assert first.nodes == (1,) and second.nodes == (0,)


def test_unknown_cpu_only_fit_is_refused():
    with pytest.raises(ValidationError) as e:
        get_policy("fgd+", cpu_only_fit="worst")
    assert "surplus" in e.value.message and "spread" in e.value.message


# ---------------------------------------------------------------- restricted and rare specs
def _two_model_fleet() -> FleetState:
    # model A: 3 nodes × 4 devices, 64 cores; model B: 1 node × 4 devices, 128 cores
    return FleetState.from_nodes(["a0", "a1", "a2", "b0"], [64000, 64000, 64000, 128000], [["A"] * 4] * 3 + [["B"] * 4])


def test_scarcity_is_the_fleet_over_the_devices_that_can_host_the_pod():
    s = _two_model_fleet()
    typ = TypicalPods((
        TypicalPod(8000, 1, 1000, None, 10),  # anywhere: 16 / 16
        TypicalPod(8000, 1, 500, frozenset({"B"}), 2),  # B only: 16 / 4
        TypicalPod(96000, 1, 1000, None, 1),  # CPU only B has: 16 / 4
        TypicalPod(8000, 8, 1000, None, 1),  # no node has 8 devices: unchanged
        TypicalPod(4000, 0, 0, None, 5),  # CPU-only: unchanged
    ))
    assert scarcity(typ, s).tolist() == [1.0, 4.0, 4.0, 1.0, 1.0]
    w = scarcity_weighted(typ, s, 1.0)
    assert [p.count for p in w.pods] == [10, 8, 4, 1, 5]
    assert scarcity_weighted(typ, s, 0.0) is typ


def test_exclusive_specs_are_the_rare_ones_few_nodes_can_host():
    s = _two_model_fleet()
    typical = TypicalPods((TypicalPod(8000, 1, 1000, None, 100),))
    every = TypicalPods((
        TypicalPod(8000, 1, 1000, None, 100),  # already typical
        TypicalPod(8000, 1, 1000, frozenset({"B"}), 1),  # rare, B only (scarcity 4)
        TypicalPod(8000, 2, 1000, frozenset({"A", "B"}), 1),  # rare, anywhere (scarcity 1)
        TypicalPod(4000, 0, 0, None, 1),  # CPU-only: never
    ))
    got = exclusive_specs(typical, every, s, 2.0)
    assert [(p.num_devices, p.allowed_models) for p in got.pods] == [(1, frozenset({"B"}))]
    assert exclusive_specs(typical, every, s, 5.0).pods == ()


def test_reservation_price_rises_as_the_restricted_model_fills():
    s = _two_model_fleet()
    every = TypicalPods((TypicalPod(8000, 1, 1000, None, 80), TypicalPod(8000, 1, 1000, frozenset({"B"}), 20)))
    r = Reservation(every, s)
    b = s.model_names.index("B")
    a = s.model_names.index("A")
    p0 = r.price(s, None)
    # 20 % of the demand may only use B, which holds 25 % of the free devices
    assert p0[a] == 0.0 and p0[b] == pytest.approx(0.2 * 16 / 4)
    # a request that may only use B takes nothing from B's own demand
    assert r.price(s, frozenset({b})).tolist() == [0.0] * len(p0)
    # two of B's devices taken: B's share of what is free falls, its price rises
    s.apply(Placement((3,), ((0, 1),), ((1000, 1000),), (8000,), (0,), 0.0, "setup"))
    assert r.price(s, None)[b] == pytest.approx(0.2 * 14 / 2)


def test_an_unrestricted_pod_leaves_the_model_restricted_pods_need():
    # seven A nodes short of CPU (40 cores for 4 devices), one CPU-rich B node; a fifth of the
    # demand may only run on B. A model-blind fgd+ sends the CPU-heavy pod to B (it strands no
    # GPU there); with the scarcity weights and the reservation price it stays on A.
    s = FleetState.from_nodes([f"a{i}" for i in range(7)] + ["b0"], [40000] * 7 + [128000], [["A"] * 4] * 7 + [["B"] * 4])
    typical = TypicalPods((TypicalPod(24000, 1, 1000, None, 80), TypicalPod(8000, 1, 1000, frozenset({"B"}), 20)))
    req = PlacementRequest(cpu_milli=24000, num_devices=1)
    d = get_policy("fgd+", typical=typical).place(s, req, np.random.default_rng(0))
    assert isinstance(d, Placement) and d.nodes == (0,)
    blind = get_policy("fgd+", typical=typical, scarcity=0.0, reserve_weight=0.0)
    d = blind.place(s, req, np.random.default_rng(0))
    assert isinstance(d, Placement) and d.nodes == (7,)


def test_cpu_only_pods_keep_idle_nodes_whole():
    # a: all 8 devices idle, 10 cores of surplus (the tightest fit for 8 cores); c: devices taken
    typical = TypicalPods((TypicalPod(10000, 1, 1000, None, 100), TypicalPod(8000, 0, 0, None, 20)))
    s = _cpu_fleet()
    d = get_policy("fgd+", typical=typical).place(s, PlacementRequest(cpu_milli=8000), np.random.default_rng(0))
    assert isinstance(d, Placement) and d.nodes == (2,)  # c (20 cores), not the idle 8-device node
    d = get_policy("fgd+", typical=typical, cpu_only_fit="surplus").place(s, PlacementRequest(cpu_milli=8000),
                                                                           np.random.default_rng(0))
    assert isinstance(d, Placement) and d.nodes == (0,)


def test_set_typical_rebuilds_the_terms():
    pol = get_policy("fgd+", typical=_mix())
    other = TypicalPods((TypicalPod(4000, 1, 500, None, 10), TypicalPod(8000, 1, 1000, frozenset({"B"}), 5)))
    pol.set_typical(other)  # type: ignore[attr-defined]
    fresh = get_policy("fgd+", typical=other)
    assert np.array_equal(pol.fill, fresh.fill)  # type: ignore[attr-defined]
    assert pol.base_typical == fresh.base_typical  # type: ignore[attr-defined]
    s = _two_model_fleet()
    req = PlacementRequest(cpu_milli=4000, num_devices=1)
    rng = np.random.default_rng(0)
    a, b = pol.place(s, req, rng), fresh.place(s, req, rng)
    assert isinstance(a, Placement) and isinstance(b, Placement) and a.nodes == b.nodes


# ---------------------------------------------------------------- large specs (cpu300)
def _large_fleet() -> FleetState:
    # a: 8 idle devices, 96 cores; b: 8 devices, 2 taken with 56 of its 96 cores (6 idle, 40 cores free)
    s = FleetState.from_nodes(["a", "b"], [96000, 96000], [["A"] * 8, ["A"] * 8])
    s.apply(Placement((1,), ((0, 1),), ((1000, 1000),), (56000,), (0,), 0.0, "setup"))
    return s


_SMALL = TypicalPod(10000, 1, 1000, None, 100)
_BIG = TypicalPod(88000, 8, 1000, None, 1)  # 1 pod of 108 GPUs' demand: 7.4 %


def test_large_specs_are_rare_by_count_but_large_by_demand():
    typical = TypicalPods((_SMALL,))
    every = TypicalPods((_SMALL, _BIG, TypicalPod(8000, 1, 500, None, 1), TypicalPod(4000, 0, 0, None, 50)))
    assert large_specs(typical, every, 0.01).pods == (_BIG,)
    assert large_specs(typical, every, 0.1).pods == ()  # 7.4 % < 10 %
    assert large_specs(TypicalPods((_SMALL, _BIG)), every, 0.01).pods == ()  # already typical
    assert large_specs(typical, every, 0.0).pods == ()


def test_large_spec_term_counts_the_idle_milli_of_the_node_a_cpu_only_pod_breaks():
    s = _large_fleet()
    term = LargeSpecs(TypicalPods((_BIG,)), s, 4.0)
    rows = np.array([0, 1])
    # 12 cores on a leave 84 < 88: its 8,000 idle milli become fragment for the spec; b never held it
    assert term.broken(s, PlacementRequest(cpu_milli=12000), rows).tolist() == [4.0 * 8000, 0.0]
    # 8 cores leave 88: still fits
    assert term.broken(s, PlacementRequest(cpu_milli=8000), rows).tolist() == [0.0, 0.0]
    assert LargeSpecs(TypicalPods((_BIG,)), s, 0.0).broken(s, PlacementRequest(cpu_milli=12000), rows).tolist() == [0.0, 0.0]


def test_a_cpu_only_pod_leaves_the_cpu_a_large_spec_needs():
    # without the term the 12-core pod goes to a (its CPU surplus, 16 cores, strands nothing there)
    # and a can no longer hold the 88-core 8-GPU pod; with it the pod strands a little GPU on b
    typical = TypicalPods((_SMALL,))
    every = TypicalPods((_SMALL, _BIG))
    req = PlacementRequest(cpu_milli=12000)
    d = get_policy("fgd+", typical=typical, workload=every).place(_large_fleet(), req, np.random.default_rng(0))
    assert isinstance(d, Placement) and d.nodes == (1,)
    d = get_policy("fgd+", typical=typical, workload=every, large_weight=0.0).place(_large_fleet(), req,
                                                                                    np.random.default_rng(0))
    assert isinstance(d, Placement) and d.nodes == (0,)
    # a GPU pod does not pay the term: one device on a is where it leaves the least stranded
    gpu = PlacementRequest(cpu_milli=10000, num_devices=1)
    d1 = get_policy("fgd+", typical=typical, workload=every).place(_large_fleet(), gpu, np.random.default_rng(0))
    d2 = get_policy("fgd+", typical=typical, workload=every, large_weight=0.0).place(_large_fleet(), gpu,
                                                                                     np.random.default_rng(0))
    assert isinstance(d1, Placement) and isinstance(d2, Placement) and d1.nodes == d2.nodes


def _last_host_fleet(k: int) -> FleetState:
    # a: 8 idle devices, 96 cores (the only node that holds the 88-core 8-GPU spec);
    # b1..bk: 2 devices and 64 of 96 cores taken (6 idle devices, 32 cores free: CPU-short)
    s = FleetState.from_nodes(["a", *(f"b{i}" for i in range(k))], [96000] * (k + 1), [["A"] * 8] * (k + 1))
    for i in range(1, k + 1):
        s.apply(Placement((i,), ((0, 1),), ((1000, 1000),), (64000,), (0,), 0.0, "setup"))
    return s


def test_large_spec_pressure_is_the_idle_milli_over_what_the_hosts_hold():
    s = _last_host_fleet(8)
    assert LargeSpecs(TypicalPods((_BIG,)), s, 4.0).pressure(s).tolist() == [(8000 + 8 * 6000) / 8000]
    assert LargeSpecs(TypicalPods((_BIG,)), s, 4.0, pressure=0.0).pressure(s).tolist() == [1.0]
    # once a holds the spec no more, nothing is left to keep: 1
    s.apply(Placement((0,), ((0,),), ((1000,),), (10000,), (0,), 0.0, "a GPU pod"))
    assert LargeSpecs(TypicalPods((_BIG,)), s, 4.0).pressure(s).tolist() == [1.0]


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_cpu_only_pod_keeps_the_last_large_host_as_it_grows_scarce(engine):
    # a 24-core pod strands GPU on a b node (its 6 idle devices would be left 8 cores); with one
    # b node the large spec has a of 14,000 idle milli (pressure 1.75) and the pod takes a; with
    # eight a is the last of 56,000 (pressure 7) and the pod leaves it whole. Without the
    # pressure (large_pressure=0: the constant weight) it takes a in both.
    typical = TypicalPods((_SMALL,))
    every = TypicalPods((_SMALL, _BIG))
    req = PlacementRequest(cpu_milli=24000)

    def node(k: int, pressure: float) -> tuple[int, ...]:
        pol = get_policy("fgd+", typical=typical, workload=every, large_pressure=pressure)
        pol.engine = engine  # type: ignore[attr-defined]
        d = pol.place(_last_host_fleet(k), req, np.random.default_rng(0))
        assert isinstance(d, Placement)
        return d.nodes

    assert node(1, 1.0) == (0,)
    assert node(8, 1.0) == (1,)
    assert node(8, 0.0) == (0,)


def test_gpu_pods_pay_the_pressure_only_past_the_specs_share():
    s = _last_host_fleet(8)
    term = LargeSpecs(TypicalPods((_BIG,)), s, 4.0, shares=np.array([0.074]))
    # pressure 7 < 1 / 0.074: the hosts still hold more than the spec's part of the demand
    assert term.gpu_factor(s).tolist() == [0.0]
    s = _last_host_fleet(20)
    term = LargeSpecs(TypicalPods((_BIG,)), s, 4.0, shares=np.array([0.074]))
    assert term.gpu_factor(s).tolist() == pytest.approx([16.0 - 1 / 0.074])
    rows = np.arange(s.num_nodes)
    got = term.gpu_broken(s, PlacementRequest(cpu_milli=16000, num_devices=1), rows)
    # only a held the spec; a GPU pod takes one of its 8 devices
    assert got[0] == pytest.approx((16.0 - 1 / 0.074) * 4.0 * 8000) and not got[1:].any()
    assert not LargeSpecs(TypicalPods((_BIG,)), s, 4.0).gpu_broken(s, PlacementRequest(num_devices=1), rows).any()


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_gpu_pod_keeps_the_last_large_host_once_it_is_scarcer_than_the_spec(engine):
    # a 16-core 1-GPU pod strands GPU on a CPU-short b node (32 cores for 6 idle devices at 10
    # cores a device) and none on a, so it takes a; with twenty b nodes a holds 8,000 of
    # 128,000 idle milli (pressure 16), below the spec's 7.4 % of the demand, and the pod
    # leaves it; with eight (pressure 7, a holds 14 %) it takes a; without the term
    # (large_gpu=0) it takes a in both.
    typical = TypicalPods((_SMALL,))
    every = TypicalPods((_SMALL, _BIG))
    req = PlacementRequest(cpu_milli=16000, num_devices=1)

    def node(k: int, large_gpu: float) -> tuple[int, ...]:
        pol = get_policy("fgd+", typical=typical, workload=every, large_gpu=large_gpu)
        pol.engine = engine  # type: ignore[attr-defined]
        d = pol.place(_last_host_fleet(k), req, np.random.default_rng(0))
        assert isinstance(d, Placement)
        return d.nodes

    assert node(8, 1.0) == (0,)
    assert node(20, 1.0) != (0,)
    assert node(20, 0.0) == (0,)


def test_exclusive_specs_of_several_devices_get_the_pressure_only():
    # ten 96-core 8-GPU nodes and one 128-core one: only the last holds a 120-core 8-GPU pod
    # (scarcity 88 / 8 = 11: an exclusive spec, so in the typical set)
    names = [f"n{i}" for i in range(11)]
    s = FleetState.from_nodes(names, [96000] * 10 + [128000], [["A"] * 8] * 11)
    g3 = TypicalPod(120000, 8, 1000, None, 1)
    typical, every = TypicalPods((_SMALL,)), TypicalPods((_SMALL, g3))
    pol = get_policy("fgd+", typical=typical, workload=every)
    pol._bind(s)  # type: ignore[attr-defined]
    large = pol._large  # type: ignore[attr-defined]
    assert large.cpu.tolist() == [120000] and large.const.tolist() == [False]
    off = get_policy("fgd+", typical=typical, workload=every, large_exclusive=False)
    off._bind(s)  # type: ignore[attr-defined]
    assert off._large.cpu.tolist() == []  # type: ignore[attr-defined]
    # no constant part in the cache (FGD's gradient counts the spec); the pick adds p − 1 of it
    rows = np.arange(11)
    req = PlacementRequest(cpu_milli=32000)
    assert not large.broken(s, req, rows).any()
    got = large.scarce(s, req, rows)
    assert got[10] == pytest.approx((88 / 8 - 1) * large.weight[0] * 8000) and not got[:10].any()

"""Multi-resource packing (issue 15): the FGD protocol with pods' memory enforced, fgd+md against
fgd+ and FGD, and ``suanli sim multires``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from suanli.cli.sim import app
from suanli.scheduler import FleetState, PlacementRequest, get_policy
from suanli.scheduler.frag import TypicalPod, TypicalPods
from suanli.sim.fgd import build_fleet, pod_requests, run_fgd, typical_pods
from suanli.sim.multires import summarise
from suanli.sim.traces import NodeTable, PodTable

SEEDS = range(42, 46)
GIB = 1024


def _tables() -> tuple[NodeTable, PodTable]:
    """Two node kinds with the same GPUs and CPU: ``A`` with little memory (128 GiB), ``B`` with
    plenty (512 GiB). Memory-heavy CPU-only pods (96 GiB) on an ``A`` node leave room for only two
    of its four GPUs' pods (16 GiB each): a memory-blind measure sees nothing lost."""
    names, cpu, mem, gpus, model = [], [], [], [], []
    for kind, m, k in (("A", 128, 40), ("B", 512, 40)):
        for i in range(k):
            names.append(f"{kind}{i:03d}")
            cpu.append(64000)
            mem.append(m * GIB)
            gpus.append(4)
            model.append("V100")
    nodes = NodeTable("nodes.csv", names, np.array(cpu), np.array(mem), np.array(gpus), model)
    # (cpu milli, memory GiB, devices, milli per device, weight)
    shapes = [(8000, 16, 1, 1000, 60), (4000, 12, 1, 500, 20), (4000, 96, 0, 0, 12), (16000, 32, 2, 1000, 8)]
    w = np.array([s[4] for s in shapes], float)
    pick = np.random.default_rng(5).choice(len(shapes), size=600, p=w / w.sum())
    rows = [shapes[i] for i in pick]
    pods = PodTable("pod_list_memcase.csv", [f"p{i:04d}" for i in range(len(rows))], np.array([r[0] for r in rows]),
                    np.array([r[1] * GIB for r in rows]), np.array([r[2] for r in rows]),
                    np.array([r[3] for r in rows]), [""] * len(rows), None, None, None)
    return nodes, pods


def _write(tmp: Path, nodes: NodeTable, pods: PodTable) -> tuple[Path, Path]:
    (tmp / "csv").mkdir(parents=True, exist_ok=True)
    n = tmp / "csv" / "openb_node_list_gpu_node.csv"
    n.write_text("sn,cpu_milli,memory_mib,gpu,model\n" + "".join(
        f"{a},{b},{c},{d},{e}\n" for a, b, c, d, e in
        zip(nodes.names, nodes.cpu_milli, nodes.memory_mib, nodes.gpus, nodes.model, strict=True)))
    p = tmp / "csv" / "openb_pod_list_memcase.csv"
    p.write_text("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n" + "".join(
        f"{a},{b},{c},{d},{e},{f}\n" for a, b, c, d, e, f in
        zip(pods.names, pods.cpu_milli, pods.memory_mib, pods.num_gpu, pods.gpu_milli, pods.gpu_spec, strict=True)))
    return n, p


def test_memory_is_enforced_and_counted():
    nodes, pods = _tables()
    free = run_fgd(nodes, pods, "fgd", 42, track_frag=False)
    held = run_fgd(nodes, pods, "fgd", 42, track_frag=False, respect_memory=True)
    # every placed pod's memory is in mem_used, and it never exceeds the fleet's memory
    assert held.mem_capacity_mib == int(nodes.memory_mib.sum()) and held.mem_used_mib is not None
    assert 0 < held.mem_used_mib[-1] <= held.mem_capacity_mib
    assert free.mem_capacity_mib == 0 and np.isnan(free.mem_discrete()).all()
    # the memory constraint turns pods away that the memory-blind protocol placed
    assert held.failed > free.failed
    # CPU allocation: CPU milli of the placed pods over the fleet's CPU
    assert held.cpu_used_milli is not None and held.cpu_capacity_milli == int(nodes.cpu_milli.sum())
    assert 0 < held.cpu_discrete()[100] <= 100


def test_policies_never_overcommit_memory():
    nodes, pods = _tables()
    for name in ("fgd", "fgd+", "fgd+md"):
        state = build_fleet(nodes, respect_memory=True)
        pol = get_policy(name, typical=typical_pods(pods), workload=typical_pods(pods, 1.0))
        rng = np.random.default_rng(0)
        for r in pod_requests(pods, state, respect_memory=True):
            d = pol.place(state, r, rng)
            if d:
                state.apply(d)
        assert (state.mem_free_mib >= 0).all()
        assert (state.mem_free_mib < nodes.memory_mib).any()


def test_typical_pods_carry_the_median_memory_and_only_fgdmd_reads_it():
    t = TypicalPods.from_specs([TypicalPod(1000, 1, 1000, None, 1.0, "", m) for m in (10, 20, 30, 40, 1000)])
    assert len(t.pods) == 1 and t.pods[0].mem_mib == 30 and t.pods[0].count == 5
    state = FleetState.from_nodes(["a", "b"], [64000, 64000], [["X"] * 4, ["X"] * 4], mem_mib=[100, 10_000])
    typical = TypicalPods((TypicalPod(8000, 1, 1000, None, 10.0, "", 64),))
    req = PlacementRequest(cpu_milli=1000, mem_mib=60)  # CPU-only, memory-heavy
    # node a would keep 40 MiB: too little for a typical GPU pod (64), its 4 idle GPUs are stranded
    md = get_policy("fgd+md", typical=typical)
    d = md.place(state, req, np.random.default_rng(0))
    assert d and d.nodes == (1,)
    plus = get_policy("fgd+", typical=typical)
    blind = plus.place(state.copy(), req, np.random.default_rng(0))
    assert blind and blind.nodes == (0,)
    assert plus._bind(state).uses_mem is False and md._bind(state).uses_mem is True  # type: ignore[attr-defined]


def test_fgdmd_beats_the_memory_blind_policies_when_memory_strands_gpus():
    nodes, pods = _tables()
    res = {name: [run_fgd(nodes, pods, name, s, track_frag=False, respect_memory=True) for s in SEEDS]
           for name in ("fgd", "fgd+", "fgd+md")}
    got = {r.policy: r for r in summarise([x for rs in res.values() for x in rs])}
    for name in ("fgd", "fgd+"):
        assert got["fgd+md"].gpu_130 > got[name].gpu_130 + 1.0, (name, got["fgd+md"].gpu_130, got[name].gpu_130)
        assert got["fgd+md"].failed < got[name].failed


def test_cli_multires_prints_sensible_figures(tmp_path: Path):
    nodes, pods = _tables()
    _write(tmp_path, nodes, pods)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["multires", "--trace-dir", str(tmp_path), "--workloads", "memcase",
                                 "--seeds", "42-43", "--workers", "1", "--json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["memory_enforced"] is True and doc["policies"] == ["fgd", "fgd+", "fgd+md"]
    rows = {x["policy"]: x for x in doc["results"]}
    assert set(rows) == {"fgd", "fgd+", "fgd+md"}
    for x in rows.values():
        assert x["seeds"] == 2 and x["workload"] == "memcase"
        assert 0 < x["gpu_alloc_100"] <= x["gpu_alloc_130"] + 0.5 <= 100.5
        assert 0 < x["cpu_alloc_100"] <= 100 and 0 < x["cpu_alloc_130"] <= 100
        assert 0 < x["mem_alloc_130"] <= 100
        assert x["failed_pods"] > 0  # 130 % of the GPU capacity arrived: some must be turned away
    assert doc["best_gpu_130"]["memcase"] == max(rows, key=lambda p: rows[p]["gpu_alloc_130"])
    bins = {b["other"]: b for b in doc["bins"]}
    assert set(bins) == {"fgd", "fgd+"} and all(b["policy"] == "fgd+md" for b in bins.values())
    for other, b in bins.items():
        assert b["gpu_worst_pp"] <= b["gpu_best_pp"] and 0 <= b["gpu_worst_bin"] <= 130
        assert abs(b["cpu_130_pp"] - (rows["fgd+md"]["cpu_alloc_130"] - rows[other]["cpu_alloc_130"])) < 0.01
    curves = (out / "multires_curves.csv").read_text().splitlines()
    assert len(curves) == 1 + 3 * 3 and curves[1].startswith("memcase,fgd,gpu,")
    # the table form names every policy; bad input is refused with the allowed values
    r = CliRunner().invoke(app, ["multires", "--trace-dir", str(tmp_path), "--workloads", "memcase",
                                 "--seeds", "42", "--workers", "1"])
    assert r.exit_code == 0 and "fgd+md" in r.output and "GPU@130%" in r.output and "worst pp" in r.output
    r = CliRunner().invoke(app, ["multires", "--trace-dir", str(tmp_path), "--policies", "nope"])
    assert r.exit_code != 0 and "fgd+md" in r.output


def test_fgdmd_decides_as_fgdplus_when_memory_is_not_enforced():
    nodes, pods = _tables()
    for s in (42, 43):
        a = run_fgd(nodes, pods, "fgd+", s, track_frag=False)
        b = run_fgd(nodes, pods, "fgd+md", s, track_frag=False)
        assert (a.used_milli == b.used_milli).all() and (a.cpu_used_milli == b.cpu_used_milli).all()


def test_fgdmd_counts_gpus_stranded_by_the_nic():
    state = FleetState.from_nodes(["a", "b"], [64000, 64000], [["X"] * 4, ["X"] * 4], nic_mbps=[30_000, 200_000])
    typical = TypicalPods((TypicalPod(8000, 1, 1000, None, 10.0, "", 0, 25_000),))
    req = PlacementRequest(cpu_milli=1000, nic_mbps=10_000)  # CPU-only: on a it leaves 20 Gbps < 25
    md = get_policy("fgd+md", typical=typical)
    d = md.place(state, req, np.random.default_rng(0))
    assert d and d.nodes == (1,)
    assert md._bind(state).uses_nic is True  # type: ignore[attr-defined]
    blind = get_policy("fgd+", typical=typical).place(state.copy(), req, np.random.default_rng(0))
    assert blind and blind.nodes == (0,)  # the NIC-blind measure sees no difference: lowest index
    # without NIC tracking on the fleet the typical pods' NIC is not read
    bare = FleetState.from_nodes(["a"], [64000], [["X"] * 4])
    assert get_policy("fgd+md", typical=typical)._bind(bare).uses_nic is False  # type: ignore[attr-defined]

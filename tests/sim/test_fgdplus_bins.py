"""fgd+ against FGD at every arrival bin on a constructed spec-restricted workload.

The fleet has a large model ``G`` (8 devices, 96 cores), a CPU-rich small model ``T`` (2
devices, 104 cores) and a CPU-poor one ``P`` (2 devices, 16 cores); a fifth of the pods may only
run on ``T`` or ``P``. A model-blind fgd+ (no scarcity weights, no reservation term, CPU-only
pods by CPU surplus alone) sends the CPU-heavy unrestricted pods to the CPU-rich ``T`` nodes and
turns the ``T`` pods away from the first bins on (1.3–1.7 pp below FGD on every seed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from suanli.scheduler import registry
from suanli.scheduler.policies.fgdplus import FGDPlusPolicy
from suanli.sim.compare import TOLERANCE_PP, bin_gap, mean_curve
from suanli.sim.fgd import run_fgd, typical_pods
from suanli.sim.traces import NodeTable, PodTable, load_nodes, load_pods

SEEDS = range(42, 46)


def _tables() -> tuple[NodeTable, PodTable]:
    names, cpu, gpus, model = [], [], [], []
    for m, g, c, k in (("G", 8, 96000, 70), ("T", 2, 104000, 50), ("P", 2, 16000, 14)):
        for i in range(k):
            names.append(f"{m}{i:03d}")
            cpu.append(c)
            gpus.append(g)
            model.append(m)
    nodes = NodeTable("nodes.csv", names, np.array(cpu), np.zeros(len(names), np.int64), np.array(gpus), model)
    # (cpu milli, devices, milli per device, allowed model, weight): shapes of openb's default list,
    # then the restricted ones
    shapes = [(11300, 1, 1000, "", 30), (3152, 1, 810, "", 15), (11908, 1, 470, "", 8), (4000, 1, 320, "", 4),
              (12500, 0, 0, "", 6), (32000, 0, 0, "", 4), (16000, 2, 1000, "", 2),
              (11300, 1, 1000, "T", 8), (3152, 1, 810, "T", 4), (3152, 1, 810, "P", 3)]
    w = np.array([s[4] for s in shapes], float)
    pick = np.random.default_rng(7).choice(len(shapes), size=1000, p=w / w.sum())
    rows = [shapes[i] for i in pick]
    z = np.zeros(len(rows), np.int64)
    pods = PodTable("pod_list_speccase.csv", [f"p{i:04d}" for i in range(len(rows))], np.array([r[0] for r in rows]), z,
                    np.array([r[1] for r in rows]), np.array([r[2] for r in rows]), [r[3] for r in rows], None, None, None)
    return nodes, pods


def _gaps(nodes: NodeTable, pods: PodTable) -> list[float]:
    """Per seed: the worst bin of fgd+ − fgd (pp)."""
    out = []
    for s in SEEDS:
        mine = run_fgd(nodes, pods, "fgd+", s, track_frag=False).discrete()
        theirs = run_fgd(nodes, pods, "fgd", s, track_frag=False).discrete()
        out.append(float(np.nanmin(mine - theirs)))
    return out


def test_fgdplus_keeps_up_with_fgd_at_every_bin_on_a_restricted_mix(monkeypatch: pytest.MonkeyPatch):
    nodes, pods = _tables()
    # as run_fgd builds it: the typical set, and every spec of the list (the rare P-only shares)
    every = typical_pods(pods, 1.0)
    monkeypatch.setitem(registry._REGISTRY, "fgd+", lambda **o: FGDPlusPolicy(**{**o, "workload": every}))
    gaps = _gaps(nodes, pods)
    assert min(gaps) >= 0.0, gaps


def test_the_model_blind_version_loses_on_it(monkeypatch: pytest.MonkeyPatch):
    def blind(**o: Any) -> FGDPlusPolicy:
        o.pop("workload", None)
        return FGDPlusPolicy(**o, scarcity=0.0, reserve_weight=0.0, cpu_only_fit="surplus")

    monkeypatch.setitem(registry._REGISTRY, "fgd+", blind)
    nodes, pods = _tables()
    gaps = _gaps(nodes, pods)
    assert max(gaps) < -1.0, gaps


TRACE = Path(__file__).resolve().parents[2].parent / "shared" / "traces" / "alibaba-gpu-v2023" / "csv"


@pytest.mark.skipif(not TRACE.is_dir(), reason="shared traces not present")
def test_cpu300_large_pods_keep_their_hosts_longer_with_the_pressure(monkeypatch: pytest.MonkeyPatch):
    """cpu300 (CPU-bound: the 88-core 8-GPU pods need an idle node with 88 free cores): fgd+'s
    worst bin against fgd on seed 42 is better with the large specs' pressure than with the
    constant weight (large_pressure=0), and it places at least as much at 100 % arrived."""
    nodes = load_nodes(TRACE / "openb_node_list_gpu_node.csv")
    pods = load_pods(TRACE / "openb_pod_list_cpu300.csv")
    theirs = run_fgd(nodes, pods, "fgd", 42, track_frag=False).discrete()
    mine = run_fgd(nodes, pods, "fgd+", 42, track_frag=False).discrete()
    every = registry._REGISTRY["fgd+"]
    monkeypatch.setitem(registry._REGISTRY, "fgd+", lambda **o: every(**{**o, "large_pressure": 0.0}))
    constant = run_fgd(nodes, pods, "fgd+", 42, track_frag=False).discrete()
    assert float(np.nanmin(mine - theirs)) > float(np.nanmin(constant - theirs))
    assert mine[100] >= theirs[100]


@pytest.mark.skipif(not TRACE.is_dir(), reason="shared traces not present")
def test_cpu300_fgdplus_keeps_within_the_tolerance_of_fgd_at_every_bin():
    """cpu300 (issue 12, item 4): the mean over seeds 42–43 of fgd+ is within 0.1 pp of fgd's at
    every arrival bin (before GPU pods paid the large specs' pressure and the 120-core specs had
    it: −0.13 pp around 77 % arrived, an 88-core 8-GPU pod with no idle node left to hold it)."""
    nodes = load_nodes(TRACE / "openb_node_list_gpu_node.csv")
    pods = load_pods(TRACE / "openb_pod_list_cpu300.csv")
    mine = [run_fgd(nodes, pods, "fgd+", s, track_frag=False) for s in (42, 43)]
    theirs = [run_fgd(nodes, pods, "fgd", s, track_frag=False) for s in (42, 43)]
    gap = bin_gap(mean_curve(mine), mean_curve(theirs), "fgd")
    assert gap.worst >= -TOLERANCE_PP, gap

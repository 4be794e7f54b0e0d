"""Workload variants (``suanli sim variants``) and the per-bin comparison (``suanli sim compare``)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from suanli.errors import ValidationError
from suanli.sim.compare import bin_gap, compare
from suanli.sim.fgd import BINS, FgdRun
from suanli.sim.published import Published
from suanli.sim.traces import NodeTable, PodTable, load_pods
from suanli.sim.variants import DEFAULT_VARIANTS, make_variant, parse_variant, pods_csv, spec_pool


def _nodes() -> NodeTable:
    # G: 8 devices, 96 cores (most of the fleet); T: 2 devices, 104 cores; P: 2 devices, 16 cores
    kinds = [("G", 8, 96000)] * 10 + [("T", 2, 104000)] * 6 + [("P", 2, 16000)] * 4
    return NodeTable("n.csv", [f"n{i}" for i in range(len(kinds))], np.array([k[2] for k in kinds]),
                     np.zeros(len(kinds), np.int64), np.array([k[1] for k in kinds]), [k[0] for k in kinds])


def _base(n: int = 400) -> PodTable:
    rng = np.random.default_rng(3)
    shapes = [(11300, 1, 1000), (3152, 1, 810), (8000, 1, 470), (12500, 0, 0), (32000, 2, 1000), (88000, 8, 1000)]
    pick = rng.choice(len(shapes), size=n)
    rows = [shapes[i] for i in pick]
    z = np.zeros(n, np.int64)
    return PodTable("openb_pod_list_default.csv", [f"p{i:04d}" for i in range(n)], np.array([r[0] for r in rows]), z,
                    np.array([r[1] for r in rows]), np.array([r[2] for r in rows]), [""] * n, None, None, None)


POOL = [("T", 6.0), ("P", 2.0), ("G|T", 1.0)]


def test_parse_variant_names_and_refusals():
    assert parse_variant("spec25").fraction == 0.25
    v = parse_variant("share40_spec20")
    assert (v.kind, v.fraction, v.share_fraction) == ("spec", 0.2, 0.4)
    for name in DEFAULT_VARIANTS:
        parse_variant(name)
    for bad in ("spec", "spec101", "magic20", "share40_even", "20spec"):
        with pytest.raises(ValidationError) as e:
            parse_variant(bad)
        assert "allowed" in e.value.message and "spec15" in e.value.message


def test_spec_variant_restricts_the_asked_fraction_of_gpu_pods_and_only_where_they_fit():
    base, nodes = _base(), _nodes()
    v = make_variant(base, nodes, "spec40", 1, POOL)
    gpu = base.num_gpu > 0
    restricted = [s for s, g in zip(v.gpu_spec, gpu, strict=True) if s]
    # 40 % of the GPU pods are drawn; an 8-device pod fits no T/P node and keeps "any"
    eight = int(((base.num_gpu == 8) & gpu).sum())
    assert round(0.4 * gpu.sum()) - eight <= len(restricted) <= round(0.4 * gpu.sum())
    assert not any(s for s, n in zip(v.gpu_spec, v.num_gpu.tolist(), strict=True) if n == 0)
    for s, n, c in zip(v.gpu_spec, v.num_gpu.tolist(), v.cpu_milli.tolist(), strict=True):
        if s == "P":
            assert n <= 2 and c <= 16000  # only where a P node can host it
    assert set(Counter(restricted)) <= {"T", "P", "G|T"}
    # the rest of the table is the base's; the same seed gives the same variant, another seed another
    assert (v.cpu_milli == base.cpu_milli).all() and (v.num_gpu == base.num_gpu).all()
    assert make_variant(base, nodes, "spec40", 1, POOL).gpu_spec == v.gpu_spec
    assert make_variant(base, nodes, "spec40", 2, POOL).gpu_spec != v.gpu_spec
    assert v.workload == "variant_spec40_s1"


def test_model_even_and_share_variants():
    base, nodes = _base(), _nodes()
    model = Counter(s for s in make_variant(base, nodes, "model50", 1, POOL).gpu_spec if s)
    assert model["G"] > model["T"] > 0  # in proportion to the devices of each model
    even = Counter(s for s in make_variant(base, nodes, "even50", 1, POOL).gpu_spec if s)
    assert even["T"] > model["T"]  # uniform over models: the small ones get more
    sh = make_variant(base, nodes, "share50_spec0", 1, POOL)
    whole = (base.num_gpu == 1) & (base.gpu_milli == 1000)
    turned = whole & (sh.gpu_milli < 1000)
    assert 0.4 * whole.sum() <= turned.sum() <= 0.5 * whole.sum()
    assert set(sh.gpu_milli[turned].tolist()) <= {810, 470}
    with pytest.raises(ValidationError, match="no model restrictions"):
        make_variant(base, nodes, "spec10", 1, [])


def test_variant_csv_reads_back(tmp_path):
    v = make_variant(_base(), _nodes(), "spec25", 4, POOL)
    path = tmp_path / v.path
    path.write_text(pods_csv(v), encoding="utf-8")
    back = load_pods(path)
    assert back.gpu_spec == v.gpu_spec and (back.gpu_milli == v.gpu_milli).all() and back.workload == "variant_spec25_s4"


def test_spec_pool_counts_restrictions_of_gpu_pods():
    base = _base(6)
    t = PodTable("x.csv", base.names, base.cpu_milli, base.memory_mib, np.array([1, 1, 1, 0, 2, 1]),
                 np.array([1000, 1000, 500, 0, 1000, 1000]), ["T", "T|G", "G|T", "T", "", "P"], None, None, None)
    assert spec_pool([t]) == [("G|T", 2.0), ("P", 1.0), ("T", 1.0)]


def _run(workload: str, policy: str, seed: int, used_pct: list[float]) -> FgdRun:
    arrived = np.arange(0, 131, dtype=np.int64) * 10
    used = np.round(np.array(used_pct) * 10).astype(np.int64)
    return FgdRun(workload, policy, seed, 1000, arrived, used, np.zeros(131), 0, 0, 1.0)


def test_compare_finds_the_worst_bin_against_each_reference():
    ours = [min(b, 95.0) for b in BINS]
    theirs = [min(b, 94.0) if b < 100 else 94.0 for b in BINS]
    theirs[50] = 50.5  # impossible, but shows the worst bin is found wherever it is
    pub_curve = np.array([min(b, 96.0) for b in BINS], float)
    runs = [_run("w", "fgd+", 1, ours), _run("w", "fgd", 1, theirs)]
    pub = Published("p.csv", {("w", "fgd"): pub_curve[None, :]})
    (c,) = compare(runs, "fgd+", ["fgd"], pub)
    g_pub, g_ours = c.gaps
    assert (g_pub.reference, g_pub.bin, g_pub.worst) == ("fgd (published)", 96, -1.0)
    assert g_pub.bins_below == 35 and g_pub.ref_130 == 96.0
    assert (g_ours.reference, g_ours.bin, g_ours.worst) == ("fgd (ours)", 50, -0.5)
    assert c.alloc_100 == 95.0 and c.alloc_130 == 95.0
    assert not c.ok() and c.ok(tolerance=1.0)
    assert bin_gap(np.array(ours, float), np.array(ours, float), "same").worst == 0.0

"""Heterogeneity-aware vs agnostic placement on hand-made pools (sim.hetero)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from suanli.errors import ValidationError
from suanli.sim.hetero import GPU_TYPES, JobPool, job_pool, simulate_hetero
from suanli.sim.traces import load_gavel_throughputs, load_gavel_trace

INF = float("inf")
H = 3600.0


def _pool(rows: list[tuple[int, list[float]]]) -> JobPool:
    return JobPool([f"j{i}" for i in range(len(rows))], np.array([g for g, _ in rows]), np.array([r for _, r in rows]))


def test_aware_waits_for_the_fast_gpu_when_that_finishes_sooner():
    # one V100 and one K80; the job takes 1 h on V100, 10 h on K80 (P100 absent)
    pool = _pool([(1, [1 * H, INF, 10 * H])])
    cluster = {"v100": 1, "p100": 0, "k80": 1}
    arrivals = np.array([0.0, 0.5 * H, 20 * H, 21 * H])
    picks = np.zeros(4, np.int64)
    aware = simulate_hetero(pool, "aware", 1.0, cluster=cluster, arrivals_s=arrivals, picks=picks)
    greedy = simulate_hetero(pool, "greedy", 1.0, cluster=cluster, arrivals_s=arrivals, picks=picks)
    # measured jobs are the middle half (indices 1 and 2). Job 1 arrives while job 0 holds the
    # V100 for another 0.5 h: waiting gives 1.5 h, the free K80 would give 10 h
    assert aware.mean_jct_h == pytest.approx((1.5 + 1.0) / 2)
    assert greedy.mean_jct_h == pytest.approx((10.0 + 1.0) / 2)  # greedy takes the free K80
    assert aware.share_on["k80"] == 0.0 and greedy.share_on["k80"] == 0.5


def test_agnostic_ignores_speed_and_loses_on_jct():
    pool = _pool([(1, [1 * H, 2 * H, 8 * H]), (2, [2 * H, 3 * H, 6 * H])])
    res = {p: simulate_hetero(pool, p, 0.5, n_jobs=400, seed=3) for p in ("agnostic", "greedy", "aware")}
    assert res["aware"].mean_jct_h < res["agnostic"].mean_jct_h
    assert res["greedy"].mean_jct_h < res["agnostic"].mean_jct_h
    assert res["agnostic"].share_on["k80"] > 0.1 > res["aware"].share_on["k80"]
    assert sum(res["aware"].share_on.values()) == pytest.approx(1.0)


def test_job_that_cannot_run_on_a_type_never_lands_there():
    pool = _pool([(1, [1 * H, 1 * H, INF])])
    r = simulate_hetero(pool, "agnostic", 2.0, n_jobs=200, seed=1)
    assert r.share_on["k80"] == 0.0


def test_bad_input_is_named():
    pool = _pool([(1, [H, H, H])])
    with pytest.raises(ValidationError, match="allowed: agnostic, greedy, aware"):
        simulate_hetero(pool, "fastest", 1.0)
    with pytest.raises(ValidationError, match="both arrivals_s and picks"):
        simulate_hetero(pool, "aware", 1.0, arrivals_s=np.zeros(4))


def test_loaders_and_pool(tmp_path):
    tp = tmp_path / "t.json"
    tp.write_text(json.dumps({t: {"('A', 1)": {"null": 2.0}, "('A', 2)": {"null": 0.0 if t == "k80" else 1.0}} for t in GPU_TYPES}
                             | {"v100_unconsolidated": {}}))
    tr = tmp_path / "x.trace"
    tr.write_text("A\tcmd\t-s\t1\t7200\t0.0\t1\nA\tcmd\t-s\t1\t3600\t5.0\t2\nB\tcmd\t-s\t1\t10\t6.0\t1\n")
    th = load_gavel_throughputs(tp)
    assert set(th) == set(GPU_TYPES)
    pool = job_pool(load_gavel_trace([tr]), th)
    assert pool.kind == ["A", "A"]  # B has no measurement
    assert pool.run_s[0].tolist() == [3600.0, 3600.0, 3600.0]
    assert pool.run_s[1, 2] == INF and pool.run_s[1, 0] == 3600.0
    bad = tmp_path / "bad.trace"
    bad.write_text("A\tcmd\t1\n")
    with pytest.raises(ValidationError, match="line 1: 3 tab-separated fields"):
        load_gavel_trace([bad])

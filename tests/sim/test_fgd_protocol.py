"""FGD protocol pieces, and a small run on a subset of the real trace when it is present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from suanli.errors import NotFoundError, ValidationError
from suanli.sim.fgd import discretise, inflate_order, run_fgd
from suanli.sim.traces import PodTable, load_nodes, load_pods

TRACE = Path(__file__).resolve().parents[2].parent / "shared" / "traces" / "alibaba-gpu-v2023" / "csv"


def test_discretise_matches_artifact_rule():
    arrived = np.array([0, 500, 1000, 1500, 2000])
    used = np.array([0, 500, 1000, 1000, 1000])
    d = discretise(arrived, used, 1000)
    assert d[100] == 100.0 and d[50] == 50.0  # round(50.0) bins 500; mean of its allocs


def test_bad_files(tmp_path):
    with pytest.raises(NotFoundError):
        load_pods(tmp_path / "missing.csv")
    bad = tmp_path / "p.csv"
    bad.write_text("name,cpu_milli,num_gpu,gpu_milli,colour\nx,1,0,0,red\n")
    with pytest.raises(ValidationError, match="colour"):
        load_pods(bad)
    bad.write_text("name,cpu_milli,num_gpu,gpu_milli\nx,abc,0,0\n")
    with pytest.raises(ValidationError, match="row 2, field cpu_milli"):
        load_pods(bad)


def test_inflation_stops_below_limit(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("name,cpu_milli,num_gpu,gpu_milli\n" + "".join(f"p{i},1000,1,500\n" for i in range(10)))
    pods = load_pods(p)
    order = inflate_order(pods, 42, 1.3, 10_000)
    assert (pods.num_gpu * pods.gpu_milli)[order].sum() <= 13_000
    assert order.size > 10
    assert (inflate_order(pods, 42, 1.3, 10_000) == order).all()


@pytest.mark.skipif(not TRACE.is_dir(), reason="shared traces not present")
def test_small_fgd_run_on_real_trace(tmp_path):
    nodes = load_nodes(TRACE / "openb_node_list_gpu_node.csv")
    pods = load_pods(TRACE / "openb_pod_list_default.csv")
    sub = PodTable(pods.path, pods.names[:600], pods.cpu_milli[:600], pods.memory_mib[:600], pods.num_gpu[:600],
                   pods.gpu_milli[:600], pods.gpu_spec[:600], None, None, None)
    a = run_fgd(nodes, sub, "fgd", 42, ratio=0.0)
    b = run_fgd(nodes, sub, "fgd", 42, ratio=0.0)
    assert (a.used_milli == b.used_milli).all()
    assert a.failed == 0 and a.used_milli[-1] == a.arrived_milli[-1]
    assert a.frag_milli[0] > 0

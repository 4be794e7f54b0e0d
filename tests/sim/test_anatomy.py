"""``suanli.sim.anatomy``: the end state of a protocol run taken apart, and the repack bound."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from suanli.cli.sim import app
from suanli.sim.anatomy import anatomy
from suanli.sim.fgd import run_fgd
from suanli.sim.traces import NodeTable, PodTable


def _tables(restricted: bool = False) -> tuple[NodeTable, PodTable]:
    names = [f"n{i:02d}" for i in range(12)]
    nodes = NodeTable("nodes.csv", names, np.full(12, 64000), np.zeros(12, np.int64), np.array([4] * 8 + [2] * 4),
                      ["A"] * 8 + ["B"] * 4)
    # (cpu milli, devices, milli per device, model): lone 810s, pairs of 470s, whole GPUs, 4-GPU pods
    shapes = [(3000, 1, 810, ""), (4000, 1, 470, ""), (6000, 1, 1000, ""), (16000, 4, 1000, ""),
              (2000, 1, 160, ""), (4000, 1, 1000, "B" if restricted else "")]
    pick = np.random.default_rng(3).choice(len(shapes), size=160, p=[0.25, 0.25, 0.3, 0.05, 0.05, 0.1])
    rows = [shapes[i] for i in pick]
    z = np.zeros(len(rows), np.int64)
    pods = PodTable("pod_list_anatomy.csv", [f"p{i:03d}" for i in range(len(rows))], np.array([r[0] for r in rows]), z,
                    np.array([r[1] for r in rows]), np.array([r[2] for r in rows]), [r[3] for r in rows], None, None, None)
    return nodes, pods


def test_the_end_state_adds_up_and_the_bound_is_above_the_run():
    nodes, pods = _tables()
    for policy in ("fgd+", "fgd", "random"):
        a = anatomy(nodes, pods, policy, 42)
        run = run_fgd(nodes, pods, policy, 42, track_frag=False)
        assert a.used_final_pct == 100.0 * int(run.used_milli[-1]) / run.capacity_milli
        # every unallocated milli is on an idle device or in a gap of a shared device
        assert abs(a.used_final_pct + a.idle_pct + a.gap_pct - 100.0) < 1e-9
        assert sum(r.pods for r in a.refused) == run.failed
        assert abs(sum(a.pct(g.free_milli) for g in a.combos) - a.gap_pct) < 1e-9
        # the fractional packing of the same shares needs no more devices than the run used
        assert a.lp_share_devices <= a.share_devices + 1e-6
        assert a.used_final_pct - 1e-9 <= a.repack_bound_pct <= 100.0 - a.idle_pct + 1e-9
        assert a.first_refusal_pct is not None and a.first_refusal_pct <= 130.0


def test_each_gap_is_what_its_shares_leave_and_refusals_name_the_model():
    nodes, pods = _tables(restricted=True)
    a = anatomy(nodes, pods, "fgd+", 43)
    assert a.combos
    for g in a.combos:
        assert g.free_milli == g.devices * (1000 - sum(g.shares)) > 0
    assert all(r.models in (None, ("B",)) for r in a.refused)
    assert any(r.models == ("B",) for r in a.refused)


def test_cli_prints_the_tables_and_json(tmp_path):
    csv = tmp_path / "trace" / "csv"
    csv.mkdir(parents=True)
    (csv / "openb_node_list_gpu_node.csv").write_text(
        "sn,cpu_milli,memory_mib,gpu,model\n" + "".join(f"a{i},64000,0,4,A\n" for i in range(6)))
    pods = "".join(f"p{i:03d},{4000 + 1000 * (i % 3)},0,1,{1000 if i % 2 else 810},\n" for i in range(60))
    (csv / "openb_pod_list_default.csv").write_text("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n" + pods)
    args = ["anatomy", "--workload", "default", "--seed", "42", "--trace-dir", str(tmp_path / "trace")]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "repack bound" in r.output and "810" in r.output
    r = CliRunner().invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    assert '"repack_bound_pct"' in r.output and '"shares": [' in r.output
    r = CliRunner().invoke(app, ["anatomy", "--workload", "nosuch", "--trace-dir", str(tmp_path / "trace")])
    assert r.exit_code != 0 and "nosuch" in r.output
    r = CliRunner().invoke(app, ["anatomy", "--policy", "magic", "--trace-dir", str(tmp_path / "trace")])
    assert r.exit_code != 0 and "allowed" in r.output

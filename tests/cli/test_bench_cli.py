from __future__ import annotations

import json

from typer.testing import CliRunner

from suanli.cli.bench import app


def test_bench_placement_json_shape(tmp_path):
    csv = tmp_path / "csv"
    csv.mkdir()
    (csv / "openb_node_list_gpu_node.csv").write_text(
        "sn,cpu_milli,memory_mib,gpu,model\n" + "".join(f"n{i},32000,65536,4,A\n" for i in range(4)))
    (csv / "openb_pod_list_tiny.csv").write_text(
        "name,cpu_milli,num_gpu,gpu_milli\n" + "".join(f"p{i},2000,1,{300 + 100 * (i % 3)}\n" for i in range(30)))
    r = CliRunner().invoke(app, ["placement", "--trace-dir", str(tmp_path), "--policies", "bestfit,fgd", "--seeds", "1-2",
                                 "--workers", "1", "--scale-nodes", "20", "--scale-requests", "200", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert {"workloads", "best_policy", "seconds_per_run", "scale"} <= set(doc)
    e = doc["workloads"]["tiny"]["fgd"]
    assert {"alloc_100", "alloc_130", "sd_130", "published_130"} <= set(e)
    assert doc["scale"]["nodes"] == 20 and doc["scale"]["requests"] == 200

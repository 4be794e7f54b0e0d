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


def test_bench_placement_reference_engine_gives_the_same_figures(tmp_path):
    csv = tmp_path / "csv"
    csv.mkdir()
    (csv / "openb_node_list_gpu_node.csv").write_text(
        "sn,cpu_milli,memory_mib,gpu,model\n" + "".join(f"n{i},32000,65536,4,A\n" for i in range(6)))
    (csv / "openb_pod_list_tiny.csv").write_text(
        "name,cpu_milli,num_gpu,gpu_milli\n" + "".join(f"p{i},2000,1,{300 + 100 * (i % 4)}\n" for i in range(40)))
    docs = {}
    for engine in ("fast", "reference"):
        r = CliRunner().invoke(app, ["placement", "--trace-dir", str(tmp_path), "--policies", "fgd,bestfit", "--seeds", "1-3",
                                     "--workers", "1", "--scale-nodes", "30", "--scale-requests", "300",
                                     "--scale-policy", "fgd", "--engine", engine, "--json"])
        assert r.exit_code == 0, r.output
        docs[engine] = json.loads(r.output)
    assert docs["fast"]["workloads"] == docs["reference"]["workloads"]
    assert docs["fast"]["engine"] == "fast" and docs["reference"]["engine"] == "reference"
    assert docs["fast"]["scale"]["policy"] == "fgd" and docs["fast"]["scale"]["placements_per_cpu_s"] > 0
    assert set(docs["fast"]["cpu_seconds_per_run"]) == {"fgd", "bestfit"}


def test_bench_placement_unknown_engine_is_refused(tmp_path):
    r = CliRunner().invoke(app, ["placement", "--trace-dir", str(tmp_path), "--engine", "turbo", "--json"])
    assert r.exit_code != 0
    assert "--engine 'turbo' is unknown; allowed: fast, reference" in r.output

from __future__ import annotations

from typer.testing import CliRunner

from suanli.cli.sim import app


def _fleet(tmp_path):
    n = tmp_path / "nodes.csv"
    n.write_text("sn,cpu_milli,memory_mib,gpu,model\n" + "".join(f"n{i},32000,65536,4,A\n" for i in range(4)))
    p = tmp_path / "pods.csv"
    p.write_text("name,cpu_milli,num_gpu,gpu_milli\n" + "".join(f"p{i},2000,1,{250 + 50 * (i % 5)}\n" for i in range(40)))
    return n, p


def test_sim_fgd_json_and_outputs(tmp_path):
    n, p = _fleet(tmp_path)
    r = CliRunner().invoke(app, ["fgd", "--nodes", str(n), "--pods", str(p), "--policy", "fgd+", "--seeds", "1-2",
                                 "--workers", "1", "--out", str(tmp_path / "o"), "--json"])
    assert r.exit_code == 0, r.output
    assert '"alloc_130"' in r.output
    assert (tmp_path / "o" / "pods_fgdplus.png").is_file()


def test_sim_fgd_unknown_policy(tmp_path):
    n, p = _fleet(tmp_path)
    r = CliRunner().invoke(app, ["fgd", "--nodes", str(n), "--pods", str(p), "--policy", "magic"])
    assert r.exit_code != 0 and "allowed" in r.output


def test_sim_fgd_missing_file(tmp_path):
    r = CliRunner().invoke(app, ["fgd", "--nodes", str(tmp_path / "x.csv"), "--pods", str(tmp_path / "y.csv"),
                                 "--workers", "1", "--seeds", "1"])
    assert r.exit_code != 0 and "not found" in r.output


def test_sim_run_openb_sweep_json(tmp_path):
    import json

    n, _ = _fleet(tmp_path)
    p = tmp_path / "live.csv"
    p.write_text("name,cpu_milli,num_gpu,gpu_milli,creation_time,deletion_time\n"
                 + "".join(f"p{i},1000,1,{250 * (1 + i % 4)},{i * 60},{i * 60 + 300 + 3000 * (i % 7)}\n" for i in range(60)))
    r = CliRunner().invoke(app, ["run", "--trace", "openb", "--nodes", str(n), "--pods", str(p), "--load", "0.5,1.2",
                                 "--queue", "backfill,area", "--hours", "2", "--out", str(tmp_path / "o"), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert [(x["rho"], x["queue"]) for x in doc["runs"]] == [(0.5, "backfill"), (0.5, "area"), (1.2, "backfill"), (1.2, "area")]
    assert abs(doc["runs"][0]["offered_load"] - 0.5) < 0.05
    assert (tmp_path / "o" / "dynamic_openb_fgdplus.png").is_file()


def test_sim_run_philly_queues(tmp_path):
    import json

    n, _ = _fleet(tmp_path)
    ph = tmp_path / "philly.csv"
    ph.write_text("timestamp,duration,num_gpus,gpu_time,cluster\n"
                  + "".join(f"2017-10-09 07:{i % 60:02d}:00,{60 + 400 * (i % 9)},{[1, 1, 2, 4][i % 4]},0,x\n" for i in range(80)))
    r = CliRunner().invoke(app, ["run", "--trace", "philly", "--nodes", str(n), "--philly", str(ph), "--load", "1.0",
                                 "--queue", "fifo,sjf,las,area", "--hours", "3", "--json"])
    assert r.exit_code == 0, r.output
    runs = json.loads(r.output)["runs"]
    assert {x["queue"] for x in runs} == {"fifo", "sjf", "las", "area"}
    assert all(x["jct_mean_s"] > 0 for x in runs)


def test_sim_run_bad_options(tmp_path):
    n, _ = _fleet(tmp_path)
    r = CliRunner().invoke(app, ["run", "--nodes", str(n), "--queue", "magic"])
    assert r.exit_code != 0 and "allowed" in r.output
    r = CliRunner().invoke(app, ["run", "--nodes", str(n), "--load", "x"])
    assert r.exit_code != 0 and "--load" in r.output

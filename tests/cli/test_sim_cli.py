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
    # revenue is rated through the ledger (Decimal strings, the operator's currency), one price per device-hour
    from decimal import Decimal

    from suanli.sim.pricing import demo_reference_price
    run0 = doc["runs"][0]
    assert run0["currency"] == "CNY" and "ledger" not in run0["price_list"] and "demo" in run0["price_list"]
    hours, revenue = Decimal(run0["device_hours_served"]), Decimal(run0["revenue"])
    assert hours > 0 and abs(revenue - hours * demo_reference_price()) <= Decimal("0.05") * len(n.read_text().splitlines())
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


def _trace_dir(tmp_path):
    """A tiny trace folder: nodes of two models, a default list, a gpuspec list and published FGD curves."""
    csv = tmp_path / "trace" / "csv"
    csv.mkdir(parents=True)
    (csv / "openb_node_list_gpu_node.csv").write_text(
        "sn,cpu_milli,memory_mib,gpu,model\n" + "".join(f"a{i},64000,0,4,A\n" for i in range(6))
        + "".join(f"b{i},64000,0,2,B\n" for i in range(3)))
    pods = "".join(f"p{i:03d},{4000 + 1000 * (i % 3)},0,1,{1000 if i % 2 else 500},\n" for i in range(60))
    (csv / "openb_pod_list_default.csv").write_text("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n" + pods)
    spec = "".join(f"q{i:03d},4000,0,1,1000,{'B' if i % 4 == 0 else ''}\n" for i in range(60))
    (csv / "openb_pod_list_gpuspec20.csv").write_text("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n" + spec)
    pub = tmp_path / "trace" / "fgd-expected-results"
    pub.mkdir()
    head = "workload,sc_policy,tune,seed," + ",".join(str(b) for b in range(131))
    curve = ",".join(f"{min(b, 90):.2f}" for b in range(131))
    (pub / "analysis_allo_discrete.csv").write_text(f"{head}\nopenb_pod_list_default,06-FGD,1.3,42,{curve}\n")
    return tmp_path / "trace"


def test_sim_variants_writes_pod_lists(tmp_path):
    tdir = _trace_dir(tmp_path)
    r = CliRunner().invoke(app, ["variants", "--out", str(tmp_path / "v"), "--names", "spec50,model30", "--seed", "3",
                                 "--trace-dir", str(tdir)])
    assert r.exit_code == 0, r.output
    text = (tmp_path / "v" / "variant_spec50_s3.csv").read_text()
    assert text.startswith("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec") and ",B\n" in text
    assert (tmp_path / "v" / "variant_model30_s3.csv").is_file()
    r = CliRunner().invoke(app, ["variants", "--out", str(tmp_path / "v"), "--names", "spec200", "--trace-dir", str(tdir)])
    assert r.exit_code != 0 and "allowed" in r.output


def test_sim_compare_per_bin_json_and_table(tmp_path):
    tdir = _trace_dir(tmp_path)
    args = ["compare", "--workloads", "default", "--seeds", "42,43", "--workers", "1", "--variants", "spec25",
            "--trace-dir", str(tdir)]
    r = CliRunner().invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    assert '"worst_bin"' in r.output and '"fgd (published)"' in r.output and "variant_spec25_s1" in r.output
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "worst vs FGD published" in r.output and "within 0.1 pp" in r.output
    r = CliRunner().invoke(app, ["compare", "--workloads", "nosuch", "--trace-dir", str(tdir), "--workers", "1"])
    assert r.exit_code != 0 and "nosuch" in r.output

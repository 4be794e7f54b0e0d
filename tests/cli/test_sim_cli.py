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

"""``suanli agent run`` refusals before anything starts: each says what is wrong and what to do."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from suanli.cli.main import app


def run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, ["--server", "http://127.0.0.1:9", "agent", "run", *args])
    return r.exit_code, r.output


def test_no_join_token_and_no_saved_credential(tmp_path: Path) -> None:
    code, out = run("--node", "edge-1", "--state-dir", str(tmp_path / "s"), "--backend", "none")
    assert code == 1 and "has not joined yet and no join token was given" in out
    assert "suanli agent token create edge-1" in out


def test_unknown_backend_names_the_allowed_ones(tmp_path: Path) -> None:
    code, out = run("--node", "edge-1", "--state-dir", str(tmp_path / "s"), "--join-token", "slj_x",
                    "--backend", "rocm")
    assert code == 1 and "allowed: auto, nvml, npu-smi, cnmon, hy-smi, none" in out


def test_a_state_dir_of_another_node(tmp_path: Path) -> None:
    assert run("--node", "edge-1", "--state-dir", str(tmp_path / "s"), "--backend", "none")[0] == 1
    code, out = run("--node", "edge-2", "--state-dir", str(tmp_path / "s"), "--join-token", "slj_x",
                    "--backend", "none")
    assert code == 1 and "belongs to node edge-1, not edge-2" in out

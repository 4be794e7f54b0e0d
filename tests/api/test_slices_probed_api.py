"""With ``SUANLI_SLICE_MECHANISMS`` left at ``auto`` the server declares what its node really has (docs/slices.md):
on this machine (no GPU, no MPS daemon, no npu-smi) nothing, so /v1 says a slice needs ``allow_unenforced``; with
a (stand-in, not a GPU) nvidia-smi reporting MIG mode on, MIG slices are enforced again. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.domain.demo import demo_fleet
from suanli.service import accounts, fleet
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.testing.clock import FakeClock
from suanli.testing.fake_nvidia_smi import install
from suanli.testing.serve import clean_env, start_serve


def served(tmp_path: Path, db_url: str | None, nvidia_smi: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    p = Platform(Settings(data_dir=tmp_path / "data", database_url=db_url, nvidia_smi=str(nvidia_smi),
                          npu_smi=str(tmp_path / "no-npu-smi")), clock=FakeClock())
    try:
        assert p.settings.slice_mechanisms == "auto"  # the default: probed, not assumed
        op_token = accounts.bootstrap_operator(p)
        assert op_token is not None
        fleet.import_fleet(p, accounts.authenticate(p, op_token), demo_fleet())
        with TestClient(create_app(p)) as c:
            r = c.post("/v1/accounts", json={"name": "acme", "role": "tenant"},
                       headers={"Authorization": f"Bearer {op_token}"})
            assert r.status_code == 201, r.text
            yield c, {"Authorization": f"Bearer {r.json()['token']}"}
    finally:
        p.close()


@pytest.fixture(autouse=True)
def no_mps_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_MPS_PIPE_DIRECTORY", str(tmp_path / "no-mps"))


def test_a_node_without_gpu_tools_enforces_nothing_and_says_so(tmp_path: Path, db_url: str | None) -> None:
    for c, h in served(tmp_path, db_url, tmp_path / "no-nvidia-smi"):
        rows = {r["model"]: r for r in c.get("/v1/slices/profiles", headers=h).json()}
        assert rows["A100-80GB"]["backend"] == [] and rows["A100-80GB"]["enforcement"] == "none"
        assert rows["L20"]["enforcement"] == "none"
        r = c.post("/v1/orders", json={"form": "slice", "share_pct": 10, "memory_mib": 1024, "models": ["A100-80GB"]},
                   headers=h)
        assert r.status_code == 422 and "allow_unenforced" in r.text, r.text
        ok = c.post("/v1/orders", json={"form": "slice", "share_pct": 10, "memory_mib": 1024, "models": ["A100-80GB"],
                                        "allow_unenforced": True}, headers=h)
        assert ok.status_code == 201 and ok.json()["enforcement"] == "none", ok.text
        # a model deployment's slice replicas are placed unenforced where nothing can enforce them (README's example)
        dep = c.post("/v1/deployments", json={"name": "chat", "model": "tiny-gpt", "min_replicas": 0, "max_replicas": 1,
                                              "shapes": [{"form": "slice", "model": "L20", "share": "0.25"}]}, headers=h)
        assert dep.status_code == 201, dep.text


def test_nvidia_smi_reporting_mig_mode_on_makes_mig_slices_enforced(tmp_path: Path, db_url: str | None) -> None:
    smi = install(tmp_path / "smi", gpus=8, mig=True)
    for c, h in served(tmp_path, db_url, smi):
        rows = {r["model"]: r for r in c.get("/v1/slices/profiles", headers=h).json()}
        assert rows["A100-80GB"]["backend"] == ["mig"] and rows["A100-80GB"]["enforcement"] == "mig"
        assert rows["L20"]["enforcement"] == "none"  # MIG mode is no MPS daemon
        r = c.post("/v1/orders", json={"form": "slice", "share_pct": 10, "memory_mib": 1024, "models": ["A100-80GB"]},
                   headers=h)
        assert r.status_code == 201 and r.json()["enforcement"] == "mig:1g.10gb", r.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_says_what_it_probed(tmp_path: Path, db_url: str | None) -> None:
    env = clean_env(SUANLI_NVIDIA_SMI=str(tmp_path / "no-nvidia-smi"), SUANLI_NPU_SMI=str(tmp_path / "no-npu-smi"),
                    CUDA_MPS_PIPE_DIRECTORY=str(tmp_path / "no-mps"))
    srv = start_serve(tmp_path / "probed", env=env, slice_tools=False)
    try:
        line = next(x for x in srv.log.read_text().splitlines() if x.startswith("slice enforcement"))
    finally:
        srv.stop()
    assert line.startswith("slice enforcement probed: none (")
    assert "mig: nvidia-smi not found" in line and "mps: no MPS control daemon" in line
    declared = start_serve(tmp_path / "declared")  # the test servers' declaration, with stand-in tools
    try:
        assert "slice enforcement declared (SUANLI_SLICE_MECHANISMS): mig, mps, vnpu" in declared.log.read_text()
    finally:
        declared.stop()

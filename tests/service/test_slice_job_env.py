"""What a slice's job receives (docs/slices.md "What the job receives"): real jobs through the local engine,
in its sandbox, reading their own environment, for an MPS, a MIG and a vNPU slice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from suanli.domain.accounts import Principal
from suanli.drivers.base import JobState
from suanli.drivers.local import LocalDriver
from suanli.service import engine, jobs, leases, orders
from suanli.service.platform import Platform
from suanli.testing.fake_nvidia_smi import state_of

READ = ("import os, json; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith(("
        "'CUDA_', 'ASCEND_', 'NVIDIA_', 'SUANLI_SLICE', 'SUANLI_MIG', 'SUANLI_VNPU'))}))")


def env_of_a_job(p: Platform, tenant: Principal, **raw: object) -> dict[str, str]:
    res = orders.create_order(p, tenant, {"form": "slice", **raw})
    assert res.order.lease_id, res.order.reason
    job = jobs.submit_job(p, tenant, res.order.lease_id, ["python3", "-c", READ])
    assert isinstance(p.driver, LocalDriver)
    assert p.driver.wait(job.driver_job_id, 60).state is JobState.COMPLETED, jobs.job_logs(p, tenant, job.id)
    return dict(json.loads(jobs.job_logs(p, tenant, job.id).strip().splitlines()[-1]))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_each_mechanism_hands_its_limits_to_the_job(demo: Platform, tenant: Principal) -> None:
    mps = env_of_a_job(demo, tenant, share_pct=30, memory_mib=4096, models=["L20"])
    assert mps["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"] == "30" and mps["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] == "0=4096M"
    assert mps["SUANLI_SLICE_ENFORCEMENT"] == "mps" and mps["CUDA_VISIBLE_DEVICES"].isdigit()
    mig = env_of_a_job(demo, tenant, share_pct=10, memory_mib=1024, models=["A100-80GB"])
    assert mig["SUANLI_SLICE_ENFORCEMENT"] == "mig:1g.10gb" and mig["SUANLI_MIG_PROFILE"] == "1g.10gb"
    assert mig["SUANLI_MIG_START"] == "6" and mig["SUANLI_MIG_GPU"].isdigit()
    # the instance itself, made by (fake, not a GPU) nvidia-smi at that placement: the job sees only it
    assert mig["CUDA_VISIBLE_DEVICES"].startswith("MIG-") and mig["NVIDIA_VISIBLE_DEVICES"] == mig["CUDA_VISIBLE_DEVICES"]
    assert mig["SUANLI_SLICE_MEMORY_MIB"] == "10240" and "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE" not in mig
    npu = env_of_a_job(demo, tenant, share_pct=25, memory_mib=1024, models=["Ascend-910B"])
    assert npu["SUANLI_VNPU_TEMPLATE"] == "vir05_1c_16g" and npu["ASCEND_RT_VISIBLE_DEVICES"].isdigit()
    assert npu["ASCEND_VISIBLE_DEVICES"] == npu["SUANLI_VNPU_ID"] and 100 <= int(npu["ASCEND_VISIBLE_DEVICES"]) <= 227
    assert "CUDA_VISIBLE_DEVICES" not in npu


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_mig_instance_made_for_a_lease_goes_when_the_lease_ends(demo: Platform, tenant: Principal) -> None:
    assert demo.settings.nvidia_smi is not None
    smi = Path(demo.settings.nvidia_smi)  # the stand-in of tests/conftest.py (a JSON file, not a GPU)
    res = orders.create_order(demo, tenant, {"form": "slice", "share_pct": 10, "memory_mib": 1024, "models": ["A100-80GB"]})
    assert res.order.lease_id
    job = jobs.submit_job(demo, tenant, res.order.lease_id, ["python3", "-c", READ])
    assert isinstance(demo.driver, LocalDriver)
    assert demo.driver.wait(job.driver_job_id, 60).state is JobState.COMPLETED
    made = state_of(smi)["gis"]
    assert [(g["profile"], g["start"]) for g in made] == [("1g.10gb", 6)]
    leases.end_lease(demo, tenant, res.order.lease_id)
    engine.reconcile_leases(demo, lease_id=res.order.lease_id, force=True)
    assert state_of(smi)["gis"] == [] and state_of(smi)["cis"] == []

"""vNPU slices on an Ascend node (docs/slices.md "vNPUs on Ascend"): the local driver creates the slice's vNPU with
npu-smi before its job starts, hands the job ``ASCEND_VISIBLE_DEVICES=<vnpu id>``, destroys it at the lease's end,
and never runs the job without it. ``npu-smi`` is the stand-in of :mod:`suanli.testing.fake_nvidia_smi` (not an NPU)."""

from __future__ import annotations

import json
from pathlib import Path

from suanli.domain.slicing import Mechanism, SliceLimits
from suanli.drivers.base import DeviceAllocation, JobSpec, JobState, LeaseGrant
from suanli.drivers.local import LocalDriver
from suanli.drivers.slice_probe import probe
from suanli.testing.fake_nvidia_smi import install_npu_smi

READ = "import os, json; print(json.dumps({k: v for k, v in os.environ.items() if 'ASCEND' in k or 'VNPU' in k}))"


def vnpu_grant(make_grant) -> LeaseGrant:  # type: ignore[no-untyped-def]
    g = make_grant("V1", devices=(3,), milli=(250,))
    a = g.allocations[0]
    one = DeviceAllocation(node=a.node, device_indices=a.device_indices, device_milli=a.device_milli,
                           slice=SliceLimits("vnpu:vir05_1c_16g", 25, 16384))
    return LeaseGrant(lease_id=g.lease_id, tenant=g.tenant, start=g.start, end=g.end, allocations=(one,))


def test_a_vnpu_is_made_for_the_job_and_destroyed_at_the_lease_end(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    npu = install_npu_smi(tmp_path / "tools")
    assert Mechanism.VNPU in probe(nvidia_smi=str(tmp_path / "none"), npu_smi=str(npu)).mechanisms
    drv = LocalDriver(tmp_path / "d", nodes={"n1": 8}, slice_mechanisms="vnpu", npu_smi=str(npu))
    drv.provision(vnpu_grant(make_grant))
    h = drv.submit("V1", JobSpec(command=("python3", "-c", READ)))
    assert drv.wait(h.job_id, 30).state is JobState.COMPLETED, drv.logs(h.job_id)
    env = json.loads(drv.logs(h.job_id).strip().splitlines()[-1])
    assert env["ASCEND_VISIBLE_DEVICES"] == env["SUANLI_VNPU_ID"] == str(100 + 16 * 3)
    calls = (tmp_path / "tools" / "npu-smi-calls.txt").read_text().splitlines()
    assert "set -t create-vnpu -i 3 -c 0 -f vir05_1c_16g -v 148" in calls
    drv.release("V1")
    assert (tmp_path / "tools" / "npu-smi-calls.txt").read_text().splitlines()[-1] == \
        "set -t destroy-vnpu -i 3 -c 0 -v 148"


def test_without_npu_smi_a_vnpu_job_fails_and_never_runs(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    drv = LocalDriver(tmp_path / "d", nodes={"n1": 8}, slice_mechanisms="vnpu", npu_smi=str(tmp_path / "none"))
    drv.provision(vnpu_grant(make_grant))
    marker = tmp_path / "ran"
    st = drv.wait(drv.submit("V1", JobSpec(command=("touch", str(marker)))).job_id, 10)
    assert st.state is JobState.FAILED and "vNPU vir05_1c_16g on NPU 3" in (st.reason or "")
    assert "npu-smi not found" in (st.reason or "") and not marker.exists()

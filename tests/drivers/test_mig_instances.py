"""MIG slices on the node (docs/slices.md "What the job receives"): the local driver finds or makes the slice's
MIG instance with nvidia-smi before the job starts and hands it ``CUDA_VISIBLE_DEVICES=MIG-<uuid>``; it destroys
at the lease's end only what it created; it never runs a MIG job unenforced. ``nvidia-smi`` here is the fake of
:mod:`suanli.testing.fake_nvidia_smi` (a JSON file, NVIDIA's output formats): not a GPU integration test."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from suanli.domain.slicing import Mechanism, SliceLimits
from suanli.drivers.base import DeviceAllocation, JobSpec, JobState, LeaseGrant
from suanli.drivers.devices.mig import (
    capability_nodes,
    parse_gpu_instances,
    parse_list,
    parse_mig_devices,
    parse_profiles,
)
from suanli.drivers.local import SLICE_ENV, LocalDriver
from suanli.drivers.sandbox import Sandbox
from suanli.drivers.slice_probe import probe, resolve
from suanli.errors import EngineError
from suanli.testing.fake_nvidia_smi import install, state_of

READ = "import os, json; print(json.dumps({k: v for k, v in os.environ.items() if 'VISIBLE' in k or k.startswith('SUANLI_')}))"


def mig_grant(make_grant, lease: str = "S1", gpu: int = 2, profile: str = "1g.10gb", start: int = 6) -> LeaseGrant:  # type: ignore[no-untyped-def]
    g = make_grant(lease, devices=(gpu,), milli=(125,))
    a = g.allocations[0]
    one = DeviceAllocation(node=a.node, device_indices=a.device_indices, device_milli=a.device_milli,
                           slice=SliceLimits(f"mig:{profile}", 14, 10240, start))
    return LeaseGrant(lease_id=g.lease_id, tenant=g.tenant, start=g.start, end=g.end, allocations=(one,))


def run_env(drv: LocalDriver, lease: str) -> tuple[JobState, dict[str, str] | str]:
    h = drv.submit(lease, JobSpec(command=("python3", "-c", READ)))
    st = drv.wait(h.job_id, 30)
    if st.state is not JobState.COMPLETED:
        return st.state, st.reason or ""
    return st.state, json.loads(drv.logs(h.job_id).strip().splitlines()[-1])


def test_the_probe_on_this_machine_finds_no_mig_mps_or_vnpu(tmp_path: Path) -> None:
    found = probe(nvidia_smi=str(tmp_path / "no-nvidia-smi"), npu_smi=str(tmp_path / "no-npu-smi"),
                  environ={"CUDA_MPS_PIPE_DIRECTORY": str(tmp_path / "no-mps")})
    assert found.mechanisms == frozenset()
    assert "not found" in found.reasons["mig"] and "not a pipe" in found.reasons["mps"]
    drv = LocalDriver(tmp_path / "d", nodes={"n1": 4}, nvidia_smi=str(tmp_path / "none"), npu_smi=str(tmp_path / "none"))
    assert drv.capabilities().slice_mechanisms == frozenset()  # auto: nothing declared that is not there


def test_the_probe_finds_mig_only_where_nvidia_smi_reports_mig_mode_on(tmp_path: Path) -> None:
    on = install(tmp_path / "on", gpus=2, mig=True)
    off = install(tmp_path / "off", gpus=2, mig=False)
    none = str(tmp_path / "none")
    assert Mechanism.MIG in probe(nvidia_smi=str(on), npu_smi=none).mechanisms
    assert "MIG mode enabled on GPU 0, 1" in probe(nvidia_smi=str(on), npu_smi=none).reasons["mig"]
    assert Mechanism.MIG not in probe(nvidia_smi=str(off), npu_smi=none).mechanisms
    assert resolve("mig,mps").mechanisms == {Mechanism.MIG, Mechanism.MPS}  # the operator's declaration
    assert not resolve("mig").probed


def test_a_mig_job_gets_its_instance_made_and_destroyed_at_the_lease_end(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    smi = install(tmp_path / "smi", gpus=4)
    drv = LocalDriver(tmp_path / "d", nodes={"n1": 4}, slice_mechanisms="mig", nvidia_smi=str(smi),
                      grace=timedelta(seconds=2))
    drv.provision(mig_grant(make_grant))
    state, env = run_env(drv, "S1")
    assert state is JobState.COMPLETED, env
    assert isinstance(env, dict)
    gis = state_of(smi)["gis"]
    assert [(g["gpu"], g["profile"], g["start"]) for g in gis] == [(2, "1g.10gb", 6)]
    assert env["CUDA_VISIBLE_DEVICES"].startswith("MIG-") and env["NVIDIA_VISIBLE_DEVICES"] == env["CUDA_VISIBLE_DEVICES"]
    assert env["SUANLI_SLICE_ENFORCEMENT"] == "mig:1g.10gb" and env["SUANLI_MIG_GPU"] == "2"
    assert ["mig", "-i", "2", "-cgi", "19:6", "-C"] in state_of(smi)["calls"]
    again = run_env(drv, "S1")[1]  # a second job of the lease: the same instance, nothing made again
    assert isinstance(again, dict) and again["CUDA_VISIBLE_DEVICES"] == env["CUDA_VISIBLE_DEVICES"]
    assert len(state_of(smi)["gis"]) == 1
    drv.release("S1")
    assert state_of(smi)["gis"] == [] and state_of(smi)["cis"] == []


def test_an_instance_the_operator_made_is_used_and_left_in_place(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    smi = install(tmp_path / "smi", gpus=4, gis=[{"gpu": 2, "profile": "1g.10gb", "start": 6}])
    drv = LocalDriver(tmp_path / "d", nodes={"n1": 4}, slice_mechanisms="mig", nvidia_smi=str(smi))
    drv.provision(mig_grant(make_grant))
    state, env = run_env(drv, "S1")
    assert state is JobState.COMPLETED and isinstance(env, dict) and env["CUDA_VISIBLE_DEVICES"].startswith("MIG-")
    assert not any("-cgi" in c for c in state_of(smi)["calls"][1:])  # found, not made
    drv.release("S1")
    assert len(state_of(smi)["gis"]) == 1  # the operator's instance stays


def test_nvidia_smi_failing_fails_the_job_with_its_reason_and_nothing_runs(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    smi = install(tmp_path / "smi", gpus=4, fail={"cgi": "Unable to create a GPU instance on GPU 2 using profile 19: "
                                                         "Insufficient Resources"})
    drv = LocalDriver(tmp_path / "d", nodes={"n1": 4}, slice_mechanisms="mig", nvidia_smi=str(smi))
    drv.provision(mig_grant(make_grant))
    marker = tmp_path / "ran"
    h = drv.submit("S1", JobSpec(command=("touch", str(marker))))
    st = drv.wait(h.job_id, 10)
    assert st.state is JobState.FAILED and st.exit_code is None
    assert st.reason is not None
    for part in ("1g.10gb", "start 6", "GPU 2", "Insufficient Resources"):
        assert part in st.reason
    assert not marker.exists()
    # declared mig on a node without nvidia-smi: fails clearly too
    bare = LocalDriver(tmp_path / "e", nodes={"n1": 4}, slice_mechanisms="mig", nvidia_smi=str(tmp_path / "none"))
    bare.provision(mig_grant(make_grant))
    st = bare.wait(bare.submit("S1", JobSpec(command=("true",))).job_id, 10)
    assert st.state is JobState.FAILED and "nvidia-smi not found" in (st.reason or "")


def test_a_placement_taken_by_another_profile_is_refused_not_shared(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    smi = install(tmp_path / "smi", gpus=4, gis=[{"gpu": 2, "profile": "1g.20gb", "start": 6}])
    drv = LocalDriver(tmp_path / "d", nodes={"n1": 4}, slice_mechanisms="mig", nvidia_smi=str(smi))
    drv.provision(mig_grant(make_grant))
    state, reason = run_env(drv, "S1")
    assert state is JobState.FAILED and "profile 1g.20gb at that start" in str(reason)


def test_the_mig_variables_are_the_drivers_alone() -> None:
    for name in ("NVIDIA_VISIBLE_DEVICES", "SUANLI_MIG_PROFILE", "SUANLI_MIG_START", "SUANLI_MIG_GPU",
                 "ASCEND_VISIBLE_DEVICES", "SUANLI_VNPU_ID"):
        assert name in SLICE_ENV


def test_parsers_read_nvidias_formats() -> None:
    lgip = "|   0  MIG 1g.10gb       19     7/7        9.50       No     14     0     0   |\n" \
           "|                                                             1     0     0   |"
    assert parse_profiles(lgip) == {"1g.10gb": 19}
    lgi = "|   0  MIG 1g.10gb         19        13          6:1    |"
    assert parse_gpu_instances(lgi)[0].gi == 13 and parse_gpu_instances(lgi)[0].start == 6
    table = "| MIG devices: |\n|  0   13   0   0  |    13MiB /  9728MiB  |\n| Processes: |"
    assert parse_mig_devices(table) == {(0, 13, 0): 0}
    listing = ("GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77)\n"
               "  MIG 1g.10gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)")
    assert parse_list(listing) == {(0, 0): "MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f"}


def test_an_instance_that_cannot_be_destroyed_keeps_the_release_pending(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    smi = install(tmp_path / "smi", gpus=4)
    drv = LocalDriver(tmp_path / "d", nodes={"n1": 4}, slice_mechanisms="mig", nvidia_smi=str(smi))
    drv.provision(mig_grant(make_grant))
    assert run_env(drv, "S1")[0] is JobState.COMPLETED
    state = json.loads((smi.parent / "nvidia-smi-state.json").read_text())
    state["fail"] = {"dci": "Unable to destroy compute instance ID 0 from GPU 2 GPU instance ID 1: In use by another client"}
    (smi.parent / "nvidia-smi-state.json").write_text(json.dumps(state))
    with pytest.raises(EngineError, match="In use by another client"):
        drv.release("S1")
    assert drv.leases() and len(state_of(smi)["gis"]) == 1  # kept, to retry
    state = json.loads((smi.parent / "nvidia-smi-state.json").read_text())
    state["fail"] = {}
    (smi.parent / "nvidia-smi-state.json").write_text(json.dumps(state))
    drv.release("S1")  # the reconciler's retry
    assert not drv.leases() and state_of(smi)["gis"] == []


def test_the_job_may_open_its_instance_and_nothing_that_remakes_instances(tmp_path: Path) -> None:
    proc = tmp_path / "caps"
    (proc / "gpu2/mig/gi7/ci0").mkdir(parents=True)
    (proc / "gpu2/mig/gi7/access").write_text("DeviceFileMinor: 75\nDeviceFileMode: 292\n")
    (proc / "gpu2/mig/gi7/ci0/access").write_text("DeviceFileMinor: 76\nDeviceFileMode: 292\n")
    (proc / "mig").mkdir()
    (proc / "mig/config").write_text("DeviceFileMinor: 1\n")
    assert capability_nodes(2, 7, 0, proc) == ("nvidia-caps/nvidia-cap75", "nvidia-caps/nvidia-cap76")
    assert capability_nodes(3, 7, 0, proc) == ()


def test_the_sandbox_shows_the_job_its_gpu_and_its_instances_capabilities_only(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    dev = tmp_path / "dev"
    (dev / "nvidia-caps").mkdir(parents=True)
    for name in ("nvidia2", "nvidia3", "nvidiactl", "nvidia-caps/nvidia-cap1", "nvidia-caps/nvidia-cap2",
                 "nvidia-caps/nvidia-cap75", "nvidia-caps/nvidia-cap76"):
        os.mknod(dev / name, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    smi = install(tmp_path / "smi", gpus=4)
    drv = LocalDriver(tmp_path / "d", nodes={"n1": 4}, slice_mechanisms="mig", nvidia_smi=str(smi),
                      sandbox=Sandbox(dev_root=dev))
    proc = tmp_path / "caps"  # where the driver reads the instance's capability minors (GI 1, CI 0 of GPU 2)
    (proc / "gpu2/mig/gi1/ci0").mkdir(parents=True)
    (proc / "gpu2/mig/gi1/access").write_text("DeviceFileMinor: 75\n")
    (proc / "gpu2/mig/gi1/ci0/access").write_text("DeviceFileMinor: 76\n")
    drv._mig.proc = proc
    drv.provision(mig_grant(make_grant))
    h = drv.submit("S1", JobSpec(command=("sh", "-c", "ls /dev; ls /dev/nvidia-caps")))
    assert drv.wait(h.job_id, 30).state is JobState.COMPLETED, drv.logs(h.job_id)
    seen = set(drv.logs(h.job_id).split())
    assert {"nvidia2", "nvidiactl", "nvidia-cap75", "nvidia-cap76"} <= seen
    assert not {"nvidia3", "nvidia-cap1", "nvidia-cap2"} & seen

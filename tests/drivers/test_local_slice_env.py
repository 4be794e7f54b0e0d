"""The local driver declares its slice mechanisms and hands a slice's limits to the job (a real process)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from suanli.domain.slicing import Mechanism, SliceLimits
from suanli.drivers.base import DeviceAllocation, JobSpec, JobState, LeaseGrant
from suanli.drivers.local import LocalDriver
from suanli.errors import ValidationError


def slice_grant(make_grant, limits: SliceLimits) -> LeaseGrant:  # type: ignore[no-untyped-def]
    g = make_grant("S1", devices=(2,), milli=(300,))
    a = g.allocations[0]
    one = DeviceAllocation(node=a.node, device_indices=a.device_indices, device_milli=a.device_milli, slice=limits)
    return LeaseGrant(lease_id=g.lease_id, tenant=g.tenant, start=g.start, end=g.end, allocations=(one,))


def test_hami_is_declared_only_where_the_library_is_and_preloaded_for_the_job(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    declared = LocalDriver(tmp_path / "a", nodes={"n1": 4}, slice_mechanisms="mig,mps,vnpu")  # the operator's word
    assert declared.capabilities().slice_mechanisms == {Mechanism.MIG, Mechanism.MPS, Mechanism.VNPU}
    missing = LocalDriver(tmp_path / "b", nodes={"n1": 4}, slice_mechanisms=(), hami_library=tmp_path / "nope.so")
    assert missing.capabilities().slice_mechanisms == frozenset()
    lib = tmp_path / "libvgpu.so"
    libm = next(Path(d) / "libm.so.6" for d in ("/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/lib64", "/lib")
                if (Path(d) / "libm.so.6").exists())
    shutil.copyfile(libm, lib)  # a harmless real library standing in for HAMi-core: the job must be able to load it
    drv = LocalDriver(tmp_path / "c", nodes={"n1": 4}, slice_mechanisms=(), hami_library=lib,
                      grace=timedelta(seconds=2))
    assert drv.capabilities().slice_mechanisms == {Mechanism.HAMI}
    assert drv.capabilities().to_dict()["slice_mechanisms"] == ["hami"]
    grant = slice_grant(make_grant, SliceLimits("hami", 30, 4096))
    assert LeaseGrant.from_dict(grant.to_dict()) == grant  # survives the driver's grant store
    drv.provision(grant)
    h = drv.submit("S1", JobSpec(command=("sh", "-c", 'echo "$CUDA_VISIBLE_DEVICES $CUDA_DEVICE_MEMORY_LIMIT '
                                          '$CUDA_DEVICE_SM_LIMIT ${LD_PRELOAD+preload}"')))
    assert drv.wait(h.job_id, 20).state is JobState.COMPLETED
    assert drv.logs(h.job_id).strip() == "2 4096m 30 preload"  # loaded: no ld.so error in the log


def test_a_job_may_not_set_its_own_limits(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    drv = LocalDriver(tmp_path / "d", nodes={"n1": 4}, slice_mechanisms="mps")
    drv.provision(slice_grant(make_grant, SliceLimits("mps", 30, 4096)))
    for name in ("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE", "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT", "SUANLI_SLICE_ENFORCEMENT"):
        with pytest.raises(ValidationError, match="may not set"):
            drv.submit("S1", JobSpec(command=("true",), env={name: "100"}))

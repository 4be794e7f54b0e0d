"""Slurm output parsers and state mapping (no Slurm needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from suanli.drivers.base import Feature, JobState, NodeState
from suanli.drivers.slurm import Gres, SlurmConfig, SlurmDriver, job_state
from suanli.drivers.slurm.cli import (
    epoch_time,
    expand_hostlist,
    expand_indices,
    gres_count,
    gres_indices,
    parse_kv,
    retryable_text,
)
from suanli.drivers.slurm.driver import _exit_code
from suanli.drivers.slurm.fleet import health_from_state, node_from_kv, parse_gres, partition_from_kv
from suanli.errors import NotFoundError

NODE = ("NodeName=node1 Arch=x86_64 CoresPerSocket=1  CPUAlloc=0 CPUEfctv=4 CPUTot=4 Gres=gpu:a100:4 "
        "NodeAddr=127.0.0.1 RealMemory=2000 Sockets=4 Boards=1 State=DOWN+DRAIN ThreadsPerCore=1 "
        "Partitions=gpu,debug Reason=Not responding [root@2026-11-23T04:49:10] CfgTRES=cpu=4,gres/gpu=4")


def test_parse_kv_keeps_values_with_spaces_and_equals() -> None:
    kv = parse_kv(NODE)
    assert kv["Reason"] == "Not responding [root@2026-11-23T04:49:10]"
    assert kv["CfgTRES"] == "cpu=4,gres/gpu=4" and kv["Gres"] == "gpu:a100:4"


def test_node_from_kv() -> None:
    n = node_from_kv(parse_kv(NODE))
    assert (n.name, n.cpus, n.cores, n.memory_mib) == ("node1", 4, 4, 2000)
    assert n.gres == (Gres("gpu", "a100", 4),) and n.partitions == ("gpu", "debug")
    assert n.state is NodeState.DOWN and n.reason == "Not responding"


@pytest.mark.parametrize(("words", "flags", "state"), [
    ("IDLE", (), NodeState.UP), ("MIXED", (), NodeState.UP), ("IDLE+DRAIN", (), NodeState.DRAIN),
    ("down", (), NodeState.DOWN), ("DOWN*", (), NodeState.DOWN), ("idle", ("DRAIN",), NodeState.DRAIN),
    ("ALLOCATED+DRAIN", (), NodeState.DRAIN), ("IDLE+NOT_RESPONDING", (), NodeState.DOWN),
])
def test_health_from_state(words: str, flags: tuple[str, ...], state: NodeState) -> None:
    assert health_from_state(words, flags) is state


def test_hostlists_and_indices() -> None:
    assert expand_hostlist("node[1-3,7],gpu-a") == ["node1", "node2", "node3", "node7", "gpu-a"]
    assert expand_hostlist("n[01-03]") == ["n01", "n02", "n03"]
    assert expand_hostlist("None assigned") == [] and expand_hostlist("") == []
    assert expand_indices("0-1,3") == (0, 1, 3) and expand_indices("N/A") == ()
    assert gres_indices("JOB_GRES=gpu:a100:2 Nodes=node1 GRES=gpu:a100:2(IDX:2-3)") == (2, 3)


def test_gres_counts() -> None:
    assert gres_count("gres:gpu:a100:2") == 2
    assert gres_count("billing=1,cpu=1,gres/gpu:a100=2,gres/gpu=2,node=1") == 2
    assert gres_count("gpu:a100:4(S:0-1),gpu:t4:2") == 6
    assert gres_count("") == 0 and gres_count("gres:mps:100") == 0
    assert parse_gres("gpu:a100:4(S:0-1),gpu:2,nic") == (Gres("gpu", "a100", 4), Gres("gpu", None, 2), Gres("nic", None, 1))


def test_states_exit_codes_and_times() -> None:
    assert job_state("CANCELLED by 0") is JobState.CANCELLED
    assert job_state("OUT_OF_MEMORY") is JobState.FAILED and job_state("COMPLETING") is JobState.RUNNING
    assert job_state("WEIRD") is JobState.LOST
    assert _exit_code("2:0") == 2 and _exit_code("0:15") == -15 and _exit_code("") is None and _exit_code(0) == 0
    assert epoch_time(0) is None and epoch_time(1) == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert retryable_text("sinfo: error: Unable to contact slurm controller (connect failure)")
    assert not retryable_text("Access denied to requested reservation")


def test_partition_from_kv_time_limits() -> None:
    p = partition_from_kv(parse_kv("PartitionName=gpu Default=YES MaxTime=1-02:03:00 Nodes=node[1-2] State=UP"))
    assert p.max_time_minutes == 1563 and p.nodes == ("node1", "node2") and p.default
    assert partition_from_kv(parse_kv("PartitionName=x MaxTime=UNLIMITED Nodes=a")).max_time_minutes is None


def test_capabilities_and_job_ids_without_slurm(tmp_path: Path) -> None:
    d = SlurmDriver(SlurmConfig(state_dir=tmp_path / "s", job_dir=tmp_path / "j", accounting=False))
    caps = d.capabilities()
    assert "fractional GPU: not supported by this Slurm configuration" in (caps.reason(Feature.FRACTIONAL_DEVICES) or "")
    assert "no slurmdbd" in (caps.reason(Feature.USAGE_ACCOUNTING) or "")
    assert caps.supports(Feature.SHARED_NODE) and not caps.supports(Feature.DEVICE_PINNING)
    with pytest.raises(NotFoundError, match="not a Slurm job id"):
        d.poll("job-abc")
    assert d.reservation_name("L1") == "suanli-L1"

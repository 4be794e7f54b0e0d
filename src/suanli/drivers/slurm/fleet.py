"""A running Slurm cluster's fleet as plain data: nodes (CPUs, memory, GRES, state) and partitions.

Built from slurmrestd (``/nodes``, ``/partitions``) or from ``scontrol -o show node|partition``;
both give the same dataclasses. The platform maps these onto its own sites/nodes (GRES type ->
accelerator model via the catalog's aliases); nothing here knows the catalog.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from suanli.drivers.base import NodeHealth, NodeState
from suanli.drivers.slurm.cli import expand_hostlist


@dataclass(frozen=True)
class Gres:
    name: str
    """``gpu``"""
    type: str | None
    """``a100``; ``None`` when untyped."""
    count: int


@dataclass(frozen=True)
class SlurmNode:
    name: str
    cpus: int
    cores: int
    """Physical cores (sockets × cores per socket): what reservations count in ``CoreCnt``."""
    memory_mib: int
    gres: tuple[Gres, ...]
    partitions: tuple[str, ...]
    state: NodeState
    reason: str | None
    slurm_state: str
    """Slurm's own state words, e.g. ``IDLE+DRAIN``."""

    def gres_total(self, name: str = "gpu") -> int:
        return sum(g.count for g in self.gres if g.name == name)

    def gres_types(self, name: str = "gpu") -> tuple[str, ...]:
        return tuple(g.type for g in self.gres if g.name == name and g.type)


@dataclass(frozen=True)
class SlurmPartition:
    name: str
    nodes: tuple[str, ...]
    default: bool
    state: str
    max_time_minutes: int | None
    """``None`` = unlimited."""


@dataclass(frozen=True)
class SlurmFleet:
    cluster: str | None
    nodes: tuple[SlurmNode, ...]
    partitions: tuple[SlurmPartition, ...]

    def node(self, name: str) -> SlurmNode | None:
        return next((n for n in self.nodes if n.name == name), None)


def parse_gres(text: str) -> tuple[Gres, ...]:
    """``gpu:a100:4(S:0-1),gpu:t4:2`` / ``gpu:4`` -> Gres tuples."""
    out = []
    for item in re.split(r",(?![^(]*\))", text or ""):
        item = re.sub(r"\(.*?\)", "", item).strip()
        if not item or item == "(null)":
            continue
        bits = item.split(":")
        if len(bits) == 3 and bits[2].isdigit():
            out.append(Gres(bits[0], bits[1], int(bits[2])))
        elif len(bits) == 2 and bits[1].isdigit():
            out.append(Gres(bits[0], None, int(bits[1])))
        elif len(bits) == 2:
            out.append(Gres(bits[0], bits[1], 1))
        else:
            out.append(Gres(bits[0], None, 1))
    return tuple(out)


def health_from_state(state_words: str, flags: tuple[str, ...] = ()) -> NodeState:
    """Slurm ``DOWN``/``DOWN*``/``IDLE+DRAIN``/``MIXED+DRAIN``/``NOT_RESPONDING`` -> NodeState."""
    words = {w.strip("*~#!%$@^-").upper() for w in re.split(r"[+\s]", state_words or "") if w}
    words |= {f.upper() for f in flags}
    if words & {"DOWN", "FAIL", "FAILING", "NOT_RESPONDING", "NO_RESPOND", "FUTURE", "UNKNOWN",
                "POWERED_DOWN", "POWER_DOWN", "INVAL"}:
        return NodeState.DOWN
    if words & {"DRAIN", "DRAINED", "DRAINING", "DRNG", "MAINT", "REBOOT_REQUESTED"}:
        return NodeState.DRAIN
    return NodeState.UP


def node_from_rest(raw: Mapping[str, Any]) -> SlurmNode:
    flags = tuple(raw.get("state_flags") or ())
    state = str(raw.get("state") or "")
    words = "+".join([state, *flags]).upper()
    cores = int(raw.get("sockets") or 1) * int(raw.get("cores") or 1)
    return SlurmNode(name=raw["name"], cpus=int(raw.get("cpus") or 0), cores=cores or int(raw.get("cpus") or 0),
                     memory_mib=int(raw.get("real_memory") or 0), gres=parse_gres(str(raw.get("gres") or "")),
                     partitions=tuple(raw.get("partitions") or ()), state=health_from_state(state, flags),
                     reason=(raw.get("reason") or None), slurm_state=words)


def node_from_kv(kv: Mapping[str, str]) -> SlurmNode:
    cores = int(kv.get("Sockets", "1")) * int(kv.get("CoresPerSocket", "1"))
    parts = kv.get("Partitions", "")
    reason = kv.get("Reason") or None
    if reason:
        reason = re.sub(r"\s*\[[^\]]*@[^\]]*\]\s*$", "", reason) or None  # "[root@2026-…]" suffix
    return SlurmNode(name=kv["NodeName"], cpus=int(kv.get("CPUTot", "0")), cores=cores,
                     memory_mib=int(kv.get("RealMemory", "0")), gres=parse_gres(kv.get("Gres", "")),
                     partitions=tuple(p for p in parts.split(",") if p and p != "(null)"),
                     state=health_from_state(kv.get("State", "")), reason=reason,
                     slurm_state=kv.get("State", ""))


def node_health(node: SlurmNode) -> NodeHealth:
    return NodeHealth(node=node.name, state=node.state,
                      reason=node.reason if node.state is not NodeState.UP else (node.reason or None))


def partition_from_rest(raw: Mapping[str, Any]) -> SlurmPartition:
    max_time = raw.get("max_time_limit")
    return SlurmPartition(name=raw["name"], nodes=tuple(expand_hostlist(str(raw.get("nodes") or ""))),
                          default="default" in (raw.get("flags") or ()), state=str(raw.get("state") or ""),
                          max_time_minutes=max_time if isinstance(max_time, int) and max_time >= 0 else None)


def partition_from_kv(kv: Mapping[str, str]) -> SlurmPartition:
    mt = kv.get("MaxTime", "UNLIMITED")
    minutes: int | None = None
    if mt not in ("UNLIMITED", "INFINITE"):
        days, _, hms = mt.rpartition("-")
        h, m, s = ([0, 0, *map(int, hms.split(":"))])[-3:]
        minutes = (int(days) if days else 0) * 1440 + h * 60 + m + (1 if s else 0)
    return SlurmPartition(name=kv["PartitionName"], nodes=tuple(expand_hostlist(kv.get("Nodes", ""))),
                          default=kv.get("Default") == "YES", state=kv.get("State", ""),
                          max_time_minutes=minutes)

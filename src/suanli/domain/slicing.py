"""Enforced slices: which vendor mechanism holds a slice to its compute share and memory, and in what sizes.

A *slice* (``form: slice``) is ``share_pct`` of one device's compute and ``memory_mib`` of its memory.
It is *enforced* when the job physically cannot use more, through the vendor's own mechanism:

- :attr:`Mechanism.MIG` — NVIDIA Multi-Instance GPU on the MIG-capable models (A100-80GB, A800,
  H100-SXM, H800, H20, H200). Only fixed *GPU-instance profiles* exist (``1g.10gb`` … ``7g.80gb``), each
  on fixed *placements* (start memory slices) of the GPU's 8 memory slices. A slice is rounded **up** to
  the smallest profile holding both its compute (``g`` of 7 compute slices) and its memory, and billed
  as that profile: ``milli = 125 × span`` (the memory slices it occupies of 8), memory = the profile's.
  Any valid MIG layout of one GPU occupies at most its 8 memory slices, so such a layout never sums to
  more than 1000 milli: the existing capacity rule of ``allocations`` still holds.
  Source: NVIDIA MIG User Guide, "Supported MIG Profiles" (A100-SXM4-80GB, H100-SXM5-80GB, H20-96GB,
  H200-141GB tables and placement diagrams), https://docs.nvidia.com/datacenter/tesla/mig-user-guide/.
  The ``+me`` (media-extension) variants are not sold.
- :attr:`Mechanism.HAMI` — HAMi-core (``libvgpu.so`` preloaded into the job): device memory capped by
  ``CUDA_DEVICE_MEMORY_LIMIT`` (allocation over it fails) and SM use throttled to ``CUDA_DEVICE_SM_LIMIT``
  percent. Any NVIDIA model, any size; only where the node has the library (the driver says so).
- :attr:`Mechanism.MPS` — the CUDA Multi-Process Service: ``CUDA_MPS_ACTIVE_THREAD_PERCENTAGE`` (share of
  SMs a client may use) and ``CUDA_MPS_PINNED_DEVICE_MEM_LIMIT`` (device memory a client may allocate,
  CUDA ≥ 11.5), enforced by the MPS server of the node. Any NVIDIA model from Volta on (every NVIDIA
  model of the catalog), any size. Weaker isolation than MIG: a fatal fault in one client can affect
  the other clients of the same MPS server (NVIDIA MPS documentation, "Limitations").
- :attr:`Mechanism.VNPU` — Huawei Ascend virtual NPU templates (``npu-smi set -t create-vnpu``): on the
  catalog's Ascend-910B (910B3: 20 AI cores, 64 GB) the templates ``vir05_1c_16g`` (5 AI cores, 1 AI CPU,
  16 GB) and ``vir10_3c_32g`` (10 AI cores, 3 AI CPUs, 32 GB). Source: Huawei MindCluster scheduling
  user guide, "Virtualization Rules" / "Virtualization Templates" for Atlas A2 training products
  (hiascend.com), as also listed in HAMi's ascend-device-configmap. Billed as the template's dominant
  share (cores ÷ 20 or memory ÷ 64 GB), so a full layout never exceeds 1000 milli.
- Cambricon (MLU370-X8) and Hygon (DCU K100-AI): **none**. Cambricon documents sMLU/MIM partitioning
  and Hygon a vDCU, but neither is integrated here (no driver hands their limits to a job), so a slice
  there is not enforced and is sold only with ``allow_unenforced``.

The enforcement of a slice is the first mechanism in the model's preference order that the backend
(execution driver) declares (:func:`choose`): MIG, then HAMi, then MPS on NVIDIA; vNPU on Ascend. Its
label (``mig:1g.10gb``, ``hami``, ``mps``, ``vnpu:vir05_1c_16g``, ``none``) is in the order, lease and quote.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from suanli.domain.catalog import AcceleratorModel, Vendor
from suanli.errors import ValidationError

MILLI = 1000
MIG_MEMORY_SLICES = 8
MIG_COMPUTE_SLICES = 7


class Mechanism(StrEnum):
    MIG = "mig"
    HAMI = "hami"
    MPS = "mps"
    VNPU = "vnpu"


ALL_MECHANISMS = frozenset(Mechanism)
NONE = "none"
"""The enforcement label of a slice nothing holds to its share."""


@dataclass(frozen=True)
class MigProfile:
    """One GPU-instance profile: ``compute`` of 7 compute slices, ``span`` of 8 memory slices, placed
    at one of ``starts`` (memory-slice index) and occupying ``[start, start + span)``."""

    name: str
    compute: int
    span: int
    starts: tuple[int, ...]

    @property
    def milli(self) -> int:
        return MILLI * self.span // MIG_MEMORY_SLICES

    @property
    def compute_pct(self) -> int:
        """Compute share in whole percent, rounded down (1g = 14 %, 7g = 100 %)."""
        return 100 * self.compute // MIG_COMPUTE_SLICES

    def memory_mib(self, device_memory_gib: int) -> int:
        return device_memory_gib * 1024 * self.span // MIG_MEMORY_SLICES


def _mig_table(gb_per_slice: Sequence[int]) -> tuple[MigProfile, ...]:
    """The six profiles of an 8-memory-slice / 7-compute-slice GPU (A100-80GB, H100, H800, H20, H200);
    ``gb_per_slice``: the nominal GB in the names of the 1-, 2-, 4- and 8-slice profiles."""
    one, two, four, eight = gb_per_slice
    return (
        MigProfile(f"1g.{one}gb", 1, 1, (0, 1, 2, 3, 4, 5, 6)),
        MigProfile(f"1g.{two}gb", 1, 2, (0, 2, 4, 6)),
        MigProfile(f"2g.{two}gb", 2, 2, (0, 2, 4)),
        MigProfile(f"3g.{four}gb", 3, 4, (0, 4)),
        MigProfile(f"4g.{four}gb", 4, 4, (0,)),
        MigProfile(f"7g.{eight}gb", 7, 8, (0,)),
    )


_MIG_80 = _mig_table((10, 20, 40, 80))
MIG_PROFILES: dict[str, tuple[MigProfile, ...]] = {
    "A100-80GB": _MIG_80,
    "A800": _MIG_80,
    "H100-SXM": _MIG_80,
    "H800": _MIG_80,
    "H20": _mig_table((12, 24, 48, 96)),
    "H200": _mig_table((18, 35, 71, 141)),
}
"""MIG profiles per catalog model (NVIDIA MIG User Guide, "Supported MIG Profiles")."""


@dataclass(frozen=True)
class VnpuTemplate:
    name: str
    ai_cores: int
    ai_cpus: int
    memory_gib: int


VNPU_TEMPLATES: dict[str, tuple[int, tuple[VnpuTemplate, ...]]] = {
    "Ascend-910B": (20, (VnpuTemplate("vir05_1c_16g", 5, 1, 16), VnpuTemplate("vir10_3c_32g", 10, 3, 32))),
}
"""Model -> (AI cores of the chip, its vNPU templates) (Huawei MindCluster "Virtualization Templates", 910B3)."""


@dataclass(frozen=True)
class SliceSize:
    """What a slice holds once mapped onto a mechanism: ``milli`` of the device (capacity and billing),
    ``memory_mib`` of device memory, ``share_pct`` of compute handed to the job as its limit."""

    mechanism: Mechanism | None
    profile: str | None
    milli: int
    memory_mib: int
    share_pct: int
    span: int = 0
    """MIG only: memory slices occupied (the instance's width on the GPU)."""

    @property
    def enforcement(self) -> str:
        if self.mechanism is None:
            return NONE
        return f"{self.mechanism.value}:{self.profile}" if self.profile else self.mechanism.value

    def to_dict(self) -> dict[str, Any]:
        return {"enforcement": self.enforcement, "milli": self.milli, "memory_mib": self.memory_mib,
                "share_pct": self.share_pct}


def preference(model: AcceleratorModel) -> tuple[Mechanism, ...]:
    """The mechanisms that can enforce a slice of ``model``, best first."""
    if model.vendor is Vendor.NVIDIA:
        mig = (Mechanism.MIG,) if model.name in MIG_PROFILES else ()
        return (*mig, Mechanism.HAMI, Mechanism.MPS)
    if model.vendor is Vendor.HUAWEI and model.name in VNPU_TEMPLATES:
        return (Mechanism.VNPU,)
    return ()


def dominant_milli(model: AcceleratorModel, share_pct: int, memory_mib: int) -> int:
    """The share a limit-based slice holds: ``max(compute %, memory ÷ device memory)`` in thousandths."""
    return max(share_pct * 10, math.ceil(memory_mib * MILLI / (model.memory_gib * 1024)))


def size_for(model: AcceleratorModel, mechanism: Mechanism | None, share_pct: int, memory_mib: int) -> SliceSize | None:
    """The smallest size of ``mechanism`` on ``model`` holding ``share_pct`` compute and ``memory_mib``
    memory; ``None`` when none can (too big, or the mechanism does not apply to the model)."""
    if memory_mib > model.memory_gib * 1024 or not 1 <= share_pct <= 100:
        return None
    if mechanism is None or mechanism in (Mechanism.MPS, Mechanism.HAMI):
        if mechanism is not None and model.vendor is not Vendor.NVIDIA:
            return None
        return SliceSize(mechanism, None, dominant_milli(model, share_pct, memory_mib), memory_mib, share_pct)
    if mechanism is Mechanism.MIG:
        for prof in sorted(MIG_PROFILES.get(model.name, ()), key=lambda x: (x.span, x.compute)):
            mem = prof.memory_mib(model.memory_gib)
            if share_pct * MIG_COMPUTE_SLICES <= prof.compute * 100 and memory_mib <= mem:
                return SliceSize(mechanism, prof.name, prof.milli, mem, max(prof.compute_pct, share_pct), prof.span)
        return None
    cores, templates = VNPU_TEMPLATES.get(model.name, (0, ()))
    for t in sorted(templates, key=lambda x: x.ai_cores):
        if share_pct * cores <= t.ai_cores * 100 and memory_mib <= t.memory_gib * 1024:
            milli = max(MILLI * t.ai_cores // cores, MILLI * t.memory_gib // model.memory_gib)
            return SliceSize(mechanism, t.name, milli, t.memory_gib * 1024, 100 * t.ai_cores // cores)
    return None


def sizes_text(model: AcceleratorModel, mechanism: Mechanism) -> str:
    """The sizes ``mechanism`` offers on ``model``, for messages and listings."""
    if mechanism is Mechanism.MIG:
        return ", ".join(f"{p.name} (≤{p.compute_pct}% compute, ≤{p.memory_mib(model.memory_gib)} MiB)"
                         for p in MIG_PROFILES[model.name])
    if mechanism is Mechanism.VNPU:
        cores, templates = VNPU_TEMPLATES[model.name]
        return ", ".join(f"{t.name} (≤{100 * t.ai_cores // cores}% compute, ≤{t.memory_gib * 1024} MiB)"
                         for t in templates)
    return f"any share 1-100% and memory up to {model.memory_gib * 1024} MiB"


@dataclass(frozen=True)
class Choice:
    """How a slice of one model would be sold: ``size`` (its mechanism None = unenforced) or why not."""

    model: str
    size: SliceSize | None
    why_not: str = ""


def choose(model: AcceleratorModel, available: Iterable[Mechanism], share_pct: int, memory_mib: int) -> Choice:
    """The best enforcing mechanism of ``model`` among ``available`` (the backend's) that holds the size;
    ``size.mechanism is None`` when none applies (an unenforced slice), ``size is None`` when an
    enforcing mechanism applies but no size of it holds the request (MIG profiles, vNPU templates)."""
    have = set(available)
    usable = [m for m in preference(model) if m in have]
    if not usable:
        return Choice(model.name, size_for(model, None, share_pct, memory_mib),
                      why_not=f"{model.name}: no enforcing mechanism on this backend"
                      f" (it could use {', '.join(m.value for m in preference(model)) or 'none'})")
    for mech in usable:
        size = size_for(model, mech, share_pct, memory_mib)
        if size is not None:
            return Choice(model.name, size)
    return Choice(model.name, None, why_not=f"{model.name} ({usable[0].value}): {sizes_text(model, usable[0])}")


def free_starts(profile: MigProfile, taken: Iterable[tuple[int, int]]) -> list[int]:
    """Placements of ``profile`` that overlap none of ``taken`` ((start, span) of instances already there)."""
    held: set[int] = set()
    for start, span in taken:
        held.update(range(start, start + span))
    return [s for s in profile.starts if not held & set(range(s, s + profile.span))]


def best_start(profile: MigProfile, taken: Sequence[tuple[int, int]], table: Sequence[MigProfile] = ()) -> int | None:
    """The placement to use: the free one that leaves the most placements of the larger profiles of
    ``table`` free (keeps room for big instances), ties to the highest start; ``None`` if none is free."""
    starts = free_starts(profile, taken)
    if not starts:
        return None
    larger = [p for p in table if p.span > profile.span]

    def room(start: int) -> int:
        after = [*taken, (start, profile.span)]
        return sum(len(free_starts(p, after)) for p in larger)

    return max(starts, key=lambda st: (room(st), st))


def mig_profile(model: str, name: str) -> MigProfile | None:
    return next((p for p in MIG_PROFILES.get(model, ()) if p.name == name), None)


@dataclass(frozen=True)
class SliceLimits:
    """The limits a driver hands to a slice's job (:func:`job_env`)."""

    enforcement: str
    share_pct: int
    memory_mib: int
    mig_start: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"enforcement": self.enforcement, "share_pct": self.share_pct, "memory_mib": self.memory_mib,
                "mig_start": self.mig_start}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SliceLimits:
        return cls(str(raw["enforcement"]), int(raw["share_pct"]), int(raw["memory_mib"]),
                   None if raw.get("mig_start") is None else int(raw["mig_start"]))


HAMI_LIBRARY = "libvgpu.so"


def job_env(limits: SliceLimits, device_index: int, *, hami_library: str | None = None) -> dict[str, str]:
    """Environment a slice's job receives besides the visible-devices variable (device ordinal 0 in the
    job, as that variable leaves it only this device). ``SUANLI_SLICE_ENFORCEMENT`` always says what holds it."""
    env = {"SUANLI_SLICE_ENFORCEMENT": limits.enforcement, "SUANLI_SLICE_SHARE_PCT": str(limits.share_pct),
           "SUANLI_SLICE_MEMORY_MIB": str(limits.memory_mib)}
    mech = limits.enforcement.split(":", 1)[0]
    if mech == Mechanism.MPS:
        env["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"] = str(limits.share_pct)
        env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] = f"0={limits.memory_mib}M"
    elif mech == Mechanism.HAMI:
        env["CUDA_DEVICE_MEMORY_LIMIT"] = f"{limits.memory_mib}m"
        env["CUDA_DEVICE_SM_LIMIT"] = str(limits.share_pct)
        if hami_library:
            env["LD_PRELOAD"] = hami_library
    elif mech == Mechanism.MIG:
        env["SUANLI_MIG_PROFILE"] = limits.enforcement.split(":", 1)[1]
        env["SUANLI_MIG_GPU"] = str(device_index)
        env["SUANLI_MIG_START"] = "" if limits.mig_start is None else str(limits.mig_start)
    elif mech == Mechanism.VNPU:
        env["SUANLI_VNPU_TEMPLATE"] = limits.enforcement.split(":", 1)[1]
    return env


def parse_allow_unenforced(value: Any, is_slice: bool) -> bool:
    """The order field ``allow_unenforced``: a boolean, for a slice only."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValidationError(f"allow_unenforced must be true or false, got {value!r}", field="allow_unenforced")
    if value and not is_slice:
        raise ValidationError("allow_unenforced is for a slice only (form: slice)", field="allow_unenforced")
    return value


def parse_mechanisms(text: str) -> frozenset[Mechanism]:
    """A comma list of mechanism names (a setting); unknown names raise ValueError naming the allowed ones."""
    out = set()
    for part in (x.strip().lower() for x in text.split(",")):
        if not part:
            continue
        try:
            out.add(Mechanism(part))
        except ValueError:
            raise ValueError(f"unknown slice mechanism {part!r}; allowed: "
                             f"{', '.join(m.value for m in Mechanism)}") from None
    return frozenset(out)


__all__ = ["ALL_MECHANISMS", "MIG_PROFILES", "NONE", "VNPU_TEMPLATES", "Choice", "Mechanism", "MigProfile",
           "SliceLimits", "SliceSize", "VnpuTemplate", "best_start", "choose", "dominant_milli", "free_starts",
           "job_env", "mig_profile", "parse_allow_unenforced", "parse_mechanisms", "preference", "size_for", "sizes_text"]

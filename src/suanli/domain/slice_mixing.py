"""Which slices may share one device: only slices held by the same mechanism (docs/slices.md "Mixing
mechanisms on one device").

A slice's *mechanism class* is its enforcement label up to the first ``:`` (``mig:1g.10gb`` -> ``mig``):
``mig``, ``mps``, ``hami``, ``vnpu`` or ``none`` (unenforced). Two slices whose allocations overlap in time
may be on one device only when their classes are equal. Why each other combination is unsafe:

- **none beside anything enforced**: the unenforced job is held to no limit; it can allocate the whole
  device memory and use every SM, so the enforced neighbour's memory and compute are not guaranteed.
- **mps beside hami**: each limit is held by a mechanism that does not see the other's clients. HAMi-core
  accounts only the processes that preload it; a non-MPS process runs in its own context, time-sliced
  against the MPS server, so ``CUDA_MPS_ACTIVE_THREAD_PERCENTAGE`` no longer bounds what the MPS clients
  share (and with the GPU in exclusive-process mode, the MPS setup NVIDIA recommends, the other job
  cannot start at all). Sources: NVIDIA MPS documentation (its limits apply to the clients of one MPS
  server; exclusive-process compute mode); HAMi-core README (limits of the processes preloading it).
- **mig beside anything else**: a GPU in MIG mode runs CUDA work only inside MIG instances (NVIDIA MIG
  User Guide), so no MPS, HAMi or unenforced job can run there; MIG instances themselves are hardware
  partitions, so MIG slices share a device with MIG slices only.
- **vnpu**: Ascend only (no other class applies to the same device); vNPUs of one NPU share it.

Whole-device leases never share a device (the capacity rule), so the rule is only about slices. The
same rule is held by placement (:mod:`suanli.service.slice_mixing`) and by the database (migration 0035,
:mod:`suanli.store.slice_mixing`).
"""

from __future__ import annotations

from collections.abc import Iterable

from suanli.domain.slicing import NONE


def mechanism_class(enforcement: str) -> str:
    """``mig``, ``mps``, ``hami``, ``vnpu`` or ``none`` of an enforcement label."""
    return enforcement.split(":", 1)[0] or NONE


def may_share(a: str, b: str) -> bool:
    """May slices enforced as ``a`` and ``b`` (labels or classes) be on one device at one time?"""
    return mechanism_class(a) == mechanism_class(b)


def conflicting(mine: str, present: Iterable[str]) -> list[str]:
    """The classes among ``present`` (a device's slices) that a slice enforced as ``mine`` may not join."""
    return sorted({mechanism_class(x) for x in present} - {mechanism_class(mine)})


def refusal(mine: str, model: str, held: Iterable[str], devices: int) -> str:
    """The reason placement gives when the only devices with room hold slices of other classes."""
    return (f"{devices} {model} device(s) with room hold slices enforced by {', '.join(sorted(set(held)))}; "
            f"a slice enforced by {mechanism_class(mine)} may not share a device with them "
            "(docs/slices.md \"Mixing mechanisms on one device\")")


__all__ = ["conflicting", "may_share", "mechanism_class", "refusal"]

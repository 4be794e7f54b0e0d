"""Enforced slices: the backend's mechanisms, the sizes a slice order maps to, the MIG layout, and
the limits handed to the driver (rules: :mod:`suanli.domain.slicing`; docs/slices.md).

:mod:`suanli.service.placement` calls :func:`slice_options` (which models may hold the slice, at what
size, refusing with 422 what no allowed model can enforce) and :func:`place_mig` (the MIG start on the
device the policy chose); the order path calls :func:`record` once the lease is written.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.catalog import Catalog
from suanli.domain.leases import Lease, OrderSpec, ProductForm
from suanli.domain.slicing import (
    MIG_PROFILES,
    NONE,
    VNPU_TEMPLATES,
    Choice,
    Mechanism,
    SliceLimits,
    SliceSize,
    best_start,
    choose,
    free_starts,
    mig_profile,
    preference,
    sizes_text,
)
from suanli.drivers.slice_probe import resolve
from suanli.errors import ValidationError
from suanli.service.platform import Platform
from suanli.store import slices as store


def mechanisms(p: Platform) -> frozenset[Mechanism]:
    """What the backend enforces slices with: the driver's declaration, or without a driver the setting
    (``auto``: what the server's own host has, probed once)."""
    driver = p.driver
    if driver is not None:
        return driver.capabilities().slice_mechanisms
    return bookkeeping_mechanisms(p.settings.slice_mechanisms, p.settings.nvidia_smi, p.settings.npu_smi,
                                  p.settings.hami_library)


@functools.lru_cache(maxsize=8)
def bookkeeping_mechanisms(setting: str, nvidia_smi: str | None, npu_smi: str | None,
                           hami: Path | None) -> frozenset[Mechanism]:
    return resolve(setting, nvidia_smi=nvidia_smi, npu_smi=npu_smi, hami_library=hami).mechanisms


@dataclass(frozen=True)
class Option:
    code: int
    """model code in the fleet state"""
    size: SliceSize


@dataclass
class SlicePlan:
    """How a placed slice is enforced; ``mig``: (device id, profile, start slot, span) of its instance."""

    enforcement: str
    share_pct: int
    memory_mib: int
    mig: list[tuple[int, str, int, int]] = field(default_factory=list)


def slice_options(catalog: Catalog, model_names: Sequence[str], allowed: Iterable[int], spec: OrderSpec,
                  have: frozenset[Mechanism]) -> list[Option]:
    """Per allowed model, the size the slice takes; only enforced sizes unless ``allow_unenforced``.
    Raises the 422 of docs/slices.md "Ordering" when none is left."""
    allow_unenforced = spec.allow_unenforced
    choices: list[tuple[int, Choice]] = [(code, choose(catalog.get(model_names[code]), have, spec.share_pct,
                                                       spec.memory_mib)) for code in sorted(allowed)]
    enforced = [Option(c, ch.size) for c, ch in choices if ch.size is not None and ch.size.mechanism is not None]
    if enforced and not allow_unenforced:
        return enforced
    if allow_unenforced:
        return enforced + [Option(c, ch.size) for c, ch in choices if ch.size is not None and ch.size.mechanism is None]
    too_big = [ch.why_not for _, ch in choices if ch.size is None]
    if too_big:
        raise ValidationError(
            f"no size that can be enforced holds a slice of {spec.share_pct}% and {spec.memory_mib} MiB on "
            f"the allowed models; possible sizes: {'; '.join(too_big)}", field="share_pct",
            possible=too_big)
    can = sorted({f"{m.name} ({'/'.join(x.value for x in preference(m) if x in have)})" for m in catalog
                  if m.name in model_names and any(x in have for x in preference(m))})
    names = ", ".join(model_names[c] for c, _ in choices)
    raise ValidationError(
        f"a slice of {names} cannot be enforced on this backend (mechanisms it enforces: "
        f"{', '.join(sorted(x.value for x in have)) or 'none'}); models that can: {', '.join(can) or 'none'}; "
        "or send allow_unenforced: true to accept a slice nothing holds to its share",
        field="models", enforceable=can)


def mig_mask(dev_model: np.ndarray, code: int, model: str, profile: str,
             device_ids: Mapping[tuple[int, int], int], taken: Mapping[int, Sequence[tuple[int, int]]]) -> np.ndarray:
    """(N, W) devices of ``code`` on which ``profile`` has a free placement."""
    prof = mig_profile(model, profile)
    assert prof is not None
    mask = np.zeros(dev_model.shape, bool)
    for (node, slot), dev_id in device_ids.items():
        if dev_model[node, slot] == code and free_starts(prof, taken.get(dev_id, ())):
            mask[node, slot] = True
    return mask


def place_mig(model: str, size: SliceSize, device_id: int, taken: dict[int, list[tuple[int, int]]]) -> tuple[int, str, int, int]:
    """The instance on the chosen device (start = :func:`best_start`), added to ``taken``."""
    assert size.profile is not None
    prof = mig_profile(model, size.profile)
    assert prof is not None
    start = best_start(prof, taken.get(device_id, []), MIG_PROFILES[model])
    if start is None:  # the mask let only devices with a free placement through
        raise AssertionError(f"no free placement for {size.profile} on device {device_id}")
    taken.setdefault(device_id, []).append((start, prof.span))
    return device_id, prof.name, start, prof.span


def record(s: Session, lease_id: str, plan: SlicePlan | None) -> None:
    """Write the lease's enforcement and its MIG instances (the trigger refuses an overlap: a capacity race)."""
    if plan is None:
        return
    store.record_grant(s, lease_id, plan.enforcement, plan.share_pct, plan.memory_mib)
    store.record_instances(s, lease_id, plan.mig)


def held_instances(s: Session, lease: Lease) -> list[tuple[int, str, int, int]]:
    """A slice lease's MIG instances on the devices it held last: (device id, profile, start, span)."""
    if lease.form is not ProductForm.SLICE:
        return []
    return [(i.device_id, i.profile, i.start_slot, i.span) for i in store.instances_of(s, lease.id).values()]


def still_free(taken: Mapping[int, Sequence[tuple[int, int]]], held: Sequence[tuple[int, str, int, int]]) -> bool:
    """Are these instances' memory slices free again (a slice coming back on the same devices)?"""
    return all(not (set(range(start, start + span)) & {c for s0, w in taken.get(dev, ()) for c in range(s0, s0 + w)})
               for dev, _prof, start, span in held)


def record_again(s: Session, lease_id: str, plan: SlicePlan | None, same: Sequence[tuple[int, str, int, int]]) -> None:
    """A slice re-placed after an interruption or a suspension: its MIG instance on the new allocation, at the
    same placement when it came back on the same device (``same``), else where the placement put it."""
    placed = list(same) if same else (plan.mig if plan is not None else [])
    if placed:
        store.record_instances(s, lease_id, placed)


def limits_for(s: Session, lease: Lease) -> SliceLimits | None:
    """The limits of a slice lease's jobs (None for other forms, or a slice granted before migration 0030)."""
    if lease.form is not ProductForm.SLICE:
        return None
    g = store.grants(s, [lease.id]).get(lease.id)
    if g is None:
        return None
    inst = store.instances_of(s, lease.id)
    held = {a.device_id for a in lease.last_allocations()}
    start = next((i.start_slot for d, i in inst.items() if d in held), None)
    return SliceLimits(g.enforcement, g.share_pct, g.memory_mib, start)


def enforcement_of(p: Platform, lease_id: str | None) -> str | None:
    """The enforcement label of a slice lease (None for other leases)."""
    if not lease_id:
        return None
    with p.read() as s:
        g = store.grants(s, [lease_id]).get(lease_id)
    return None if g is None else g.enforcement


def profiles(p: Platform, actor: Principal, model: str | None = None) -> list[dict[str, Any]]:
    """Per catalog model (or one): the mechanism this backend enforces a slice with and its sizes."""
    authorize(actor, Action.READ_SLICE_PROFILES)
    have = mechanisms(p)
    with p.read() as s:
        cat = p.catalog(s)
    models = [cat.get(model)] if model else list(cat)
    out = []
    for m in models:
        usable = [x for x in preference(m) if x in have]
        mech = usable[0] if usable else None
        sizes: list[dict[str, Any]] = []
        if mech is Mechanism.MIG:
            sizes = [{"name": pr.name, "share_pct": pr.compute_pct, "memory_mib": pr.memory_mib(m.memory_gib),
                      "milli": pr.milli, "starts": list(pr.starts)} for pr in MIG_PROFILES[m.name]]
        elif mech is Mechanism.VNPU:
            cores, templates = VNPU_TEMPLATES[m.name]
            sizes = [{"name": t.name, "share_pct": 100 * t.ai_cores // cores, "memory_mib": t.memory_gib * 1024,
                      "milli": max(1000 * t.ai_cores // cores, 1000 * t.memory_gib // m.memory_gib), "starts": []}
                     for t in templates]
        out.append({"model": m.name, "vendor": m.vendor.value, "enforcement": mech.value if mech else NONE,
                    "mechanisms": [x.value for x in preference(m)], "backend": sorted(x.value for x in have),
                    "sizes": sizes, "summary": sizes_text(m, mech) if mech else
                    "not enforced on this backend: sold only with allow_unenforced"})
    return out

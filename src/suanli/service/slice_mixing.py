"""Placement keeps slices of different mechanism classes off one device (rule:
:mod:`suanli.domain.slice_mixing`; the database holds it too: :mod:`suanli.store.slice_mixing`).

:func:`suanli.service.placement.snapshot` reads a :class:`Mixing` into ``Snapshot.mixing``; ``_slice`` and
``_burstable`` hide the devices :meth:`Mixing.mask` names (devices holding slices of another class over the
window), record what they place with :meth:`Mixing.placed` (several orders share one snapshot), and
:meth:`Mixing.explain` says so when nothing else had room. ``service.health``: a lease coming back on its former
devices after a failure asks :meth:`Mixing.fits_again`, one placed anew under another mechanism is relabelled
(:func:`relabel`); ``service.defrag``: a move onto another class's device fails with :func:`refused_move`'s reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
from sqlalchemy.orm import Session

from suanli.domain.slice_mixing import conflicting, mechanism_class, refusal
from suanli.domain.slicing import NONE
from suanli.service.slicing import SlicePlan
from suanli.store import slice_mixing as store
from suanli.store import slices as slice_store


class _Device(Protocol):
    @property
    def id(self) -> int: ...


BITS = {"mig": 1, "mps": 2, "hami": 4, "vnpu": 8, NONE: 16}
"""One bit per mechanism class (an unknown label counts as its own class: bit 32)."""
OTHER = 32


def _bit(enforcement: str) -> int:
    return BITS.get(mechanism_class(enforcement), OTHER)


@dataclass
class Mixing:
    """The classes of the slices on each device over a snapshot's window, as one bit set per device slot."""

    bits: np.ndarray
    """(N, W) uint8: the :data:`BITS` of the classes on the device (0: no slice)."""
    slot_device: Mapping[tuple[int, int], _Device]
    """(node index, slot) -> device, as in the snapshot"""
    _pos: dict[int, tuple[int, int]] | None = None

    @property
    def pos(self) -> dict[int, tuple[int, int]]:
        """device id -> (node index, slot), built at the first slice (whole-device work never needs it)."""
        if self._pos is None:
            self._pos = {d.id: key for key, d in self.slot_device.items()}
        return self._pos

    @classmethod
    def read(cls, s: Session, start: datetime, end: datetime | None, exclude_lease: str | None,
             slot_device: Mapping[tuple[int, int], _Device], shape: tuple[int, ...]) -> Mixing:
        out = cls(np.zeros(shape, np.uint8), slot_device)
        for dev, labels in store.busy_enforcements(s, start, end, exclude_lease).items():
            for label in labels:
                out.placed(dev, label)
        return out

    def mask(self, enforcement: str) -> np.ndarray:
        """(N, W): devices holding a slice that one enforced as ``enforcement`` may not join."""
        out: np.ndarray = (self.bits & ~np.uint8(_bit(enforcement))) != 0
        return out

    def placed(self, device_id: int, enforcement: str) -> None:
        """A slice enforced as ``enforcement`` is on ``device_id`` (read, or just placed in this snapshot)."""
        at = self.pos.get(device_id)
        if at is not None:
            self.bits[at] |= np.uint8(_bit(enforcement))

    def classes(self, device_id: int) -> set[str]:
        at = self.pos.get(device_id)
        held = 0 if at is None else int(self.bits[at])
        return {c for c, b in BITS.items() if held & b} | ({"other"} if held & OTHER else set())

    def explain(self, message: str, shut: np.ndarray, model: str, enforcement: str) -> str:
        """When ``shut`` (devices with room hidden by this rule) has any: why, then ``message`` (the policy's
        refusal, about the devices left); else ``message``."""
        if not shut.any():
            return message
        held = int(np.bitwise_or.reduce(self.bits[shut], initial=0)) & ~_bit(enforcement)
        names = {c for c, b in BITS.items() if held & b} | ({"other"} if held & OTHER else set())
        return f"{refusal(enforcement, model, names, int(shut.sum()))}; among the other devices: {message}"

    def fits_again(self, s: Session, lease_id: str, device_ids: Iterable[int]) -> bool:
        """May a slice lease come back on these devices (its recorded enforcement beside what is there now)?"""
        g = slice_store.grants(s, [lease_id]).get(lease_id)
        return g is None or not any(conflicting(g.enforcement, self.classes(d)) for d in device_ids)


def relabel(s: Session, lease_id: str, plan: SlicePlan | None) -> None:
    """Before a slice placed anew (after a failure) takes its allocations: when the backend's mechanism
    changed since its grant, the grant (and so its job's limits) takes the one it was placed by, which is
    the class the placement kept it to (and the one the database checks its allocations against)."""
    if plan is None:
        return
    g = slice_store.grants(s, [lease_id]).get(lease_id)
    if g is not None and (g.enforcement, g.share_pct, g.memory_mib) != (plan.enforcement, plan.share_pct,
                                                                        plan.memory_mib):
        store.relabel_grant(s, lease_id, plan.enforcement, plan.share_pct, plan.memory_mib)


def refused_move(s: Session, mixing: Mixing, lease_id: str, device_ids: Iterable[int]) -> str:
    """Why a slice lease may not move onto these devices ('' when it may): a defragmentation move planned
    without regard to mechanisms."""
    g = slice_store.grants(s, [lease_id]).get(lease_id)
    if g is None:
        return ""
    for dev in device_ids:
        held = conflicting(g.enforcement, mixing.classes(dev))
        if held:
            return refusal(g.enforcement, "destination", held, 1)
    return ""


def empty() -> Mixing:
    return Mixing(np.zeros((0, 0), np.uint8), {})

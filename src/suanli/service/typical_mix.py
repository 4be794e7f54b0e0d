"""The live mix of typical requests that the placement policy measures fragmentation against.

FGD (and fgd+) score a placement by how it changes the fleet's fragmentation *for the typical
requests of the workload* (:mod:`suanli.scheduler.frag`). The simulator knows its pod list; the
server learns its mix from the orders it receives:

* the shapes of the last :data:`MAX_ORDERS` orders of the last :data:`WINDOW` — a ``gpu`` order
  is ``quantity`` whole devices, a ``slice`` one device share of ``share_pct`` × 10 milli, each
  with the models its ``models`` / ``vendors`` filters allow (none: any); whole servers,
  clusters and FLOPS orders take whole nodes and are not typical *device* requests;
* merged by shape and counted; the typical set is the most frequent shapes until they cover
  95 % of the orders (:meth:`~suanli.scheduler.TypicalPods.from_specs`, as FGD's), and fgd+
  also gets every shape (coverage 1) for its restricted and rare ones;
* with fewer than :data:`MIN_ORDERS` such orders, the built-in mix
  (:data:`suanli.scheduler.policies.fgd.DEFAULT_TYPICAL`).

The mix is relearnt at most every ``Settings.placement_mix_refresh_seconds`` (default 300 s, by
the platform's clock), not per order: orders are placed against the cached mix. Learning reads
the orders in a read-only transaction; nothing is written.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from suanli.domain.catalog import Catalog
from suanli.errors import NotFoundError
from suanli.scheduler import Policy, TypicalPod, TypicalPods, get_policy
from suanli.scheduler.policies.fgd import DEFAULT_TYPICAL
from suanli.service.platform import Platform
from suanli.store import order_mix as store

#: orders considered: the last MAX_ORDERS of the last WINDOW
MAX_ORDERS = 5000
WINDOW = timedelta(hours=24)
#: below this many device orders in the window the built-in mix is used
MIN_ORDERS = 20
COVERAGE = 0.95


@dataclass(frozen=True)
class Mix:
    """A mix of typical requests and where it came from."""

    typical: TypicalPods
    """The most frequent shapes covering 95 % (what FGD measures fragmentation against)."""
    workload: TypicalPods | None
    """Every shape seen, with its count (fgd+'s restricted and rare shapes); None: built-in."""
    orders: int
    """Device orders it was learnt from (0: built-in)."""
    learned_at: datetime

    @property
    def source(self) -> str:
        return "orders" if self.workload is not None else "built-in"


def order_shape(doc: Mapping[str, Any], catalog: Catalog) -> TypicalPod | None:
    """The typical-request shape of one stored order document, or None for a form that takes
    whole nodes (server, cluster, flops) or a document that names no valid shape."""
    form = doc.get("form")
    if form == "gpu":
        num, milli = doc.get("quantity", 1), 1000
    elif form == "slice":
        num, pct = 1, doc.get("share_pct", 0)
        milli = pct * 10 if isinstance(pct, int) and not isinstance(pct, bool) else 0
    else:
        return None
    if isinstance(num, bool) or not isinstance(num, int) or num < 1 or not 0 < milli <= 1000:
        return None
    models: set[str] | None = None
    names = doc.get("models") or ()
    if names:
        try:
            models = {catalog.get(str(m)).name for m in names}
        except NotFoundError:  # a model since removed from the catalog: keep the names as sent
            models = {str(m) for m in names}
    vendors = doc.get("vendors") or ()
    if vendors:
        keep = {m.name for m in catalog if m.vendor.value in vendors}
        models = keep if models is None else models & keep
    return TypicalPod(0, num, milli, None if models is None else frozenset(models), 1.0)


def learn_mix(docs: list[dict[str, Any]], catalog: Catalog, now: datetime) -> Mix:
    """The mix of these order documents (see the module docstring)."""
    shapes = [x for x in (order_shape(d, catalog) for d in docs) if x is not None]
    if len(shapes) < MIN_ORDERS:
        return Mix(DEFAULT_TYPICAL, None, 0, now)
    return Mix(TypicalPods.from_specs(shapes, COVERAGE), TypicalPods.from_specs(shapes, 1.0), len(shapes), now)


class _Entry:
    """The platform's mix as last learnt."""

    def __init__(self, _p: Platform) -> None:
        self.lock = threading.Lock()
        self.mix: Mix | None = None


def current_mix(p: Platform, s: Session | None = None) -> Mix:
    """The platform's mix, relearnt from the orders when older than the refresh interval — in ``s`` when
    given (inside a transaction: a read of its own would take a second pooled connection, the deadlock of
    :meth:`Platform.agent_nodes_held`), else in a read of its own."""
    now = p.clock.now()
    refresh = timedelta(seconds=p.settings.placement_mix_refresh_seconds)
    entry = p.attached(_Entry)
    with entry.lock:
        mix = entry.mix
        if mix is not None and now - mix.learned_at < refresh and now >= mix.learned_at:
            return mix
    if s is None:
        with p.read() as own:
            return current_mix(p, own)
    mix = learn_mix(store.recent_order_docs(s, now - WINDOW, MAX_ORDERS), p.catalog(s), now)
    with entry.lock:
        entry.mix = mix
    return mix


def forget(p: Platform) -> None:
    """Drop the cached mix (the next order relearns it)."""
    entry = p.attached(_Entry)
    with entry.lock:
        entry.mix = None


def placement_policy(p: Platform, mix: Mix | None = None) -> Policy:
    """A fresh policy object of the configured kind, measuring against the live mix (``mix``, else the current one)."""
    mix = current_mix(p) if mix is None else mix
    return get_policy(p.settings.placement_policy, typical=mix.typical, workload=mix.workload)

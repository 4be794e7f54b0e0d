"""Revenue share: who is paid for a usage line, and how a charge splits between them.

Attribution. A usage line belongs to the supplier that owned its node **at the instant** of the
usage (:class:`suanli.domain.fleet.Owners`, from the nodes' ownership history). An event names
its node (``data.node``), or a lease (``data.lease``): then the node is that of the lease's
allocation in force at the event's time, when there is exactly one (the node's site is the
line's site). :func:`attribute` resolves them, once, when the event is ingested (the store keeps
the resolved node, supplier and site, so rating stays a pure function of stored records); a
supplier or site named by the event must be the node's owner then, and its site. A line with no node (tokens from a gateway, storage, fees, true-ups) has no supplier: it is
the **operator's own revenue**, never on a supplier's statement.

Split. Every charge line with a supplier splits into the supplier's share and the operator's
commission:

    supplier share = round_line(min(amount, max((1 - commission rate) x amount, floor x device-hours)))
    commission     = amount - supplier share

(the floor applies to device time only), so the supplier receives at least its floor price for the
time sold (as long as the charge covers it), and the two parts always add up to the charge exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from suanli.domain.fleet import Owners
from suanli.domain.money import round_line
from suanli.errors import ValidationError
from suanli.ledger.meters import UsageRecord

Held = Sequence[tuple[datetime, datetime | None, str]]
"""A lease's allocations: (start, end or None while held, node)."""


def split(amount: Decimal, commission_rate: Decimal, floor_per_hour: Decimal | None, device_hours: Decimal,
          currency: str = "CNY") -> tuple[Decimal, Decimal]:
    """(supplier share, commission) of one rounded charge line."""
    share = (1 - commission_rate) * amount
    if floor_per_hour is not None:
        share = max(share, floor_per_hour * device_hours)
    share = round_line(min(share, amount), currency)
    return share, amount - share


def nodes_at(held: Held, t: datetime) -> list[str]:
    """The nodes a lease held devices on at ``t`` (sorted)."""
    return sorted({node for a, b, node in held if a <= t and (b is None or t < b)})


def attribute(r: UsageRecord, owners: Owners, held: Mapping[str, Held], *, sites: Mapping[str, str] | None = None,
              where: str = "") -> UsageRecord:
    """``r`` with its node and supplier resolved at its time (see the module docstring), and its
    site from the node (``sites``: node -> site) when it names none.

    Raises :class:`ValidationError` (naming what to send instead) for a node the fleet does not
    have (or that had no owner then), a supplier that is not the node's owner at that instant, a
    site that is not the node's, a supplier named without a node, and a lease that held devices on
    several nodes at that instant when the event names none (a line never mixes nodes)."""
    node = r.node
    if not node and r.lease:
        on = nodes_at(held.get(r.lease, ()), r.time)
        if len(on) > 1:
            raise ValidationError(f"{where}lease {r.lease} held devices on {len(on)} nodes ({', '.join(on[:5])}) at "
                                  f"{r.time.isoformat()}; name the node the usage ran on in data.node",
                                  field="data.node", lease=r.lease, nodes=on[:50])
        node = on[0] if on else ""
    if not node:
        if r.supplier:
            raise ValidationError(f"{where}data.supplier {r.supplier!r} without a node: a supplier is paid through "
                                  "the node the usage ran on; name it in data.node (or data.lease), or leave "
                                  "data.supplier out for the operator's own usage (tokens, storage, fees)",
                                  field="data.supplier")
        return r
    owner = owners.at(node, r.time)
    if owner is None:
        raise ValidationError(f"{where}unknown node {node!r} (at {r.time.isoformat()}): data.node must name a node "
                              "of the fleet (`suanli fleet list`)", field="data.node", node=node)
    if r.supplier and r.supplier != owner:
        raise ValidationError(f"{where}data.supplier {r.supplier!r} contradicts the owner of node {node} at "
                              f"{r.time.isoformat()}, which is {owner!r}; leave data.supplier out (the node's owner "
                              "at that instant is attributed) or name the owner", field="data.supplier",
                              node=node, owner=owner)
    site = r.site
    node_site = (sites or {}).get(node)
    if node_site:
        if site and site != node_site:
            raise ValidationError(f"{where}data.site {site!r} contradicts node {node}, which is at site "
                                  f"{node_site!r}; leave data.site out (the node's site is taken) or name it",
                                  field="data.site", node=node, site=node_site)
        site = node_site
    if (node, owner, site) == (r.node, r.supplier, r.site):
        return r
    return replace(r, node=node, supplier=owner, site=site)

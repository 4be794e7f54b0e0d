"""Sites that are near: each site's measured round-trip time and the order filter ``max_rtt_ms``.

A site's round-trip time is the **median** of the ``rtt_ms`` its approved agents reported (each agent's
own moving median of its calls to the server), counting only agents heard from within the
``agent_down_s`` grace; a site with no such agent has no measurement. An order with ``max_rtt_ms``
keeps only the sites whose measurement is at most that bound; a site with no measurement is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from statistics import median


@dataclass(frozen=True)
class SiteRtt:
    site: str
    rtt_ms: Decimal
    """The median of the agents' measurements (ms)."""
    agents: int
    """How many agents' measurements it is the median of."""


def site_rtts(samples: Iterable[tuple[str, Decimal]]) -> dict[str, SiteRtt]:
    """(site, an agent's rtt_ms) pairs -> each site's median."""
    by_site: dict[str, list[Decimal]] = {}
    for site, ms in samples:
        by_site.setdefault(site, []).append(ms)
    return {site: SiteRtt(site, Decimal(median(sorted(v))), len(v)) for site, v in sorted(by_site.items())}


def sites_within(rtts: Mapping[str, SiteRtt], max_rtt_ms: Decimal) -> set[str]:
    return {site for site, r in rtts.items() if r.rtt_ms <= max_rtt_ms}


def describe(rtts: Mapping[str, SiteRtt]) -> str:
    """The measured sites for a message: ``edge-sz 3.2 ms, hub-nx 41 ms`` (or that none is measured)."""
    if not rtts:
        return "no site has a measured round-trip time (no approved agent reported one within the grace)"
    return "measured: " + ", ".join(f"{r.site} {ms_text(r.rtt_ms)} ms" for r in sorted(rtts.values(),
                                                                                   key=lambda r: (r.rtt_ms, r.site)))


def ms_text(value: Decimal) -> str:
    """``30`` for 30, ``4.25`` for 4.250 (to the microsecond, no exponent)."""
    return format(value.quantize(Decimal("0.001")).normalize(), "f")

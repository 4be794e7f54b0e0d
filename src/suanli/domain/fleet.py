"""Sites, suppliers and nodes, and the fleet file format (YAML/JSON, validated here).

Fleet file::

    models:     # optional: extra or overriding accelerator models (see catalog.AcceleratorModel)
    sites:      [{name, region, tier: cloud|hub|edge, pue, power_price_kwh, currency}]
    suppliers:  [{name, display_name, related_to: [tenant names]}]
    nodes:      [{name, site, supplier, cpu_cores, memory_gib, nic_gbps, disk_gb, fabric,
                  devices: {model: H800, count: 8}, state: available|maintenance|down}]
    prices:     [{model, site?, unit: device_hour|p_year, amount, effective_from?}]
    floors:     [{supplier, model, device_hour}]
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from suanli.domain.catalog import AcceleratorModel, Catalog
from suanli.domain.text import NAME_RULE, control_char, is_name
from suanli.errors import ValidationError


class SiteTier(StrEnum):
    CLOUD = "cloud"
    HUB = "hub"
    EDGE = "edge"


class NodeState(StrEnum):
    AVAILABLE = "available"
    MAINTENANCE = "maintenance"
    DOWN = "down"


@dataclass(frozen=True)
class Site:
    name: str
    region: str
    tier: SiteTier
    pue: Decimal
    power_price_kwh: Decimal
    currency: str = "CNY"


def energy_cost_per_p_hour(model: AcceleratorModel, site: Site) -> Decimal:
    """Facility electricity cost of one P for one hour on ``model`` at ``site``:
    TDP (kW) × PUE × power price per kWh ÷ device P (nameplate power, not measured)."""
    return Decimal(model.tdp_watts) / 1000 * site.pue * site.power_price_kwh / model.p


@dataclass(frozen=True)
class Supplier:
    name: str
    display_name: str = ""


@dataclass(frozen=True)
class Node:
    name: str
    site: str
    supplier: str
    cpu_cores: int
    memory_gib: int
    model: str
    device_count: int
    fabric: str
    nic_gbps: int = 100
    disk_gb: int = 0
    state: NodeState = NodeState.AVAILABLE


@dataclass(frozen=True)
class FloorPrice:
    supplier: str
    model: str
    device_hour: Decimal


BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
"""When a node's first owner's span starts: the supplier that registered a node owns it from the
beginning (there is no earlier owner on the platform), so usage stamped before the registration
still has a supplier."""


@dataclass(frozen=True)
class Ownership:
    """One span of a node's ownership history: ``supplier`` owned ``node`` over [start, end)
    (``end`` None: still owns it). A node's spans are contiguous and never overlap."""

    node: str
    supplier: str
    start: datetime
    end: datetime | None = None
    reason: str = ""


class Owners:
    """Who owned each node at each instant, from ownership spans (pure lookup)."""

    def __init__(self, spans: Iterable[Ownership]) -> None:
        by_node: dict[str, list[Ownership]] = {}
        for x in spans:
            by_node.setdefault(x.node, []).append(x)
        self.spans = {n: sorted(xs, key=lambda x: x.start) for n, xs in by_node.items()}
        self._starts = {n: [x.start for x in xs] for n, xs in self.spans.items()}

    def at(self, node: str, t: datetime) -> str | None:
        """The supplier that owned ``node`` at ``t``; None for a node with no owner then (unknown)."""
        starts = self._starts.get(node)
        if not starts:
            return None
        i = bisect_right(starts, t) - 1
        if i < 0:
            return None
        span = self.spans[node][i]
        return span.supplier if span.end is None or t < span.end else None

    def changes(self, node: str) -> list[datetime]:
        """The instants at which ``node`` changed (or will change) owner."""
        return [x.start for x in self.spans.get(node, [])[1:]]


@dataclass(frozen=True)
class PriceRow:
    model: str
    site: str | None
    unit: str
    amount: Decimal
    effective_from: str | None


@dataclass
class FleetSpec:
    models: list[AcceleratorModel] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    suppliers: list[Supplier] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    prices: list[PriceRow] = field(default_factory=list)
    floors: list[FloorPrice] = field(default_factory=list)


_ALLOWED_TOP = {"models", "sites", "suppliers", "nodes", "prices", "floors"}


def _req(row: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in row or row[key] is None or row[key] == "":
        raise ValidationError(f"{where}: missing required field {key!r}", field=key, where=where)
    return row[key]


MAX_NUMBER = 10**9
"""The largest number a fleet document may give (cores, GiB, counts, PUE, prices ...)."""
MAX_DEVICES_PER_NODE = 1024


def _str(value: Any, key: str, where: str, longest: int = 64) -> str:
    """A name or label of the document: at most ``longest`` characters (what the store holds), no control characters."""
    s = str(value)
    bad = control_char(s)
    if len(s) > longest or bad:
        why = f"has the control character {bad}" if bad else f"is {len(s)} characters long"
        raise ValidationError(f"{where}: {key} {why}; allowed: at most {longest} characters without control "
                              "characters", field=key, where=where)
    return s


def _ident(value: Any, key: str, where: str) -> str:
    """An identifier of the document (a site, a region, a supplier, a node): the API's name rule, so that
    every route can name it."""
    s = str(value)
    if not is_name(s):
        raise ValidationError(f"{where}: {key} {s[:40]!r} is not a name; allowed: {NAME_RULE}", field=key, where=where)
    return s


def _dec(value: Any, key: str, where: str, *, positive: bool = True, bounded: bool = True) -> Decimal:
    """A number of the document; ``bounded=False`` for money, whose range ``check_amount`` checks."""
    if isinstance(value, float):
        value = repr(value)
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError(f"{where}: {key} is not a number: {value!r}", field=key, where=where) from None
    if not d.is_finite() or (positive and d <= 0) or d < 0 or (bounded and d > MAX_NUMBER):
        limit = f" and <= {MAX_NUMBER}" if bounded else ""
        raise ValidationError(f"{where}: {key} must be {'> 0' if positive else '>= 0'}{limit}, got {value!r}",
                              field=key)
    return d


def _int(value: Any, key: str, where: str, *, minimum: int = 1, maximum: int = MAX_NUMBER) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError(f"{where}: {key} must be an integer, got {value!r}", field=key, where=where)
    try:
        i = int(value)
    except ValueError:
        raise ValidationError(f"{where}: {key} must be an integer, got {value!r}", field=key, where=where) from None
    if not minimum <= i <= maximum:
        raise ValidationError(f"{where}: {key} must be from {minimum} to {maximum}, got {i}", field=key, where=where)
    return i


def _enum(enum: type[StrEnum], value: Any, key: str, where: str) -> Any:
    try:
        return enum(str(value).lower())
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise ValidationError(f"{where}: {key} {value!r} is not allowed; allowed: {allowed}", field=key) from None


def parse_fleet(raw: Any, catalog: Catalog) -> FleetSpec:
    """Validate a parsed fleet document. Every reference (site, supplier, model) must resolve."""
    if not isinstance(raw, Mapping):
        raise ValidationError("fleet file must be a mapping with keys " + ", ".join(sorted(_ALLOWED_TOP)))
    unknown = set(raw) - _ALLOWED_TOP
    if unknown:
        raise ValidationError(
            f"fleet file has unknown keys {sorted(unknown)}; allowed: {sorted(_ALLOWED_TOP)}", unknown=sorted(unknown)
        )
    spec = FleetSpec()
    for row in _rows(raw, "models"):
        spec.models.append(AcceleratorModel.from_dict(row))
    cat = catalog.with_models(spec.models)
    for i, row in enumerate(_rows(raw, "sites")):
        w = f"sites[{i}]"
        spec.sites.append(Site(
            name=_ident(_req(row, "name", w), "name", w), region=_ident(_req(row, "region", w), "region", w),
            tier=_enum(SiteTier, row.get("tier", "cloud"), "tier", w),
            pue=_dec(_req(row, "pue", w), "pue", w), power_price_kwh=_dec(_req(row, "power_price_kwh", w), "power_price_kwh", w),
            currency=_str(row.get("currency", "CNY"), "currency", w, 3),
        ))
        if spec.sites[-1].pue < 1:
            raise ValidationError(f"{w}: pue must be >= 1.0, got {spec.sites[-1].pue}", field="pue")
    for i, row in enumerate(_rows(raw, "suppliers")):
        w = f"suppliers[{i}]"
        spec.suppliers.append(Supplier(name=_ident(_req(row, "name", w), "name", w),
                                       display_name=_str(row.get("display_name", ""), "display_name", w, 200)))
    site_names = {s.name for s in spec.sites}
    supplier_names = {s.name for s in spec.suppliers}
    for i, row in enumerate(_rows(raw, "nodes")):
        w = f"nodes[{i}]"
        devices = row.get("devices") or {}
        if not isinstance(devices, Mapping):
            raise ValidationError(f"{w}: devices must be a mapping {{model, count}}", field="devices")
        model = cat.get(str(_req(devices, "model", w + ".devices"))).name
        site = _ident(_req(row, "site", w), "site", w)
        supplier = _ident(_req(row, "supplier", w), "supplier", w)
        if site_names and site not in site_names:
            raise ValidationError(f"{w}: unknown site {site!r}; sites in this file: {sorted(site_names)}", field="site")
        if supplier_names and supplier not in supplier_names:
            raise ValidationError(
                f"{w}: unknown supplier {supplier!r}; suppliers in this file: {sorted(supplier_names)}", field="supplier"
            )
        spec.nodes.append(Node(
            name=_ident(_req(row, "name", w), "name", w), site=site, supplier=supplier,
            cpu_cores=_int(_req(row, "cpu_cores", w), "cpu_cores", w),
            memory_gib=_int(_req(row, "memory_gib", w), "memory_gib", w),
            model=model, device_count=_int(_req(devices, "count", w + ".devices"), "count", w, minimum=1,
                              maximum=MAX_DEVICES_PER_NODE),
            fabric=_str(row.get("fabric") or f"{site}/{row['name']}", "fabric", w, 120),
            nic_gbps=_int(row.get("nic_gbps", 100), "nic_gbps", w), disk_gb=_int(row.get("disk_gb", 0), "disk_gb", w, minimum=0),
            state=_enum(NodeState, row.get("state", "available"), "state", w),
        ))
    names = [n.name for n in spec.nodes]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValidationError(f"duplicate node names: {dupes}", duplicates=dupes)
    for i, row in enumerate(_rows(raw, "prices")):
        w = f"prices[{i}]"
        spec.prices.append(PriceRow(
            model=cat.get(str(_req(row, "model", w))).name, site=None if row.get("site") is None else _str(row["site"], "site", w),
            unit=_str(row.get("unit", "device_hour"), "unit", w, 16),
            amount=_dec(_req(row, "amount", w), "amount", w, bounded=False), effective_from=row.get("effective_from"),
        ))
    for i, row in enumerate(_rows(raw, "floors")):
        w = f"floors[{i}]"
        spec.floors.append(FloorPrice(
            supplier=_ident(_req(row, "supplier", w), "supplier", w), model=cat.get(str(_req(row, "model", w))).name,
            device_hour=_dec(_req(row, "device_hour", w), "device_hour", w, bounded=False),
        ))
    return spec


def _rows(raw: Mapping[str, Any], key: str) -> Sequence[Mapping[str, Any]]:
    rows = raw.get(key) or []
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        raise ValidationError(f"fleet file: {key} must be a list of mappings", field=key)
    return rows

"""Fleet use cases: import/export a fleet file, list nodes, change node state, supplier floors,
node ownership (who owned a node when: registration and transfers).

A node's owner at each instant is its ownership history (``node_owners``), never a column read
later: the supplier that registered a node owns it from the beginning, and a transfer
(:func:`transfer_node`, operator only) gives it to another supplier from an instant that is now
or later, never earlier, and not before the last usage already attributed to the node. Usage is
attributed through that history (:mod:`suanli.service.usage`, lease time in billing), so a
transfer mid-month splits the node's revenue at the instant. ``nodes.supplier`` is the owner now,
for listing and access, moved by the background pass (:func:`apply_transfers`) when a
transfer scheduled for later takes effect; reads here compute the owner now from the history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.domain.catalog import AcceleratorModel
from suanli.domain.clock import EARLIEST, LATEST, utc
from suanli.domain.fleet import FloorPrice, NodeState, Ownership, parse_fleet
from suanli.domain.money import check_amount
from suanli.domain.prices import PriceEntry, PriceUnit
from suanli.errors import ConflictError, NotFoundError, ValidationError
from suanli.service.platform import Platform
from suanli.store import fleet as store
from suanli.store import prices as price_store
from suanli.store import usage as usage_store
from suanli.store.tables import SiteRow, SupplierRow


def import_fleet(p: Platform, actor: Principal, raw: Any) -> dict[str, int]:
    """Validate the whole document first, then write it in one transaction (all or nothing)."""
    authorize(actor, Action.MANAGE_FLEET)
    now = p.clock.now()
    with p.tx() as s:
        spec = parse_fleet(raw, p.catalog(s))
        for m in spec.models:
            store.save_model(s, m)
        for site in spec.sites:
            store.save_site(s, site)
        for sup in spec.suppliers:
            store.save_supplier(s, sup)
        s.flush()
        missing_sites = {n.site for n in spec.nodes} - store.names_exist(s, SiteRow, {n.site for n in spec.nodes})
        if missing_sites:
            raise ValidationError(f"nodes name unknown sites {sorted(missing_sites)}; define them under sites:")
        sups = {n.supplier for n in spec.nodes} | {f.supplier for f in spec.floors}
        missing_sups = sups - store.names_exist(s, SupplierRow, sups)
        if missing_sups:
            raise ValidationError(f"unknown suppliers {sorted(missing_sups)}; define them under suppliers:")
        owner_now = store.owners(s, [n.name for n in spec.nodes])
        moved = sorted((n.name, owner, n.supplier) for n in spec.nodes
                       if (owner := owner_now.at(n.name, now)) is not None and owner != n.supplier)
        if moved:
            name, owner, named = moved[0]
            raise ValidationError(f"node {name} belongs to supplier {owner!r}, the file names {named!r}: a fleet "
                                  "file does not change a node's owner; transfer it with `suanli node transfer "
                                  f"{name} {named} --reason ...` (effective now or later)",
                                  field="supplier", nodes=[m[0] for m in moved[:50]])
        new_nodes = sum(store.save_node(s, n, now) for n in spec.nodes)
        cur = p.settings.currency
        priced = {e.model for e in price_store.list_prices(s)}  # models with a price before this import
        for i, pr in enumerate(spec.prices):
            try:
                unit = PriceUnit(pr.unit)
            except ValueError:
                raise ValidationError(f"price unit {pr.unit!r} not allowed; allowed: device_hour, p_year") from None
            amount = check_amount(pr.amount, f"prices[{i}].amount")
            eff = _parse_time(pr.effective_from) if pr.effective_from else datetime(2020, 1, 1, tzinfo=now.tzinfo)
            existing = {(e.model, e.site, e.effective_from) for e in price_store.list_prices(s)}
            if (pr.model, pr.site, eff) in existing:
                continue
            if eff < now and pr.model in priced:
                # a model's first prices may carry an earlier date (nothing was billed at any price
                # before them); after that, a list price is effective now or later, never earlier
                raise ValidationError(
                    f"prices[{i}]: {pr.model} effective {eff.isoformat()} is in the past and {pr.model} already has "
                    "prices: a new list price is effective now or later (give an instant from now on, or set it with "
                    "`suanli price set`); correct past billing with `suanli price correct`", field="effective_from")
            price_store.add_price(s, PriceEntry(pr.model, pr.site, unit, amount, cur, eff), now)
        for i, f in enumerate(spec.floors):
            check_amount(f.device_hour, f"floors[{i}].device_hour")
            store.save_floor(s, f)
    return {"models": len(spec.models), "sites": len(spec.sites), "suppliers": len(spec.suppliers),
            "nodes": len(spec.nodes), "new_nodes": new_nodes, "prices": len(spec.prices), "floors": len(spec.floors)}


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return utc(value)
    try:
        t = utc(datetime.fromisoformat(str(value)))
    except (ValueError, OverflowError):
        raise ValidationError(f"effective_from {value!r} is not an ISO-8601 date-time from 2000-01-01 to "
                              "2100-01-01", field="effective_from") from None
    if not EARLIEST <= t < LATEST:
        raise ValidationError(f"effective_from {value!r} is out of range; allowed: 2000-01-01 to 2100-01-01",
                              field="effective_from")
    return t


def catalog(p: Platform, actor: Principal) -> list[AcceleratorModel]:
    """The accelerator models: built in, plus the operator's additions and overrides."""
    authorize(actor, Action.READ_CATALOG)
    with p.tx() as s:
        return list(p.catalog(s))


def export_fleet(p: Platform, actor: Principal) -> dict[str, Any]:
    authorize(actor, Action.MANAGE_FLEET)
    now = p.clock.now()
    with p.tx() as s:
        owner = store.owners(s)
        return {
            "models": [m.to_dict() for m in store.list_models(s)],
            "sites": [{**asdict(x), "tier": x.tier.value, "pue": str(x.pue), "power_price_kwh": str(x.power_price_kwh)}
                      for x in store.list_sites(s)],
            "suppliers": [asdict(x) for x in store.list_suppliers(s)],
            "nodes": [{"name": n.name, "site": n.site, "supplier": owner.at(n.name, now) or n.supplier,
                       "cpu_cores": n.cpu_cores,
                       "memory_gib": n.memory_gib, "nic_gbps": n.nic_gbps, "disk_gb": n.disk_gb, "fabric": n.fabric,
                       "devices": {"model": n.model, "count": n.device_count}, "state": n.state.value}
                      for n in store.list_nodes(s)],
            "prices": [{"model": e.model, "site": e.site, "unit": e.unit.value, "amount": str(e.amount),
                        "effective_from": e.effective_from.isoformat()} for e in price_store.list_prices(s)],
            "floors": [{"supplier": f.supplier, "model": f.model, "device_hour": str(f.device_hour)}
                       for f in store.list_floors(s)],
        }


def list_nodes(p: Platform, actor: Principal) -> list[dict[str, Any]]:
    """Operator: every node; supplier: its own nodes; tenant: not allowed (tenants see offers)."""
    supplier = authorize(actor, Action.READ_NODES).supplier
    now = p.clock.now()
    with p.tx() as s:
        reasons = store.node_state_reasons(s)
        owner = store.owners(s)
        out = []
        for n in store.list_nodes(s):
            sup = owner.at(n.name, now) or n.supplier
            if supplier is None or sup == supplier:
                out.append({"name": n.name, "site": n.site, "supplier": sup, "model": n.model,
                            "devices": n.device_count, "cpu_cores": n.cpu_cores, "memory_gib": n.memory_gib,
                            "fabric": n.fabric, "state": n.state.value, "state_reason": reasons.get(n.name, "")})
        return out


def set_node_state(p: Platform, actor: Principal, node: str, state: str, reason: str = "") -> dict[str, Any]:
    supplier = authorize(actor, Action.SET_NODE_STATE).supplier
    try:
        st = NodeState(state)
    except ValueError:
        raise ValidationError(f"node state {state!r} not allowed; allowed: {', '.join(x.value for x in NodeState)}") from None
    with p.tx() as s:
        row = store.get_node_row(s, node)
        if supplier is not None and (store.owners(s, [node]).at(node, p.clock.now()) or row.supplier) != supplier:
            raise NotFoundError(f"no node named {node!r}", node=node)
        n = store.set_node_state(s, node, st, reason)
    return {"name": n.name, "state": n.state.value, "reason": reason}


def transfer_node(p: Platform, actor: Principal, node: str, supplier: str, effective_from: datetime | None = None,
                  reason: str = "") -> dict[str, Any]:
    """Give ``node`` to ``supplier`` from ``effective_from`` (default: now) on (operator only).
    Never back-dated: the instant is now or later, after the node's last change of owner, and not
    before the last usage already attributed to the node. Returns the node's ownership history."""
    authorize(actor, Action.TRANSFER_NODE)
    now = p.clock.now()
    at = now if effective_from is None else utc(effective_from)
    if at < now:
        raise ValidationError(f"effective_from {at.isoformat()} is in the past (now {now.isoformat()}); a transfer "
                              "takes effect now or later, never earlier: what was earned before stays with the "
                              "supplier that owned the node then", field="effective_from")
    if not reason.strip():
        raise ValidationError("a transfer needs a reason (kept in the node's ownership history)", field="reason")
    if len(reason) > 400:
        raise ValidationError("reason: at most 400 characters", field="reason")
    with p.tx() as s:
        if not store.lock_nodes(s, [node], exclusive=True):
            raise NotFoundError(f"no node named {node!r}", node=node)
        if not store.supplier_exists(s, supplier):
            raise ValidationError(f"unknown supplier {supplier!r}; suppliers: "
                                  f"{[x.name for x in store.list_suppliers(s)][:50]}", field="supplier")
        history = store.ownership(s, [node])
        last = history[-1]
        if last.supplier == supplier:
            raise ValidationError(f"node {node} already belongs to {supplier!r} from {last.start.isoformat()} on",
                                  field="supplier")
        if at <= last.start:
            raise ConflictError(f"node {node} changes owner at {last.start.isoformat()} already; a transfer must "
                                "take effect after that", node=node, last_change=last.start.isoformat())
        used = usage_store.last_event_time(s, node)
        if used is not None and at <= used:
            raise ConflictError(f"usage on node {node} is recorded up to {used.isoformat()} and attributed to "
                                f"{last.supplier!r}; a transfer must take effect after that (it is never back-dated)",
                                node=node, last_usage=used.isoformat())
        store.add_transfer(s, node, supplier, at, now, reason.strip())
        if at <= now:
            store.apply_owners(s, now)
        history = store.ownership(s, [node])
    return ownership_doc(node, history, now)


def ownership_doc(node: str, history: Sequence[Ownership], now: datetime) -> dict[str, Any]:
    current = next((x.supplier for x in history if x.start <= now and (x.end is None or now < x.end)), "")
    return {"node": node, "supplier": current,
            "history": [{"supplier": x.supplier, "start": x.start, "end": x.end, "reason": x.reason}
                        for x in history]}


def node_ownership(p: Platform, actor: Principal, node: str) -> dict[str, Any]:
    """A node's ownership history: the operator's for any node; a supplier's for a node it owns or
    owned (another's answers 404)."""
    supplier = authorize(actor, Action.READ_NODES).supplier
    with p.tx() as s:
        store.get_node_row(s, node)
        history = store.ownership(s, [node])
    if supplier is not None and supplier not in {x.supplier for x in history}:
        raise NotFoundError(f"no node named {node!r}", node=node)
    return ownership_doc(node, history, p.clock.now())


def apply_transfers(p: Platform) -> int:
    """Background pass: transfers scheduled for later that have taken effect move ``nodes.supplier``
    (the owner now, used for listing and access). Returns how many nodes changed owner."""
    with p.tx() as s:
        return len(store.apply_owners(s, p.clock.now()))


def set_floor(p: Platform, actor: Principal, supplier: str, model: str, device_hour: Decimal) -> FloorPrice:
    """A supplier's floor price for a model (the operator for any supplier, a supplier for itself;
    another supplier's answers 404)."""
    authorize(actor, Action.SET_FLOOR).named_supplier(supplier)
    device_hour = check_amount(device_hour, "device_hour")
    with p.tx() as s:
        m = p.catalog(s).get(model)
        if not store.supplier_exists(s, supplier):
            raise NotFoundError(f"no supplier {supplier!r}")
        floor = FloorPrice(supplier, m.name, device_hour)
        store.save_floor(s, floor)
    return floor


def list_floors(p: Platform, actor: Principal, supplier: str | None = None) -> list[FloorPrice]:
    """The floor prices in force (per device-hour, by model; a floor holds on every site): a
    supplier its own (naming another answers 404), the operator any supplier's or, naming none, all."""
    named = authorize(actor, Action.READ_FLOORS).named_supplier(supplier)
    with p.read() as s:
        if named is not None and not store.supplier_exists(s, named):
            raise NotFoundError(f"no supplier {named!r}")
        return store.list_floors(s, named)


def import_from_engine(p: Platform, actor: Principal, *, site: str, supplier: str,
                       fabric: str | None = None) -> dict[str, int]:
    """Import the nodes of the running engine (Slurm: nodes, CPUs, memory, GPU GRES types) into
    ``site``/``supplier`` (both must exist). A GRES type maps to the catalog model of that name or
    alias (``a100`` -> A100-80GB); an unknown type is an error that names it."""
    authorize(actor, Action.MANAGE_FLEET)
    driver = p.driver
    read = getattr(driver, "import_fleet", None)
    if read is None:
        name = driver.name if driver is not None else "none"
        raise ValidationError(f"engine {name!r} cannot list its nodes; import a fleet file instead")
    engine_fleet = read()  # engine I/O, outside any transaction
    nodes = []
    with p.tx() as s:
        cat = p.catalog(s)
        for n in engine_fleet.nodes:
            types = n.gres_types()
            count = n.gres_total()
            if not count:
                continue  # CPU-only nodes are not rentable accelerators
            if len(set(types)) != 1:
                raise ValidationError(f"engine node {n.name} has GPU types {list(types) or 'untyped'}; one typed "
                                      "GRES per node is needed to map it to a catalog model")
            if types[0] not in cat:
                raise ValidationError(f"engine node {n.name}: GRES type {types[0]!r} is not in the catalog; add a "
                                      "model (or an alias) with that name", gres=types[0])
            nodes.append({"name": n.name, "site": site, "supplier": supplier, "cpu_cores": n.cpus,
                          "memory_gib": max(1, n.memory_mib // 1024),
                          "fabric": fabric or f"{engine_fleet.cluster or 'engine'}/{site}",
                          "devices": {"model": cat.get(types[0]).name, "count": count},
                          "state": "available" if n.state.value == "up" else "down"})
    return import_fleet(p, actor, {"nodes": nodes})

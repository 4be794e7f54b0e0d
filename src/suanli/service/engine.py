"""Leases on an execution engine: the driver factory and the provisioning reconciler.

The reconciler follows the house rule for I/O: read what needs doing in one transaction, talk to
the engine outside any transaction, write the outcome back in another transaction guarded by
what was read (the lease must still be in the state the action was decided for). Failures are
retried with back-off (:mod:`suanli.drivers.retry`); an engine that is unreachable leaves the
lease's mirror in state ``error`` with the engine's words and a next-try time; the lease itself
(and its billing) is unaffected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from suanli.domain.catalog import Catalog, Vendor
from suanli.domain.fleet import Node
from suanli.domain.leases import Lease, LeaseState
from suanli.domain.slicing import SliceLimits
from suanli.drivers.base import DeviceAllocation, LeaseGrant
from suanli.drivers.retry import RetryPolicy
from suanli.errors import EngineError, SuanliError
from suanli.service import slicing
from suanli.service.platform import Platform
from suanli.store import accounts as account_store
from suanli.store import engine as store
from suanli.store import fleet as fleet_store
from suanli.store import leases as lease_store
from suanli.store import shapes as shapes_store

RETRY = RetryPolicy()


def engine_account(name: str, account_id: str) -> str:
    """The tenant's account name on the engine: its own name when the engine accepts it."""
    low = name.lower()
    return low if re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", low) else account_id.lower()


def grant_for(lease: Lease, tenant_name: str, catalog: Catalog, at: datetime | None = None,
              fleet: Mapping[str, Node] | None = None, slice_limits: SliceLimits | None = None,
              host: Mapping[str, tuple[int, int]] | None = None) -> LeaseGrant:
    """The lease's current devices (allocations open at ``at``), grouped per node. With the nodes in
    ``fleet``, each node's allocation also carries the lease's share of its CPU and memory: the node's
    cores and RAM × the share of its devices the lease holds (``Σ milli ÷ (1000 × devices)``, rounded
    down; a whole node for a server lease). ``host``: node -> (CPU milli, RAM MiB) the lease holds there
    (SHAPES: its stored holds, a custom shape's or a CPU-only instance's; they win over the share)."""
    nodes: dict[str, list[tuple[int, int, str, int]]] = {}
    for a in lease.allocations:
        if at is not None and a.end is not None and a.end <= at:
            continue
        nodes.setdefault(a.node, []).append((a.slot, a.milli, a.model, a.limit_milli))  # OVERSUB: limit = sold share
    for node in host or {}:
        nodes.setdefault(node, [])  # a CPU-only instance: the node, no device
    allocations = []
    for node, devs in sorted(nodes.items()):
        model = catalog.get(devs[0][2]) if devs else None
        cpu_milli = memory_mib = 0
        spec = (fleet or {}).get(node)
        if spec is not None and spec.device_count > 0:
            held, whole = sum(d[1] for d in devs), 1000 * spec.device_count
            cpu_milli = spec.cpu_cores * 1000 * held // whole
            memory_mib = spec.memory_gib * 1024 * held // whole
        if host and node in host:
            cpu_milli, memory_mib = host[node]
        allocations.append(DeviceAllocation(node=node, device_indices=tuple(d[0] for d in devs),
                                            device_milli=tuple(d[3] for d in devs),
                                            vendor=model.vendor if model else Vendor.NVIDIA,
                                            cpu_milli=cpu_milli, host_memory_mib=memory_mib,
                                            slice=slice_limits))
    return LeaseGrant(lease_id=lease.id, tenant=engine_account(tenant_name, lease.tenant_id), start=lease.start,
                      end=lease.end, allocations=tuple(allocations))


@dataclass(frozen=True)
class Action:
    lease_id: str
    verb: str
    """provision | release"""
    outcome: str
    """done | error: <message> | skipped"""


def reconcile_leases(p: Platform, *, lease_id: str | None = None, force: bool = False) -> list[Action]:
    """Provision active leases on the engine and release the ones that stopped. Returns what was done."""
    driver = p.driver
    if driver is None:
        return []
    now = p.clock.now()
    with p.tx() as s:
        todo = [m for m in store.mirrors_needing_action(s, driver.name)
                if (lease_id is None or m.lease_id == lease_id) and (force or m.next_try_at is None or m.next_try_at <= now)]
        work = []
        for m in todo:
            lease = lease_store.get_lease(s, m.lease_id)
            tenant = account_store.get_account(s, lease.tenant_id)
            verb = "provision" if lease.state is LeaseState.ACTIVE else "release"
            grant = (grant_for(lease, tenant.name, p.catalog(s), now,
                               fleet_store.nodes_by_name(s, (a.node for a in lease.allocations)),
                               slice_limits=slicing.limits_for(s, lease),
                               host=shapes_store.held_now(s, lease.id, now))
                     if verb == "provision" else None)
            work.append((m, lease.state, verb, grant))
    actions = []
    for m, seen_state, verb, grant in work:
        error: SuanliError | None = None
        ref = ""
        try:  # engine I/O: outside any transaction
            if verb == "provision":
                assert grant is not None
                ref = driver.provision(grant).engine_ref
            else:
                driver.release(m.lease_id)
        except SuanliError as e:
            error = e
        with p.tx() as s:
            current = lease_store.get_lease(s, m.lease_id)
            if current.state is not seen_state:  # moved meanwhile: the next pass decides again
                actions.append(Action(m.lease_id, verb, "skipped"))
                continue
            if error is None:
                store.set_mirror(s, m.lease_id, driver.name, "provisioned" if verb == "provision" else "released", now,
                                 engine_ref=ref)
                actions.append(Action(m.lease_id, verb, "done"))
            else:
                attempts = m.attempts + 1
                store.set_mirror(s, m.lease_id, driver.name, "error", now, attempts=attempts,
                                 next_try_at=now + RETRY.delay(attempts, m.lease_id),
                                 error=f"{verb}: {error.message}")
                lease_store.add_event(s, m.lease_id, now, current.state, current.state,
                                      f"engine {driver.name} could not {verb} (attempt {attempts}): {error.message}")
                actions.append(Action(m.lease_id, verb, f"error: {error.message}"))
    return actions


def require_provisioned(p: Platform, lease: Lease) -> None:
    """Make sure the engine holds ``lease`` now (provisioning on demand); raise EngineError if not."""
    if p.driver is None:
        raise EngineError("this platform runs no execution engine (driver=none); jobs cannot run",
                          lease=lease.id)
    with p.tx() as s:
        row = store.mirror(s, lease.id)
        ok = row is not None and row.state == "provisioned"
    if ok:
        return
    actions = reconcile_leases(p, lease_id=lease.id, force=True)
    failed = [a for a in actions if a.outcome.startswith("error")]
    if failed:
        raise EngineError(f"engine {p.driver.name} could not provision lease {lease.id}: "
                          f"{failed[0].outcome.removeprefix('error: ')}", lease=lease.id, engine=p.driver.name)



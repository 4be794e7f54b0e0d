"""The replicas of model deployments: started, health-checked, replaced, scaled (docs/inference.md,
"Deployments and replicas").

:func:`reconcile` is one part of the background pass (leader only, ``service.reconcile.run_pass``).
For each deployment it

1. moves every live replica on: ``pending`` -> an order by the deployment's owner for the cheapest
   shape per token that fits now (:func:`suanli.domain.inference.choose_placement`) -> a runtime job on
   the lease (``JobSpec.runtime``) -> ``starting``; ``starting`` -> first ``/health`` 200 -> ``ready``
   (``cold_start_ms``); a ready replica failing its health check is ``unhealthy`` (no new requests), after
   :data:`~suanli.domain.inference.HEALTH_FAILURES_TO_FAIL` in a row -- or at once when its job ended --
   ``failed`` (job cancelled, lease ended); ``draining`` -> ``stopped`` once idle or after
   :data:`~suanli.domain.inference.DRAIN_SECONDS`;
2. decides the desired number (:func:`suanli.domain.inference.autoscale`) from the gateway's load in
   this process (``service.gateway_load``) and the latest request;
3. starts new replicas up to the desired number (a failed one is thereby replaced: the scheduler
   places the new order afresh) and drains the extra ones (not-yet-ready ones first, then the newest).

Every engine call, order and health check happens outside a transaction; each write back is guarded
by the state the replica was read in (``store.inference.update_replica``), so a concurrent delete or
another pass wins cleanly. :func:`wake` raises a deployment with no replica to one at once (the gateway
calls it for a request that finds none ready).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import math
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from suanli.domain.accounts import Principal
from suanli.domain.inference import (
    BACKOFF_SECONDS,
    DRAIN_SECONDS,
    FAILED_IN_A_ROW,
    HEALTH_FAILURES_TO_FAIL,
    SERVING_REPLICA_STATES,
    Deployment,
    DeploymentState,
    PlacementOption,
    Replica,
    ReplicaState,
    Shape,
    ShapeForm,
    autoscale,
    choose_placement,
    hourly_energy,
    order_document,
    prior_tokens_per_s,
    runtime_command,
)
from suanli.domain.leases import LeaseState
from suanli.drivers.base import JobState
from suanli.drivers.local import LocalDriver
from suanli.errors import ConflictError, NotFoundError, SuanliError
from suanli.service import gateway_load, leadership, uds
from suanli.service.engine import require_provisioned
from suanli.service.jobs import submit_job
from suanli.service.leases import end_lease
from suanli.service.orders import create_order
from suanli.service.platform import Platform
from suanli.service.quotes import quote_order
from suanli.store import accounts as account_store
from suanli.store import engine as engine_store
from suanli.store import fleet as fleet_store
from suanli.store import inference as store
from suanli.store import leases as lease_store

log = logging.getLogger("suanli.replicas")

SOCKET = "/work/runtime.sock"
"""Where the runtime listens, inside its sandbox (``<job work dir>/runtime.sock`` on the host)."""
HEALTH_TIMEOUT_S = 2.0
WAKE_POLL_S = 0.1
"""How often a wake on the leader moves a starting replica on (instead of waiting for the next pass)."""
START_TIMEOUT_S = 300.0
"""A replica not healthy this long after its job started is failed (and replaced)."""


@dataclass
class _Memory:
    """What the leader's process remembers between passes (lost on a takeover: harmless, it only
    delays a scale-down by one window and a drain by at most :data:`DRAIN_SECONDS`)."""

    low_since: dict[str, datetime] = field(default_factory=dict)
    draining_since: dict[str, datetime] = field(default_factory=dict)
    checked_at: dict[str, datetime] = field(default_factory=dict)
    born: dict[str, float] = field(default_factory=dict)
    """replica id -> ``time.monotonic()`` when this process created it: the cold start to the
    millisecond (the platform clock keeps whole seconds)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    deployment_locks: dict[str, threading.Lock] = field(default_factory=dict)

    def deployment_lock(self, deployment_id: str) -> threading.Lock:
        """One deployment's part of the pass runs once at a time in this process (the pass, a wake, a delete)."""
        with self.lock:
            return self.deployment_locks.setdefault(deployment_id, threading.Lock())


def _memory(p: Platform) -> _Memory:
    return _Memory()


def memory(p: Platform) -> _Memory:
    return p.attached(_memory)


# --- helpers --------------------------------------------------------------------------------------------


def owner_principal(p: Platform, owner_id: str) -> Principal:
    """The deployment's owner acting (it orders and pays for the replicas' leases)."""
    with p.read() as s:
        return account_store.get_account(s, owner_id)


def _local(p: Platform) -> LocalDriver | None:
    d = p.driver
    for cand in (d, getattr(d, "primary", None)):
        if isinstance(cand, LocalDriver):
            return cand
    return None


def endpoint_of(p: Platform, driver_job_id: str) -> str:
    """``unix:<the job's work dir>/runtime.sock`` (the path the runtime's ``/work/runtime.sock`` has on the host)."""
    local = _local(p)
    if local is None:
        return ""
    return "unix:" + str(local.work_dir(driver_job_id) / Path(SOCKET).name)


class _UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix socket (stdlib only: web clients stay at the edge of the service layer)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("replica", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def health(endpoint: str) -> dict[str, object] | None:
    """The runtime's ``GET /health`` answer, or None when it does not answer 200 in time."""
    if not endpoint.startswith("unix:"):
        return None
    try:
        conn = _UnixConnection(uds.connect_path(endpoint), HEALTH_TIMEOUT_S)
        try:
            conn.request("GET", "/health")
            r = conn.getresponse()
            body = r.read(65536)
        finally:
            conn.close()
        if r.status != 200:
            return None
        doc = json.loads(body)
        return doc if isinstance(doc, dict) else None
    except (OSError, ValueError, http.client.HTTPException, SuanliError):
        return None


def _measured(p: Platform, deployment_id: str) -> dict[str, Decimal]:
    with p.read() as s:
        return store.tokens_per_s_by_hardware(s, deployment_id)


def placement_options(p: Platform, dep: Deployment, owner: Principal) -> tuple[list[PlacementOption], list[str]]:
    """Each shape of ``dep`` that fits now, priced at list for the owner (a would-be order's quote) plus
    energy, with its measured or prior tokens/s; and why the others do not fit."""
    measured = _measured(p, dep.id)
    with p.read() as s:
        catalog = p.catalog(s)
        sites = {x.name: x for x in fleet_store.list_sites(s)}
    fallback_price = Decimal(p.settings.energy_price)
    options: list[PlacementOption] = []
    refused: list[str] = []
    for i, shape in enumerate(dep.shapes):
        mem = catalog.get(shape.model).memory_gib if shape.model and shape.model in catalog else None
        doc = order_document(shape, device_memory_gib=mem, near=dep.near, max_rtt_ms=dep.max_rtt_ms)
        try:
            q = quote_order(p, owner, doc)
        except SuanliError as e:
            refused.append(f"{shape.label()}: {e.message}")
            continue
        if not q.lines:
            refused.append(f"{shape.label()}: no quote")
            continue
        line = q.lines[0]
        hw = line.model
        model = catalog.get(hw) if hw in catalog else None
        share = shape.share if shape.form is ShapeForm.SLICE else Decimal(sum(x.devices for x in q.lines))
        site = sites.get(line.site)
        energy = Decimal(0)
        if model is not None:
            price = site.power_price_kwh if site is not None and site.power_price_kwh > 0 else fallback_price
            pue = site.pue if site is not None and site.pue > 0 else Decimal(1)
            energy = hourly_energy(model.tdp_watts, share, pue, price)
        tps = measured.get(hw)
        prior = prior_tokens_per_s((model.p if model is not None else Decimal(0)) * share)
        options.append(PlacementOption(i, hw, q.hourly, energy, tps if tps else prior, measured=bool(tps)))
    return options, refused


# --- one replica ---------------------------------------------------------------------------------------


def _set(p: Platform, r: Replica, expect: tuple[ReplicaState, ...], **changes: object) -> Replica | None:
    with p.tx() as s:
        return store.update_replica(s, r.id, expect=expect, **changes)


def _end_lease(p: Platform, owner: Principal, lease_id: str | None, reason: str) -> None:
    if not lease_id:
        return
    with contextlib.suppress(ConflictError, NotFoundError):  # already ended (or never started)
        end_lease(p, owner, lease_id, reason)


def _cancel_job(p: Platform, job_id: str | None) -> None:
    if not job_id or p.driver is None:
        return
    with p.read() as s:
        try:
            job = engine_store.get_job(s, job_id, tenant_id=None)
        except NotFoundError:
            return
    try:
        p.driver.cancel(job.driver_job_id)
    except SuanliError as e:
        log.warning("replica job %s: cancel failed: %s", job_id, e.message)


def stop(p: Platform, r: Replica, *, owner: Principal, failed: bool, reason: str) -> Replica | None:
    """Cancel the replica's job, end its lease, record it ``failed`` or ``stopped``."""
    _cancel_job(p, r.job_id)
    _end_lease(p, owner, r.lease_id, f"model replica {r.id}: {reason}")
    if r.endpoint:
        uds.release(r.endpoint)
    with memory(p).lock:
        memory(p).draining_since.pop(r.id, None)
        memory(p).checked_at.pop(r.id, None)
        memory(p).born.pop(r.id, None)
    live = tuple(s for s in ReplicaState if s not in (ReplicaState.STOPPED, ReplicaState.FAILED))
    return _set(p, r, live, state=ReplicaState.FAILED if failed else ReplicaState.STOPPED, reason=reason,
                stopped_at=p.clock.now())


def start(p: Platform, dep: Deployment, r: Replica) -> Replica | None:
    """A pending replica: order its lease (cheapest shape per token that fits now) and start its runtime."""
    with p.read() as s:
        before = [x for x in store.latest_replicas(s, dep.id, FAILED_IN_A_ROW + 1) if x.id != r.id][:FAILED_IN_A_ROW]
    if len(before) == FAILED_IN_A_ROW and all(x.state is ReplicaState.FAILED for x in before):
        last = max((x.stopped_at for x in before if x.stopped_at is not None), default=None)
        if last is not None and (p.clock.now() - last).total_seconds() < BACKOFF_SECONDS:
            after = last + timedelta(seconds=BACKOFF_SECONDS)
            return _set(p, r, (ReplicaState.PENDING,), reason=f"waiting: {FAILED_IN_A_ROW} replicas failed in a row "
                        f"(last: {before[0].reason}); next try at {after.isoformat()}")
    owner = owner_principal(p, dep.owner_id)
    options, refused = placement_options(p, dep, owner)
    chosen = choose_placement(options)
    if chosen is None:
        why = "no shape fits now: " + "; ".join(refused) if refused else "no shape fits now"
        return _set(p, r, (ReplicaState.PENDING,), reason=why)
    option, reason = chosen
    shape: Shape = dep.shapes[option.shape_index]
    with p.read() as s:
        catalog = p.catalog(s)
        mem = catalog.get(shape.model).memory_gib if shape.model and shape.model in catalog else None
    doc = order_document(shape, device_memory_gib=mem, near=dep.near, max_rtt_ms=dep.max_rtt_ms)
    try:
        result = create_order(p, owner, doc, idempotency_key=f"replica:{r.id}")
    except SuanliError as e:
        return _set(p, r, (ReplicaState.PENDING,), reason=f"order refused: {e.message}")
    lease_id = result.order.lease_id
    if lease_id is None:
        return _set(p, r, (ReplicaState.PENDING,), reason=f"order {result.order.id} {result.order.status}: "
                                                          f"{result.order.reason}")
    with p.read() as s:
        lease = lease_store.get_lease(s, lease_id, now=p.clock.now())
    alloc = lease.last_allocations()
    node = alloc[0].node if alloc else ""
    hardware = alloc[0].model if alloc else option.hardware
    got = _set(p, r, (ReplicaState.PENDING,), lease_id=lease_id, node=node, hardware=hardware, reason=reason)
    if got is None:  # deleted meanwhile
        _end_lease(p, owner, lease_id, f"model replica {r.id}: stopped before it started")
        return None
    if node in p.agent_nodes():
        return stop(p, got, owner=owner, failed=True, reason=f"placed on agent node {node}, whose jobs the server "
                                                             "cannot reach; a replacement is placed again")
    command = runtime_command(sys.executable, dep, SOCKET, orphan_seconds=p.settings.inference_orphan_seconds,
                              tag=p.settings.inference_replica_tag)
    try:
        if lease.state is not LeaseState.ACTIVE:
            raise ConflictError(f"lease {lease_id} is {lease.state.value}")
        require_provisioned(p, lease)
        job = submit_job(p, owner, lease_id, command, name=f"replica {r.id} of {dep.name}", runtime=True)
    except SuanliError as e:
        return stop(p, got, owner=owner, failed=True, reason=f"runtime did not start: {e.message}")
    return _set(p, got, (ReplicaState.PENDING,), state=ReplicaState.STARTING, job_id=job.id,
                started_at=p.clock.now(), endpoint=endpoint_of(p, job.driver_job_id))


def _job_ended(p: Platform, r: Replica) -> str | None:
    """Why the replica's job is over, or None while it runs."""
    if not r.job_id or p.driver is None:
        return "no job"
    with p.read() as s:
        try:
            job = engine_store.get_job(s, r.job_id, tenant_id=None)
        except NotFoundError:
            return "its job is gone"
    try:
        st = p.driver.poll(job.driver_job_id)
    except NotFoundError:
        return "its job is gone"
    except SuanliError:
        return None  # engine unreachable: the health check decides
    if st.state.terminal or st.state is JobState.CANCELLED:
        code = f", exit code {st.exit_code}" if st.exit_code is not None else ""
        return f"runtime job {st.state.value}{code}{': ' + st.reason if st.reason else ''}"
    return None


def check(p: Platform, dep: Deployment, r: Replica) -> Replica | None:
    """One health check of a starting, ready or unhealthy replica."""
    now = p.clock.now()
    mem = memory(p)
    if r.state is not ReplicaState.STARTING:
        last = mem.checked_at.get(r.id)
        if last is not None and (now - last).total_seconds() < p.settings.inference_health_interval_seconds:
            return r
    mem.checked_at[r.id] = now
    ended = _job_ended(p, r)
    if ended is not None:
        return stop(p, r, owner=owner_principal(p, dep.owner_id), failed=True, reason=ended)
    answer = health(r.endpoint)
    if answer is not None:
        if r.state is ReplicaState.STARTING:
            born = mem.born.pop(r.id, None)
            if born is not None:
                cold: int | None = int((time.monotonic() - born) * 1000)
            else:  # created by another process (a takeover): whole seconds of the clock
                cold = int((now - r.created_at).total_seconds() * 1000) if r.created_at else None
            return _set(p, r, (ReplicaState.STARTING,), state=ReplicaState.READY, ready_at=now, cold_start_ms=cold,
                        failures=0)  # the reason keeps why it was placed there
        if r.state is ReplicaState.UNHEALTHY or r.failures:
            return _set(p, r, (r.state,), state=ReplicaState.READY, failures=0, reason="healthy again")
        return r
    if r.state is ReplicaState.STARTING:
        started = r.started_at or r.created_at
        if started is not None and (now - started).total_seconds() > START_TIMEOUT_S:
            return stop(p, r, owner=owner_principal(p, dep.owner_id), failed=True,
                        reason=f"not healthy {START_TIMEOUT_S:g} s after its start")
        return r
    failures = r.failures + 1
    if failures >= HEALTH_FAILURES_TO_FAIL:
        return stop(p, r, owner=owner_principal(p, dep.owner_id), failed=True,
                    reason=f"{failures} health checks failed in a row")
    return _set(p, r, (r.state,), state=ReplicaState.UNHEALTHY, failures=failures,
                reason=f"health check failed ({failures} of {HEALTH_FAILURES_TO_FAIL})")


def drain(p: Platform, dep: Deployment, r: Replica) -> Replica | None:
    """A draining replica stops once nothing is in flight on it, or after :data:`DRAIN_SECONDS`."""
    now = p.clock.now()
    mem = memory(p)
    with mem.lock:
        since = mem.draining_since.setdefault(r.id, now)
    busy = gateway_load.inflight_of(p, dep.id, r.id)
    if busy and (now - since).total_seconds() < DRAIN_SECONDS:
        return r
    why = "scaled down" if not busy else f"scaled down ({busy} requests still in flight after {DRAIN_SECONDS} s)"
    return stop(p, r, owner=owner_principal(p, dep.owner_id), failed=False, reason=why)


# --- one deployment --------------------------------------------------------------------------------------


def _last_request(p: Platform, dep_id: str) -> datetime | None:
    with p.read() as s:
        stored = store.last_request_at(s, dep_id)
    here = gateway_load.last_request_at(p, dep_id)
    known = [t for t in (stored, here) if t is not None]
    return max(known) if known else None


def scale(p: Platform, dep: Deployment) -> Deployment:
    """The autoscaler's decision for ``dep`` (written with a compare-and-set on its version)."""
    load = gateway_load.load_of(p, dep.id)
    mem = memory(p)
    decision = autoscale(min_replicas=dep.min_replicas, max_replicas=dep.max_replicas,
                         target_inflight=dep.target_inflight, idle_seconds=dep.idle_seconds,
                         current=dep.desired_replicas, inflight=load.inflight, queued=load.queued,
                         now=p.clock.now(), low_since=mem.low_since.get(dep.id),
                         last_request_at=_last_request(p, dep.id),
                         scale_down_seconds=p.settings.inference_scale_down_seconds)
    if decision.low_since is None:
        mem.low_since.pop(dep.id, None)
    else:
        mem.low_since[dep.id] = decision.low_since
    if decision.desired == dep.desired_replicas:
        return dep
    try:
        with p.tx() as s:
            out = store.update_deployment(s, dep.id, version=dep.version, now=p.clock.now(),
                                          desired_replicas=decision.desired)
        log.info("deployment %s: desired %d -> %d (%s)", dep.name, dep.desired_replicas, decision.desired,
                 decision.reason)
        return out
    except ConflictError:
        return dep  # changed meanwhile (a PATCH): the next pass decides again


def reconcile_deployment(p: Platform, deployment_id: str) -> int:
    """One deployment's part of the pass; returns how many replicas changed state."""
    with memory(p).deployment_lock(deployment_id):
        return _reconcile_deployment(p, deployment_id)


def _reconcile_deployment(p: Platform, deployment_id: str) -> int:
    with p.read() as s:
        dep = store.get_deployment(s, deployment_id)
        live = store.list_replicas(s, deployment_id, states=[*SERVING_REPLICA_STATES, ReplicaState.DRAINING])
    if dep is None:
        return 0
    changed = 0
    if dep.state is DeploymentState.DELETED:
        owner = owner_principal(p, dep.owner_id)
        for r in live:
            changed += stop(p, r, owner=owner, failed=False, reason="deployment deleted") is not None
        return changed
    for r in live:
        before = r.state
        if r.state is ReplicaState.PENDING:
            after = start(p, dep, r)
        elif r.state is ReplicaState.DRAINING:
            after = drain(p, dep, r)
        else:
            after = check(p, dep, r)
        changed += after is not None and after.state is not before
    dep = scale(p, dep)
    with p.read() as s:
        serving = store.list_replicas(s, deployment_id, states=SERVING_REPLICA_STATES)
    if len(serving) < dep.desired_replicas:
        for _ in range(dep.desired_replicas - len(serving)):
            with p.tx() as s:
                r = store.create_replica(s, dep.id, now=p.clock.now(), reason="starting")
            memory(p).born[r.id] = time.monotonic()
            after = start(p, dep, r)
            changed += 1
    elif len(serving) > dep.desired_replicas:
        order = {ReplicaState.PENDING: 0, ReplicaState.UNHEALTHY: 1, ReplicaState.STARTING: 2, ReplicaState.READY: 3}
        extra = sorted(serving, key=lambda x: (order[x.state], -(x.created_at.timestamp() if x.created_at else 0)))
        for r in extra[:len(serving) - dep.desired_replicas]:
            if r.state is ReplicaState.PENDING:
                got = stop(p, r, owner=owner_principal(p, dep.owner_id), failed=False, reason="scaled down")
            else:
                got = _set(p, r, (r.state,), state=ReplicaState.DRAINING, reason="scaled down: draining")
                if got is not None:
                    with memory(p).lock:
                        memory(p).draining_since[r.id] = p.clock.now()
            changed += got is not None
    return changed


def reconcile(p: Platform) -> int:
    """The background pass's part: every deployment's replicas moved on; returns the state changes."""
    with p.read() as s:
        ids = store.active_deployment_ids(s)
    changed = 0
    for dep_id in ids:
        try:
            changed += reconcile_deployment(p, dep_id)
        except SuanliError as e:
            log.warning("deployment %s: %s", dep_id, e.message)
    return changed


def _kick(p: Platform, deployment_id: str) -> None:
    """On the background leader, run the deployment's part of the pass now, in a thread (fenced and
    serialised with the pass), instead of waiting for the next pass."""
    me = leadership.replica(p)
    if not me.status()["leading"]:
        return

    def ready() -> bool:
        with p.read() as s:
            return bool(store.ready_replicas(s, deployment_id))

    def work() -> None:
        deadline = time.monotonic() + p.settings.inference_cold_start_wait_seconds
        try:
            while time.monotonic() < deadline:
                if me.run(lambda: reconcile_deployment(p, deployment_id)) is None or ready():
                    return  # no longer leading, or done
                time.sleep(WAKE_POLL_S)
        except Exception as e:  # a background thread: log, the next pass retries
            log.warning("wake of deployment %s: %s", deployment_id, e)

    threading.Thread(target=work, name=f"suanli-wake-{deployment_id}", daemon=True).start()


def wake(p: Platform, deployment_id: str) -> None:
    """A request found no ready replica: raise the desired number to at least one now and, on the
    background leader, start it at once (elsewhere the leader's next pass does). Does nothing for a
    deployment whose maximum is 0 or that is gone."""
    for _ in range(3):
        with p.read() as s:
            dep = store.get_deployment(s, deployment_id)
        if dep is None or dep.state is not DeploymentState.ACTIVE or dep.desired_replicas >= 1 or dep.max_replicas < 1:
            return
        try:
            with p.tx() as s:
                store.update_deployment(s, dep.id, version=dep.version, now=p.clock.now(), desired_replicas=1)
            memory(p).low_since.pop(dep.id, None)
            _kick(p, dep.id)
            return
        except ConflictError:
            continue


def cold_start_ms(replicas: list[Replica]) -> int | None:
    """The median cold start of these replicas (for the console and ``deployment show``)."""
    known = sorted(r.cold_start_ms for r in replicas if r.cold_start_ms is not None)
    if not known:
        return None
    return known[(len(known) - 1) // 2] if len(known) % 2 else math.floor((known[len(known) // 2 - 1]
                                                                           + known[len(known) // 2]) / 2)

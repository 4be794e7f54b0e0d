"""One pass of every background reconciler; the server runs it every few seconds, on one replica.

:func:`background_pass` is what the server's loop calls on every replica: it runs :func:`run_pass`
only where this replica leads the background work, fenced by its epoch
(:mod:`suanli.service.leadership`, :mod:`suanli.service.fencing`), so among replicas on one
database exactly one pass runs at a time and a replica that lost the lead writes nothing.

Order matters: lease time first (reservations start, terms end), node owners (transfers that took
effect), then prepaid tenants' runway
(suspend or resume pay-as-you-go leases), then the engine mirror (provision/release), then usage
from finished jobs, then node health (interrupt and re-place), then the capacity time series (a sample
every ``capacity_sample_seconds``, hour and day aggregates, retention).
"""

from __future__ import annotations

import logging
from typing import Any

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.errors import ConflictError, FencedError, SuanliError
from suanli.service import capacity, defrag, order_queue, oversub, replicas, token_uses, whatif
from suanli.service.engine import reconcile_leases
from suanli.service.fleet import apply_transfers
from suanli.service.health import check_health
from suanli.service.jobs import collect_usage, record_job_states
from suanli.service.leadership import replica
from suanli.service.leases import tick
from suanli.service.platform import Platform
from suanli.service.wallets import enforce_runway

log = logging.getLogger("suanli.reconcile")


def run_now(p: Platform, actor: Principal) -> dict[str, Any]:
    """One pass now, on the operator's request (the API's ``POST /v1/engine/reconcile``): on this
    replica if it leads or nobody does (it takes the lead), else a 409 that names the leader."""
    authorize(actor, Action.RUN_RECONCILERS)
    me = replica(p)
    out = me.run(lambda: run_pass(p))
    if out is None:
        leader = me.status()["leader"] or {}
        raise ConflictError(f"replica {leader.get('holder')} leads the background work (epoch {leader.get('epoch')}, "
                            f"lease until {leader.get('expires_at')}) and runs a pass every "
                            f"{p.settings.background_interval_seconds:g} s; this replica ({me.id}) runs one only "
                            "when it leads", leader=leader.get("holder"), replica=me.id)
    return out


def background_pass(p: Platform) -> dict[str, Any] | None:
    """The server loop's step: a fenced pass if this replica leads (taking the lead when nobody holds
    it), else ``None``. Losing the lead mid-pass stops the pass (its refused transaction rolled back)."""
    token_uses.flush(p)  # every replica writes the token uses it noted, leader or not
    try:
        return replica(p).run(lambda: run_pass(p))
    except FencedError as e:
        log.warning("background pass stopped: %s", e.message)
        return None


def run_pass(p: Platform) -> dict[str, Any]:
    out: dict[str, Any] = {"lease_moves": tick(p), "token_uses": token_uses.flush(p)}
    try:
        out["queue"] = order_queue.run_queue(p).summary()  # terms that ended free capacity: queued orders first
    except FencedError:
        raise
    except SuanliError as e:  # the queue must not stop the other reconcilers; the next pass tries again
        log.warning("queue pass failed: %s", e.message)
        out["queue_error"] = e.message
    out["defrag_moves"] = defrag.tick(p)  # due moves of approved plans; auto plans (docs/defrag.md)
    out["node_owner_changes"] = apply_transfers(p)  # transfers scheduled for later that took effect
    out["runway"] = enforce_runway(p)
    out["engine_actions"] = [a.__dict__ for a in reconcile_leases(p)]
    try:
        out["usage_records"] = collect_usage(p)
        out["jobs_polled"] = record_job_states(p)  # job states: reads show the engine's word, this stores it
    except FencedError:  # another replica leads now: stop here
        raise
    except SuanliError as e:  # an unreachable engine must not stop the other reconcilers
        log.warning("usage collection failed: %s", e.message)
        out["usage_error"] = e.message
    out["health"] = check_health(p).__dict__
    out["model_replicas"] = replicas.reconcile(p)  # start, health-check, replace, scale (docs/inference.md)
    out["capacity"] = capacity.sample(p).__dict__  # the time series, when a sample is due (docs/capacity.md)
    out["burstable_samples"] = oversub.sample_contention(p)  # contention of the burstable pool (docs/slices.md)
    out["whatif_failed"] = whatif.fail_stale(p)  # what-if runs whose process stopped heartbeating
    return out

"""One pass of every background reconciler; the server runs it every few seconds.

Order matters: lease time first (reservations start, terms end), node owners (transfers that took
effect), then prepaid tenants' runway
(suspend or resume pay-as-you-go leases), then the engine mirror (provision/release), then usage
from finished jobs, then node health (interrupt and re-place).
"""

from __future__ import annotations

import logging
from typing import Any

from suanli.domain.accounts import Principal
from suanli.domain.authz import Action, authorize
from suanli.errors import SuanliError
from suanli.service.engine import reconcile_leases
from suanli.service.fleet import apply_transfers
from suanli.service.health import check_health
from suanli.service.jobs import collect_usage
from suanli.service.leases import tick
from suanli.service.platform import Platform
from suanli.service.wallets import enforce_runway

log = logging.getLogger("suanli.reconcile")


def run_now(p: Platform, actor: Principal) -> dict[str, Any]:
    """One pass now, on the operator's request (the API's ``POST /v1/engine/reconcile``)."""
    authorize(actor, Action.RUN_RECONCILERS)
    return run_pass(p)


def run_pass(p: Platform) -> dict[str, Any]:
    out: dict[str, Any] = {"lease_moves": tick(p)}
    out["node_owner_changes"] = apply_transfers(p)  # transfers scheduled for later that took effect
    out["runway"] = enforce_runway(p)
    out["engine_actions"] = [a.__dict__ for a in reconcile_leases(p)]
    try:
        out["usage_records"] = collect_usage(p)
    except SuanliError as e:  # an unreachable engine must not stop the other reconcilers
        log.warning("usage collection failed: %s", e.message)
        out["usage_error"] = e.message
    out["health"] = check_health(p).__dict__
    return out

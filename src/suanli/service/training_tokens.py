"""Training billed by token: what a training job on a lease may report, with the lease's token.

A ``lease`` token (:mod:`suanli.domain.tokens`; the one a tenant makes for a job:
``suanli token create --scope lease --lease L``) may post usage events to ``POST /v1/usage/events``
or ``/v1/usage/batch`` (``authz.REPORT_TRAINING_TOKENS``) when every event

- is of meter ``training_tokens`` (any other meter: 403, nothing written);
- is about the token's own tenant (``subject``: its name or id; another tenant: 404) and its own
  lease (``data.lease``: omitted means the token's lease; another lease: 404, as if it did not exist);
- has a ``source`` of ``lease/<lease id>`` or below it (``lease/<lease id>/trainer-0``), so the
  ``(source, id)`` a job picks never meets another lease's (422 naming the allowed prefix).

Each event is stored with its lease and that lease's order, so the order's plan prices it: under a
training-token plan (:mod:`suanli.ledger.plans`, ``training``) the lease's device time shows at 0
and the training tokens are billed at the plan's rate; otherwise at the plan's or the default plan's
``training_tokens`` rate. Resending an event is a duplicate (nothing billed twice).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy.orm import Session

from suanli.domain.authz import Grant
from suanli.domain.meters import Meter
from suanli.domain.usage import UsageRecord
from suanli.errors import NotFoundError, PermissionDeniedError, ValidationError
from suanli.store import leases as lease_store


def source_prefix(lease_id: str) -> str:
    return f"lease/{lease_id}"


def check_reports(s: Session, grant: Grant, records: Sequence[UsageRecord]) -> list[UsageRecord]:
    """The events a lease token reports, checked (see the module docstring) and given their lease and
    order; raises before anything is written."""
    actor = grant.actor
    lease_id = grant.lease_only
    if lease_id is None:  # only a lease token reports training tokens (authz lets no other scope here)
        raise PermissionDeniedError("training tokens are reported with the lease's own token (scope lease)")
    for i, r in enumerate(records):
        if r.meter is not Meter.TRAINING_TOKENS:
            raise PermissionDeniedError(f"event {i}: a lease token reports training_tokens only, not {r.meter.value}",
                                        index=i, meter=r.meter.value, allowed=[Meter.TRAINING_TOKENS.value])
        grant.own_tenant(r.subject)  # another tenant: 404
        if r.lease and r.lease != lease_id:
            raise NotFoundError(f"event {i}: no lease {r.lease!r} visible to you", lease=r.lease, index=i)
        prefix = source_prefix(lease_id)
        if r.source != prefix and not r.source.startswith(prefix + "/"):
            raise ValidationError(f"event {i}: source must be {prefix!r} or start with {prefix + '/'!r} (the events "
                                  f"of lease {lease_id}), got {r.source!r}", field="source", index=i)
    lease = lease_store.get_lease(s, lease_id, tenant_id=actor.tenant_id)
    out = []
    for i, r in enumerate(records):
        if r.order and r.order != lease.order_id:
            raise ValidationError(f"event {i}: data.order must be the lease's order {lease.order_id} (or left out)",
                                  field="data.order", index=i)
        out.append(dataclasses.replace(r, subject=actor.tenant_id, lease=lease_id, order=lease.order_id))
    return out

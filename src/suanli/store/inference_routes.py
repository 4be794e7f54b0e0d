"""The gateway's hot read: a model name -> the deployment a key reaches and its ready replicas, in one
statement (the same choice as :func:`suanli.store.inference.resolve_model`: the tenant's own deployment
of that name first, then a public one, oldest first; the operator: a public one, else any)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from suanli.domain.gateway import ModelRoute
from suanli.domain.inference import DeploymentKind, DeploymentState, Replica, ReplicaState
from suanli.store.inference_tables import InferenceDeploymentRow, InferenceReplicaRow

_D = cast(Table, InferenceDeploymentRow.__table__)
_R = cast(Table, InferenceReplicaRow.__table__)
_ALL = (select(_D.c.id, _D.c.owner_id, _D.c.public, _D.c.kind, _D.c.max_output_tokens, _R.c.id, _R.c.endpoint)
        .select_from(_D.outerjoin(_R, and_(_R.c.deployment_id == _D.c.id,
                                           _R.c.state == ReplicaState.READY.value)))
        .where(_D.c.name == bindparam("name"), _D.c.state == DeploymentState.ACTIVE.value))
_ORDER = (_D.c.created_at, _D.c.id, _R.c.id)
_ANY = _ALL.order_by(*_ORDER)
_OWN_OR_PUBLIC = _ALL.where(or_(_D.c.owner_id == bindparam("tenant"), _D.c.public.is_(True))).order_by(*_ORDER)


def route(s: Session, tenant_id: str | None, name: str) -> ModelRoute | None:
    """The deployment a key of ``tenant_id`` (None: the operator) reaches by ``name``, with its ready replicas."""
    conn = s.connection()  # (Core: no ORM work on the hot path)
    rows = list(conn.execute(_ANY, {"name": name}) if tenant_id is None
                else conn.execute(_OWN_OR_PUBLIC, {"name": name, "tenant": tenant_id}))
    if not rows:
        return None
    deps = list(dict.fromkeys(r[0] for r in rows))
    by_id = {r[0]: r for r in rows}
    own = [d for d in deps if tenant_id is not None and by_id[d][1] == tenant_id]
    public = [d for d in deps if by_id[d][2]]
    chosen = (own or public or (deps if tenant_id is None else []))[:1]
    if not chosen:
        return None
    d = by_id[chosen[0]]
    ready = tuple(Replica(id=r[5], deployment_id=r[0], state=ReplicaState.READY, endpoint=r[6])
                  for r in rows if r[0] == chosen[0] and r[5] is not None)
    return ModelRoute(id=d[0], name=name, kind=DeploymentKind(d[3]), max_output_tokens=d[4], owner_id=d[1],
                      public=bool(d[2]), ready=ready)

"""Model deployments and replicas (tables of migration 0028, :mod:`suanli.store.inference_tables`):
create/read/update deployments (a compare-and-set on ``version``), their replicas (writes guarded by
the state they expect), and what the gateway needs on its hot path: :func:`resolve_model` (the
deployment a tenant's key reaches by a model name: its own tenant's first, then a public one) and
:func:`ready_replicas`. Returns domain objects (:mod:`suanli.domain.inference`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanli.domain.inference import (
    DEPLOYMENT_ID_PREFIX,
    REPLICA_ID_PREFIX,
    Deployment,
    DeploymentKind,
    DeploymentSpec,
    DeploymentState,
    Replica,
    ReplicaState,
    RuntimeKind,
    parse_shape,
)
from suanli.errors import ConflictError
from suanli.store.inference_tables import InferenceDeploymentRow, InferenceReplicaRow, InferenceRequestRow


def new_deployment_id() -> str:
    return DEPLOYMENT_ID_PREFIX + secrets.token_hex(8)


def new_replica_id() -> str:
    return REPLICA_ID_PREFIX + secrets.token_hex(8)


def _deployment(r: InferenceDeploymentRow) -> Deployment:
    return Deployment(
        id=r.id, owner_id=r.owner_id, name=r.name, public=bool(r.public), kind=DeploymentKind(r.kind),
        runtime=RuntimeKind(r.runtime), model_ref=r.model_ref,
        shapes=tuple(parse_shape(x, f"shapes[{i}]") for i, x in enumerate(r.shapes or [])), near=r.near or "",
        max_rtt_ms=r.max_rtt_ms, min_replicas=r.min_replicas, max_replicas=r.max_replicas,
        desired_replicas=r.desired_replicas, target_inflight=r.target_inflight, idle_seconds=r.idle_seconds,
        context_length=r.context_length, max_output_tokens=r.max_output_tokens, state=DeploymentState(r.state),
        version=r.version, created_by=r.created_by, created_at=r.created_at, updated_at=r.updated_at,
    )


def _replica(r: InferenceReplicaRow) -> Replica:
    return Replica(
        id=r.id, deployment_id=r.deployment_id, state=ReplicaState(r.state), lease_id=r.lease_id, job_id=r.job_id,
        node=r.node or "", hardware=r.hardware or "", endpoint=r.endpoint or "", reason=r.reason or "",
        failures=r.failures or 0, created_at=r.created_at, started_at=r.started_at, ready_at=r.ready_at,
        stopped_at=r.stopped_at, cold_start_ms=r.cold_start_ms,
    )


# --- deployments --------------------------------------------------------------------------------------------


def create_deployment(s: Session, spec: DeploymentSpec, *, owner_id: str, public: bool, created_by: str,
                      now: datetime) -> Deployment:
    taken = s.scalar(select(InferenceDeploymentRow.id).where(
        InferenceDeploymentRow.owner_id == owner_id, InferenceDeploymentRow.name == spec.name))
    if taken is not None:
        raise ConflictError(f"a deployment named {spec.name!r} already exists ({taken}); choose another name "
                            "or delete that one first", field="name", deployment=taken)
    row = InferenceDeploymentRow(
        id=new_deployment_id(), owner_id=owner_id, name=spec.name, public=public, kind=spec.kind.value,
        runtime=spec.runtime.value, model_ref=spec.model_ref, shapes=[x.to_dict() for x in spec.shapes],
        near=spec.near, max_rtt_ms=spec.max_rtt_ms, min_replicas=spec.min_replicas, max_replicas=spec.max_replicas,
        desired_replicas=spec.min_replicas, target_inflight=spec.target_inflight, idle_seconds=spec.idle_seconds,
        context_length=spec.context_length, max_output_tokens=spec.max_output_tokens,
        state=DeploymentState.ACTIVE.value, version=1, created_by=created_by, created_at=now, updated_at=now,
    )
    s.add(row)
    try:
        s.flush()
    except IntegrityError:
        raise ConflictError(f"a deployment named {spec.name!r} already exists; choose another name",
                            field="name") from None
    return _deployment(row)


def get_deployment(s: Session, deployment_id: str) -> Deployment | None:
    row = s.get(InferenceDeploymentRow, deployment_id)
    return _deployment(row) if row is not None else None


def list_deployments(s: Session, *, owner_id: str | None = None, include_public: bool = False,
                     include_deleted: bool = False) -> list[Deployment]:
    """All (``owner_id`` None), or one owner's (and, with ``include_public``, every public one)."""
    q = select(InferenceDeploymentRow)
    if owner_id is not None:
        cond = InferenceDeploymentRow.owner_id == owner_id
        if include_public:
            cond = cond | InferenceDeploymentRow.public.is_(True)
        q = q.where(cond)
    if not include_deleted:
        q = q.where(InferenceDeploymentRow.state == DeploymentState.ACTIVE.value)
    return [_deployment(r) for r in s.scalars(q.order_by(InferenceDeploymentRow.created_at, InferenceDeploymentRow.id))]


def active_deployment_ids(s: Session) -> list[str]:
    """Active deployments, and deleted ones that still have live replicas (the reconciler stops them)."""
    live = [st.value for st in (ReplicaState.PENDING, ReplicaState.STARTING, ReplicaState.READY,
                                ReplicaState.UNHEALTHY, ReplicaState.DRAINING)]
    with_live = select(InferenceReplicaRow.deployment_id).where(InferenceReplicaRow.state.in_(live))
    q = select(InferenceDeploymentRow.id).where(
        (InferenceDeploymentRow.state == DeploymentState.ACTIVE.value) | InferenceDeploymentRow.id.in_(with_live))
    return list(s.scalars(q.order_by(InferenceDeploymentRow.id)))


def update_deployment(s: Session, deployment_id: str, *, version: int, now: datetime, **changes: Any) -> Deployment:
    """Compare-and-set on ``version``: a concurrent change makes this a 409 (read again and retry)."""
    allowed = {"min_replicas", "max_replicas", "desired_replicas", "target_inflight", "idle_seconds", "state", "name"}
    bad = set(changes) - allowed
    if bad:
        raise ValueError(f"not updatable: {sorted(bad)}")
    res = s.execute(update(InferenceDeploymentRow)
                    .where(InferenceDeploymentRow.id == deployment_id, InferenceDeploymentRow.version == version)
                    .values(version=version + 1, updated_at=now, **changes))
    if res.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError(f"deployment {deployment_id} changed meanwhile (version {version} is not current); "
                            "read it again and retry", deployment=deployment_id)
    row = s.get(InferenceDeploymentRow, deployment_id, populate_existing=True)
    assert row is not None
    return _deployment(row)


def _pick(rows: Sequence[InferenceDeploymentRow], tenant_id: str | None) -> InferenceDeploymentRow | None:
    """Of the active deployments of one name (oldest first): the tenant's own, else a public one; the
    operator (``tenant_id`` None): a public one, else any."""
    if tenant_id is not None:
        own = [r for r in rows if r.owner_id == tenant_id]
        if own:
            return own[0]
    public = [r for r in rows if r.public]
    if public:
        return public[0]
    return rows[0] if tenant_id is None and rows else None


def deleted_name(dep: Deployment) -> str:
    """The name a deleted deployment keeps (``<name>~<id>``: never a valid name, so the name is free again)."""
    return f"{dep.name[:43]}~{dep.id}"[:64]


def resolve_model(s: Session, tenant_id: str | None, name: str) -> Deployment | None:
    """The active deployment a key of ``tenant_id`` reaches by ``name``: its own tenant's first, then a
    public one (the oldest, if several owners published the name). ``tenant_id`` None (the operator):
    any active deployment of that name, public first."""
    q = select(InferenceDeploymentRow).where(InferenceDeploymentRow.name == name,
                                             InferenceDeploymentRow.state == DeploymentState.ACTIVE.value)
    row = _pick(list(s.scalars(q.order_by(InferenceDeploymentRow.created_at, InferenceDeploymentRow.id))), tenant_id)
    return _deployment(row) if row is not None else None


def visible_models(s: Session, tenant_id: str | None) -> list[Deployment]:
    """The active deployments a key of ``tenant_id`` may call (own + public; the operator: all), one per
    name (the one :func:`resolve_model` picks), by name."""
    q = select(InferenceDeploymentRow).where(InferenceDeploymentRow.state == DeploymentState.ACTIVE.value)
    if tenant_id is not None:
        q = q.where((InferenceDeploymentRow.owner_id == tenant_id) | InferenceDeploymentRow.public.is_(True))
    by_name: dict[str, list[InferenceDeploymentRow]] = {}
    for r in s.scalars(q.order_by(InferenceDeploymentRow.created_at, InferenceDeploymentRow.id)):
        by_name.setdefault(r.name, []).append(r)
    out = []
    for name in sorted(by_name):
        row = _pick(by_name[name], tenant_id)
        if row is not None:
            out.append(_deployment(row))
    return out


# --- replicas ----------------------------------------------------------------------------------------------


def create_replica(s: Session, deployment_id: str, *, now: datetime, reason: str = "") -> Replica:
    row = InferenceReplicaRow(id=new_replica_id(), deployment_id=deployment_id, state=ReplicaState.PENDING.value,
                              endpoint="", reason=reason[:600], failures=0, created_at=now, node="", hardware="")
    s.add(row)
    s.flush()
    return _replica(row)


def get_replica(s: Session, replica_id: str) -> Replica | None:
    row = s.get(InferenceReplicaRow, replica_id)
    return _replica(row) if row is not None else None


def list_replicas(s: Session, deployment_id: str, states: Iterable[ReplicaState] | None = None) -> list[Replica]:
    q = select(InferenceReplicaRow).where(InferenceReplicaRow.deployment_id == deployment_id)
    if states is not None:
        q = q.where(InferenceReplicaRow.state.in_([st.value for st in states]))
    return [_replica(r) for r in s.scalars(q.order_by(InferenceReplicaRow.created_at, InferenceReplicaRow.id))]


def latest_replicas(s: Session, deployment_id: str, n: int) -> list[Replica]:
    """The ``n`` newest replicas of the deployment, whatever their state, newest first."""
    q = (select(InferenceReplicaRow).where(InferenceReplicaRow.deployment_id == deployment_id)
         .order_by(InferenceReplicaRow.created_at.desc(), InferenceReplicaRow.id.desc()).limit(n))
    return [_replica(r) for r in s.scalars(q)]


def ready_replicas(s: Session, deployment_id: str) -> list[Replica]:
    """The replicas that take requests now (state ``ready``), by id."""
    q = select(InferenceReplicaRow).where(InferenceReplicaRow.deployment_id == deployment_id,
                                          InferenceReplicaRow.state == ReplicaState.READY.value)
    return [_replica(r) for r in s.scalars(q.order_by(InferenceReplicaRow.id))]


def update_replica(s: Session, replica_id: str, *, expect: Sequence[ReplicaState], **changes: Any) -> Replica | None:
    """Guarded write: applies only while the replica is in one of ``expect`` (else None: someone else
    moved it meanwhile). ``state`` may be a :class:`ReplicaState`."""
    if "state" in changes and isinstance(changes["state"], ReplicaState):
        changes["state"] = changes["state"].value
    if "reason" in changes and isinstance(changes["reason"], str):
        changes["reason"] = changes["reason"][:600]
    res = s.execute(update(InferenceReplicaRow)
                    .where(InferenceReplicaRow.id == replica_id,
                           InferenceReplicaRow.state.in_([st.value for st in expect]))
                    .values(**changes))
    if res.rowcount != 1:  # type: ignore[attr-defined]
        return None
    row = s.get(InferenceReplicaRow, replica_id, populate_existing=True)
    return _replica(row) if row is not None else None


# --- measurements --------------------------------------------------------------------------------------------


def last_request_at(s: Session, deployment_id: str) -> datetime | None:
    return s.scalar(select(func.max(InferenceRequestRow.started_at))
                    .where(InferenceRequestRow.deployment_id == deployment_id))


def tokens_per_s_by_hardware(s: Session, deployment_id: str, *, limit: int = 2000) -> dict[str, Decimal]:
    """Measured generation throughput of this deployment per hardware model: completion tokens ÷ busy
    seconds (ended − started) of its latest ``ok`` requests, grouped by the serving replica's hardware."""
    q = (select(InferenceReplicaRow.hardware, InferenceRequestRow.completion_tokens, InferenceRequestRow.started_at,
                InferenceRequestRow.ended_at)
         .join(InferenceReplicaRow, InferenceReplicaRow.id == InferenceRequestRow.replica_id)
         .where(InferenceRequestRow.deployment_id == deployment_id, InferenceRequestRow.status == "ok",
                InferenceRequestRow.completion_tokens > 0)
         .order_by(InferenceRequestRow.started_at.desc()).limit(limit))
    tokens: dict[str, int] = {}
    seconds: dict[str, Decimal] = {}
    for hw, n, t0, t1 in s.execute(q):
        if not hw or t1 is None or t0 is None:
            continue
        dt = Decimal(str(max(0.0, (t1 - t0).total_seconds())))
        tokens[hw] = tokens.get(hw, 0) + int(n)
        seconds[hw] = seconds.get(hw, Decimal(0)) + dt
    return {hw: Decimal(tokens[hw]) / seconds[hw] for hw in tokens if seconds[hw] > 0}

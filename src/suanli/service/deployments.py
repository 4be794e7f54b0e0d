"""Model deployments: create, list, read, change the replica bounds or scale, delete
(docs/inference.md, "Deployments and replicas"). The replicas themselves are run by
:mod:`suanli.service.replicas` in the background pass.

Who owns a deployment (and orders and pays for its replicas' leases): the operator's deployments
belong to the house tenant ``inference`` (made on first use; not a login account) and are public --
every tenant's inference key may call them; a tenant's belong to the tenant and are private to it.

Before anything is written, a new deployment is checked against what can run it: the built-in model's
weights are here (:func:`suanli.runtime.models.available`), the engine can serve a model back to the
server (``Feature.SERVE``), and every shape names a known accelerator that some node of the fleet has
and could ever hold (the order path's never-fits 422). Every write is audited (the audit recorder sees
the rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from suanli.domain.accounts import Principal, Role
from suanli.domain.authz import Action, Grant, authorize
from suanli.domain.inference import (
    LIVE_REPLICA_STATES,
    Deployment,
    DeploymentSpec,
    DeploymentState,
    Replica,
    ShapeForm,
    check_bounds,
    order_document,
    parse_deployment,
)
from suanli.domain.leases import parse_order
from suanli.drivers.base import Feature
from suanli.errors import ConflictError, NotFoundError, ValidationError
from suanli.runtime import models as runtime_models
from suanli.service import accounts, order_loop, replicas
from suanli.service.placement import check_order
from suanli.service.platform import Platform
from suanli.store import accounts as account_store
from suanli.store import inference as store

HOUSE_TENANT = "inference"
"""The tenant account that owns (and pays for the leases of) the operator's public deployments."""
UPDATABLE = ("min_replicas", "max_replicas", "desired_replicas", "target_inflight", "idle_seconds")


def house_tenant(p: Platform) -> str:
    """The id of the house tenant ``inference``, made on first use."""
    with p.read() as s:
        try:
            who = account_store.get_account(s, HOUSE_TENANT)
        except NotFoundError:
            who = None
    if who is None:
        try:
            who, _token = accounts.create_account(p, None, HOUSE_TENANT, Role.TENANT)
        except ConflictError:  # made meanwhile
            with p.read() as s:
                who = account_store.get_account(s, HOUSE_TENANT)
    if who.role is not Role.TENANT:
        raise ConflictError(f"account {HOUSE_TENANT!r} exists as a {who.role.value}; the operator's model "
                            "deployments need it to be a tenant (rename that account)", account=HOUSE_TENANT)
    return who.account_id


def _check_engine(p: Platform) -> None:
    if p.driver is None:
        raise ValidationError("this platform runs no execution engine (SUANLI_DRIVER=none): model replicas cannot "
                              "run; use the local engine", field="shapes")
    caps = p.driver.capabilities()
    if not caps.supports(Feature.SERVE):
        raise ValidationError(f"the {caps.driver} engine cannot serve models: {caps.reason(Feature.SERVE)}",
                              field="shapes", driver=caps.driver)


def _check_shapes(p: Platform, spec: DeploymentSpec) -> None:
    """Each shape: a known accelerator that the fleet has, and an order that could ever fit."""
    snap = order_loop.loop_for(p).refresh_shape()
    present = {d.model for d in snap.devices}
    now = p.clock.now()
    for i, shape in enumerate(spec.shapes):
        where = f"shapes[{i}]"
        mem = None
        if shape.model:
            if shape.model not in snap.catalog:
                raise ValidationError(f"{where}.model {shape.model!r} is not a known accelerator; known: "
                                      f"{', '.join(snap.catalog.names())}", field=f"{where}.model")
            model = snap.catalog.get(shape.model)
            if model.name not in present:
                raise ValidationError(f"{where}.model {shape.model}: no node of this platform has one; the fleet has "
                                      f"{', '.join(sorted(present)) or 'no devices'}", field=f"{where}.model")
            mem = model.memory_gib
        doc = order_document(shape, device_memory_gib=mem, near=spec.near, max_rtt_ms=spec.max_rtt_ms)
        try:
            check_order(snap, parse_order(doc, now=now))
        except ValidationError as e:
            raise ValidationError(f"{where} ({shape.label()}) can never be placed: {e.message}",
                                  field=where) from None
        if shape.form is ShapeForm.SERVER and shape.quantity > 1:
            raise ValidationError(f"{where}: a replica runs on one node; quantity must be 1 for a server shape",
                                  field=f"{where}.quantity")


def create_deployment(p: Platform, actor: Principal, raw: Mapping[str, Any]) -> Deployment:
    grant = authorize(actor, Action.MANAGE_DEPLOYMENTS)
    spec = parse_deployment(raw, max_replicas_limit=p.settings.inference_max_replicas)
    public_raw = raw.get("public")
    if grant.tenant_id is not None:
        if public_raw:
            raise ValidationError("only the operator publishes a model to every tenant; a tenant's deployment is "
                                  "private to it (leave public out)", field="public")
        public = False
    else:
        public = True if public_raw is None else bool(public_raw)
    runtime_models.available(spec.model_ref)
    _check_engine(p)
    _check_shapes(p, spec)
    owner = grant.tenant_id if grant.tenant_id is not None else house_tenant(p)
    with p.tx() as s:
        return store.create_deployment(s, spec, owner_id=owner, public=public, created_by=actor.name,
                                       now=p.clock.now())


def _visible(grant: Grant, dep: Deployment | None, deployment_id: str, *, write: bool = False) -> Deployment:
    tenant = grant.tenant_id
    if dep is None or (tenant is not None and dep.owner_id != tenant and (write or not dep.public)):
        raise NotFoundError(f"no deployment {deployment_id!r}", deployment=deployment_id)
    return dep


def list_deployments(p: Platform, actor: Principal, *, include_deleted: bool = False) -> list[Deployment]:
    """The operator: all; a tenant: its own and the public ones."""
    tenant = authorize(actor, Action.READ_DEPLOYMENTS).tenant_id
    with p.read() as s:
        if tenant is None:
            return store.list_deployments(s, include_deleted=include_deleted)
        return store.list_deployments(s, owner_id=tenant, include_public=True, include_deleted=include_deleted)


def get_deployment(p: Platform, actor: Principal, deployment_id: str) -> Deployment:
    grant = authorize(actor, Action.READ_DEPLOYMENTS)
    with p.read() as s:
        return _visible(grant, store.get_deployment(s, deployment_id), deployment_id)


def list_replicas(p: Platform, actor: Principal, deployment_id: str, *, all_states: bool = False) -> list[Replica]:
    """A deployment's replicas: the live ones (``all_states``: also the stopped and failed, newest 200)."""
    grant = authorize(actor, Action.READ_DEPLOYMENTS)
    with p.read() as s:
        _visible(grant, store.get_deployment(s, deployment_id), deployment_id)
        reps = store.list_replicas(s, deployment_id, None if all_states else LIVE_REPLICA_STATES)
    return reps[-200:]


def _int_field(raw: Mapping[str, Any], key: str, minimum: int, maximum: int) -> int:
    v = raw[key]
    if isinstance(v, bool) or not isinstance(v, int) or not minimum <= v <= maximum:
        raise ValidationError(f"{key} must be an integer between {minimum} and {maximum}, got {v!r}", field=key,
                              minimum=minimum, maximum=maximum)
    return v


def update_deployment(p: Platform, actor: Principal, deployment_id: str, raw: Mapping[str, Any]) -> Deployment:
    """Change the replica bounds (``min_replicas``, ``max_replicas``), scale now (``desired_replicas``,
    within the bounds), ``target_inflight`` or ``idle_seconds``. Nothing else of a deployment changes:
    deploy a new one for another model or shape."""
    grant = authorize(actor, Action.MANAGE_DEPLOYMENTS)
    unknown = sorted(set(raw) - set(UPDATABLE))
    if unknown:
        raise ValidationError(f"these fields cannot be changed: {unknown}; allowed: {list(UPDATABLE)} (deploy a new "
                              "deployment for another model or shape)", field=unknown[0], allowed=list(UPDATABLE))
    if not raw:
        raise ValidationError(f"nothing to change; give one of {list(UPDATABLE)}", allowed=list(UPDATABLE))
    limit = p.settings.inference_max_replicas
    for _ in range(3):
        with p.read() as s:
            dep = _visible(grant, store.get_deployment(s, deployment_id), deployment_id, write=True)
        if dep.state is not DeploymentState.ACTIVE:
            raise ConflictError(f"deployment {deployment_id} is deleted", deployment=deployment_id)
        lo = _int_field(raw, "min_replicas", 0, limit) if "min_replicas" in raw else dep.min_replicas
        hi = _int_field(raw, "max_replicas", 0, limit) if "max_replicas" in raw else dep.max_replicas
        check_bounds(lo, hi, limit=limit)
        changes: dict[str, Any] = {"min_replicas": lo, "max_replicas": hi}
        if "desired_replicas" in raw:
            want = _int_field(raw, "desired_replicas", 0, limit)
            if not lo <= want <= hi:
                raise ValidationError(f"desired_replicas ({want}) must be between min_replicas ({lo}) and "
                                      f"max_replicas ({hi})", field="desired_replicas", minimum=lo, maximum=hi)
            changes["desired_replicas"] = want
        else:
            changes["desired_replicas"] = max(lo, min(hi, dep.desired_replicas))
        if "target_inflight" in raw:
            changes["target_inflight"] = _int_field(raw, "target_inflight", 1, 1024)
        if "idle_seconds" in raw:
            changes["idle_seconds"] = _int_field(raw, "idle_seconds", 1, 7 * 24 * 3600)
        try:
            with p.tx() as s:
                return store.update_deployment(s, dep.id, version=dep.version, now=p.clock.now(), **changes)
        except ConflictError:
            continue
    raise ConflictError(f"deployment {deployment_id} keeps changing; try again", deployment=deployment_id)


def delete_deployment(p: Platform, actor: Principal, deployment_id: str) -> Deployment:
    """Mark it deleted (its name is free again), then stop its replicas: jobs cancelled, leases ended."""
    grant = authorize(actor, Action.MANAGE_DEPLOYMENTS)
    for _ in range(3):
        with p.read() as s:
            dep = _visible(grant, store.get_deployment(s, deployment_id), deployment_id, write=True)
        if dep.state is DeploymentState.DELETED:
            return dep
        try:
            with p.tx() as s:
                dep = store.update_deployment(s, dep.id, version=dep.version, now=p.clock.now(),
                                              state=DeploymentState.DELETED.value, desired_replicas=0,
                                              name=store.deleted_name(dep))
            break
        except ConflictError:
            continue
    else:
        raise ConflictError(f"deployment {deployment_id} keeps changing; try again", deployment=deployment_id)
    replicas.reconcile_deployment(p, dep.id)
    return dep


def median_cold_start(reps: list[Replica]) -> int | None:
    """The median cold start (ms) of these replicas that became ready (None: none did)."""
    return replicas.cold_start_ms(reps)

"""Model deployments and their replicas (pure): what a deployment is (:class:`Deployment`), one
running copy of it (:class:`Replica`), the validation of a deployment document
(:func:`parse_deployment`, every message names the field and what is allowed), the autoscaling rule
(:func:`autoscale`) and where a new replica goes (:func:`choose_placement`, lowest 元 per token).

Replica lifecycle (``service.replicas`` drives it)::

    pending -> starting -> ready -> draining -> stopped
       |          |          |
       +----------+----------+--> failed (lease ended; a replacement starts)
                             +--> unhealthy -> ready | failed

A replica is *live* while it is pending, starting, ready, unhealthy or draining; only ``ready``
replicas take requests.

Autoscaling (docs/inference.md, "Deployments and replicas"):
``want = clamp(ceil((inflight + queued) / target_inflight), min, max)``; up at once, down only after the
load has wanted fewer replicas for ``scale_down_seconds``, and to zero only when ``min`` is 0 and no
request came for ``idle_seconds``.

Placement: for each shape that fits now, ``元 per million tokens = (hourly list price + hourly energy)
÷ (tokens/s × 3600) × 10⁶``; tokens/s is measured for this deployment on that hardware when there is
a measurement, else a prior proportional to the compute share (P) with a CPU floor. Lowest wins; ties
by lower energy, then by the shape's position in the deployment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from suanli.errors import ValidationError

DEPLOYMENT_ID_PREFIX = "dep_"
REPLICA_ID_PREFIX = "rep_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
NAME_RULE = "1-64 characters: letters, digits, '.', '_', ':' or '-', starting with a letter or digit"
MAX_SHAPES = 8
MAX_CONTEXT_LENGTH = 1 << 20
MAX_IDLE_SECONDS = 7 * 24 * 3600
MAX_TARGET_INFLIGHT = 1024
HEALTH_FAILURES_TO_FAIL = 3
"""Consecutive failed health checks that fail a replica (it is then replaced)."""
FAILED_IN_A_ROW = 3
BACKOFF_SECONDS = 60
"""After :data:`FAILED_IN_A_ROW` replicas of a deployment failed in a row, the next one starts no sooner
than this after the last failure (a model that cannot start does not order lease after lease)."""
DRAIN_SECONDS = 30
"""A draining replica stops when idle or after this long."""
PRIOR_TOKENS_PER_S_PER_P = Decimal(4000)
"""The prior throughput of a generation model before any measurement: tokens/s per P of the share."""
CPU_FLOOR_TOKENS_PER_S = Decimal(50)
"""The prior never goes below this (a small model on the host's CPU)."""


class DeploymentKind(StrEnum):
    GENERATE = "generate"
    EMBED = "embed"


class RuntimeKind(StrEnum):
    BUILTIN = "builtin"
    VLLM = "vllm"
    LLAMACPP = "llamacpp"


class DeploymentState(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class ReplicaState(StrEnum):
    PENDING = "pending"
    STARTING = "starting"
    READY = "ready"
    UNHEALTHY = "unhealthy"
    DRAINING = "draining"
    STOPPED = "stopped"
    FAILED = "failed"


LIVE_REPLICA_STATES = frozenset({ReplicaState.PENDING, ReplicaState.STARTING, ReplicaState.READY,
                                 ReplicaState.UNHEALTHY, ReplicaState.DRAINING})
"""States of a replica that holds (or is getting) a lease."""
SERVING_REPLICA_STATES = frozenset({ReplicaState.PENDING, ReplicaState.STARTING, ReplicaState.READY,
                                    ReplicaState.UNHEALTHY})
"""Live replicas that count toward the desired number (a draining one is on its way out)."""


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    kind: DeploymentKind
    context_length: int
    """The longest prompt + output the model takes (tokens)."""
    p_need: Decimal = Decimal(0)


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    "tiny-gpt": BuiltinModel("tiny-gpt", DeploymentKind.GENERATE, 256),
    "all-minilm-l6-v2": BuiltinModel("all-minilm-l6-v2", DeploymentKind.EMBED, 256),
}
"""The models the built-in CPU runtime (``suanli.runtime``) serves, nothing downloaded."""


class ShapeForm(StrEnum):
    SLICE = "slice"
    GPU = "gpu"
    SERVER = "server"


@dataclass(frozen=True)
class Shape:
    """One candidate replica shape: an order spec fragment.

    ``slice``: ``share`` (0 < share <= 1) of one ``model`` device; ``gpu``: ``quantity`` whole devices
    of ``model`` on one node; ``server`` (alias ``node``): ``quantity`` whole nodes (``model``
    optional). ``memory_mib`` (slice only: the device memory of the slice; default share × the
    device's memory) and ``cpus`` are optional.
    """

    form: ShapeForm
    model: str = ""
    share: Decimal = Decimal(1)
    quantity: int = 1
    memory_mib: int | None = None
    cpus: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"form": self.form.value}
        if self.model:
            out["model"] = self.model
        if self.form is ShapeForm.SLICE:
            out["share"] = str(self.share)
        else:
            out["quantity"] = self.quantity
        if self.memory_mib is not None:
            out["memory_mib"] = self.memory_mib
        if self.cpus is not None:
            out["cpus"] = self.cpus
        return out

    @property
    def share_pct(self) -> int:
        return int((self.share * 100).to_integral_value())

    def label(self) -> str:
        if self.form is ShapeForm.SLICE:
            return f"slice:{self.model}:{self.share}"
        return f"{self.form.value}:{self.model or '*'}:{self.quantity}"


def _shape_int(raw: Mapping[str, Any], key: str, where: str, *, minimum: int, maximum: int) -> int | None:
    v = raw.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not minimum <= v <= maximum:
        raise ValidationError(f"{where}.{key} must be an integer between {minimum} and {maximum}, got {v!r}",
                              field=f"{where}.{key}", minimum=minimum, maximum=maximum)
    return v


def parse_shape(raw: Any, where: str = "shapes[0]") -> Shape:
    """One shape fragment (a JSON object, or the CLI's ``slice:L20:0.25`` / ``gpu:A100-80G:1`` /
    ``server:L20:1`` text)."""
    if isinstance(raw, str):
        return parse_shape_text(raw, where)
    if not isinstance(raw, Mapping):
        raise ValidationError(f"{where} must be an object such as {{\"form\": \"slice\", \"model\": \"L20\", "
                              f"\"share\": \"0.25\"}}, got {raw!r}", field=where)
    known = {"form", "model", "share", "quantity", "memory_mib", "cpus"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValidationError(f"{where} has unknown fields {unknown}; allowed: {sorted(known)}", field=where)
    form_raw = str(raw.get("form", "")).lower()
    if form_raw == "node":
        form_raw = "server"
    try:
        form = ShapeForm(form_raw)
    except ValueError:
        raise ValidationError(f"{where}.form {raw.get('form')!r} is not allowed; allowed: slice, gpu, server (node)",
                              field=f"{where}.form", allowed=["slice", "gpu", "server"]) from None
    model = raw.get("model") or ""
    if not isinstance(model, str) or len(model) > 64:
        raise ValidationError(f"{where}.model must be an accelerator model name (text, at most 64 characters)",
                              field=f"{where}.model")
    if form is not ShapeForm.SERVER and not model:
        raise ValidationError(f"{where}.model is required for a {form.value} shape (an accelerator model, e.g. L20)",
                              field=f"{where}.model")
    share = Decimal(1)
    quantity = 1
    if form is ShapeForm.SLICE:
        s = raw.get("share")
        what = f"{where}.share must be a fraction of one device, > 0 and <= 1 in steps of 0.01, got {s!r}"
        if s is None or isinstance(s, bool) or not isinstance(s, int | float | str | Decimal):
            raise ValidationError(what, field=f"{where}.share")
        try:
            share = Decimal(str(s).strip())
        except InvalidOperation:
            raise ValidationError(what, field=f"{where}.share") from None
        if not share.is_finite() or share <= 0 or share > 1 or (share * 100) != (share * 100).to_integral_value():
            raise ValidationError(what, field=f"{where}.share")
        if raw.get("quantity") not in (None, 1):
            raise ValidationError(f"{where}.quantity: a slice is a fraction of one device; quantity must be 1",
                                  field=f"{where}.quantity")
        share = share.normalize() if share != 1 else Decimal(1)
    else:
        if raw.get("share") is not None:
            raise ValidationError(f"{where}.share is only for slice shapes; a {form.value} shape takes quantity",
                                  field=f"{where}.share")
        q = _shape_int(raw, "quantity", where, minimum=1, maximum=64)
        quantity = 1 if q is None else q
    memory = _shape_int(raw, "memory_mib", where, minimum=1, maximum=1 << 24)
    if memory is not None and form is not ShapeForm.SLICE:
        raise ValidationError(f"{where}.memory_mib is only for slice shapes (whole devices bring their memory)",
                              field=f"{where}.memory_mib")
    cpus = _shape_int(raw, "cpus", where, minimum=1, maximum=1024)
    return Shape(form, model, share, quantity, memory, cpus)


def parse_shape_text(text: str, where: str = "shape") -> Shape:
    """``slice:MODEL:SHARE``, ``gpu:MODEL:QUANTITY`` or ``server:[MODEL]:QUANTITY`` (``node`` = ``server``)."""
    parts = text.strip().split(":")
    rule = "write slice:MODEL:SHARE (e.g. slice:L20:0.25), gpu:MODEL:COUNT (e.g. gpu:A100-80G:1) or server:MODEL:COUNT"
    if len(parts) not in (2, 3):
        raise ValidationError(f"{where} {text!r} is not a shape; {rule}", field=where)
    form = parts[0].lower()
    raw: dict[str, Any] = {"form": form, "model": parts[1]}
    if len(parts) == 3:
        if form == "slice":
            raw["share"] = parts[2]
        else:
            try:
                raw["quantity"] = int(parts[2])
            except ValueError:
                raise ValidationError(f"{where} {text!r}: the count must be a whole number; {rule}",
                                      field=where) from None
    return parse_shape(raw, where)


@dataclass(frozen=True)
class DeploymentSpec:
    """A validated deployment document (what ``POST /v1/deployments`` takes)."""

    name: str
    kind: DeploymentKind
    runtime: RuntimeKind
    model_ref: str
    shapes: tuple[Shape, ...]
    min_replicas: int = 1
    max_replicas: int = 1
    target_inflight: int = 4
    idle_seconds: int = 300
    context_length: int = 256
    max_output_tokens: int = 128
    near: str = ""
    max_rtt_ms: int | None = None
    public: bool = False


def _int(raw: Mapping[str, Any], key: str, default: int, *, minimum: int, maximum: int) -> int:
    v = raw.get(key, default)
    if v is None:
        v = default
    if isinstance(v, bool) or not isinstance(v, int) or not minimum <= v <= maximum:
        raise ValidationError(f"{key} must be an integer between {minimum} and {maximum}, got {v!r}",
                              field=key, minimum=minimum, maximum=maximum)
    return v


DEPLOYMENT_FIELDS = frozenset({"name", "kind", "runtime", "model", "model_ref", "shapes", "min_replicas",
                               "max_replicas", "target_inflight", "idle_seconds", "context_length",
                               "max_output_tokens", "near", "max_rtt_ms", "public"})


def parse_deployment(raw: Mapping[str, Any], *, max_replicas_limit: int = 32) -> DeploymentSpec:
    """Validate a deployment document; every message names the field and what is allowed."""
    unknown = sorted(set(raw) - DEPLOYMENT_FIELDS)
    if unknown:
        raise ValidationError(f"unknown deployment fields {unknown}; allowed: {sorted(DEPLOYMENT_FIELDS)}",
                              unknown=unknown)
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValidationError(f"name {name!r} is not allowed: {NAME_RULE}", field="name")
    try:
        runtime = RuntimeKind(str(raw.get("runtime") or "builtin").lower())
    except ValueError:
        raise ValidationError(f"runtime {raw.get('runtime')!r} is not allowed; allowed: builtin", field="runtime",
                              allowed=["builtin"]) from None
    if runtime is not RuntimeKind.BUILTIN:
        raise ValidationError(f"runtime {runtime.value} is not available on this platform yet; allowed: builtin",
                              field="runtime", allowed=["builtin"])
    model_ref = raw.get("model_ref", raw.get("model"))
    if not isinstance(model_ref, str) or model_ref not in BUILTIN_MODELS:
        raise ValidationError(f"model {model_ref!r} is not a built-in model; allowed: {sorted(BUILTIN_MODELS)}",
                              field="model", allowed=sorted(BUILTIN_MODELS))
    builtin = BUILTIN_MODELS[model_ref]
    kind_raw = raw.get("kind")
    if kind_raw is None:
        kind = builtin.kind
    else:
        try:
            kind = DeploymentKind(str(kind_raw).lower())
        except ValueError:
            raise ValidationError(f"kind {kind_raw!r} is not allowed; allowed: generate, embed", field="kind",
                                  allowed=["generate", "embed"]) from None
        if kind is not builtin.kind:
            raise ValidationError(f"model {model_ref} is a {builtin.kind.value} model; kind must be "
                                  f"{builtin.kind.value}", field="kind", allowed=[builtin.kind.value])
    shapes_raw = raw.get("shapes")
    if not isinstance(shapes_raw, list | tuple) or not shapes_raw:
        raise ValidationError("shapes must be a non-empty list of replica shapes, e.g. "
                              "[{\"form\": \"slice\", \"model\": \"L20\", \"share\": \"0.25\"}]", field="shapes")
    if len(shapes_raw) > MAX_SHAPES:
        raise ValidationError(f"shapes: at most {MAX_SHAPES} candidate shapes, got {len(shapes_raw)}", field="shapes")
    shapes = tuple(parse_shape(s, f"shapes[{i}]") for i, s in enumerate(shapes_raw))
    max_r = _int(raw, "max_replicas", 1, minimum=0, maximum=max_replicas_limit)
    min_r = _int(raw, "min_replicas", min(1, max_r), minimum=0, maximum=max_replicas_limit)
    if min_r > max_r:
        raise ValidationError(f"min_replicas ({min_r}) must be at most max_replicas ({max_r})", field="min_replicas")
    ctx = _int(raw, "context_length", builtin.context_length, minimum=16, maximum=builtin.context_length)
    max_out = 1 if kind is DeploymentKind.EMBED else ctx // 2
    max_out = _int(raw, "max_output_tokens", max_out, minimum=1, maximum=ctx - 1)
    near = raw.get("near") or ""
    if not isinstance(near, str) or len(near) > 64:
        raise ValidationError("near must be a region name (text, at most 64 characters)", field="near")
    rtt = raw.get("max_rtt_ms")
    if rtt is not None:
        rtt = _int(raw, "max_rtt_ms", 0, minimum=1, maximum=10000)
        if not near:
            raise ValidationError("max_rtt_ms needs near (the region the callers are in)", field="max_rtt_ms")
    public = raw.get("public", False)
    if not isinstance(public, bool):
        raise ValidationError(f"public must be true or false, got {public!r}", field="public")
    return DeploymentSpec(
        name=name, kind=kind, runtime=runtime, model_ref=model_ref, shapes=shapes, min_replicas=min_r,
        max_replicas=max_r, target_inflight=_int(raw, "target_inflight", 4, minimum=1, maximum=MAX_TARGET_INFLIGHT),
        idle_seconds=_int(raw, "idle_seconds", 300, minimum=1, maximum=MAX_IDLE_SECONDS), context_length=ctx,
        max_output_tokens=max_out, near=near, max_rtt_ms=rtt, public=public,
    )


def check_bounds(min_replicas: int, max_replicas: int, *, limit: int) -> None:
    for key, v in (("min_replicas", min_replicas), ("max_replicas", max_replicas)):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= limit:
            raise ValidationError(f"{key} must be an integer between 0 and {limit}, got {v!r}", field=key,
                                  minimum=0, maximum=limit)
    if min_replicas > max_replicas:
        raise ValidationError(f"min_replicas ({min_replicas}) must be at most max_replicas ({max_replicas})",
                              field="min_replicas")


@dataclass(frozen=True)
class Deployment:
    id: str
    owner_id: str
    name: str
    public: bool
    kind: DeploymentKind
    runtime: RuntimeKind
    model_ref: str
    shapes: tuple[Shape, ...]
    near: str
    max_rtt_ms: int | None
    min_replicas: int
    max_replicas: int
    desired_replicas: int
    target_inflight: int
    idle_seconds: int
    context_length: int
    max_output_tokens: int
    state: DeploymentState
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "owner_id": self.owner_id, "name": self.name, "public": self.public,
            "kind": self.kind.value, "runtime": self.runtime.value, "model_ref": self.model_ref,
            "shapes": [s.to_dict() for s in self.shapes], "near": self.near, "max_rtt_ms": self.max_rtt_ms,
            "min_replicas": self.min_replicas, "max_replicas": self.max_replicas,
            "desired_replicas": self.desired_replicas, "target_inflight": self.target_inflight,
            "idle_seconds": self.idle_seconds, "context_length": self.context_length,
            "max_output_tokens": self.max_output_tokens, "state": self.state.value, "version": self.version,
            "created_by": self.created_by, "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class Replica:
    id: str
    deployment_id: str
    state: ReplicaState
    lease_id: str | None = None
    job_id: str | None = None
    node: str = ""
    hardware: str = ""
    endpoint: str = ""
    """``unix:<absolute path>`` or ``http://host:port``; "" until started."""
    reason: str = ""
    failures: int = 0
    created_at: datetime | None = None
    started_at: datetime | None = None
    ready_at: datetime | None = None
    stopped_at: datetime | None = None
    cold_start_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t is not None else None
        return {
            "id": self.id, "deployment_id": self.deployment_id, "state": self.state.value,
            "lease_id": self.lease_id, "job_id": self.job_id, "node": self.node, "hardware": self.hardware,
            "endpoint": self.endpoint, "reason": self.reason, "failures": self.failures,
            "created_at": iso(self.created_at), "started_at": iso(self.started_at), "ready_at": iso(self.ready_at),
            "stopped_at": iso(self.stopped_at), "cold_start_ms": self.cold_start_ms,
        }


# --- autoscaling ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScaleDecision:
    desired: int
    low_since: datetime | None
    """Since when the load has wanted fewer replicas than desired (None: it does not)."""
    reason: str


def autoscale(*, min_replicas: int, max_replicas: int, target_inflight: int, idle_seconds: int, current: int,
              inflight: int, queued: int, now: datetime, low_since: datetime | None,
              last_request_at: datetime | None, scale_down_seconds: float) -> ScaleDecision:
    """The desired number of replicas (module docstring). ``current`` is the desired number so far;
    ``last_request_at`` the start of the deployment's latest request (None: none yet)."""
    load = max(0, inflight) + max(0, queued)
    want = max(min_replicas, min(max_replicas, math.ceil(load / max(1, target_inflight))))
    if want >= current:
        why = f"load {load} / target {target_inflight} per replica -> {want}" if want > current else "steady"
        return ScaleDecision(want, None, why)
    since = low_since or now
    if (now - since).total_seconds() < scale_down_seconds:
        return ScaleDecision(current, since, f"load wants {want}; waiting {scale_down_seconds:g}s before scaling down")
    if want == 0:
        idle_from = last_request_at or since
        if (now - idle_from).total_seconds() < idle_seconds:
            want = 1
            if want >= current:
                return ScaleDecision(current, since, f"no load; scale to zero after {idle_seconds}s without requests")
    return ScaleDecision(want, None, f"load {load} wants {want} for {scale_down_seconds:g}s: scaling down")


# --- placement by cost per token -----------------------------------------------------------------------


@dataclass(frozen=True)
class PlacementOption:
    """One shape that fits now, on one hardware model, priced."""

    shape_index: int
    hardware: str
    hourly_price: Decimal
    """List price of the shape for one hour (the operator's currency)."""
    hourly_energy: Decimal
    """TDP (kW) × share × PUE × power price per kWh of the site."""
    tokens_per_s: Decimal
    measured: bool = False

    @property
    def cost_per_million_tokens(self) -> Decimal:
        tps = max(self.tokens_per_s, Decimal("0.000001"))
        return (self.hourly_price + self.hourly_energy) / (tps * 3600) * 1_000_000


def prior_tokens_per_s(p_of_share: Decimal) -> Decimal:
    """Throughput before measurement: proportional to the compute (P) of the shape, CPU floor below."""
    return max(CPU_FLOOR_TOKENS_PER_S, p_of_share * PRIOR_TOKENS_PER_S_PER_P)


def hourly_energy(tdp_watts: int, share: Decimal, pue: Decimal, power_price_kwh: Decimal) -> Decimal:
    return Decimal(tdp_watts) / 1000 * share * pue * power_price_kwh


def choose_placement(options: Sequence[PlacementOption]) -> tuple[PlacementOption, str] | None:
    """The option with the lowest 元 per million tokens (ties: lower energy, then the earlier shape), and
    the reason stored on the replica."""
    if not options:
        return None
    best = min(options, key=lambda o: (o.cost_per_million_tokens, o.hourly_energy, o.shape_index, o.hardware))
    basis = "measured" if best.measured else "prior"
    others = "; ".join(f"{o.hardware} {o.cost_per_million_tokens:.4f}" for o in options if o is not best)
    reason = (f"cheapest per token: {best.hardware} {best.cost_per_million_tokens:.4f}/M tokens "
              f"({best.hourly_price + best.hourly_energy:.4f}/h incl. energy {best.hourly_energy:.4f}/h, "
              f"{best.tokens_per_s:.1f} tokens/s {basis})")
    if others:
        reason += f"; others: {others}"
    return best, reason[:590]


@dataclass(frozen=True)
class Load:
    """A deployment's load as the gateway sees it (per server process)."""

    inflight: int = 0
    queued: int = 0


@dataclass
class ScaleMemory:
    """What the autoscaler remembers between passes about one deployment (in the leader's process)."""

    low_since: datetime | None = None


def order_document(shape: Shape, *, device_memory_gib: int | None, near: str = "",
                   max_rtt_ms: int | None = None) -> dict[str, Any]:
    """The order (``service.orders``) that leases one replica of ``shape``: open-ended, in the region
    ``near`` (and within ``max_rtt_ms`` of it) when the deployment asks. A slice without
    ``memory_mib`` gets its share of the device's memory (``device_memory_gib``; 1 GiB if unknown). A
    slice replica is enforced where a node can hold it (placed only there), else placed unenforced
    (``allow_unenforced``: its lease says ``none``), so that a deployment runs where nothing probes as
    able to enforce slices, e.g. the demo on a machine without GPU tools (docs/slices.md)."""
    doc: dict[str, Any] = {"form": shape.form.value}
    if shape.model:
        doc["models"] = [shape.model]
    if shape.form is ShapeForm.SLICE:
        doc["share_pct"] = shape.share_pct
        mem = shape.memory_mib
        if mem is None:
            mem = max(1, int(Decimal((device_memory_gib or 1) * 1024) * shape.share))
        doc["memory_mib"] = mem
        doc["allow_unenforced"] = True
    else:
        doc["quantity"] = shape.quantity
    if near:
        doc["regions"] = [near]
    if max_rtt_ms is not None:
        doc["max_rtt_ms"] = max_rtt_ms
    return doc


def runtime_command(python: str, deployment: Deployment, socket: str, *, orphan_seconds: float = 120.0,
                    tag: str = "") -> tuple[str, ...]:
    """The argv of a built-in runtime replica (``python -m suanli.runtime serve``; docs/inference.md): it
    stops itself after ``orphan_seconds`` without a ``/health`` probe (0: never); ``tag`` is an inert
    marker in the argv (``--tag=``, left out when empty)."""
    return (python, "-m", "suanli.runtime", "serve", "--model", deployment.model_ref, "--uds", socket,
            "--name", deployment.name, "--context-length", str(deployment.context_length),
            "--max-output-tokens", str(deployment.max_output_tokens), "--orphan-seconds", f"{orphan_seconds:g}",
            *((f"--tag={tag}",) if tag else ()))

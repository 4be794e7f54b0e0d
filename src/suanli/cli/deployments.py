"""``suanli deployment create|list|show|scale|delete``: model deployments and their replicas
(docs/inference.md, "Deployments and replicas").

A deployment names a built-in model, the candidate shapes of one replica and the replica bounds; the
server starts its replicas as jobs on leases (placed where a token is cheapest), health-checks,
replaces and scales them. ``show`` lists the replicas with their state, node, hardware, cold start and
why they are where they are.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from suanli.api.schemas.deployments import DeploymentResponse, ReplicaResponse
from suanli.cli.context import client
from suanli.cli.options import JsonOpt
from suanli.cli.render import print_json, show, table, when
from suanli.client.deployments import DeploymentClient
from suanli.domain.inference import parse_shape_text
from suanli.errors import ValidationError

deployment_app = typer.Typer(help="Model deployments: deploy a built-in model with replica shapes and bounds; list, "
                                  "show replicas and their health, scale, delete.", no_args_is_help=True)

DeploymentArg = Annotated[str, typer.Argument(help="The deployment's name or id (dep_...).")]


def _shapes(texts: list[str]) -> list[dict[str, Any]]:
    out = []
    for text in texts:
        try:
            out.append(parse_shape_text(text, "--shape").to_dict())
        except ValidationError as e:
            raise typer.BadParameter(e.message, param_hint="--shape") from None
    return out


def _replicas(d: DeploymentResponse) -> str:
    return ", ".join(f"{n} {state}" for state, n in sorted(d.replicas.items())) or "none"


def _shape_text(d: DeploymentResponse) -> str:
    parts = []
    for s in d.shapes:
        parts.append(f"slice:{s.model}:{s.share}" if s.form == "slice" else f"{s.form}:{s.model or '*'}:{s.quantity}")
    return " | ".join(parts)


@deployment_app.command("create")
def deployment_create(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="The name callers give as `model` (letters, digits, . _ : -).")],
        model: Annotated[str, typer.Option("--model", help="The built-in model: tiny-gpt or all-minilm-l6-v2.")],
        shape: Annotated[list[str], typer.Option("--shape", help="A replica shape, cheapest per token first wins: "
                                                 "slice:MODEL:SHARE (slice:L20:0.25), gpu:MODEL:COUNT "
                                                 "(gpu:A100-80GB:1), server:MODEL:1. Repeat for more.")],
        kind: Annotated[str | None, typer.Option("--kind", help="generate or embed (default: the model's).")] = None,
        min_replicas: Annotated[int, typer.Option("--min", help="Fewest replicas (0: may scale to zero).")] = 1,
        max_replicas: Annotated[int, typer.Option("--max", help="Most replicas.")] = 1,
        target_inflight: Annotated[int, typer.Option("--target-inflight", help="Requests in flight per replica the "
                                                     "autoscaler aims at.")] = 4,
        idle_seconds: Annotated[int, typer.Option("--idle-seconds", help="With --min 0: scale to zero after this "
                                                  "long without requests.")] = 300,
        near: Annotated[str | None, typer.Option("--near", help="Place replicas in this region (edge).")] = None,
        max_rtt_ms: Annotated[int | None, typer.Option("--max-rtt-ms", help="With --near: only sites measured "
                                                       "within this round-trip time.")] = None,
        public: Annotated[bool | None, typer.Option("--public/--private", help="The operator's deployments are "
                                                    "public (every tenant may call them) unless --private; a "
                                                    "tenant's are private.")] = None,
        as_json: JsonOpt = False) -> None:
    """Deploy a built-in model; its replicas start in the background (`suanli deployment show NAME`)."""
    doc: dict[str, Any] = {"name": name, "model": model, "shapes": _shapes(shape), "min_replicas": min_replicas,
                           "max_replicas": max_replicas, "target_inflight": target_inflight,
                           "idle_seconds": idle_seconds}
    for key, value in (("kind", kind), ("near", near), ("max_rtt_ms", max_rtt_ms), ("public", public)):
        if value is not None:
            doc[key] = value
    with client(ctx) as api:
        d = DeploymentClient(api).create(doc)
    if as_json:
        print_json(d)
        return
    show(f"deployment {d.id} {d.name}: {d.model_ref} ({d.kind}), {'public' if d.public else 'private'}, "
         f"replicas {d.min_replicas}..{d.max_replicas} (desired {d.desired_replicas}), shapes {_shape_text(d)}")


@deployment_app.command("list")
def deployment_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Deployments you see (a tenant: its own and the public ones) with their replicas by state."""
    with client(ctx) as api:
        rows = DeploymentClient(api).all()
    if as_json:
        print_json(rows)
        return
    show(table("Deployments", ["id", "name", "model", "kind", "public", ("min", "right"), ("desired", "right"),
                               ("max", "right"), "replicas", ("cold start ms", "right"), "shapes"],
               [[d.id, d.name, d.model_ref, d.kind, "yes" if d.public else "no", d.min_replicas, d.desired_replicas,
                 d.max_replicas, _replicas(d), "-" if d.cold_start_ms is None else d.cold_start_ms, _shape_text(d)]
                for d in rows]))


def _replica_rows(rows: list[ReplicaResponse]) -> list[list[Any]]:
    return [[r.id, r.state, r.node or "-", r.hardware or "-", r.lease_id or "-", when(r.ready_at),
             "-" if r.cold_start_ms is None else r.cold_start_ms, r.failures, r.reason] for r in rows]


@deployment_app.command("show")
def deployment_show(ctx: typer.Context, deployment: DeploymentArg,
                    all_states: Annotated[bool, typer.Option("--all", help="Also stopped and failed replicas.")] = False,
                    as_json: JsonOpt = False) -> None:
    """One deployment and its replicas: state, node, hardware, lease, cold start, why it is there."""
    with client(ctx) as api:
        c = DeploymentClient(api)
        d = c.find(deployment)
        reps = c.replicas(d.id, all_states=all_states)
    if as_json:
        print_json({"deployment": d, "replicas": reps})
        return
    show(f"deployment {d.id} {d.name}: {d.model_ref} ({d.kind}, {d.runtime}), "
         f"{'public' if d.public else 'private'}, owner {d.owner_id}; replicas {d.min_replicas}..{d.max_replicas}, "
         f"desired {d.desired_replicas}, target {d.target_inflight} in flight each, idle {d.idle_seconds} s; "
         f"context {d.context_length}, max output {d.max_output_tokens}; shapes {_shape_text(d)}"
         + (f"; near {d.near}" if d.near else ""),
         table("Replicas", ["id", "state", "node", "hardware", "lease", "ready at", ("cold start ms", "right"),
                            ("failures", "right"), "reason"], _replica_rows(reps)))


@deployment_app.command("scale")
def deployment_scale(
        ctx: typer.Context, deployment: DeploymentArg,
        replicas: Annotated[int | None, typer.Option("--replicas", help="Replicas now (within min..max).")] = None,
        min_replicas: Annotated[int | None, typer.Option("--min", help="New minimum.")] = None,
        max_replicas: Annotated[int | None, typer.Option("--max", help="New maximum.")] = None,
        target_inflight: Annotated[int | None, typer.Option("--target-inflight")] = None,
        idle_seconds: Annotated[int | None, typer.Option("--idle-seconds")] = None,
        as_json: JsonOpt = False) -> None:
    """Scale now (--replicas) and/or change the bounds; the autoscaler moves on from there."""
    changes = {k: v for k, v in (("desired_replicas", replicas), ("min_replicas", min_replicas),
                                 ("max_replicas", max_replicas), ("target_inflight", target_inflight),
                                 ("idle_seconds", idle_seconds)) if v is not None}
    if not changes:
        raise typer.BadParameter("give --replicas, --min, --max, --target-inflight or --idle-seconds")
    with client(ctx) as api:
        c = DeploymentClient(api)
        d = c.change(c.find(deployment).id, changes)
    if as_json:
        print_json(d)
        return
    show(f"deployment {d.id} {d.name}: replicas {d.min_replicas}..{d.max_replicas}, desired {d.desired_replicas}")


@deployment_app.command("delete")
def deployment_delete(ctx: typer.Context, deployment: DeploymentArg, as_json: JsonOpt = False) -> None:
    """Delete a deployment: its replicas stop and their leases end now."""
    with client(ctx) as api:
        c = DeploymentClient(api)
        d = c.delete(c.find(deployment).id)
    if as_json:
        print_json(d)
        return
    show(f"deployment {d.id} deleted; its replicas stopped and their leases ended")

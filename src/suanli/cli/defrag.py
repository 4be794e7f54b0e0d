"""``suanli defrag plan|approve|cancel|plans|show|auto|set``: defragmentation of the live fleet (operator;
docs/defrag.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError as PydanticValidationError

from suanli.api.schemas.defrag import DefragPlanResponse
from suanli.cli.context import client, invalid
from suanli.cli.options import JsonOpt
from suanli.cli.render import dec, fail, print_json, show, table, when
from suanli.client.defrag import DefragClient

defrag_app = typer.Typer(help="Defragmentation (operator): plan moves of migratable leases that free whole GPUs and "
                              "whole nodes for waiting orders, approve them, or let them run automatically.",
                         no_args_is_help=True)


def _show_plan(plan: DefragPlanResponse) -> None:
    show(table(f"defrag plan {plan.id} · {plan.state} · {plan.summary}",
               ["lease", "state", "from", "to", "frees", "due", "reason"],
               [[m.lease_id, m.state, m.from_where, m.to_where, m.frees, when(m.due_at), m.reason]
                for m in plan.moves]))
    show(table("targets", ["target", "freed", "nodes", "reason"],
               [[t.target, "yes" if t.freed else "no", ", ".join(t.nodes), t.reason] for t in plan.targets]))
    if plan.approved_by:
        show(f"approved by {plan.approved_by} at {when(plan.approved_at)}; notice {plan.notice_s} s")


@defrag_app.command("plan")
def defrag_plan(
    ctx: typer.Context,
    gpus: Annotated[int, typer.Option("--gpus", help="Free room for this many whole GPUs on one node (besides the "
                                                     "orders waiting in the queue); 0: only the queue.")] = 0,
    servers: Annotated[int, typer.Option("--servers", help="Free this many whole nodes.")] = 0,
    model: Annotated[list[str] | None, typer.Option("--model", help="Only devices of this model (repeat).")] = None,
    site: Annotated[list[str] | None, typer.Option("--site", help="Only at this site (repeat).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Propose moves of migratable leases that free whole GPUs / whole nodes for the queued whole-device orders
    and the shape given; shows each move and what it frees. Nothing moves until `suanli defrag approve PLAN`."""
    if gpus < 0 or servers < 0:
        fail("--gpus and --servers must be >= 0")
    targets = []
    extra = {"models": model or [], "sites": site or []}
    if gpus:
        targets.append({"form": "gpu", "quantity": gpus, **extra})
    if servers:
        targets.append({"form": "server", "quantity": servers, **extra})
    with client(ctx) as api:
        try:
            got = DefragClient(api).propose(targets)
        except PydanticValidationError as e:
            invalid(e)
    if as_json:
        print_json(got)
        return
    if got.plan is None:
        show(got.message)
        return
    _show_plan(got.plan)
    show(f"approve with: suanli defrag approve {got.plan.id}")


@defrag_app.command("approve")
def defrag_approve(ctx: typer.Context, plan_id: Annotated[str, typer.Argument(metavar="PLAN")],
                   as_json: JsonOpt = False) -> None:
    """Approve a proposed plan: its leases get the notice now and move when it is over."""
    with client(ctx) as api:
        plan = DefragClient(api).approve(plan_id)
    print_json(plan) if as_json else _show_plan(plan)


@defrag_app.command("cancel")
def defrag_cancel(ctx: typer.Context, plan_id: Annotated[str, typer.Argument(metavar="PLAN")],
                  as_json: JsonOpt = False) -> None:
    """Cancel a plan whose moves have not happened yet."""
    with client(ctx) as api:
        plan = DefragClient(api).cancel(plan_id)
    print_json(plan) if as_json else _show_plan(plan)


@defrag_app.command("show")
def defrag_show(ctx: typer.Context, plan_id: Annotated[str, typer.Argument(metavar="PLAN")],
                as_json: JsonOpt = False) -> None:
    """One plan with its moves and targets."""
    with client(ctx) as api:
        plan = DefragClient(api).get(plan_id)
    print_json(plan) if as_json else _show_plan(plan)


@defrag_app.command("plans")
def defrag_plans(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The latest plans, newest first."""
    with client(ctx) as api:
        plans = DefragClient(api).plans()
    if as_json:
        print_json(plans)
        return
    show(table("defrag plans", ["plan", "state", "auto", "summary", "created", "approved by"],
               [[x.id, x.state, "yes" if x.auto else "no", x.summary, when(x.created_at), x.approved_by or ""]
                for x in plans]))


@defrag_app.command("auto")
def defrag_auto(ctx: typer.Context, switch: Annotated[str, typer.Argument(metavar="on|off")],
                as_json: JsonOpt = False) -> None:
    """Let the background pass propose and approve plans itself (on), or wait for an operator (off)."""
    if switch not in ("on", "off"):
        fail(f"auto {switch!r}: allowed: on, off")
    with client(ctx) as api:
        st = DefragClient(api).set(auto=switch == "on")
    print_json(st) if as_json else show(f"defrag auto {'on' if st.auto else 'off'}; notice {st.notice_s} s; "
                                        f"migratable discount {dec(st.discount_pct)} %")


@defrag_app.command("set")
def defrag_set(
    ctx: typer.Context,
    notice: Annotated[int | None, typer.Option("--notice", metavar="SECONDS",
                                               help="Seconds between a lease's notice and its move: 0 to 86400.")] = None,
    discount: Annotated[str | None, typer.Option("--discount", metavar="PCT",
                                                 help="% off the list price for migratable leases granted from now "
                                                      "on: 0 to 90.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Set the notice and the migratable discount (operator); shows the settings in force."""
    with client(ctx) as api:
        try:
            st = (DefragClient(api).set(notice_s=notice, discount_pct=discount) if notice is not None
                  or discount is not None else DefragClient(api).settings())
        except PydanticValidationError as e:
            invalid(e)
    print_json(st) if as_json else show(f"defrag auto {'on' if st.auto else 'off'}; notice {st.notice_s} s; "
                                        f"migratable discount {dec(st.discount_pct)} %")
